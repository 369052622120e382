/**
 * LeakyReLU's gradient on a flat view of the tensor. tfjs-core's own (`where(x > 0, dy, α·dy)`) fails on
 * the webgpu backend for rank-5 tensors — tfjs-webgpu 4.22's `Select` (Where) supports rank ≤ 4 — so a
 * 3D network such as UNetPipe could not train on WebGPU at all. Flattening first makes `where` rank 1
 * on every backend; reshapes are free, and the values are the same.
 */
import * as tf from '@tensorflow/tfjs-core';

let registered: tf.GradConfig | null = null;

/** Replaces the registered LeakyRelu gradient (call after tfjs-core's gradients are registered). Idempotent. */
export function registerFlatLeakyReluGradient(): void {
  if (registered && tf.getGradient(tf.LeakyRelu) === registered) return;
  registered = {
    kernelName: tf.LeakyRelu,
    inputsToSave: ['x'],
    gradFunc: (dy, saved, attrs) => {
      const [x] = saved;
      const { alpha } = attrs as unknown as tf.LeakyReluAttrs;
      return {
        x: () => {
          const g = tf.reshape(dy as tf.Tensor, [-1]);
          return tf.reshape(tf.where(tf.greater(tf.reshape(x, [-1]), 0), g, tf.mul(g, alpha)), x.shape);
        },
      };
    },
  };
  tf.registerGradient(registered);
}
