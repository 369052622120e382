/**
 * `npm run bench:webgpu-train [-- --batch 16 --patch 96 --channels 5 --steps 5 --dawn skip_validation]`:
 * COPLE-Net training on the WebGPU backend in Node (Dawn): steps per second of the Trainer (sampler
 * bypassed), the GPU time of one step's gradient + Adam update (timestamp queries, which need Dawn's
 * allow_unsafe_apis), and that time by shader program. Wall time far above GPU time means the step is
 * bound by the host (tfjs dispatch, buffer uploads): profile it with `node --cpu-prof`.
 * `--dawn` adds Dawn toggles, `--submit-batch` sets tfjs-webgpu's WEBGPU_DEFERRED_SUBMIT_BATCH_SIZE.
 * Meant for a real GPU (scripts/device/); on SwiftShader use tiny shapes. Runs through scripts/run-ts.mjs.
 */
import { parseArgs } from 'node:util';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../src/engine/tf/backend';
import { DeviceAdam } from '../src/engine/training/adam';
import { diceCELoss } from '../src/engine/training/losses';
import { Trainer } from '../src/engine/training/trainer';

const { values } = parseArgs({
  options: {
    batch: { type: 'string', default: '16' },
    patch: { type: 'string', default: '96' },
    channels: { type: 'string', default: '5' },
    features: { type: 'string', default: '32,64,128,256,512' },
    steps: { type: 'string', default: '5' },
    dawn: { type: 'string', default: '' },
    'submit-batch': { type: 'string' },
  },
});
const batch = Number(values.batch);
const patch = Number(values.patch);
const channels = Number(values.channels);
const features = values.features!.split(',').map(Number);
const steps = Number(values.steps);
// Extra Dawn toggles (e.g. skip_validation) and tfjs-webgpu's WEBGPU_DEFERRED_SUBMIT_BATCH_SIZE: CPU-side overhead experiments.
const toggles = ['allow_unsafe_apis', ...values.dawn!.split(',').filter(Boolean)];

async function main() {
  // Timestamp queries (per-shader GPU time) need Dawn's unsafe APIs.
  const info = await initBackend(['webgpu'], { dawnFlags: [`enable-dawn-features=${toggles.join(',')}`] });
  if (values['submit-batch']) tf.env().set('WEBGPU_DEFERRED_SUBMIT_BATCH_SIZE', Number(values['submit-batch']));
  console.log(`Dawn toggles ${toggles.join(',')}; WEBGPU_DEFERRED_SUBMIT_BATCH_SIZE ${tf.env().getNumber('WEBGPU_DEFERRED_SUBMIT_BATCH_SIZE')}`);
  console.log(`webgpu adapter: ${JSON.stringify(info.adapterInfo)}${info.isSoftwareAdapter ? ' (software)' : ''}`);
  console.log(`COPLE-Net ${features.join(',')}, ${channels} input channels, batch ${batch} of ${patch}², Adam; ${steps} timed steps after 2 warm-up`);
  let seed = 1;
  const rand = () => (seed = (seed * 16807) % 2147483647) / 2147483647;
  const images = Float32Array.from({ length: batch * patch * patch * channels }, rand);
  const labels = Uint8Array.from({ length: batch * patch * patch }, (_, n) => (images[n * channels] > 0.7 ? 1 : 0));
  const sampler = { batch: async () => ({ images, labels, batchSize: batch, patchSize: patch, channels }) };
  const trainer = await Trainer.create(
    { model: { kind: 'coplenet', features, seed: 1 }, loss: { kind: 'dicece' }, optimizer: { kind: 'adam', schedule: { kind: 'constant', lr: 1e-4 } }, steps: steps + 2, patches: { patchSize: patch, batchSize: batch, contextSlices: (channels - 1) / 2 }, seed: 1 },
    { train: [], sampler },
  );
  await trainer.trainStep();
  await trainer.trainStep();
  const t0 = performance.now();
  for (let s = 0; s < steps; s++) await trainer.trainStep();
  const sec = (performance.now() - t0) / 1000 / steps;
  console.log(`${(1 / sec).toFixed(3)} steps/s (${(sec * 1000).toFixed(0)} ms/step)`);
  // One gradient + update inside tf.time: GPU time by program (zero without timestamp queries).
  const x = tf.tensor4d(images, [batch, patch, patch, channels]);
  const y = tf.tensor4d(Float32Array.from({ length: labels.length * 2 }, (_, n) => (labels[n >> 1] === (n & 1) ? 1 : 0)), [batch, patch, patch, 2]);
  const optimizer = new DeviceAdam(1e-4);
  const vars = trainer.network.trainableVariables();
  const timing = await tf.time(() => {
    const { value, grads } = tf.variableGrads(() => diceCELoss(trainer.network.apply(x, { training: true }), y, { softmax: true }), vars);
    optimizer.applyGradients(grads as unknown as { [name: string]: tf.Variable });
    tf.dispose([value, ...Object.values(grads)]);
  });
  const byProgram = new Map<string, number>();
  const extra = (timing as unknown as { getExtraProfileInfo?: () => string }).getExtraProfileInfo?.() ?? '';
  for (const item of extra.split(', ').filter(Boolean)) {
    const at = item.lastIndexOf(': ');
    byProgram.set(item.slice(0, at), (byProgram.get(item.slice(0, at)) ?? 0) + Number(item.slice(at + 2)));
  }
  const top = [...byProgram].sort((a, b) => b[1] - a[1]).slice(0, 10);
  console.log(`one step in tf.time: wall ${timing.wallMs?.toFixed?.(0) ?? '?'} ms, GPU ${(timing as { kernelMs: number }).kernelMs?.toFixed?.(1) ?? '?'} ms; top programs: ${top.map(([k, v]) => `${k} ${v.toFixed(1)} ms`).join('; ')}`);
  tf.dispose([x, y]);
  optimizer.dispose();
  trainer.dispose();
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
