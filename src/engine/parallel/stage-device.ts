/**
 * One pipeline stage of a UNetPipe on one TF.js backend: the stage's layers and variables, its
 * optimizer state, and the checkpoints of the micro-batches in flight. Data comes in and goes out
 * only as plain `{data: Float32Array, shape}` (transferable), never as tf.Tensors, so the same
 * object runs in-process (tests, one device) or inside a Web Worker with its own backend
 * (stage.worker.ts: each worker that initialises tfjs-webgpu gets its own GPUDevice).
 *
 * Training (GPipe with checkpoint='always', the passes of stage-pass.ts): `forward` keeps the stage
 * input and the popped skips as the micro-batch's checkpoint and returns the output and the skips
 * stashed for later stages; `backward` recomputes the forward from the checkpoint, folds in the
 * upstream gradients (output and outgoing skips) and accumulates the parameter gradients; the last
 * stage runs forward, loss and backward at once (`lastStep`). `applyGradients` makes one optimizer
 * step with the sum over micro-batches. Adam and SGD-momentum (with L2 weight decay, the learning-rate
 * schedule by step count) are elementwise, so one optimizer per stage steps exactly like one over
 * the whole network. Global-norm gradient clipping would need a reduction across the stages; it is
 * not offered.
 *
 * Memory: the stage's UNetPipe is built whole (its constructor initialises every layer, seeded) and
 * the variables outside the stage are freed at once, so building briefly holds all parameters.
 */
import * as tf from '@tensorflow/tfjs-core';
import '../training/gradients';
import { UNetPipe, type SkipStash } from '../../models/unetpipe';
import { crossEntropyLoss, diceCELoss, diceLoss, type ChannelOptions, type DiceCEOptions, type DiceOptions } from '../training/losses';
import { createOptimizer, type OptimizerOptions, type ScheduledOptimizer } from '../training/optim';
import type { Stage } from './plan';
import { accumulateInto, fromPlain, stageForward, stageGradients, stageInference, stageSkips, toPlain, upstreamObjective, type PlainTensor } from './stage-pass';

export interface StageNetwork {
  nFeat: number;
  inChannels?: number;
  outChannels: number;
  /** Seed of the initialisation (used when no weights are given). */
  seed?: number;
}

/** A loss by name (functions cannot cross into a worker). */
export type StageLoss = { kind: 'dicece'; options?: DiceCEOptions } | { kind: 'dice'; options?: DiceOptions } | { kind: 'ce'; options?: ChannelOptions };

export interface StageTraining {
  optimizer: OptimizerOptions;
  /** Mean loss of a micro-batch, applied by the last stage. */
  loss: StageLoss;
  /** 'frozen': running statistics; 'train': per-micro-batch statistics (see pipeline.ts). */
  batchNorm: 'train' | 'frozen';
}

/** Parameters and buffers in TF.js layout by flat state-dict key (num_batches_tracked is int32). */
export type StageWeights = Record<string, { data: Float32Array | Int32Array; shape: number[] }>;

export interface StageDeviceConfig {
  network: StageNetwork;
  /** The layers [from, to) this device holds. */
  stage: Stage;
  /** This stage's weights (e.g. `readLayerWeights` of a whole network); default the seeded initialisation. */
  weights?: StageWeights;
  /** Needed for the training operations. */
  training?: StageTraining;
}

/** Skips by namespace. */
export type PlainSkips = [number, PlainTensor][];

export interface StageInfo {
  stage: Stage;
  /** Layers of the whole network. */
  layers: number;
  /** Skip namespaces popped here and stashed in an earlier stage. */
  inSkips: number[];
  /** Skip namespaces stashed here and popped in a later stage. */
  outSkips: number[];
  backend: string;
}

export interface StageOutput {
  output: PlainTensor;
  /** The skips stashed here for later stages (`outSkips`). */
  skips: PlainSkips;
}

export interface StageBackward {
  /** Gradient of the stage input (null in the first stage). */
  dInput: PlainTensor | null;
  /** Gradients of the skips popped here (`inSkips`). */
  dSkips: PlainSkips;
}

/** What a coordinator calls; `StageDevice` in-process, or a worker's proxy (stage-workers.ts). */
export interface StageDeviceApi {
  info(): Promise<StageInfo>;
  /** Training forward of micro-batch `mb`; keeps its checkpoint. */
  forward(mb: number, input: PlainTensor, skips: PlainSkips): Promise<StageOutput>;
  /** Recomputed backward of micro-batch `mb` with the gradients of its output and outgoing skips; frees its checkpoint. */
  backward(mb: number, dOutput: PlainTensor, dSkips: PlainSkips): Promise<StageBackward>;
  /** Last stage: forward, `weight` × loss(target), backward; returns the weighted loss. */
  lastStep(mb: number, input: PlainTensor, skips: PlainSkips, target: PlainTensor, weight: number): Promise<StageBackward & { loss: number }>;
  /** The gradients accumulated so far, TF.js layout, by flat key. */
  gradients(): Promise<StageWeights>;
  /** One optimizer step with the accumulated gradients, which are then freed. */
  applyGradients(): Promise<void>;
  /** Eval-mode forward, layer by layer; skips are uploaded right before the layer that pops them. */
  infer(input: PlainTensor, skips: PlainSkips): Promise<StageOutput>;
  /** Frees every checkpoint and accumulated gradient (after a failed or cancelled step). */
  reset(): Promise<void>;
  weights(): Promise<StageWeights>;
  memory(): Promise<{ numTensors: number; numBytes: number }>;
  /** Frees everything, optimizer state included. */
  dispose(): Promise<void>;
}

export function stageLossFn(spec: StageLoss): (logits: tf.Tensor, target: tf.Tensor) => tf.Scalar {
  switch (spec.kind) {
    case 'dicece':
      return (l, t) => diceCELoss(l, t, spec.options);
    case 'dice':
      return (l, t) => diceLoss(l, t, spec.options);
    case 'ce':
      return (l, t) => crossEntropyLoss(l, t, spec.options);
  }
}

/** The parameters and buffers of layers [from, to) of `net`, TF.js layout. */
export async function readLayerWeights(net: UNetPipe, stage: Stage): Promise<StageWeights> {
  const out: StageWeights = {};
  for (const [key, p] of net.layerParameters(stage.from, stage.to)) {
    const values = await p.variable.data();
    out[key] = { data: p.variable.dtype === 'int32' ? new Int32Array(values as Int32Array) : new Float32Array(values as Float32Array), shape: p.variable.shape.slice() };
  }
  return out;
}

/** Assigns `weights` (TF.js layout, by flat key) to layers [from, to) of `net`; every key must match. */
export function assignLayerWeights(net: UNetPipe, stage: Stage, weights: StageWeights): void {
  const params = net.layerParameters(stage.from, stage.to);
  const extra = Object.keys(weights).filter((k) => !params.some(([key]) => key === k));
  if (extra.length) throw new Error(`stage weights for layers ${stage.from}–${stage.to - 1} have unexpected keys: ${extra.join(', ')}`);
  for (const [key, p] of params) {
    const w = weights[key];
    if (!w) throw new Error(`stage weights lack ${key}`);
    if (w.shape.join() !== p.variable.shape.join()) throw new Error(`${key}: shape [${w.shape}] != [${p.variable.shape}]`);
    const t = tf.tensor(w.data, w.shape, p.variable.dtype);
    p.variable.assign(t);
    t.dispose();
  }
}

interface Checkpoint {
  input: tf.Tensor;
  popped: SkipStash;
}

const mapOf = (skips: PlainSkips): SkipStash => new Map(skips.map(([ns, p]) => [ns, fromPlain(p)]));

async function plainSkips(namespaces: readonly number[], tensors: ReadonlyMap<number, tf.Tensor> | readonly tf.Tensor[]): Promise<PlainSkips> {
  const out: PlainSkips = [];
  for (const [i, ns] of namespaces.entries()) out.push([ns, await toPlain(Array.isArray(tensors) ? tensors[i] : (tensors as ReadonlyMap<number, tf.Tensor>).get(ns)!)]);
  return out;
}

/** A stage device on the current TF.js backend (in a worker: that worker's own backend). */
export class StageDevice implements StageDeviceApi {
  private readonly net: UNetPipe;
  private readonly skips: { in: number[]; out: number[] };
  private readonly checkpoints = new Map<number, Checkpoint>();
  private grads = new Map<string, tf.Tensor>();
  private optimizer: ScheduledOptimizer | null = null;
  private readonly lossFn: ((logits: tf.Tensor, target: tf.Tensor) => tf.Scalar) | null;
  private disposed = false;
  private readonly stage: Stage;
  private readonly training: StageTraining | undefined;

  /** The weights in `config` are copied onto the device and not kept. */
  constructor(config: StageDeviceConfig) {
    const { network, stage } = config;
    this.stage = { from: stage.from, to: stage.to };
    this.training = config.training;
    const net = new UNetPipe({ nFeat: network.nFeat, inChannels: network.inChannels, outChannels: network.outChannels, seed: network.seed });
    if (!(Number.isInteger(stage.from) && Number.isInteger(stage.to) && 0 <= stage.from && stage.from < stage.to && stage.to <= net.layers.length)) {
      net.dispose();
      throw new Error(`stage [${stage.from}, ${stage.to}) is not a non-empty layer range of UNetPipe's ${net.layers.length}`);
    }
    // Only this stage's variables stay on the device.
    for (const [, p] of [...net.layerParameters(0, stage.from), ...net.layerParameters(stage.to, net.layers.length)]) p.variable.dispose();
    this.net = net;
    try {
      if (config.weights) assignLayerWeights(net, stage, config.weights);
    } catch (e) {
      this.freeVariables();
      throw e;
    }
    this.skips = stageSkips(net, stage);
    this.lossFn = config.training ? stageLossFn(config.training.loss) : null;
  }

  private get first(): boolean {
    return this.stage.from === 0;
  }

  private get mode() {
    return { training: this.training?.batchNorm === 'train' };
  }

  private check(training: boolean): void {
    if (this.disposed) throw new Error(`stage ${this.stage.from}–${this.stage.to - 1}: disposed`);
    if (training && !this.training) throw new Error(`stage ${this.stage.from}–${this.stage.to - 1}: not configured for training`);
  }

  private checkSkips(skips: PlainSkips, want: readonly number[], what: string): void {
    const got = skips.map(([ns]) => ns).sort((a, b) => a - b);
    if (got.join() !== [...want].sort((a, b) => a - b).join()) throw new Error(`stage ${this.stage.from}–${this.stage.to - 1}: ${what} skips [${got}], expected [${want}]`);
  }

  async info(): Promise<StageInfo> {
    return { stage: { ...this.stage }, layers: this.net.layers.length, inSkips: [...this.skips.in], outSkips: [...this.skips.out], backend: tf.getBackend() };
  }

  async forward(mb: number, input: PlainTensor, skips: PlainSkips): Promise<StageOutput> {
    this.check(true);
    if (this.checkpoints.has(mb)) throw new Error(`stage ${this.stage.from}–${this.stage.to - 1}: micro-batch ${mb} is already in flight`);
    this.checkSkips(skips, this.skips.in, 'incoming');
    const checkpoint = { input: fromPlain(input), popped: mapOf(skips) };
    this.checkpoints.set(mb, checkpoint);
    let pass: ReturnType<typeof stageForward>;
    try {
      pass = stageForward(this.net, this.stage, checkpoint.input, checkpoint.popped, this.skips.out, this.mode);
    } catch (e) {
      this.checkpoints.delete(mb);
      tf.dispose([checkpoint.input, ...checkpoint.popped.values()]);
      throw e;
    }
    const { y, kept } = pass;
    try {
      return { output: await toPlain(y), skips: await plainSkips(this.skips.out, kept) };
    } finally {
      tf.dispose([y, ...kept]);
    }
  }

  async backward(mb: number, dOutput: PlainTensor, dSkips: PlainSkips): Promise<StageBackward> {
    this.check(true);
    this.checkSkips(dSkips, this.skips.out, 'outgoing gradient');
    const dy = fromPlain(dOutput);
    const ds = mapOf(dSkips);
    try {
      return await this.differentiate(mb, (y, stash) => upstreamObjective(y, stash, dy, ds, this.skips.out), true);
    } finally {
      tf.dispose([dy, ...ds.values()]);
    }
  }

  async lastStep(mb: number, input: PlainTensor, skips: PlainSkips, target: PlainTensor, weight: number): Promise<StageBackward & { loss: number }> {
    this.check(true);
    if (this.stage.to !== this.net.layers.length) throw new Error(`stage ${this.stage.from}–${this.stage.to - 1} is not the last one`);
    if (this.checkpoints.has(mb)) throw new Error(`stage ${this.stage.from}–${this.stage.to - 1}: micro-batch ${mb} is already in flight`);
    this.checkSkips(skips, this.skips.in, 'incoming');
    this.checkpoints.set(mb, { input: fromPlain(input), popped: mapOf(skips) });
    const t = fromPlain(target);
    let loss = NaN;
    try {
      const res = await this.differentiate(mb, (y) => tf.mul(this.lossFn!(y, t), weight) as tf.Scalar, false, (v) => (loss = v));
      return { ...res, loss };
    } finally {
      t.dispose();
    }
  }

  /** The recomputed backward of `mb` (stage-pass.ts), gradients accumulated; frees the checkpoint. */
  private async differentiate(mb: number, objective: (y: tf.Tensor, stash: SkipStash) => tf.Scalar, restoreBuffers: boolean, onValue?: (v: number) => void): Promise<StageBackward> {
    const cp = this.checkpoints.get(mb);
    if (!cp) throw new Error(`stage ${this.stage.from}–${this.stage.to - 1}: no checkpoint of micro-batch ${mb}`);
    this.checkpoints.delete(mb);
    try {
      const g = stageGradients(this.net, this.stage, cp.input, cp.popped, this.mode, objective, { inputGrad: !this.first, restoreBuffers });
      try {
        onValue?.((await g.value.data())[0]);
        accumulateInto(this.grads, g.vars, g.grads);
        return { dInput: g.dInput ? await toPlain(g.dInput) : null, dSkips: await plainSkips(this.skips.in, g.dSkips) };
      } finally {
        tf.dispose([g.value, ...(g.dInput ? [g.dInput] : []), ...g.dSkips.values()]);
      }
    } finally {
      tf.dispose([cp.input, ...cp.popped.values()]);
    }
  }

  async gradients(): Promise<StageWeights> {
    const byName = new Map(this.net.layerParameters(this.stage.from, this.stage.to).map(([key, p]) => [p.variable.name, key]));
    const out: StageWeights = {};
    for (const [name, g] of this.grads) out[byName.get(name)!] = { data: new Float32Array(await g.data()), shape: g.shape.slice() };
    return out;
  }

  async applyGradients(): Promise<void> {
    this.check(true);
    if (this.grads.size === 0) throw new Error(`stage ${this.stage.from}–${this.stage.to - 1}: no gradients to apply`);
    this.optimizer ??= createOptimizer(this.training!.optimizer);
    try {
      this.optimizer.applyGradients(Object.fromEntries(this.grads));
    } finally {
      tf.dispose([...this.grads.values()]);
      this.grads = new Map();
    }
  }

  async infer(input: PlainTensor, skips: PlainSkips): Promise<StageOutput> {
    this.check(false);
    this.checkSkips(skips, this.skips.in, 'incoming');
    const stash: SkipStash = new Map();
    const y = await stageInference(this.net, this.stage, fromPlain(input), stash, { parked: new Map(skips) });
    try {
      return { output: await toPlain(y), skips: await plainSkips(this.skips.out, stash) };
    } finally {
      tf.dispose([y, ...stash.values()]);
    }
  }

  async reset(): Promise<void> {
    for (const cp of this.checkpoints.values()) tf.dispose([cp.input, ...cp.popped.values()]);
    this.checkpoints.clear();
    tf.dispose([...this.grads.values()]);
    this.grads = new Map();
  }

  async weights(): Promise<StageWeights> {
    this.check(false);
    return readLayerWeights(this.net, this.stage);
  }

  async memory(): Promise<{ numTensors: number; numBytes: number }> {
    const m = tf.memory();
    return { numTensors: m.numTensors, numBytes: m.numBytes };
  }

  private freeVariables(): void {
    for (const [, p] of this.net.layerParameters(this.stage.from, this.stage.to)) p.variable.dispose();
  }

  async dispose(): Promise<void> {
    if (this.disposed) return;
    await this.reset();
    this.optimizer?.dispose();
    this.freeVariables();
    this.disposed = true;
  }
}

/** One device configuration per stage, with the weights of `net` (the same network split up). */
export async function stageConfigs(net: UNetPipe, stages: readonly Stage[], training?: StageTraining): Promise<StageDeviceConfig[]> {
  const network = { nFeat: net.nFeat, inChannels: net.inChannels, outChannels: net.outChannels };
  return Promise.all(stages.map(async (stage) => ({ network, stage: { from: stage.from, to: stage.to }, weights: await readLayerWeights(net, stage), ...(training ? { training } : {}) })));
}
