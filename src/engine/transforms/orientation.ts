/**
 * Orientation(d) (§5.3): reorder/flip spatial axes so they point to `axcodes`, no interpolation.
 *
 * MONAI works on a RAS affine with nibabel's labels (("L","R"),("P","A"),("I","S")). Our affine is
 * LPS, so the same letters are read in the LPS frame: +x = L, +y = P, +z = S (the table
 * `axisCodes` in volume.ts uses). Because nibabel's `ornt_transform` only compares source and
 * destination in one frame, this gives exactly the flips/transposes MONAI computes on the RAS
 * affine — the tests check it against nibabel itself.
 */
import { InputError } from '../io/errors';
import { keyList, parseArgs, type Spec } from './args';
import { mapKeys, type ArrayTransform, type DictTransform } from './base';
import { checkImage, spatialAffine, whereOf, withTrace, type Dict, type MetaImage, type TraceRecord } from './image';
import { inv, transpose, type Matrix } from './matrix';
import { permuteFlip } from './spatial';

/** nibabel "ornt": per input axis, [world axis, ±1]. */
export type Ornt = [number, number][];

/** Letter → [LPS world axis, sign]: +x points Left, +y Posterior, +z Superior. */
const LETTERS: Record<string, [number, number]> = {
  L: [0, 1],
  R: [0, -1],
  P: [1, 1],
  A: [1, -1],
  S: [2, 1],
  I: [2, -1],
};

/**
 * nibabel `io_orientation` of a spatial affine ((sr+1)×(sr+1)): for each voxel axis the world
 * axis it runs along most and its sign, chosen greedily in axis order. The rotation part is first
 * made orthogonal (polar decomposition, as nibabel does with an SVD) so sheared affines work too.
 */
export function ioOrientation(affine: Matrix): Ornt {
  const sr = affine.length - 1;
  const rzs = affine.slice(0, sr).map((row) => row.slice(0, sr));
  const zooms = rzs[0].map((_, c) => Math.hypot(...rzs.map((row) => row[c])) || 1);
  let r = rzs.map((row) => row.map((x, c) => x / zooms[c]));
  // Newton iteration X ← (X + X⁻ᵀ)/2 converges to the orthogonal polar factor.
  for (let it = 0; it < 50; it++) {
    const rInvT = transpose(inv(r));
    const next = r.map((row, i) => row.map((x, j) => (x + rInvT[i][j]) / 2));
    const delta = Math.max(...next.flatMap((row, i) => row.map((x, j) => Math.abs(x - r[i][j]))));
    r = next;
    if (delta < 1e-12) break;
  }
  const ornt: Ornt = [];
  const used = new Set<number>();
  for (let c = 0; c < sr; c++) {
    let best = -1;
    for (let w = 0; w < sr; w++) if (!used.has(w) && (best < 0 || Math.abs(r[w][c]) > Math.abs(r[best][c]))) best = w;
    used.add(best);
    ornt.push([best, r[best][c] < 0 ? -1 : 1]);
  }
  return ornt;
}

/** nibabel `axcodes2ornt` for our LPS frame. */
export function axcodesToOrnt(axcodes: string): Ornt {
  const ornt: Ornt = [];
  for (const ch of axcodes.toUpperCase()) {
    const o = LETTERS[ch];
    if (!o) throw new Error(`unknown axis code "${ch}" (use letters from L/R, P/A, S/I)`);
    if (ornt.some(([w]) => w === o[0])) throw new Error(`axis codes "${axcodes}" name the same world axis twice`);
    ornt.push([o[0], o[1]]);
  }
  return ornt;
}

/** nibabel `ornt_transform`: per source axis, [destination axis, flip ±1]. */
export function orntTransform(src: Ornt, dst: Ornt): Ornt {
  if (src.length !== dst.length) throw new Error('orientations must have the same length');
  const out: Ornt = new Array(src.length);
  dst.forEach(([w, f], j) => {
    const a = src.findIndex(([sw]) => sw === w);
    if (a < 0) throw new Error(`source orientation has no axis along world axis ${w}`);
    out[a] = [j, src[a][1] === f ? 1 : -1];
  });
  return out;
}

export interface OrientationArgs {
  axcodes?: string | null;
  as_closest_canonical?: boolean;
}

const SPEC: Spec = {
  axcodes: { kind: 'string', nullable: true, default: null },
  as_closest_canonical: { kind: 'boolean', default: false },
};

/** Reorients `img`; `transform[a] = [out axis, flip]` for each input spatial axis. */
export function applyOrnt(img: MetaImage, transform: Ornt, name: string): MetaImage {
  const sr = transform.length;
  const perm = new Array<number>(sr);
  const flips = new Array<boolean>(sr);
  transform.forEach(([j, f], a) => {
    perm[j] = a;
    flips[j] = f === -1;
  });
  const record: TraceRecord = {
    name,
    op: 'permute',
    orig_shape: img.shape.slice(),
    orig_affine: img.affine.slice(),
    extra: { perm, flips },
  };
  return { ...permuteFlip(img, perm, flips), meta: withTrace(img.meta, record) };
}

function orient(name: string, img: MetaImage, a: Required<OrientationArgs>): MetaImage {
  const sr = img.shape.length - 1;
  const where = whereOf(img, name);
  const codes = a.as_closest_canonical ? 'RAS'.slice(0, sr) : a.axcodes!;
  if (codes.length < sr) throw new InputError(where, `axcodes "${codes}" has fewer letters than the ${sr} spatial axes`);
  try {
    const src = ioOrientation(spatialAffine(img.affine, sr));
    const dst = axcodesToOrnt(codes.slice(0, sr));
    return applyOrnt(img, orntTransform(src, dst), name);
  } catch (e) {
    if (e instanceof InputError) throw e;
    throw new InputError(where, (e as Error).message);
  }
}

function checkArgs(name: string, a: Required<OrientationArgs>): void {
  if (a.axcodes === null && !a.as_closest_canonical) throw new InputError(name, 'need axcodes or as_closest_canonical=true');
  if (a.axcodes !== null) {
    try {
      axcodesToOrnt(a.axcodes);
    } catch (e) {
      throw new InputError(name, (e as Error).message);
    }
  }
}

export class Orientation implements ArrayTransform {
  readonly name = 'Orientation';
  readonly args: Required<OrientationArgs>;
  constructor(args: OrientationArgs) {
    this.args = parseArgs(this.name, SPEC, args);
    checkArgs(this.name, this.args);
  }
  call(img: MetaImage): MetaImage {
    return orient(this.name, checkImage(img, this.name), this.args);
  }
}

export class Orientationd implements DictTransform {
  readonly name = 'Orientationd';
  readonly args: Required<OrientationArgs> & { keys: string[]; allow_missing_keys: boolean };
  constructor(args: OrientationArgs & { keys: string | string[]; allow_missing_keys?: boolean }) {
    const a = parseArgs<typeof this.args>(this.name, { keys: { kind: 'keys', required: true }, allow_missing_keys: { kind: 'boolean', default: false }, ...SPEC }, args);
    this.args = { ...a, keys: keyList(a.keys) };
    checkArgs(this.name, this.args);
  }
  call(d: Dict): Dict {
    return mapKeys(this.name, d, this.args.keys, this.args.allow_missing_keys, (img) => orient(this.name, img, this.args));
  }
}
