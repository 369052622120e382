/**
 * LAMP from the UI: plan a UNetPipe's stages for an input size under the device's memory budget
 * and buffer limits, and run the current scan through it stage by stage (parallel/).
 *
 * The network is random (seed 1) with the panel's n_feat / classes, or built from a UNetPipe
 * checkpoint the user dropped (flat or GPipe `partitions.<j>.` keys); it is rebuilt for each run
 * and freed afterwards, so nothing stays on the device between runs.
 *
 * Placement: the stages run in turn on this worker's device (K = the fewest stages that fit the
 * budget), or on K nested workers, one stage each with its own TF.js backend — for WebGPU its own
 * GPUDevice (K = the number of workers, each stage planned under the budget; the workers end with the run).
 */
import * as tf from '@tensorflow/tfjs-core';
import { deviceLimits } from '../inference';
import { InputError } from '../io/errors';
import {
  fromPlain,
  multiDeviceInference,
  multiDeviceTrainStep,
  planPipeline,
  profileForSize,
  profileLayers,
  segmentVolumeStaged,
  stageConfigs,
  toPlain,
  unetPipeInputSize,
  type DeviceBudget,
  type NetworkProfile,
  type PipelinePlan,
  type PlanMode,
  type StagedVolumeProgress,
  type StagedVolumeResult,
  type PipelineProgress,
  type PlainTensor,
  type StageTraining,
  type StageWeights,
} from '../parallel';
import { spawnStageWorkers, type StageWorker } from '../parallel/stage-workers';
import { webgpuAdapters, type BackendName, type PowerPreference } from '../tf/backend';
import { oneHotTarget } from '../training/losses';
import type { Volume } from '../volume';
import { readWeights } from '../weights';
import type { StateDict } from '../weights/tensor';
import { UNetPipe, unetPipeOptionsFromStateDict } from '../../models/unetpipe';

export interface LampPlanRequest {
  nFeat: number;
  outChannels: number;
  /** Input D, H, W (each a multiple of 32). */
  size: [number, number, number];
  mode: PlanMode;
  batch: number;
  microBatches: number;
  /** Per-stage memory budget, MiB. */
  budgetMiB: number;
}

/** Seed of the random weights when no checkpoint was loaded. */
export const LAMP_RANDOM_SEED = 1;

function maxBuffer(): number | undefined {
  const limits = deviceLimits();
  return limits ? Math.min(limits.maxBufferSize, limits.maxStorageBufferBindingSize) : undefined;
}

/** The last profile, reused while backend, network shape, input size and mode stay the same. */
let profileCache: { key: string; profile: NetworkProfile } | null = null;

/**
 * One sample is profiled; the planner scales by batch and micro-batches, as torchgpipe. Inference
 * profiles of large inputs are extrapolated from smaller ones (`profileForSize`).
 */
async function profileOf(net: UNetPipe, size: [number, number, number], mode: PlanMode): Promise<NetworkProfile> {
  const key = `${tf.getBackend()}|${net.nFeat}|${net.outChannels}|${size.join('x')}|${mode}`;
  if (profileCache?.key !== key) {
    const profile = mode === 'training' ? await profileLayers(net, [1, ...size, 1], { training: true, runs: 1 }) : await profileForSize(net, size);
    profileCache = { key, profile };
  }
  return profileCache.profile;
}

export async function planLamp(req: LampPlanRequest): Promise<{ plan: PipelinePlan; parameters: number; maxBufferBytes: number | null }> {
  const net = new UNetPipe({ nFeat: req.nFeat, outChannels: req.outChannels, seed: LAMP_RANDOM_SEED });
  try {
    const profile = await profileOf(net, req.size, req.mode);
    const plan = planPipeline(profile, {
      mode: req.mode,
      batch: req.batch,
      microBatches: req.microBatches,
      stageBudgetBytes: req.budgetMiB * 2 ** 20,
      maxBufferBytes: maxBuffer(),
    });
    return { plan, parameters: net.parameterCount(), maxBufferBytes: maxBuffer() ?? null };
  } finally {
    net.dispose();
  }
}

export interface LampWeightsInfo {
  name: string;
  nFeat: number;
  outChannels: number;
  parameters: number;
  notices: string[];
}

let weights: { info: LampWeightsInfo; stateDict: StateDict } | null = null;
let running: AbortController | null = null;

/** Reads a UNetPipe checkpoint for the staged runs; a bad file is refused and the previous weights stay. */
export async function loadLampWeights(file: { name: string; bytes: Uint8Array }): Promise<LampWeightsInfo> {
  const { stateDict } = readWeights(file.bytes, file.name);
  const shape = unetPipeOptionsFromStateDict(stateDict, file.name);
  if (shape.inChannels !== 1) throw new InputError(file.name, `a UNetPipe with ${shape.inChannels} input channels; a scan has 1`);
  const net = new UNetPipe({ ...shape, seed: LAMP_RANDOM_SEED });
  try {
    const { notices } = net.loadStateDict(stateDict, { source: file.name });
    const info = { name: file.name, nFeat: shape.nFeat, outChannels: shape.outChannels, parameters: net.parameterCount(), notices };
    weights = { info, stateDict };
    return info;
  } finally {
    net.dispose();
  }
}

/** Back to random weights. */
export function clearLampWeights(): void {
  weights = null;
}

export interface LampRunRequest {
  /** Used with random weights (a loaded checkpoint fixes both). */
  nFeat: number;
  outChannels: number;
  /** Per-stage memory budget, MiB. */
  budgetMiB: number;
  /** Also run the unpartitioned network and report max |Δlogit|. */
  compareWhole: boolean;
  /** 'one' (default): the stages in turn on this device; 'workers': one worker (own device) per stage. */
  placement?: 'one' | 'workers';
  /** With 'workers': how many (K, each stage under the budget). */
  workers?: number;
  /** With 'workers': their backend; default this worker's. */
  workerBackend?: BackendName;
}

export interface LampRunResult extends StagedVolumeResult {
  plan: PipelinePlan;
  backend: string;
  weights: string;
  parameters: number;
  /** With placement 'workers': each stage worker's backend (and WebGPU adapter), and its busy time (ms, its calls). */
  workers?: string[];
  stageBusyMs?: number[];
}

/** The scan through UNetPipe by the stages planned for its padded size under the budget. */
export async function runLamp(volume: Volume | null, req: LampRunRequest, onProgress?: (fraction: number, message: string) => void): Promise<LampRunResult> {
  if (!volume) throw new InputError('scan', 'open a scan before running LAMP on it');
  if (!(req.budgetMiB > 0)) throw new InputError('LAMP', `the stage budget must be a positive number of MiB, got ${req.budgetMiB}`);
  if (running) throw new Error('a LAMP run is already going');
  running = new AbortController();
  const signal = running.signal;
  const scanName = volume.source?.name ?? 'scan';
  let net: UNetPipe | null = null;
  let netFreed = false;
  let workers: StageWorker[] = [];
  try {
    net = new UNetPipe({ ...(weights ? { nFeat: weights.info.nFeat, outChannels: weights.info.outChannels } : { nFeat: req.nFeat, outChannels: req.outChannels }), seed: LAMP_RANDOM_SEED });
    if (weights) net.loadStateDict(weights.stateDict, { source: weights.info.name });
    const size = unetPipeInputSize(volume.dims);
    onProgress?.(0, `profiling UNetPipe for ${size.join('×')}`);
    const onWorkers = req.placement === 'workers';
    const k = onWorkers ? (req.workers ?? 2) : 0;
    if (onWorkers && !(Number.isInteger(k) && k >= 1 && k <= net.layers.length)) throw new InputError('LAMP', `the number of stage workers must be an integer from 1 to ${net.layers.length}, got ${k}`);
    const budget = { stageBudgetBytes: req.budgetMiB * 2 ** 20, maxBufferBytes: maxBuffer() };
    const devices: DeviceBudget[] = Array.from({ length: k }, (_, j) => ({ name: `worker ${j + 1}`, memoryBytes: budget.stageBudgetBytes, maxBufferBytes: budget.maxBufferBytes }));
    const plan = planPipeline(await profileOf(net, size, 'inference'), { mode: 'inference', batch: 1, microBatches: 1, ...(onWorkers ? { devices } : budget) });
    if (!plan.fits) {
      const worst = Math.max(...plan.stages.map((s) => s.bytes));
      throw new InputError(
        scanName,
        `too large for a ${req.budgetMiB} MiB stage budget ${onWorkers ? 'in' : 'even as'} ${plan.stages.length} stages (padded ${size.join('×')}, largest stage ${(worst / 2 ** 20).toFixed(1)} MiB): ${plan.problems.join('; ')}`,
      );
    }
    const steps = plan.stages.length + (req.compareWhole ? 1 : 0);
    const progress = (p: StagedVolumeProgress) => {
      if (p.phase === 'whole') onProgress?.(1, 'checked against the unpartitioned network');
      else {
        const st = plan.stages[p.stage];
        const where = onWorkers ? ` on worker ${p.stage + 1}` : '';
        onProgress?.((p.stage + 1) / steps, `stage ${p.stage + 1}/${p.stages} (layers ${st.from}–${st.to - 1})${where}, micro-batch ${p.microBatch + 1}/${p.microBatches}`);
      }
    };
    let runStages: ((x: tf.Tensor) => Promise<tf.Tensor>) | undefined;
    let stageBusyMs: number[] | undefined;
    if (onWorkers) {
      // Cancel ends the workers at once: their pending calls reject and their devices are freed.
      signal.addEventListener('abort', () => workers.forEach((w) => w.terminate()));
      const workerBackend = req.workerBackend ?? (tf.getBackend() as BackendName);
      onProgress?.(0, `starting ${k} stage workers (${workerBackend})`);
      workers = await spawnStageWorkers(await stageConfigs(net, plan.stages), [workerBackend], undefined, workerBackend === 'webgpu' ? await gpuSpread() : []);
      if (signal.aborted) workers.forEach((w) => w.terminate());
      // The stages hold the weights now; unless it is run for the check, the whole network leaves this device.
      if (!req.compareWhole) {
        net.dispose();
        netFreed = true;
      }
      runStages = async (x) => {
        const res = await multiDeviceInference(workers, await toPlain(x), { signal, onProgress: progress });
        stageBusyMs = res.busyMs;
        return fromPlain(res.logits);
      };
    }
    const res = await segmentVolumeStaged(net, volume, { stages: plan.stages, parkSkips: plan.parkSkips, compareWhole: req.compareWhole, onProgress: progress, signal, runStages });
    return {
      ...res,
      plan,
      backend: tf.getBackend(),
      weights: weights?.info.name ?? `random (seed ${LAMP_RANDOM_SEED})`,
      parameters: net.parameterCount(),
      ...(onWorkers ? { workers: workers.map(describeWorker), stageBusyMs } : {}),
    };
  } finally {
    if (!netFreed) net?.dispose();
    workers.forEach((w) => w.terminate());
    running = null;
  }
}

export function cancelLamp(): void {
  running?.abort();
}

export interface LampTrainCheckRequest {
  nFeat: number;
  outChannels: number;
  /** Input D, H, W (multiples of 32). */
  size: [number, number, number];
  batch: number;
  microBatches: number;
  /** Stage workers (K). */
  workers: number;
  /** The workers' backend; default this worker's. */
  workerBackend?: BackendName;
}

export interface LampTrainCheckResult {
  stages: { from: number; to: number }[];
  /** Batch loss of the step on the K stage workers, and on one worker holding the whole network. */
  stagedLoss: number;
  wholeLoss: number;
  /** max |w_staged − w_whole| over every parameter after the step (Adam moves each by ≈ lr). */
  maxAbsWeightDiff: number;
  lr: number;
  stagedMs: number;
  wholeMs: number;
  /** Per stage worker, ms inside its calls during the staged step: Σ / stagedMs > 1 means the stages overlapped. */
  stageBusyMs: number[];
  workers: string[];
}

const CHECK_TRAINING: StageTraining = { optimizer: { kind: 'adam', schedule: { kind: 'constant', lr: 1e-3 } }, loss: { kind: 'dicece', options: { softmax: true } }, batchNorm: 'frozen' };

/** With two distinct hardware adapters (dual-GPU machines), the stages alternate between them. */
async function gpuSpread(): Promise<PowerPreference[]> {
  const hardware = (await webgpuAdapters()).filter((a) => !a.software);
  return hardware.length > 1 ? hardware.map((a) => a.powerPreference) : [];
}

const describeWorker = (w: StageWorker) => [w.backend.name, w.backend.adapterInfo?.description || w.backend.adapterInfo?.architecture].filter(Boolean).join(' ');

/**
 * A self-check of multi-device training in this browser: one GPipe training step (Adam, Dice + CE,
 * frozen BatchNorm, the micro-batches accumulated) of a random batch on K stage workers, and the same
 * step on one more worker holding the whole network; the weights after both must agree. The stages
 * are the plan's for K devices. Random weights (seed 1). On WebGPU this needs the flat LeakyReLU
 * gradient (training/leaky-relu-grad.ts: tfjs-webgpu 4.22 has no rank-5 Select); on a software
 * adapter a training step can take long enough to trip the browser's GPU watchdog.
 */
export async function checkLampTraining(req: LampTrainCheckRequest, onProgress?: (fraction: number, message: string) => void): Promise<LampTrainCheckResult> {
  if (req.size.some((s) => !(Number.isInteger(s) && s >= 32 && s % 32 === 0))) throw new InputError('LAMP', `input sizes must be multiples of 32, got ${req.size.join('×')}`);
  if (!(Number.isInteger(req.workers) && req.workers >= 1 && req.workers <= 30)) throw new InputError('LAMP', `the number of stage workers must be an integer from 1 to 30, got ${req.workers}`);
  if (running) throw new Error('a LAMP run is already going');
  running = new AbortController();
  const signal = running.signal;
  const net = new UNetPipe({ nFeat: req.nFeat, outChannels: req.outChannels, seed: LAMP_RANDOM_SEED });
  let workers: StageWorker[] = [];
  const backend = req.workerBackend ?? (tf.getBackend() as BackendName);
  try {
    onProgress?.(0, `profiling UNetPipe at ${req.size.join('×')}`);
    // The split only has to be the same for both runs: the inference profile's (a training profile takes
    // long enough on a software adapter to trip the browser's GPU watchdog).
    const devices = Array.from({ length: req.workers }, () => ({ memoryBytes: Number.MAX_SAFE_INTEGER }));
    const plan = planPipeline(await profileOf(net, req.size, 'inference'), { mode: 'inference', batch: 1, microBatches: 1, devices });
    const stages = plan.stages.map(({ from, to }) => ({ from, to }));
    const whole = { from: 0, to: net.layers.length };
    const m = Math.min(req.microBatches, req.batch);
    const steps = (2 * stages.length - 1 + 1) * m;
    let done = 0;
    const progress = (where: string) => (p: PipelineProgress) => onProgress?.(++done / steps, `${where}: ${p.phase} stage ${p.stage + 1}/${p.stages}, micro-batch ${p.microBatch + 1}/${p.microBatches}`);
    signal.addEventListener('abort', () => workers.forEach((w) => w.terminate()));
    onProgress?.(0, `starting ${stages.length} + 1 workers (${backend})`);
    workers = await spawnStageWorkers(await stageConfigs(net, [...stages, whole], CHECK_TRAINING), [backend]);
    if (signal.aborted) workers.forEach((w) => w.terminate());
    const staged = workers.slice(0, -1);
    const single = workers.slice(-1);
    const x = tf.randomNormal([req.batch, ...req.size, 1], 0, 1, 'float32', 2);
    const labels = tf.randomUniform([req.batch, ...req.size], 0, req.outChannels, 'int32', 3);
    const y = oneHotTarget(await labels.data(), labels.shape, req.outChannels);
    labels.dispose();
    const [px, py] = [await toPlain(x), await toPlain(y)];
    tf.dispose([x, y]);
    const copy = (p: PlainTensor) => ({ data: p.data.slice(), shape: p.shape }); // the buffers are handed over
    const opts = { microBatches: req.microBatches, signal };
    let t0 = performance.now();
    const a = await multiDeviceTrainStep(staged, copy(px), copy(py), { ...opts, onProgress: progress(`${stages.length} stage workers`) });
    const stagedMs = performance.now() - t0;
    t0 = performance.now();
    const b = await multiDeviceTrainStep(single, px, py, { ...opts, onProgress: progress('whole network, one worker') });
    const wholeMs = performance.now() - t0;
    const mine: StageWeights = Object.assign({}, ...(await Promise.all(staged.map((w) => w.weights()))));
    const ref = await single[0].weights();
    let maxAbsWeightDiff = 0;
    for (const [key, w] of Object.entries(ref)) {
      const other = mine[key]?.data;
      if (!other) throw new Error(`the stage workers returned no ${key}`);
      for (let i = 0; i < w.data.length; i++) maxAbsWeightDiff = Math.max(maxAbsWeightDiff, Math.abs(w.data[i] - other[i]));
    }
    return { stages, stagedLoss: a.loss, wholeLoss: b.loss, maxAbsWeightDiff, lr: 1e-3, stagedMs, wholeMs, stageBusyMs: a.busyMs, workers: staged.map(describeWorker) };
  } finally {
    workers.forEach((w) => w.terminate());
    net.dispose();
    running = null;
  }
}
