/**
 * Per-layer profile of a UNetPipe on one input size: the numbers torchgpipe's balance_by_size and
 * our stage planner work from (spec §4.2), measured on the active TF.js backend.
 *
 * Memory is measured with `tf.profile` around each layer's forward pass, run outside any tidy:
 * - `latentBytes`: bytes of every tensor the layer's forward creates and keeps (output + the
 *   intermediates), i.e. what a gradient tape holds for the backward pass. torchgpipe measures the
 *   same thing as the CUDA allocation delta of the layer's forward.
 * - `peakBytes`: the most bytes the forward had allocated at once above its start (≥ latent when a
 *   kernel frees temporaries).
 * - `largestTensorBytes`: the largest tensor any kernel of the layer outputs; on WebGPU each tensor
 *   is one buffer, so it must fit the adapter's maxBufferSize / maxStorageBufferBindingSize.
 * - `trainPeakBytes` (with `training`): the same peak for the layer's forward + backward.
 * Time is the median of a few runs of the forward (and, with `training`, forward + backward).
 */
import * as tf from '@tensorflow/tfjs-core';
import '../training/gradients';
import type { SkipStash, UNetPipe } from '../../models/unetpipe';

export interface LayerProfile {
  index: number;
  name: string;
  type: string;
  /** Namespace stashed (Stash layers) / popped (PopCat layers). */
  stashes?: number;
  pops?: number;
  outputShape: number[];
  inputBytes: number;
  outputBytes: number;
  latentBytes: number;
  peakBytes: number;
  largestTensorBytes: number;
  /** Bytes of the tensor this layer stashes (0 unless a Stash layer). */
  stashedBytes: number;
  /** Bytes of all skip tensors stashed and not yet popped after this layer. */
  stashAliveBytes: number;
  /** Trainable parameters, bytes. */
  paramBytes: number;
  /** Non-trainable state (BatchNorm running statistics), bytes. */
  bufferBytes: number;
  /**
   * With `training`: the most bytes alive during the layer's forward + backward (gradients of its
   * input(s) and parameters) above its start: its tape plus the gradient tensors, which TF.js frees
   * only when the whole backward pass ends.
   */
  trainPeakBytes?: number;
  forwardMs: number;
  /** Forward + backward time; only with `training`. */
  trainMs?: number;
}

export interface NetworkProfile {
  network: string;
  /** Channels-last input shape (N, D, H, W, C) the layers were measured with. */
  inputShape: number[];
  /** Samples in the profiled batch: activation bytes scale with batch / this. */
  batch: number;
  inputBytes: number;
  /** BatchNorm mode of the measurement. */
  training: boolean;
  layers: LayerProfile[];
}

export interface ProfileOptions {
  /** BatchNorm in training mode, and time forward + backward too. Default false. */
  training?: boolean;
  /** Timed runs per layer (median); 0 skips timing. Default 3. */
  runs?: number;
  /** Seed of the random input. */
  seed?: number;
}

const BYTES = 4; // float32 and int32 alike

function bytesOf(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1) * BYTES;
}

function median(xs: number[]): number {
  const s = xs.slice().sort((a, b) => a - b);
  return s.length ? s[Math.floor(s.length / 2)] : 0;
}

/** Runs `fn` and puts the network's non-trainable buffers (BatchNorm running statistics) back afterwards. */
export async function keepingBuffers<T>(variables: readonly tf.Variable[], fn: () => Promise<T>): Promise<T> {
  const saved = variables.map((v) => tf.clone(v));
  try {
    return await fn();
  } finally {
    variables.forEach((v, i) => v.assign(saved[i]));
    tf.dispose(saved);
  }
}

/** Profiles every layer of `net` on a random input of channels-last shape `inputShape`; the model is left unchanged. */
export async function profileLayers(net: UNetPipe, inputShape: readonly number[], opts: ProfileOptions = {}): Promise<NetworkProfile> {
  const training = opts.training ?? false;
  const runs = opts.runs ?? 3;
  const mode = { training };
  const buffers = [...net.namedParameters()].filter(([, p]) => !p.trainable).map(([, p]) => p.variable);
  const x0 = tf.randomNormal(inputShape as number[], 0, 1, 'float32', opts.seed ?? 1);
  net.checkInput(x0);
  const engine = tf.engine();
  const layers: LayerProfile[] = [];
  const stash: SkipStash = new Map();
  let x: tf.Tensor = x0;
  try {
    await keepingBuffers(buffers, async () => {
      for (const [index, layer] of net.layers.entries()) {
        const before = new Map(stash);
        const startBytes = tf.memory().numBytes;
        let y: tf.Tensor | undefined;
        let info: Awaited<ReturnType<typeof tf.profile>>;
        engine.startScope('profile-layer');
        try {
          info = await tf.profile(() => (y = layer.forward(x, stash, mode)));
        } finally {
          engine.endScope(y); // keeps y, frees the intermediates
        }
        const out = y!;
        const outputShapes = info.kernels.flatMap((k) => k.outputShapes);
        const vars = net.layerParameters(index, index + 1);
        const stashedBytes = layer.stashes !== undefined ? bytesOf(x.shape) : 0;
        const profile: LayerProfile = {
          index,
          name: layer.name,
          type: layer.type,
          ...(layer.stashes !== undefined ? { stashes: layer.stashes } : {}),
          ...(layer.pops !== undefined ? { pops: layer.pops } : {}),
          outputShape: out.shape.slice(),
          inputBytes: bytesOf(x.shape),
          outputBytes: bytesOf(out.shape),
          latentBytes: info.newBytes,
          peakBytes: Math.max(info.newBytes, ...info.kernels.map((k) => k.totalBytesSnapshot - startBytes)),
          largestTensorBytes: Math.max(bytesOf(out.shape), ...outputShapes.map(bytesOf)),
          stashedBytes,
          stashAliveBytes: [...stash.values()].reduce((n, t) => n + bytesOf(t.shape), 0),
          paramBytes: vars.filter(([, p]) => p.trainable).reduce((n, [, p]) => n + p.variable.size * BYTES, 0),
          bufferBytes: vars.filter(([, p]) => !p.trainable).reduce((n, [, p]) => n + p.variable.size * BYTES, 0),
          forwardMs: 0,
        };
        if (training) {
          const start = tf.memory().numBytes;
          const step = await tf.profile(() => trainStep(net, index, x, before, mode));
          profile.trainPeakBytes = Math.max(0, ...step.kernels.map((k) => k.totalBytesSnapshot - start));
        }
        if (runs > 0) {
          profile.forwardMs = median(Array.from({ length: runs }, () => timeForward(net, index, x, before, mode)));
          if (training) profile.trainMs = median(Array.from({ length: runs }, () => timeTrain(net, index, x, before, mode)));
        }
        layers.push(profile);
        const popped = layer.pops !== undefined ? before.get(layer.pops) : undefined;
        if (x !== x0 && x !== out && ![...stash.values()].includes(x)) x.dispose();
        popped?.dispose();
        x = out;
      }
    });
  } finally {
    tf.dispose([x, x0, ...stash.values()]);
  }
  return { network: net.name, inputShape: inputShape.slice(), batch: inputShape[0], inputBytes: bytesOf(inputShape), training, layers };
}

function timeForward(net: UNetPipe, index: number, x: tf.Tensor, stash: SkipStash, mode: { training: boolean }): number {
  const t0 = performance.now();
  tf.tidy(() => {
    net.layers[index].forward(x, new Map(stash), mode).dataSync();
  });
  return performance.now() - t0;
}

/** One forward + backward of layer `index` (gradients of its inputs and parameters), everything freed. */
function trainStep(net: UNetPipe, index: number, x: tf.Tensor, stash: SkipStash, mode: { training: boolean }): void {
  const layer = net.layers[index];
  const xs = [x, ...(layer.pops !== undefined ? [stash.get(layer.pops)!] : []), ...net.layerVariables(index, index + 1)];
  tf.tidy(() => {
    const { grads } = tf.engine().gradients(() => tf.sum(layer.forward(x, new Map(stash), mode)) as tf.Scalar, xs, undefined, true);
    for (const g of grads) g?.dataSync();
  });
}

function timeTrain(net: UNetPipe, index: number, x: tf.Tensor, stash: SkipStash, mode: { training: boolean }): number {
  const t0 = performance.now();
  trainStep(net, index, x, stash, mode);
  return performance.now() - t0;
}
