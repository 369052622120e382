/**
 * Sum's and Mean's gradients without a host-side array. tfjs-core's own multiply the broadcast `dy` by
 * `ones(x.shape)`, and `ones` is filled in JavaScript and, on a GPU backend, uploaded: for every BatchNorm
 * layer (its moments are means over batch × height × width) a full activation-sized array per training
 * step. On an H200 through WebGPU, filling them took 2.9 s of a 23 s run of COPLE-Net steps
 * (bench:webgpu-train under `node --cpu-prof`), about a quarter of each step's wall time.
 * `fill` is a kernel (on the device for WebGPU, native in wasm), so the same product needs no host array;
 * the values are identical (dy · 1 / n). (`broadcastTo`, a Tile kernel, would do too on WebGPU but is
 * 40 % slower per step on wasm.)
 */
import * as tf from '@tensorflow/tfjs-core';

/** dy (reduced over `axes`) broadcast back to x's shape. */
function expandedDy(dy: tf.Tensor, x: tf.Tensor, axes: number[]): tf.Tensor {
  const shape = x.shape.map((d, a) => (axes.includes(a) ? 1 : d));
  return tf.mul(tf.reshape(dy, shape), tf.fill(x.shape, 1, 'float32'));
}

const registered = new Set<tf.GradConfig>();

/** Replaces the registered Sum and Mean gradients (call after tfjs-core's gradients are registered). Idempotent. */
export function registerDeviceReduceGradients(): void {
  const sum: tf.GradConfig = {
    kernelName: tf.Sum,
    inputsToSave: ['x'],
    gradFunc: (dy, [x], attrs) => ({ x: () => expandedDy(dy as tf.Tensor, x, tf.util.parseAxisParam((attrs as unknown as tf.SumAttrs).axis, x.shape)) }),
  };
  const mean: tf.GradConfig = {
    kernelName: tf.Mean,
    inputsToSave: ['x'],
    gradFunc: (dy, [x], attrs) => {
      const axes = tf.util.parseAxisParam((attrs as unknown as tf.MeanAttrs).axis, x.shape);
      const n = axes.reduce((p, a) => p * x.shape[a], 1);
      return { x: () => tf.div(expandedDy(dy as tf.Tensor, x, axes), n) };
    },
  };
  for (const config of [sum, mean]) {
    const current = tf.getGradient(config.kernelName);
    if (current && registered.has(current)) continue;
    registered.add(config);
    tf.registerGradient(config);
  }
}
