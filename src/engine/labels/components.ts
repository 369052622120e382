/**
 * 3D connected components of a binary mask (nonzero = foreground), by breadth-first flood fill with
 * an explicit queue (no recursion, so large volumes are fine). Volume layout: i fastest.
 * Connectivity as scikit-image / MONAI: the most orthogonal hops between neighbours — 1 = the 6
 * face neighbours, 2 = also the 12 edge neighbours, 3 = all 26.
 */
import type { Vec3 } from '../volume';

export type Connectivity = 1 | 2 | 3;

export interface Components {
  /** Component id per voxel, 0 = background, 1..count. */
  labels: Int32Array;
  count: number;
  /** Voxel count per component, index = id (index 0 unused). */
  sizes: number[];
  /** Whether a component touches the volume's faces, index = id. */
  touchesBorder: boolean[];
  /** Bounding box [min i, min j, min k, max i, max j, max k] per component, index = id. */
  boxes: [number, number, number, number, number, number][];
}

/** Neighbour offsets [di, dj, dk] within `connectivity` orthogonal hops. */
function neighbourOffsets(connectivity: Connectivity): Vec3[] {
  const out: Vec3[] = [];
  for (let dk = -1; dk <= 1; dk++)
    for (let dj = -1; dj <= 1; dj++)
      for (let di = -1; di <= 1; di++) {
        const hops = Math.abs(di) + Math.abs(dj) + Math.abs(dk);
        if (hops > 0 && hops <= connectivity) out.push([di, dj, dk]);
      }
  return out;
}

export function connectedComponents(mask: ArrayLike<number>, dims: Vec3, connectivity: Connectivity = 1): Components {
  const [nx, ny, nz] = dims;
  const nxy = nx * ny;
  const offsets = neighbourOffsets(connectivity);
  const labels = new Int32Array(mask.length);
  let foreground = 0;
  for (let p = 0; p < mask.length; p++) if (mask[p]) foreground++;
  // Each foreground voxel enters the queue once: a full-size queue would double a big scan's memory.
  const queue = new Int32Array(foreground);
  const sizes = [0];
  const touchesBorder = [false];
  const boxes: Components['boxes'] = [[0, 0, 0, 0, 0, 0]];
  let count = 0;
  for (let start = 0; start < mask.length; start++) {
    if (!mask[start] || labels[start]) continue;
    const id = ++count;
    let head = 0;
    let tail = 0;
    queue[tail++] = start;
    labels[start] = id;
    let border = false;
    const box: [number, number, number, number, number, number] = [nx, ny, nz, -1, -1, -1];
    while (head < tail) {
      const p = queue[head++];
      const i = p % nx;
      const j = ((p - i) / nx) % ny;
      const k = Math.floor(p / nxy);
      if (i < box[0]) box[0] = i;
      if (j < box[1]) box[1] = j;
      if (k < box[2]) box[2] = k;
      if (i > box[3]) box[3] = i;
      if (j > box[4]) box[4] = j;
      if (k > box[5]) box[5] = k;
      if (i === 0 || j === 0 || k === 0 || i === nx - 1 || j === ny - 1 || k === nz - 1) border = true;
      for (const [di, dj, dk] of offsets) {
        const a = i + di;
        const b = j + dj;
        const c = k + dk;
        if (a < 0 || b < 0 || c < 0 || a >= nx || b >= ny || c >= nz) continue;
        const q = p + di + nx * dj + nxy * dk;
        if (mask[q] && !labels[q]) {
          labels[q] = id;
          queue[tail++] = q;
        }
      }
    }
    sizes.push(tail);
    touchesBorder.push(border);
    boxes.push(box);
  }
  return { labels, count, sizes, touchesBorder, boxes };
}

export interface RemoveSmallObjectsOptions {
  /** Objects with fewer voxels than this are removed; in mm³ when `spacing` is given. */
  minSize: number;
  /** Default 1 (face neighbours), as MONAI. */
  connectivity?: Connectivity;
  /** Voxel size in mm (MONAI `by_measure` with `pixdim`): `minSize` is then a volume in mm³. */
  spacing?: Vec3;
  /**
   * Default true: each label's components apart (MONAI `independent_channels` on a one-hot mask);
   * false: components of all nonzero voxels together, whatever their labels.
   */
  independentChannels?: boolean;
}

export interface RemovedObjects {
  /** The mask with the removed objects set to 0, other voxels keep their labels (0..255). */
  mask: Uint8Array;
  /** How many components were removed, and their voxels. */
  components: number;
  voxels: number;
}

/**
 * MONAI `RemoveSmallObjects` (scikit-image `remove_small_objects`): components smaller than
 * `minSize` become background. By measure, MONAI converts the volume to voxels as
 * ceil(min_size / voxel volume); done the same way here so the two agree at the boundary.
 * Unlike MONAI on an integer label map (which scikit-image would take as ready-made objects, one
 * per label, unconnected), a multi-label mask is split per label into connected components, which
 * is what MONAI does on the one-hot form of the same mask.
 */
export function removeSmallObjects(mask: ArrayLike<number>, dims: Vec3, opts: RemoveSmallObjectsOptions): RemovedObjects {
  const { connectivity = 1, spacing, independentChannels = true } = opts;
  const minVoxels = spacing ? Math.ceil(opts.minSize / (spacing[0] * spacing[1] * spacing[2])) : opts.minSize;
  const out = Uint8Array.from(mask);
  let components = 0;
  let voxels = 0;
  const drop = (fg: ArrayLike<number>) => {
    const cc = connectedComponents(fg, dims, connectivity);
    const small = cc.sizes.map((n, id) => id > 0 && n < minVoxels);
    for (let id = 1; id <= cc.count; id++) {
      if (!small[id]) continue;
      components++;
      voxels += cc.sizes[id];
    }
    if (!small.includes(true)) return;
    for (let p = 0; p < out.length; p++) if (small[cc.labels[p]]) out[p] = 0;
  };
  const labels = new Set<number>();
  for (let p = 0; p < mask.length; p++) if (mask[p]) labels.add(mask[p]);
  // One label (a binary mask) needs no per-label copy.
  if (!independentChannels || labels.size <= 1) drop(mask);
  else for (const label of labels) drop(Uint8Array.from(mask, (v) => (v === label ? 1 : 0)));
  return { mask: out, components, voxels };
}

export interface KeepConfidentOptions {
  /** A component stays when at least one of its voxels scores this much or more. */
  minScore: number;
  /** Default 1 (face neighbours). */
  connectivity?: Connectivity;
}

/**
 * Keeps the components of `mask` (all nonzero voxels together) that reach `minScore` somewhere in
 * `score` (e.g. the lesion probability), and clears the others: hysteresis thresholding as
 * scikit-image's `apply_hysteresis_threshold`, with the mask as the low threshold. Unlike a size
 * cut, a small component the model is sure of survives and a large faint one goes.
 */
export function keepConfidentComponents(mask: ArrayLike<number>, score: ArrayLike<number>, dims: Vec3, opts: KeepConfidentOptions): RemovedObjects {
  if (score.length !== mask.length) throw new Error(`scores for ${score.length} voxels, the mask has ${mask.length}`);
  const cc = connectedComponents(mask, dims, opts.connectivity ?? 1);
  const sure = new Uint8Array(cc.count + 1);
  for (let p = 0; p < mask.length; p++) if (cc.labels[p] && score[p] >= opts.minScore) sure[cc.labels[p]] = 1;
  const out = Uint8Array.from(mask);
  let components = 0;
  let voxels = 0;
  for (let id = 1; id <= cc.count; id++) {
    if (sure[id]) continue;
    components++;
    voxels += cc.sizes[id];
  }
  if (components) for (let p = 0; p < out.length; p++) if (!sure[cc.labels[p]]) out[p] = 0;
  return { mask: out, components, voxels };
}
