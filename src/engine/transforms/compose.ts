/**
 * Compose and JSON pipelines. A pipeline step is `{ "name": "<MONAI class name>", "args": {...} }`
 * with MONAI's argument names. `Compose({ seed })` makes a pipeline reproducible the way MONAI's
 * `set_random_state` does: its generator hands every random transform its own 32-bit seed, in
 * order, so the same seed gives identical output. A transform returning a list (e.g.
 * RandCropByPosNegLabeld) makes the following transforms run on each item; the result is flat.
 */
import { InputError } from '../io/errors';
import { Rng } from '../random';
import { RandAffine, RandAffined } from './affine';
import { isRandomizable, type Randomizable, type Transform } from './base';
import { CropForeground, CropForegroundd, DivisiblePad, DivisiblePadd, SpatialPad, SpatialPadd } from './croppad';
import { Rand2DElastic, Rand2DElasticd, Rand3DElastic, Rand3DElasticd } from './elastic';
import { Flip, RandFlip, RandFlipd, RandRotate90, RandRotate90d, Rotate90 } from './flip';
import {
  NormalizeIntensity,
  NormalizeIntensityd,
  RandGaussianNoise,
  RandGaussianNoised,
  RandScaleIntensity,
  RandScaleIntensityd,
  ScaleIntensityRange,
  ScaleIntensityRanged,
} from './intensity';
import { Orientation, Orientationd } from './orientation';
import { RandCropByPosNegLabel, RandCropByPosNegLabeld } from './randcrop';
import { Spacing, Spacingd } from './spacing';

type AnyTransformCtor = new (args: any) => Transform<any, any>;

/** Every transform a JSON pipeline may name, by MONAI class name. */
export const TRANSFORMS: Readonly<Record<string, AnyTransformCtor>> = {
  ScaleIntensityRange,
  ScaleIntensityRanged,
  NormalizeIntensity,
  NormalizeIntensityd,
  RandGaussianNoise,
  RandGaussianNoised,
  RandScaleIntensity,
  RandScaleIntensityd,
  Orientation,
  Orientationd,
  Spacing,
  Spacingd,
  SpatialPad,
  SpatialPadd,
  DivisiblePad,
  DivisiblePadd,
  CropForeground,
  CropForegroundd,
  RandCropByPosNegLabel,
  RandCropByPosNegLabeld,
  Flip,
  RandFlip,
  RandFlipd,
  Rotate90,
  RandRotate90,
  RandRotate90d,
  RandAffine,
  RandAffined,
  Rand2DElastic,
  Rand2DElasticd,
  Rand3DElastic,
  Rand3DElasticd,
};

export interface TransformSpec {
  name: string;
  args?: Record<string, unknown>;
}

/** Builds one transform from `{name, args}`; errors name `where` (e.g. the pipeline file) and the step. */
export function buildTransform(spec: unknown, where = 'pipeline'): Transform<any, any> {
  const s = spec as TransformSpec | null;
  if (!s || typeof s !== 'object' || Array.isArray(s) || typeof s.name !== 'string') {
    throw new InputError(where, `a pipeline step must be {"name": "<Transform>", "args": {...}}, got ${JSON.stringify(spec)}`);
  }
  const extra = Object.keys(s).filter((k) => k !== 'name' && k !== 'args');
  if (extra.length) throw new InputError(where, `step "${s.name}" has unknown field(s) ${extra.map((k) => `"${k}"`).join(', ')} (only "name" and "args")`);
  const ctor = Object.prototype.hasOwnProperty.call(TRANSFORMS, s.name) ? TRANSFORMS[s.name] : undefined;
  if (!ctor) throw new InputError(where, `unknown transform "${s.name}" (known: ${Object.keys(TRANSFORMS).join(', ')})`);
  if (s.args !== undefined && (s.args === null || typeof s.args !== 'object' || Array.isArray(s.args))) {
    throw new InputError(where, `"args" of ${s.name} must be an object`);
  }
  try {
    return new ctor(s.args ?? {});
  } catch (e) {
    if (e instanceof InputError) throw new InputError(where, e.message);
    throw e;
  }
}

export interface ComposeOptions {
  /** Seeds every random transform (MONAI set_random_state). Omit to keep their own seeds. */
  seed?: number | null;
}

export class Compose implements Transform<any, any>, Randomizable {
  readonly name = 'Compose';
  readonly transforms: Transform<any, any>[];

  constructor(transforms: Transform<any, any>[], opts: ComposeOptions = {}) {
    this.transforms = [...transforms];
    if (opts.seed !== undefined && opts.seed !== null) this.setRandomState(opts.seed);
  }

  /** A pipeline from JSON: an array of steps, or `{ "transforms": [...], "seed": n }`. */
  static fromJSON(json: unknown, opts: ComposeOptions = {}, where = 'pipeline'): Compose {
    let steps = json;
    let seed = opts.seed;
    if (json && typeof json === 'object' && !Array.isArray(json)) {
      const o = json as { transforms?: unknown; seed?: unknown };
      const extra = Object.keys(o).filter((k) => k !== 'transforms' && k !== 'seed');
      if (extra.length) throw new InputError(where, `unknown pipeline field(s) ${extra.join(', ')} (expected "transforms", "seed")`);
      if (o.seed !== undefined && !(typeof o.seed === 'number' && Number.isInteger(o.seed))) throw new InputError(where, '"seed" must be an integer');
      steps = o.transforms;
      seed = seed ?? (o.seed as number | undefined);
    }
    if (!Array.isArray(steps)) throw new InputError(where, 'a pipeline must be an array of {"name", "args"} steps');
    const ts = steps.map((s, i) => {
      try {
        return buildTransform(s, where);
      } catch (e) {
        if (e instanceof InputError) throw new InputError(where, `step ${i + 1}: ${e.reason}`);
        throw e;
      }
    });
    return new Compose(ts, { seed });
  }

  setRandomState(seed: number): this {
    const R = new Rng(seed);
    for (const t of this.transforms) if (isRandomizable(t)) t.setRandomState(R.nextUint32());
    return this;
  }

  /** Runs the pipeline; list outputs fan out to the remaining transforms. */
  async call(input: unknown): Promise<unknown> {
    let items: unknown[] = [input];
    let isList = false;
    for (const t of this.transforms) {
      const next: unknown[] = [];
      for (const x of items) {
        const y = await t.call(x);
        if (Array.isArray(y)) {
          next.push(...y);
          isList = true;
        } else next.push(y);
      }
      items = next;
    }
    return isList ? items : items[0];
  }
}
