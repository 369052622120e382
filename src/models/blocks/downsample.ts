/** Pooling blocks: MONAI's MaxAvgPool (concat [max, avg]) and plain max pooling; kernel = stride, floor mode. */
import * as tf from '@tensorflow/tfjs-core';
import { Module, type Layer, type SpatialDims } from './module';

export function maxPool(x: tf.Tensor, k: number): tf.Tensor {
  return x.rank === 4 ? tf.maxPool(x as tf.Tensor4D, k, k, 'valid') : tf.maxPool3d(x as tf.Tensor5D, k, k, 'valid');
}

export function avgPool(x: tf.Tensor, k: number): tf.Tensor {
  return x.rank === 4 ? tf.avgPool(x as tf.Tensor4D, k, k, 'valid') : tf.avgPool3d(x as tf.Tensor5D, k, k, 'valid');
}

/** Channels double: output = concat([maxpool(x), avgpool(x)], channel axis). */
export class MaxAvgPool extends Module implements Layer {
  constructor(
    readonly dims: SpatialDims,
    readonly kernelSize = 2,
  ) {
    super();
  }

  forward(x: tf.Tensor): tf.Tensor {
    return tf.concat([maxPool(x, this.kernelSize), avgPool(x, this.kernelSize)], x.rank - 1);
  }
}

export class MaxPool extends Module implements Layer {
  constructor(readonly kernelSize = 2) {
    super();
  }

  forward(x: tf.Tensor): tf.Tensor {
    return maxPool(x, this.kernelSize);
  }
}
