/**
 * Maps an image back through the invertible spatial transforms that produced its grid (MONAI's
 * `Invertd` idea): Orientation/flips/rot90 (exact), pads and crops (exact; cropped-away parts
 * come back as 0), Spacing (resampled onto the original grid). Typical use, for a prediction
 * made on a transformed input `x`:
 *
 *   const back = await invert(pred, { ops: x.meta?.applied_operations, mode: 'nearest' });
 */
import { InputError } from '../io/errors';
import { spatialShape, whereOf, type MetaImage, type TraceRecord } from './image';
import type { GridPadMode, InterpMode } from './resample';
import { resampleToGrid } from './spacing';
import { cropPad, unpermuteFlip } from './spatial';

export interface InvertOptions {
  /** The records to undo, oldest first (default: the image's own `meta.applied_operations`). */
  ops?: readonly TraceRecord[];
  /** Interpolation for undoing Spacing (default: the mode recorded by the forward transform). */
  mode?: InterpMode;
}

export async function invert(img: MetaImage, opts: InvertOptions = {}): Promise<MetaImage> {
  const ops = [...(opts.ops ?? img.meta?.applied_operations ?? [])];
  let cur: MetaImage = img;
  while (ops.length) {
    const rec = ops.pop()!;
    const where = whereOf(img, `invert ${rec.name}`);
    const origSp = rec.orig_shape.slice(1);
    const sp = spatialShape(cur);
    if (sp.length !== origSp.length) throw new InputError(where, `${rec.name}: image has ${sp.length} spatial dims, the record ${origSp.length}`);
    switch (rec.op) {
      case 'permute': {
        const perm = rec.extra.perm as number[];
        const expected = perm.map((a) => origSp[a]);
        if (expected.some((n, d) => n !== sp[d])) throw new InputError(where, `${rec.name}: image shape [${sp}] is not the transformed shape [${expected}]`);
        cur = unpermuteFlip(cur, perm, rec.extra.flips as boolean[], rec.orig_affine);
        break;
      }
      case 'crop': {
        const start = rec.extra.start as number[];
        const end = rec.extra.end as number[];
        if (end.some((e, d) => e - start[d] !== sp[d])) throw new InputError(where, `${rec.name}: image shape [${sp}] is not the cropped shape`);
        cur = { ...cropPad(cur, start.map((s) => -s), start.map((s, d) => origSp[d] - s), 'constant'), affine: rec.orig_affine.slice() };
        break;
      }
      case 'resample': {
        const e = rec.extra as { mode: InterpMode; padding_mode: GridPadMode; align_corners: boolean };
        const out = await resampleToGrid(cur, rec.orig_affine, origSp, { mode: opts.mode ?? e.mode, padding_mode: e.padding_mode, align_corners: e.align_corners });
        cur = { ...out, affine: rec.orig_affine.slice() };
        break;
      }
      default:
        throw new InputError(where, `${rec.name} cannot be inverted`);
    }
  }
  // Undoing its own records empties them; undoing external ones leaves the image's own as they were.
  return { ...cur, meta: { ...img.meta, applied_operations: opts.ops ? [...(img.meta?.applied_operations ?? [])] : [] } };
}
