/**
 * `npm run bench:train [-- --backends wasm,webgpu --batch 2 --patch 256 --steps 3]`: COPLE-Net
 * (default 32…512) training steps per second and peak tfjs memory per backend, Adam, Dice+CE,
 * random patches (the sampler is bypassed so only the network's work is timed). First step = warm-up.
 * Default batch 2: wasm32 memory (4 GB) does not hold batch 8 of 256² for the default network.
 * Runs through scripts/run-ts.mjs (tfjs gradients).
 */
import { parseArgs } from 'node:util';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend, type BackendName } from '../src/engine/tf/backend';
import { Trainer } from '../src/engine/training/trainer';

const { values } = parseArgs({
  options: { backends: { type: 'string', default: 'wasm' }, batch: { type: 'string', default: '2' }, patch: { type: 'string', default: '256' }, steps: { type: 'string', default: '3' } },
});
const batch = Number(values.batch);
const patch = Number(values.patch);
const steps = Number(values.steps);

async function main() {
  console.log(`COPLE-Net 32…512, batch ${batch} of ${patch}×${patch}, Adam, ${steps} timed steps after 1 warm-up`);
  for (const name of values.backends!.split(',') as BackendName[]) {
    const info = await initBackend([name]).catch((e: Error) => ({ error: e.message }));
    if ('error' in info) {
      console.log(`${name}: unavailable (${info.error})`);
      continue;
    }
    let seed = 1;
    const sampler = {
      async batch() {
        const images = new Float32Array(batch * patch * patch).map(() => ((seed = (seed * 16807) % 2147483647) / 2147483647));
        const labels = new Uint8Array(batch * patch * patch).map((_, n) => (images[n] > 0.7 ? 1 : 0));
        return { images, labels, batchSize: batch, patchSize: patch, channels: 1 };
      },
    };
    const trainer = await Trainer.create(
      { model: { kind: 'coplenet', seed: 1 }, loss: { kind: 'dicece' }, optimizer: { kind: 'adam', schedule: { kind: 'constant', lr: 1e-4 } }, steps: steps + 1, patches: { patchSize: patch, batchSize: batch }, seed: 1 },
      { train: [], sampler },
    );
    await trainer.trainStep();
    const t0 = performance.now();
    let peak = 0;
    for (let s = 0; s < steps; s++) {
      const prof = await tf.profile(async () => {
        await trainer.trainStep();
      });
      peak = Math.max(peak, prof.peakBytes);
    }
    const sec = (performance.now() - t0) / 1000 / steps;
    console.log(`${name.padEnd(7)} ${(1 / sec).toFixed(3)} steps/s (${sec.toFixed(1)} s/step), ${((batch * patch * patch) / sec / 1e3).toFixed(1)} kpixel/s, peak ${(peak / 2 ** 20).toFixed(0)} MiB`);
    trainer.dispose();
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
