/**
 * `npm run bench:infer [-- --sizes 256,512 --backends wasm,webgpu --runs 3 --slices 2]`:
 * COPLE-Net (default 32…512 features, random weights) slices per second and achieved GFLOP/s per
 * backend and slice size, after a warm-up, median of runs, with tfjs' peak memory of one batch.
 * FLOPs = 2 × MACs, from the spec's measured 44.3 GMAC per 512² slice scaled by pixel count.
 * cpu (pure JS) takes ~1 min per 256² slice here: ask for it explicitly with --backends cpu.
 */
import { parseArgs } from 'node:util';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend, type BackendName } from '../src/engine/tf/backend';
import { CopleNet } from '../src/models';

const { values } = parseArgs({
  options: {
    sizes: { type: 'string', default: '256,512' },
    backends: { type: 'string', default: 'wasm,webgpu' },
    runs: { type: 'string', default: '3' },
    slices: { type: 'string', default: '2' },
  },
});
const sizes = values.sizes!.split(',').map(Number);
const backends = values.backends!.split(',') as BackendName[];
const runs = Number(values.runs);
const slices = Number(values.slices);
const MAC_PER_PIXEL = 44.3e9 / (512 * 512);
const median = (xs: number[]) => xs.slice().sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function main() {
  console.log(`COPLE-Net 32…512, batch of ${slices} slice(s), ${runs} timed runs after 1 warm-up`);
  console.log('backend  size  slices/s  GFLOP/s  median s/batch  peak MiB');
  for (const name of backends) {
    const info = await initBackend([name]).catch((e: Error) => ({ error: e.message }));
    if ('error' in info) {
      console.log(`${name.padEnd(8)} unavailable: ${info.error}`);
      continue;
    }
    const net = new CopleNet({ seed: 1 });
    for (const size of sizes) {
      const x = tf.randomUniform([slices, size, size, 1]);
      const once = async () => {
        const t0 = performance.now();
        const y = net.apply(x);
        await y.data();
        y.dispose();
        return (performance.now() - t0) / 1000;
      };
      await once();
      const times: number[] = [];
      for (let r = 0; r < runs; r++) times.push(await once());
      const prof = await tf.profile(async () => {
        const y = net.apply(x);
        await y.data();
        y.dispose();
      });
      x.dispose();
      const t = median(times);
      const gflop = (2 * MAC_PER_PIXEL * size * size * slices) / 1e9;
      const adapter = info.adapterInfo?.description ? ` (${info.adapterInfo.description})` : '';
      console.log(
        `${name.padEnd(8)} ${String(size).padEnd(5)} ${(slices / t).toFixed(2).padStart(8)} ${(gflop / t).toFixed(1).padStart(8)} ${t.toFixed(2).padStart(15)} ${(prof.peakBytes / 2 ** 20).toFixed(0).padStart(9)}${adapter}`,
      );
    }
    net.dispose();
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
