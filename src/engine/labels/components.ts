/**
 * 3D connected components (6-connectivity) of a binary mask, by breadth-first flood fill with an
 * explicit queue (no recursion, so large volumes are fine). Volume layout: i fastest.
 */
import type { Vec3 } from '../volume';

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

export function connectedComponents(mask: ArrayLike<number>, dims: Vec3): Components {
  const [nx, ny, nz] = dims;
  const nxy = nx * ny;
  const labels = new Int32Array(mask.length);
  const queue = new Int32Array(mask.length);
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
      const visit = (q: number) => {
        if (mask[q] && !labels[q]) {
          labels[q] = id;
          queue[tail++] = q;
        }
      };
      if (i > 0) visit(p - 1);
      if (i < nx - 1) visit(p + 1);
      if (j > 0) visit(p - nx);
      if (j < ny - 1) visit(p + nx);
      if (k > 0) visit(p - nxy);
      if (k < nz - 1) visit(p + nxy);
    }
    sizes.push(tail);
    touchesBorder.push(border);
    boxes.push(box);
  }
  return { labels, count, sizes, touchesBorder, boxes };
}
