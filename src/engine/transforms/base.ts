/**
 * What every transform is: an object with MONAI's class `name` and a `call`. Array transforms
 * take a MetaImage; dictionary ("…d") transforms take a `Record<string, unknown>` whose listed
 * keys hold MetaImages. Resampling transforms are async (tfjs reads back asynchronously).
 */
import { InputError } from '../io/errors';
import { Rng } from '../random';
import { checkImage, type Dict, type MetaImage } from './image';

export type MaybePromise<T> = T | Promise<T>;

export interface Transform<I = unknown, O = unknown> {
  readonly name: string;
  call(input: I): MaybePromise<O>;
}

export type ArrayTransform = Transform<MetaImage, MetaImage>;
export type DictTransform = Transform<Dict, Dict | Dict[]>;

/** A transform that draws random numbers; Compose seeds each one from its own generator. */
export interface Randomizable {
  setRandomState(seed: number): this;
}

export function isRandomizable(t: unknown): t is Randomizable {
  return !!t && typeof (t as Randomizable).setRandomState === 'function';
}

/** Shared by the random transforms: its own generator (random seed unless set) and `prob`. */
export abstract class RandomizableTransform implements Randomizable {
  protected R: Rng = new Rng();
  setRandomState(seed: number): this {
    this.R = new Rng(seed);
    return this;
  }
  /** MONAI RandomizableTransform.randomize: `do = U[0,1) < prob`. */
  protected drawDo(prob: number): boolean {
    return this.R.random() < prob;
  }
}

/** The keys of `d` a dictionary transform acts on (MONAI `key_iterator`). */
export function presentKeys(name: string, d: Dict, keys: readonly string[], allowMissing: boolean): string[] {
  const present: string[] = [];
  for (const k of keys) {
    if (k in d && d[k] !== undefined) present.push(k);
    else if (!allowMissing) throw new InputError(name, `key "${k}" is missing from the data (set allow_missing_keys to skip it)`);
  }
  return present;
}

export function imageAt(name: string, d: Dict, key: string): MetaImage {
  if (!(key in d)) throw new InputError(name, `key "${key}" is missing from the data`);
  return checkImage(d[key], `${name} (key "${key}")`);
}

/** Dictionary transforms that apply one array op per key with per-key options. */
export function mapKeys(
  name: string,
  d: Dict,
  keys: readonly string[],
  allowMissing: boolean,
  fn: (img: MetaImage, keyIndex: number, key: string) => MetaImage,
): Dict {
  const out: Dict = { ...d };
  keys.forEach((k, i) => {
    if (!(k in d) || d[k] === undefined) {
      if (allowMissing) return;
      throw new InputError(name, `key "${k}" is missing from the data (set allow_missing_keys to skip it)`);
    }
    out[k] = fn(imageAt(name, d, k), i, k);
  });
  return out;
}

export async function mapKeysAsync(
  name: string,
  d: Dict,
  keys: readonly string[],
  allowMissing: boolean,
  fn: (img: MetaImage, keyIndex: number, key: string) => Promise<MetaImage>,
): Promise<Dict> {
  const out: Dict = { ...d };
  for (let i = 0; i < keys.length; i++) {
    const k = keys[i];
    if (!(k in d) || d[k] === undefined) {
      if (allowMissing) continue;
      throw new InputError(name, `key "${k}" is missing from the data (set allow_missing_keys to skip it)`);
    }
    out[k] = await fn(imageAt(name, d, k), i, k);
  }
  return out;
}
