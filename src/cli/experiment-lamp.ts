/**
 * `npm run experiment:lamp -- [--budget-gb 2] [--feats 8,16,32] [--classes 10] [--batch 1] [--micro 1]
 *   [--devices 4] [--validate 8x64,8x96,16x64,32x64] [--nfeat 4] [--cases 6] [--test-cases 4]
 *   [--size 128,128,64] [--spacing 3,3,5] [--crop 64] [--crop-batch 2] [--steps 400] [--whole-steps 20]
 *   [--lr 0.002] [--dice pooled] [--overlap 0.25] [--seed 1] [--backend wasm|cpu] [--out FILE.json] [--only capacity|segmentation]`
 *
 * LAMP's two experiments (spec §4.5) re-run at CPU scale with this engine's UNetPipe (src/models/unetpipe.ts):
 *
 * 1. Capacity: for each base filter count, the largest training input cube (edge a multiple of 32)
 *    whose memory fits `--budget-gb`: (i) the whole network on one tape, (ii) GPipe with activation
 *    checkpointing, all K stages on the one device in turn (the K with the fewest bytes), (iii) one
 *    stage per device on `--devices` devices of the budget each (LAMP's setting). Bytes come from the
 *    stage planner's memory model (src/engine/parallel/plan.ts) on per-layer profiles measured at 32³
 *    and 64³ and extrapolated affinely in the voxel count (src/engine/parallel/capacity.ts) —
 *    estimates, checked against measured tf.profile peaks of real training steps at `--validate` sizes.
 * 2. Segmentation: one small UNetPipe (`--nfeat`, 2 classes) trained on 3D chest phantoms
 *    (src/engine/synth) — random `--crop`³ crops (pos:neg 1:1), then `--whole-steps` whole-volume
 *    steps (LAMP's small → whole curriculum) — then on held-out phantoms: MONAI sliding windows 64³ and
 *    128³ (roi larger than the volume is padded) versus the whole volume, with the same weights:
 *    Dice, HD95 (compareMasks) and time per volume.
 * Prints progress and both tables (markdown); writes every number to `--out` (JSON).
 * Must run through `node scripts/run-ts.mjs` (tfjs gradients; see scripts/run-ts.mjs).
 */
import { cpus } from 'node:os';
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { scanInterval, slidingWindowInference, windowStarts } from '../engine/inference/sliding-window';
import { compareMasks } from '../engine/metrics';
import { extrapolateProfile, largestCube, trainingMemory } from '../engine/parallel/capacity';
import { pipelineGradients, pipelineInference } from '../engine/parallel/pipeline';
import { planPipeline, type Stage } from '../engine/parallel/plan';
import { profileLayers, type NetworkProfile } from '../engine/parallel/profile';
import { Rng } from '../engine/random';
import { generateCase, type CaseOptions } from '../engine/synth/dataset';
import { deriveSeed } from '../engine/synth/seeds';
import { initBackend, type BackendName } from '../engine/tf/backend';
import { INTENSITY_WINDOW } from '../engine/training/data';
import { diceCELoss, oneHotTarget } from '../engine/training/losses';
import { createOptimizer } from '../engine/training/optim';
import { posNegCropCenters } from '../engine/transforms/randcrop';
import { UNetPipe } from '../models/unetpipe';
import { intArg, parseCliArgs } from './args';
import { runCli } from './files';

const USAGE =
  'usage: npm run experiment:lamp -- [--budget-gb G] [--feats a,b,c] [--classes C] [--batch B] [--micro M] [--devices D] [--validate NFxEDGE,...] [--nfeat F] [--cases N] [--test-cases N] [--size X,Y,Z] [--spacing X,Y,Z] [--crop P] [--crop-batch B] [--steps S] [--whole-steps S] [--lr LR] [--dice patch|pooled] [--overlap O] [--seed S] [--backend wasm|cpu] [--out FILE.json] [--only capacity|segmentation]';
const GiB = 2 ** 30;
const CLIP_NORM = 2;
const MiB = 2 ** 20;
const log = (line: string) => process.stdout.write(`${line}\n`);
const mb = (b: number) => (b / MiB).toFixed(0);

function parse() {
  return parseCliArgs(
    {
      allowPositionals: false,
      options: {
        'budget-gb': { type: 'string', default: '2' },
        feats: { type: 'string', default: '8,16,32' },
        classes: { type: 'string', default: '10' },
        batch: { type: 'string', default: '1' },
        micro: { type: 'string', default: '1' },
        devices: { type: 'string', default: '4' },
        validate: { type: 'string', default: '8x64,8x96,16x64,32x64' },
        nfeat: { type: 'string', default: '4' },
        cases: { type: 'string', default: '6' },
        'test-cases': { type: 'string', default: '4' },
        size: { type: 'string', default: '128,128,64' },
        spacing: { type: 'string', default: '3,3,5' },
        crop: { type: 'string', default: '64' },
        'crop-batch': { type: 'string', default: '2' },
        steps: { type: 'string', default: '400' },
        'whole-steps': { type: 'string', default: '20' },
        lr: { type: 'string', default: '0.002' },
        dice: { type: 'string', default: 'pooled' },
        overlap: { type: 'string', default: '0.25' },
        seed: { type: 'string', default: '1' },
        backend: { type: 'string', default: 'wasm' },
        out: { type: 'string', default: 'tmp/lamp-exp/results.json' },
        only: { type: 'string' },
      },
    },
    USAGE,
  ).values;
}


function num(name: string, text: string, lo: number, hi: number): number {
  const v = Number(text);
  if (text.trim() === '' || !(v >= lo && v <= hi)) throw new Error(`--${name} must be a number in [${lo}, ${hi}], got "${text}"`);
  return v;
}

function ints(name: string, text: string, count: number | null, lo: number, hi: number): number[] {
  const parts = text.split(',');
  if (count !== null && parts.length !== count) throw new Error(`--${name} must be ${count} integers separated by commas, got "${text}"`);
  return parts.map((p) => intArg(name, p, lo, hi));
}

interface Options {
  budgetBytes: number;
  feats: number[];
  classes: number;
  batch: number;
  micro: number;
  devices: number;
  validate: [number, number][];
  nFeat: number;
  cases: number;
  testCases: number;
  size: [number, number, number];
  spacing: [number, number, number];
  crop: number;
  cropBatch: number;
  steps: number;
  wholeSteps: number;
  lr: number;
  /** Dice per crop (MONAI's default) or pooled over the batch (MONAI `batch=True`). */
  pooledDice: boolean;
  overlap: number;
  seed: number;
  backend: BackendName;
  out: string;
  capacity: boolean;
  segmentation: boolean;
}

/** Checked options; any bad value is one Error line naming the option. */
function parseOptions(): Options {
  const v = parse();
  const backend = v.backend as BackendName;
  if (backend !== 'wasm' && backend !== 'cpu') throw new Error(`--backend must be wasm or cpu, got "${v.backend}"`);
  if (v.only !== undefined && v.only !== 'capacity' && v.only !== 'segmentation') throw new Error(`--only must be capacity or segmentation, got "${v.only}"`);
  if (v.dice !== 'patch' && v.dice !== 'pooled') throw new Error(`--dice must be patch (one Dice per crop) or pooled (one over the batch), got "${v.dice}"`);
  const batch = intArg('batch', v.batch!, 1, 64);
  const micro = intArg('micro', v.micro!, 1, 64);
  if (micro > batch) throw new Error(`--micro (${micro}) must not exceed --batch (${batch})`);
  const crop = intArg('crop', v.crop!, 32, 1024);
  if (crop % 32) throw new Error(`--crop must be a multiple of 32 (UNetPipe's size divisor), got ${crop}`);
  const validate = v.validate!.trim() === '' ? [] : v.validate!.split(',').map((c) => {
    const m = /^(\d+)x(\d+)$/.exec(c.trim());
    if (!m || Number(m[2]) % 32 || Number(m[1]) < 2) throw new Error(`--validate must be NFxEDGE pairs (n_feat ≥ 2, edge a multiple of 32), e.g. 8x64,8x96; got "${c}"`);
    return [Number(m[1]), Number(m[2])] as [number, number];
  });
  return {
    budgetBytes: num('budget-gb', v['budget-gb']!, 0.01, 1024) * GiB,
    feats: ints('feats', v.feats!, null, 2, 256),
    classes: intArg('classes', v.classes!, 2, 64),
    batch,
    micro,
    devices: intArg('devices', v.devices!, 2, 64),
    validate,
    nFeat: intArg('nfeat', v.nfeat!, 2, 64),
    cases: intArg('cases', v.cases!, 1, 1000),
    testCases: intArg('test-cases', v['test-cases']!, 1, 1000),
    size: ints('size', v.size!, 3, 32, 1024) as [number, number, number],
    spacing: v.spacing!.split(',').map((s) => num('spacing', s, 0.01, 50)) as [number, number, number],
    crop,
    cropBatch: intArg('crop-batch', v['crop-batch']!, 1, 64),
    steps: intArg('steps', v.steps!, 0, 1_000_000),
    wholeSteps: intArg('whole-steps', v['whole-steps']!, 0, 1_000_000),
    lr: num('lr', v.lr!, 1e-7, 1),
    pooledDice: v.dice === 'pooled',
    overlap: num('overlap', v.overlap!, 0, 0.99),
    seed: intArg('seed', v.seed!, 0, 4294967295),
    backend,
    out: v.out!,
    capacity: v.only !== 'segmentation',
    segmentation: v.only !== 'capacity',
  };
}

/** Time and peak tensor bytes (tf.profile) above the start of one run of `fn`. */
async function measure(fn: () => Promise<void>): Promise<{ seconds: number; peak: number }> {
  const start = tf.memory().numBytes;
  const t0 = performance.now();
  const info = await tf.profile(fn);
  return { seconds: (performance.now() - t0) / 1000, peak: Math.max(0, ...info.kernels.map((k) => k.totalBytesSnapshot - start)) };
}

// ---------------------------------------------------------------------------------------------
// 1. Capacity

interface Fit {
  edge: number;
  bytes?: number;
  stages?: number;
}

interface CapacityRow {
  nFeat: number;
  params: number;
  /** Largest edge by the estimates, and by the estimates corrected with this n_feat's measured/estimated ratio. */
  whole: Fit;
  wholeCorrected?: Fit;
  pipeline: Fit;
  pipelineCorrected?: Fit;
  devices: Fit & { stageBytes?: number[] };
}

interface ValidationRow {
  nFeat: number;
  edge: number;
  stages: number;
  /** Estimates of what the step itself allocates (the estimate less weights, buffers and Adam moments). */
  wholeEstimate: number;
  wholeMeasured: number;
  wholeSeconds: number;
  pipelineEstimate: number;
  pipelineMeasured: number;
  pipelineSeconds: number;
}

const diceCE = (logits: tf.Tensor, target: tf.Tensor) => diceCELoss(logits, target, { softmax: true });

/** Peak bytes of the loss's forward + backward on (batch, e³, classes) logits (the part of a step no layer profile holds). */
async function lossPeak(batch: number, edge: number, classes: number): Promise<number> {
  const logits = tf.randomNormal([batch, edge, edge, edge, classes], 0, 1, 'float32', 4);
  const labels = tf.randomUniform([batch, edge, edge, edge], 0, classes, 'int32', 5);
  const y = oneHotTarget(labels.dataSync(), labels.shape, classes);
  const { peak } = await measure(async () => {
    const g = tf.grad((l: tf.Tensor) => diceCE(l, y))(logits);
    g.dataSync();
    g.dispose();
  });
  tf.dispose([logits, labels, y]);
  return peak;
}

async function capacity(o: Options): Promise<{ rows: CapacityRow[]; validation: ValidationRow[]; profileSeconds: number }> {
  const base = { batch: o.batch, microBatches: o.micro, optimizer: 'adam' as const };
  const measured = new Map<number, { profiles: [NetworkProfile, NetworkProfile]; loss: [number, number] }>();
  const t0 = performance.now();
  const profilesOf = async (nFeat: number) => {
    if (!measured.has(nFeat)) {
      const net = new UNetPipe({ nFeat, outChannels: o.classes, seed: 1 });
      const at = (e: number) => profileLayers(net, [1, e, e, e, 1], { training: true, runs: 0 });
      measured.set(nFeat, { profiles: [await at(32), await at(64)], loss: [await lossPeak(o.batch, 32, o.classes), await lossPeak(o.batch, 64, o.classes)] });
      net.dispose();
      log(`profiled n_feat ${nFeat} at 32³ and 64³ (${((performance.now() - t0) / 1000).toFixed(0)} s so far)`);
    }
    return measured.get(nFeat)!;
  };
  /** Estimated training memory at edge³: extrapolated layer profile + extrapolated loss (both affine in voxels). */
  const memoryAt = async (nFeat: number, edge: number, maxStages?: number) => {
    const m = await profilesOf(nFeat);
    const profile = extrapolateProfile(m.profiles[0], m.profiles[1], [1, edge, edge, edge, 1]);
    const t = (edge ** 3 - 32 ** 3) / (64 ** 3 - 32 ** 3);
    const headBytes = Math.max(0, Math.round(m.loss[0] + (m.loss[1] - m.loss[0]) * t));
    // Weights, BatchNorm buffers and Adam's two moments exist before a step (tf.profile does not see them).
    const resident = profile.layers.reduce((n, l) => n + 3 * l.paramBytes + l.bufferBytes, 0);
    return { profile, headBytes, resident, ...trainingMemory(profile, { ...base, headBytes, maxStages }) };
  };

  // Estimates vs measured peaks of real training steps (random data, gradients only: no optimizer).
  const validation: ValidationRow[] = [];
  for (const [nFeat, edge] of o.validate) {
    const mem = await memoryAt(nFeat, edge);
    const net = new UNetPipe({ nFeat, outChannels: o.classes, seed: 1 });
    const x = tf.randomNormal([o.batch, edge, edge, edge, 1], 0, 1, 'float32', 2);
    const labels = tf.randomUniform([o.batch, edge, edge, edge], 0, o.classes, 'int32', 3);
    const y = oneHotTarget(labels.dataSync(), labels.shape, o.classes);
    labels.dispose();
    const vars = net.trainableVariables();
    const whole = await measure(async () => {
      const { value, grads } = tf.variableGrads(() => diceCE(net.apply(x, { training: true }), y), vars);
      value.dataSync();
      tf.dispose([value, ...Object.values(grads)]);
    });
    const piped = await measure(async () => {
      const { grads } = await pipelineGradients(net, x, y, { stages: mem.pipelinePlan.stages, microBatches: o.micro, loss: diceCE, batchNorm: 'train' });
      tf.dispose(Object.values(grads));
    });
    tf.dispose([x, y]);
    net.dispose();
    validation.push({
      nFeat,
      edge,
      stages: mem.pipelineStages,
      wholeEstimate: mem.wholeBytes - mem.resident,
      wholeMeasured: whole.peak,
      wholeSeconds: whole.seconds,
      pipelineEstimate: mem.pipelineBytes - mem.resident,
      pipelineMeasured: piped.peak,
      pipelineSeconds: piped.seconds,
    });
    const r = validation[validation.length - 1];
    log(`validate n_feat ${nFeat} ${edge}³: whole est ${mb(r.wholeEstimate)} MB / measured ${mb(r.wholeMeasured)} MB (${r.wholeSeconds.toFixed(1)} s); K=${r.stages} est ${mb(r.pipelineEstimate)} MB / measured ${mb(r.pipelineMeasured)} MB (${r.pipelineSeconds.toFixed(1)} s)`);
  }

  const rows: CapacityRow[] = [];
  for (const nFeat of o.feats) {
    const m = await profilesOf(nFeat);
    const params = m.profiles[0].layers.reduce((n, l) => n + l.paramBytes, 0) / 4;
    const memo = new Map<number, Awaited<ReturnType<typeof memoryAt>>>();
    for (let e = 32; e <= 1024; e += 32) {
      const mem = await memoryAt(nFeat, e);
      memo.set(e, mem);
      if (mem.pipelineBytes > o.budgetBytes && mem.wholeBytes > o.budgetBytes) break;
    }
    // This n_feat's largest validated size gives the correction: resident + (estimate − resident)·measured/estimated.
    const check = validation.filter((v) => v.nFeat === nFeat).sort((a, b) => b.edge - a.edge)[0];
    const search = (bytes: (mem: Awaited<ReturnType<typeof memoryAt>>) => number): Fit => {
      const r = largestCube((e) => {
        const mem = memo.get(e);
        return mem && bytes(mem) <= o.budgetBytes ? { edge: e, bytes: bytes(mem), stages: mem.pipelineStages } : null;
      }, { maxEdge: 1024 });
      return r.at ?? { edge: 0 };
    };
    const whole = search((mem) => mem.wholeBytes);
    const pipeline = search((mem) => mem.pipelineBytes);
    const corrected = check && {
      whole: search((mem) => mem.resident + (mem.wholeBytes - mem.resident) * (check.wholeMeasured / check.wholeEstimate)),
      pipeline: search((mem) => mem.resident + (mem.pipelineBytes - mem.resident) * (check.pipelineMeasured / check.pipelineEstimate)),
    };
    // LAMP's setting: one stage per device, each device the budget; the loss is on the last device.
    const devices = largestCube((e) => {
      const mem = memo.get(e);
      if (!mem) return null;
      const d = planPipeline(mem.profile, { mode: 'training', ...base, devices: Array.from({ length: o.devices }, () => ({ memoryBytes: o.budgetBytes })) });
      const stageBytes = d.stages.map((st, j) => st.bytes + (j === d.stages.length - 1 ? mem.headBytes : 0));
      return stageBytes.every((b) => b <= o.budgetBytes) ? stageBytes : null;
    }, { maxEdge: 1024 });
    rows.push({
      nFeat,
      params,
      whole: { edge: whole.edge, bytes: whole.bytes },
      pipeline,
      ...(corrected ? { wholeCorrected: { edge: corrected.whole.edge, bytes: corrected.whole.bytes }, pipelineCorrected: corrected.pipeline } : {}),
      devices: { edge: devices.edge, stageBytes: devices.at },
    });
    const r = rows[rows.length - 1];
    log(`n_feat ${nFeat}: whole ${r.whole.edge}³, pipeline ${r.pipeline.edge}³ (K=${r.pipeline.stages}), corrected ${r.wholeCorrected?.edge ?? '–'}³ / ${r.pipelineCorrected?.edge ?? '–'}³, ${o.devices} devices ${r.devices.edge}³`);
  }
  return { rows, validation, profileSeconds: (performance.now() - t0) / 1000 };
}

// ---------------------------------------------------------------------------------------------
// 2. Segmentation: sliding windows vs whole volume

interface Prepared {
  /** Windowed intensities, C order (D, H, W) = (k, j, i), padded to multiples of 32. */
  image: Float32Array;
  label: Uint8Array;
  shape: [number, number, number];
  /** Unpadded truth on the scan grid, and the grid. */
  truth: Uint8Array;
  dims: [number, number, number];
  spacing: [number, number, number];
  fg: Int32Array;
  bg: Int32Array;
  lesionMl: number;
}

/** LAMP: no intensity normalisation, DivisiblePad(k=32). Here: COPLE-Net's HU window to [0, 1], then end-padding with 0 to multiples of 32. */
function prepare(c: ReturnType<typeof generateCase>): Prepared {
  const [nx, ny, nz] = c.scan.dims;
  const [D, H, W] = [nz, ny, nx].map((n) => Math.ceil(n / 32) * 32);
  const image = new Float32Array(D * H * W);
  const label = new Uint8Array(D * H * W);
  const { a_min, a_max, b_min, b_max } = INTENSITY_WINDOW;
  const truth = c.truth.data as Uint8Array;
  let lesion = 0;
  for (let k = 0; k < nz; k++)
    for (let j = 0; j < ny; j++)
      for (let i = 0; i < nx; i++) {
        const src = i + nx * (j + ny * k);
        const dst = i + W * (j + H * k);
        const v = ((Number(c.scan.data[src]) - a_min) / (a_max - a_min)) * (b_max - b_min) + b_min;
        image[dst] = Math.min(b_max, Math.max(b_min, v));
        label[dst] = truth[src] ? 1 : 0;
        lesion += label[dst];
      }
  const fg: number[] = [];
  const bg: number[] = [];
  for (let n = 0; n < label.length; n++) (label[n] ? fg : bg).push(n);
  const spacing = c.scan.spacing as [number, number, number];
  return { image, label, shape: [D, H, W], truth, dims: [nx, ny, nz], spacing, fg: Int32Array.from(fg), bg: Int32Array.from(bg), lesionMl: (lesion * spacing[0] * spacing[1] * spacing[2]) / 1000 };
}

/** A crop³ sub-block of a prepared case starting at (d0, h0, w0). */
function crop(c: Prepared, start: number[], size: number): { image: Float32Array; label: Uint8Array } {
  const [, H, W] = c.shape;
  const image = new Float32Array(size ** 3);
  const label = new Uint8Array(size ** 3);
  for (let d = 0; d < size; d++)
    for (let h = 0; h < size; h++) {
      const src = start[2] + W * (start[1] + h + H * (start[0] + d));
      const dst = size * (h + size * d);
      image.set(c.image.subarray(src, src + size), dst);
      label.set(c.label.subarray(src, src + size), dst);
    }
  return { image, label };
}

interface ModeResult {
  mode: string;
  dice: number[];
  hd95: number[];
  predMl: number[];
  seconds: number[];
  windows?: number;
  stages?: number;
}

async function segmentation(o: Options) {
  const lesions = { noneProbability: 0, count: [2, 5] as [number, number], radiusMm: [8, 30] as [number, number] };
  const phantom: CaseOptions = { size: o.size, spacing: o.spacing, observers: [], lesions };
  const t0 = performance.now();
  const gen = (stream: string, n: number) => Array.from({ length: n }, (_, i) => prepare(generateCase(phantom, deriveSeed(o.seed, stream, i))));
  const train = gen('lamp-train', o.cases);
  const test = gen('lamp-test', o.testCases);
  const dataSeconds = (performance.now() - t0) / 1000;
  log(`data: ${o.cases} training + ${o.testCases} test phantoms ${o.size.join('×')} at ${o.spacing.join('×')} mm (${dataSeconds.toFixed(0)} s)`);

  const net = new UNetPipe({ nFeat: o.nFeat, outChannels: 2, seed: o.seed });
  const total = o.steps + o.wholeSteps;
  const optimizer = createOptimizer({ kind: 'adam', schedule: { kind: 'cosine', lr: o.lr, totalSteps: Math.max(total, 1), minLr: o.lr / 20 } });
  const vars = net.trainableVariables();
  const rng = new Rng(deriveSeed(o.seed, 'lamp-crops'));
  const losses: number[] = [];
  const tTrain = performance.now();
  let skipped = 0;
  let clipped = 0;
  // One update. A non-finite loss or gradient skips the update (a first run went NaN at step ~50 with
  // lr 2e-3); gradients are clipped to a global norm of CLIP_NORM.
  const step = (x: tf.Tensor, labels: tf.Tensor) => {
    const y = oneHotTarget(labels.dataSync(), labels.shape, 2);
    // Dice of the lesion channel only (include_background=False): with background in, a first run's
    // held-out lesion Dice stayed at 0. Pooled over the batch by default: with one Dice per crop, every
    // lesion-free crop pulls towards "no lesion" and an n_feat 4 run predicted none.
    const { value, grads } = tf.variableGrads(() => diceCELoss(net.apply(x, { training: true }), y, { softmax: true, includeBackground: false, batch: o.pooledDice }), vars);
    const loss = value.dataSync()[0];
    const norm = tf.tidy(() => tf.sqrt(tf.addN(Object.values(grads).map((g) => tf.sum(tf.square(g))))).dataSync()[0]);
    if (Number.isFinite(loss) && Number.isFinite(norm)) {
      losses.push(loss);
      if (norm > CLIP_NORM) {
        clipped++;
        const scaled = Object.fromEntries(Object.entries(grads).map(([k, g]) => [k, tf.mul(g, CLIP_NORM / norm)]));
        optimizer.applyGradients(scaled);
        tf.dispose(Object.values(scaled));
      } else optimizer.applyGradients(grads);
    } else skipped++;
    tf.dispose([x, labels, y, value, ...Object.values(grads)]);
  };
  for (let s = 0; s < total; s++) {
    if (s < o.steps) {
      // RandCropByPosNegLabel (pos:neg 1:1) crops of crop³.
      const P = o.crop;
      const images = new Float32Array(o.cropBatch * P ** 3);
      const labels = new Int32Array(o.cropBatch * P ** 3);
      for (let b = 0; b < o.cropBatch; b++) {
        const c = train[rng.int(train.length)];
        if (c.shape.some((n) => n < P)) throw new Error(`--crop ${P} is larger than the padded volume ${c.shape.join('×')}`);
        const [centre] = posNegCropCenters(rng, [P, P, P], 1, 0.5, c.shape, c.fg, c.bg, false);
        const { image, label } = crop(c, centre.map((x) => x - Math.floor(P / 2)), P);
        images.set(image, b * P ** 3);
        labels.set(label, b * P ** 3);
      }
      step(tf.tensor(images, [o.cropBatch, P, P, P, 1]), tf.tensor(labels, [o.cropBatch, P, P, P], 'int32'));
    } else {
      const c = train[(s - o.steps) % train.length];
      step(tf.tensor(c.image, [1, ...c.shape, 1]), tf.tensor(Int32Array.from(c.label), [1, ...c.shape], 'int32'));
    }
    if ((s + 1) % 10 === 0 || s + 1 === total) {
      const last = losses.slice(-10);
      log(`step ${s + 1}/${total} (${s < o.steps ? `${o.cropBatch}×${o.crop}³ crops` : 'whole volume'}) loss ${(last.reduce((a, b) => a + b, 0) / last.length).toFixed(4)}, ${clipped} clipped, ${skipped} skipped (${((performance.now() - tTrain) / 60000).toFixed(1)} min)`);
    }
  }
  const trainSeconds = (performance.now() - tTrain) / 1000;

  // Inference modes, the same weights. Whole volume: staged when the budget needs it.
  const argmaxMask = (logits: tf.Tensor, c: Prepared): Uint8Array => {
    const [nx, ny, nz] = c.dims;
    const [, H, W] = c.shape;
    const lab = tf.tidy(() => tf.argMax(logits, -1)).dataSync();
    const mask = new Uint8Array(nx * ny * nz);
    for (let k = 0; k < nz; k++) for (let j = 0; j < ny; j++) for (let i = 0; i < nx; i++) mask[i + nx * (j + ny * k)] = lab[i + W * (j + H * k)];
    return mask;
  };
  const modes: { name: string; run: (x: tf.Tensor) => Promise<tf.Tensor>; info: (c: Prepared) => Pick<ModeResult, 'windows' | 'stages'> }[] = [];
  // MONAI: an axis shorter than the roi is padded to it (one window); otherwise windows every interval.
  const windowsOf = (c: Prepared, roi: number) =>
    c.shape.reduce((n, size) => {
      const padded = Math.max(size, roi);
      return n * windowStarts(padded, roi, scanInterval([padded], [roi], [o.overlap])[0]).length;
    }, 1);
  for (const roi of [64, 128]) {
    modes.push({
      name: `sliding window ${roi}³`,
      run: (x) => slidingWindowInference(x, roi, 1, (w) => net.apply(w), { overlap: o.overlap }),
      info: (c) => ({ windows: windowsOf(c, roi) }),
    });
  }
  // Whole volume: the inference plan under the budget (eval-mode profiles at 32³ and 64³, extrapolated
  // to the volume), made once per volume shape outside the timed runs; staged if one stage is over budget.
  const plans = new Map<string, Stage[]>();
  const inferProfiles = [await profileLayers(net, [1, 32, 32, 32, 1], { runs: 0 }), await profileLayers(net, [1, 64, 64, 64, 1], { runs: 0 })];
  const wholePlan = (shape: number[]) => {
    const key = shape.join('x');
    if (!plans.has(key)) plans.set(key, planPipeline(extrapolateProfile(inferProfiles[0], inferProfiles[1], shape), { mode: 'inference', stageBudgetBytes: o.budgetBytes }).stages);
    return plans.get(key)!;
  };
  for (const c of test) wholePlan([1, ...c.shape, 1]);
  modes.push({
    name: 'whole volume',
    run: (x) => {
      const stages = wholePlan(x.shape);
      return stages.length === 1 ? Promise.resolve(net.apply(x)) : pipelineInference(net, x, { stages, parkSkips: true });
    },
    info: (c) => ({ stages: wholePlan([1, ...c.shape, 1]).length }),
  });
  const results: ModeResult[] = [];
  for (const m of modes) {
    const r: ModeResult = { mode: m.name, dice: [], hd95: [], predMl: [], seconds: [] };
    // One untimed run first, so that every timed run finds the kernels and buffers warm.
    (await m.run(tf.tensor(test[0].image, [1, ...test[0].shape, 1]))).dispose();
    for (const c of test) {
      const x = tf.tensor(c.image, [1, ...c.shape, 1]);
      const t = performance.now();
      const logits = await m.run(x);
      const mask = argmaxMask(logits, c);
      r.seconds.push((performance.now() - t) / 1000);
      tf.dispose([x, logits]);
      const metrics = compareMasks(mask, c.truth, { dims: c.dims, spacing: c.spacing });
      r.dice.push(metrics.dice);
      r.predMl.push(metrics.volumePredMl);
      r.hd95.push(metrics.hausdorff95);
      Object.assign(r, m.info(c));
    }
    results.push(r);
    log(`${m.name}: Dice ${r.dice.map((d) => d.toFixed(3)).join(' ')}; HD95 ${r.hd95.map((d) => d.toFixed(1)).join(' ')} mm; predicted ${r.predMl.map((v) => v.toFixed(1)).join(' ')} mL; ${r.seconds.map((s) => s.toFixed(2)).join(' ')} s`);
  }
  net.dispose();
  return { results, trainSeconds, dataSeconds, skipped, clipped, finalLoss: losses.slice(-10).reduce((a, b) => a + b, 0) / Math.max(1, Math.min(10, losses.length)), testLesionMl: test.map((c) => c.lesionMl) };
}

/** Mean of the finite values (HD95 is NaN where a prediction is empty), NaN when there are none. */
const mean = (xs: number[]) => {
  const f = xs.filter(Number.isFinite);
  return f.length ? f.reduce((a, b) => a + b, 0) / f.length : NaN;
};

runCli(async () => {
  const t0 = performance.now();
  const o = parseOptions();
  (globalThis as { __dirname?: string }).__dirname ??= join(process.cwd(), 'node_modules/@tensorflow/tfjs-backend-wasm/dist');
  const backend = await initBackend([o.backend]);
  const cpu = cpus();
  const hardware = `${cpu.length} × ${cpu[0]?.model ?? 'CPU'}, Node ${process.version}, TF.js ${tf.version_core} ${backend.name}`;
  log(`${hardware}; budget ${(o.budgetBytes / GiB).toFixed(2)} GiB`);
  const out: Record<string, unknown> = { argv: process.argv.slice(2).join(' '), hardware, options: o };

  if (o.capacity) {
    const cap = await capacity(o);
    out.capacity = cap;
    const gb = (o.budgetBytes / GiB).toFixed(1);
    log(`\n#### Table 1: largest training cube under ${gb} GiB (batch ${o.batch}, ${o.micro} micro-batch${o.micro > 1 ? 'es' : ''}, Adam, ${o.classes} classes; estimated from profiles at 32³ and 64³)\n`);
    const fit = (f?: Fit, withK = false) => (f ? (f.edge ? `${f.edge}³ (${withK ? `K=${f.stages}, ` : ''}${mb(f.bytes ?? 0)} MB)` : 'none') : '–');
    log(`| n_feat | parameters | (i) whole network, estimated | (i) corrected | (ii) K stages + checkpointing, one device, estimated | (ii) corrected | (iii) ${o.devices} devices × ${gb} GiB, estimated |`);
    log('|---|---|---|---|---|---|---|');
    for (const r of cap.rows) {
      log(`| ${r.nFeat} | ${r.params.toLocaleString('en-US')} | ${fit(r.whole)} | ${fit(r.wholeCorrected)} | ${fit(r.pipeline, true)} | ${fit(r.pipelineCorrected, true)} | ${r.devices.edge ? `${r.devices.edge}³ (stages ${r.devices.stageBytes!.map(mb).join(' / ')} MB)` : 'none'} |`);
    }
    log('\n| check (step allocations) | whole: estimated / measured MB | K | pipeline: estimated / measured MB | step s (whole / pipeline) |');
    log('|---|---|---|---|---|');
    for (const r of cap.validation) {
      log(`| n_feat ${r.nFeat}, ${r.edge}³ | ${mb(r.wholeEstimate)} / ${mb(r.wholeMeasured)} | ${r.stages} | ${mb(r.pipelineEstimate)} / ${mb(r.pipelineMeasured)} | ${r.wholeSeconds.toFixed(1)} / ${r.pipelineSeconds.toFixed(1)} |`);
    }
  }
  if (o.segmentation) {
    const seg = await segmentation(o);
    out.segmentation = seg;
    log(`\n#### Table 2: UNetPipe n_feat ${o.nFeat}, ${o.steps} steps of ${o.cropBatch}×${o.crop}³ crops + ${o.wholeSteps} whole-volume steps, Dice ${o.pooledDice ? 'pooled over the batch' : 'per crop'} (${(seg.trainSeconds / 60).toFixed(1)} min), ${o.testCases} held-out phantoms ${o.size.join('×')}\n`);
    log('| input | Dice (mean) | HD95 mm (mean) | s / volume (mean) | windows / stages |');
    log('|---|---|---|---|---|');
    for (const r of seg.results) {
      log(`| ${r.mode} | ${mean(r.dice).toFixed(3)} | ${mean(r.hd95).toFixed(1)}${r.hd95.some((h) => !Number.isFinite(h)) ? ` (${r.hd95.filter(Number.isFinite).length} of ${r.hd95.length} cases)` : ''} | ${mean(r.seconds).toFixed(2)} | ${r.windows !== undefined ? `${r.windows} windows` : `K=${r.stages}`} |`);
    }
  }
  out.wallSeconds = (performance.now() - t0) / 1000;
  await mkdir(dirname(o.out), { recursive: true });
  await writeFile(o.out, JSON.stringify(out, null, 1));
  log(`\nwrote ${o.out}; wall time ${((out.wallSeconds as number) / 60).toFixed(1)} min`);
});
