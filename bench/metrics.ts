/**
 * `npm run bench:metrics [-- --size 512,512,300 --observers 5]`: every pairwise metric for two masks
 * with lesion-like blobs, and STAPLE for N observers, on a 512×512×300 grid, in Node.
 * Goal on the 2-core dev machine: ≤ 2 s per pair, STAPLE ≤ 10 s.
 */
import { parseArgs } from 'node:util';
import { compareMasks, staple } from '../src/engine/metrics';
import type { Vec3 } from '../src/engine/volume';

const { values } = parseArgs({ options: { size: { type: 'string', default: '512,512,300' }, observers: { type: 'string', default: '5' } } });
const dims = values.size!.split(',').map(Number) as Vec3;
const spacing: Vec3 = [0.7, 0.7, 1.25];
const nObs = Number(values.observers);

/** Blobs (ellipsoids) at fixed places, each observer shifting and scaling them a little. */
function lesions(seed: number): Uint8Array {
  const [nx, ny, nz] = dims;
  const m = new Uint8Array(nx * ny * nz);
  let s = seed;
  const rnd = () => ((s = (s * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff);
  for (let b = 0; b < 12; b++) {
    const c = [nx * (0.2 + 0.6 * ((b * 0.37) % 1)), ny * (0.2 + 0.6 * ((b * 0.61) % 1)), nz * (0.2 + 0.6 * ((b * 0.23) % 1))];
    const r = (4 + (b % 5) * 6) * (0.85 + 0.3 * rnd());
    const jitter = [rnd() * 3 - 1.5, rnd() * 3 - 1.5, rnd() - 0.5];
    const rz = r * (spacing[0] / spacing[2]);
    for (let k = Math.max(0, Math.floor(c[2] - rz - 2)); k < Math.min(nz, c[2] + rz + 2); k++)
      for (let j = Math.max(0, Math.floor(c[1] - r - 2)); j < Math.min(ny, c[1] + r + 2); j++)
        for (let i = Math.max(0, Math.floor(c[0] - r - 2)); i < Math.min(nx, c[0] + r + 2); i++) {
          const d = ((i - c[0] - jitter[0]) / r) ** 2 + ((j - c[1] - jitter[1]) / r) ** 2 + ((k - c[2] - jitter[2]) / rz) ** 2;
          if (d <= 1) m[i + nx * (j + ny * k)] = 1;
        }
  }
  return m;
}

const observers = Array.from({ length: nObs }, (_, n) => lesions(n + 1));
const rssBefore = process.memoryUsage().rss;
let t = performance.now();
const m = compareMasks(observers[1], observers[0], { dims, spacing });
const pairSec = (performance.now() - t) / 1000;
t = performance.now();
const st = staple(observers);
const stapleSec = (performance.now() - t) / 1000;
const extra = (process.memoryUsage().rss - rssBefore) / (observers[0].length * nObs);
console.log(`grid ${dims.join('×')}, spacing ${spacing.join('×')} mm, ${m.voxelsGt} / ${m.voxelsPred} lesion voxels`);
console.log(`pair (all metrics): ${pairSec.toFixed(2)} s  — Dice ${m.dice.toFixed(4)}, HD95 ${m.hausdorff95.toFixed(2)} mm, ASSD ${m.assd.toFixed(3)} mm`);
console.log(`STAPLE, ${nObs} observers: ${stapleSec.toFixed(2)} s, ${st.iterations} iterations, converged ${st.converged}`);
console.log(`memory beyond the masks: ${extra.toFixed(2)} bytes per voxel per observer (RSS growth)`);
