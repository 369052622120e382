/**
 * MONAI 0.2.0 `ResidualSELayer` (reduction r): s = ReLU(fc2(LeakyReLU(fc1(mean_spatial(x))))),
 * y = x + x * s. There is no sigmoid (spec §1.2). Children: `fc` = Sequential(Linear, LReLU,
 * Linear, ReLU), so keys are `fc.0.*` and `fc.2.*`.
 */
import * as tf from '@tensorflow/tfjs-core';
import { Activation, Linear } from './layers';
import { Module, SeedSource, Sequential, spatialAxes, type ForwardOptions, type Layer } from './module';

export class ResidualSELayer extends Module implements Layer {
  readonly fc: Sequential;

  constructor(channels: number, reduction = 2, seed = new SeedSource()) {
    super();
    const hidden = Math.floor(channels / reduction);
    this.fc = this.addModule(
      'fc',
      new Sequential([new Linear(channels, hidden, { seed }), new Activation('leakyrelu', 0.01), new Linear(hidden, channels, { seed }), new Activation('relu')]),
    );
  }

  forward(x: tf.Tensor, opts: ForwardOptions): tf.Tensor {
    const squeezed = tf.mean(x, spatialAxes(x)); // [N, C]
    const s = this.fc.forward(squeezed, opts);
    const shape = [x.shape[0], ...new Array(x.rank - 2).fill(1), x.shape[x.rank - 1]];
    return tf.add(x, tf.mul(x, tf.reshape(s, shape)));
  }
}
