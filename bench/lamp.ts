/**
 * `node scripts/run-ts.mjs bench/lamp.ts [--cases 8x64,8x96,16x64] [--backend wasm|cpu] [--budget MB]
 *    [--batch 2] [--micro 2] [--roi 0.5]`
 *
 * LAMP's trade-offs re-measured in this engine at small scale, per UNetPipe base filters × cube size:
 * - the stage plan for training (batch, micro-batches, Adam) under a per-stage budget (default: half
 *   of what one stage would need), with the estimated bytes of each stage;
 * - one training step unpartitioned (whole batch) vs GPipe-style (K stages, M micro-batches,
 *   checkpointing): time and measured peak tensor bytes (tf.profile, so times include its overhead);
 * - inference on the whole volume (Network.apply: one tidy), staged (layer by layer, planned for 80%
 *   of what one stage needs, so that crossing skips are parked if that fits), and MONAI sliding
 *   window (roi = --roi × size rounded to a multiple of 32, overlap 0.25).
 * Random weights and data. Prints a table; asserts nothing.
 */
import { parseArgs } from 'node:util';
import * as tf from '@tensorflow/tfjs-core';
import { slidingWindowInference } from '../src/engine/inference/sliding-window';
import { pipelineGradients, pipelineInference } from '../src/engine/parallel/pipeline';
import { planPipeline, type PipelinePlan } from '../src/engine/parallel/plan';
import { profileLayers } from '../src/engine/parallel/profile';
import { initBackend, type BackendName } from '../src/engine/tf/backend';
import { diceCELoss, oneHotTarget } from '../src/engine/training/losses';
import { UNetPipe } from '../src/models/unetpipe';

const { values } = parseArgs({
  options: {
    cases: { type: 'string', default: '8x64,8x96,16x64' },
    backend: { type: 'string', default: 'wasm' },
    budget: { type: 'string' },
    batch: { type: 'string', default: '2' },
    micro: { type: 'string', default: '2' },
    roi: { type: 'string', default: '0.5' },
  },
});
const CLASSES = 3;
const batch = Number(values.batch);
const micro = Number(values.micro);
const MB = 2 ** 20;
const mb = (b: number) => (b / MB).toFixed(1);

interface Row {
  case: string;
  run: string;
  k: string;
  stages: string;
  peak: string;
  seconds: string;
}
const rows: Row[] = [];

/**
 * Time and peak tensor bytes above the start of one run of `fn`, after one untimed run (the first run
 * of a size grows the wasm heap and sets up kernels, which would otherwise be charged to whichever
 * variant happens to run first).
 */
async function measure(fn: () => Promise<void> | void): Promise<{ seconds: number; peak: number }> {
  await fn();
  const start = tf.memory().numBytes;
  const t0 = performance.now();
  const info = await tf.profile(async () => {
    await fn();
  });
  const seconds = (performance.now() - t0) / 1000;
  const peak = Math.max(0, ...info.kernels.map((k) => k.totalBytesSnapshot - start));
  return { seconds, peak };
}

function stageText(plan: PipelinePlan): string {
  return plan.stages.map((s) => mb(s.bytes)).join(' / ') + (plan.parkSkips ? ' (skips parked)' : '');
}

async function runCase(nFeat: number, size: number): Promise<void> {
  const name = `nf${nFeat} ${size}³`;
  const net = new UNetPipe({ nFeat, outChannels: CLASSES, seed: 1 });
  const x = tf.randomNormal([batch, size, size, size, 1], 0, 1, 'float32', 2);
  const labels = tf.randomUniform([batch, size, size, size], 0, CLASSES, 'int32', 3);
  const y = oneHotTarget(labels.dataSync(), labels.shape, CLASSES);
  labels.dispose();
  const loss = (logits: tf.Tensor, target: tf.Tensor) => diceCELoss(logits, target, { softmax: true });

  const profile = await profileLayers(net, [1, size, size, size, 1], { training: true, runs: 0 });
  const trainOpts = { mode: 'training' as const, batch, microBatches: micro, optimizer: 'adam' as const };
  const one = planPipeline(profile, { ...trainOpts, stageBudgetBytes: Infinity });
  const budget = values.budget ? Number(values.budget) * MB : one.stages[0].bytes / 2;
  const plan = planPipeline(profile, { ...trainOpts, stageBudgetBytes: budget });
  console.log(`${name}: training plan under ${mb(budget)} MB per stage: K=${plan.stages.length} balance [${plan.balance}] ` +
    `stages ${stageText(plan)} MB, crossing skips ${plan.crossing.map((r) => `${r.namespace}:${r.stashStage}->${r.popStage}`).join(' ') || 'none'}` +
    `${plan.fits ? '' : ` — does not fit: ${plan.problems.join('; ')}`}; estimated one device ${mb(plan.singleDeviceBytes)} MB, whole ${mb(plan.wholeBytes)} MB`);

  const vars = net.trainableVariables();
  const whole = await measure(() => {
    const { value, grads } = tf.variableGrads(() => loss(net.apply(x, { training: true }), y), vars);
    value.dataSync();
    tf.dispose([value, ...Object.values(grads)]);
  });
  rows.push({ case: name, run: `train whole (batch ${batch})`, k: '1', stages: mb(plan.wholeBytes), peak: mb(whole.peak), seconds: whole.seconds.toFixed(2) });
  const piped = await measure(async () => {
    const { grads } = await pipelineGradients(net, x, y, { stages: plan.stages, microBatches: micro, loss, batchNorm: 'train' });
    tf.dispose(Object.values(grads));
  });
  rows.push({ case: name, run: `train GPipe (M=${micro})`, k: String(plan.stages.length), stages: stageText(plan), peak: mb(piped.peak), seconds: piped.seconds.toFixed(2) });

  const x1 = tf.slice(x, 0, 1);
  const inferOne = planPipeline(profile, { mode: 'inference', stageBudgetBytes: Infinity });
  const inferPlan = planPipeline(profile, { mode: 'inference', stageBudgetBytes: 0.8 * inferOne.stages[0].bytes });
  console.log(`${name}: inference plan under ${mb(0.8 * inferOne.stages[0].bytes)} MB per stage: K=${inferPlan.stages.length} stages ${stageText(inferPlan)} MB` +
    `${inferPlan.fits ? '' : ` — does not fit: ${inferPlan.problems.join('; ')}`}`);
  const wholeInfer = await measure(() => {
    net.apply(x1).dispose();
  });
  rows.push({ case: name, run: 'infer whole (apply)', k: '1', stages: mb(inferOne.wholeBytes), peak: mb(wholeInfer.peak), seconds: wholeInfer.seconds.toFixed(2) });
  const staged = await measure(async () => {
    (await pipelineInference(net, x1, { stages: inferPlan.stages, parkSkips: inferPlan.parkSkips })).dispose();
  });
  rows.push({ case: name, run: 'infer staged', k: String(inferPlan.stages.length), stages: stageText(inferPlan), peak: mb(staged.peak), seconds: staged.seconds.toFixed(2) });
  const roi = Math.max(32, Math.round((Number(values.roi) * size) / 32) * 32);
  const sliding = await measure(async () => {
    (await slidingWindowInference(x1, roi, 1, (w) => net.apply(w), { overlap: 0.25 })).dispose();
  });
  rows.push({ case: name, run: `infer sliding window ${roi}³`, k: '-', stages: '-', peak: mb(sliding.peak), seconds: sliding.seconds.toFixed(2) });

  tf.dispose([x, y, x1]);
  net.dispose();
}

async function main(): Promise<void> {
  const backend = await initBackend([values.backend as BackendName]);
  console.log(`backend ${backend.name}; batch ${batch}, ${micro} micro-batches; Adam; BatchNorm in training mode; ${CLASSES} classes`);
  for (const c of values.cases!.split(',')) {
    const [nFeat, size] = c.split('x').map(Number);
    await runCase(nFeat, size);
  }
  const cols: (keyof Row)[] = ['case', 'run', 'k', 'stages', 'peak', 'seconds'];
  const head: Row = { case: 'case', run: 'run', k: 'K', stages: 'estimated MB (per stage)', peak: 'peak MB', seconds: 's' };
  const width = cols.map((c) => Math.max(...[head, ...rows].map((r) => r[c].length)));
  for (const r of [head, ...rows]) console.log(cols.map((c, i) => r[c].padEnd(width[i])).join('  '));
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
