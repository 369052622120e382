/**
 * Small tensor helpers shared by the layers. Rank-5 tensors are folded to rank 4 where TF.js
 * WebGPU 4.22 generates invalid WGSL for rank 5 ("cannot index type 'vec5'": Pad, and binary
 * ops that broadcast a vector through shared memory). Reshapes are free in TF.js.
 */
import * as tf from '@tensorflow/tfjs-core';

/** x + b, with b broadcast over the last (channel) axis. */
export function addBias(x: tf.Tensor, b: tf.Tensor): tf.Tensor {
  if (x.rank <= 4) return tf.add(x, b);
  return tf.reshape(tf.add(tf.reshape(x, [-1, x.shape[x.rank - 1]]), b), x.shape);
}

/** Zero-pads every spatial axis of a channels-last tensor by `p` on both sides. */
export function padSpatial(x: tf.Tensor, p: number): tf.Tensor {
  if (p === 0) return x;
  if (x.rank <= 4) return tf.pad(x, [[0, 0], ...new Array(x.rank - 2).fill([p, p]), [0, 0]]);
  const [n, d, h, w, c] = x.shape;
  const hw = tf.pad(tf.reshape(x, [n * d, h, w, c]), [[0, 0], [p, p], [p, p], [0, 0]]);
  const dPadded = tf.pad(tf.reshape(hw, [n, d, (h + 2 * p) * (w + 2 * p), c]), [[0, 0], [p, p], [0, 0], [0, 0]]);
  return tf.reshape(dPadded, [n, d + 2 * p, h + 2 * p, w + 2 * p, c]);
}
