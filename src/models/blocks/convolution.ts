/**
 * MONAI's `Convolution` block (0.2.0 layout): conv -> norm -> act as children named
 * `conv`, `norm`, `act`; `convOnly` leaves just `conv`.
 */
import type * as tf from '@tensorflow/tfjs-core';
import { Activation, BatchNorm, Conv, type ActivationKind } from './layers';
import { Module, SeedSource, type ForwardOptions, type Layer, type SpatialDims } from './module';

export interface ConvolutionOptions {
  dims: SpatialDims;
  inChannels: number;
  outChannels: number;
  kernelSize?: number;
  stride?: number;
  dilation?: number;
  bias?: boolean;
  /** Only the convolution (no norm, no activation). */
  convOnly?: boolean;
  norm?: 'batch' | 'none';
  act?: ActivationKind;
  /** LeakyReLU slope (PyTorch default 0.01). */
  negativeSlope?: number;
  seed?: SeedSource;
}

export class Convolution extends Module implements Layer {
  readonly conv: Conv;
  readonly norm: BatchNorm | null = null;
  readonly act: Activation | null = null;

  constructor(o: ConvolutionOptions) {
    super();
    this.conv = this.addModule(
      'conv',
      new Conv({
        dims: o.dims,
        inChannels: o.inChannels,
        outChannels: o.outChannels,
        kernelSize: o.kernelSize ?? 3,
        stride: o.stride,
        dilation: o.dilation,
        bias: o.bias,
        seed: o.seed ?? new SeedSource(),
      }),
    );
    if (o.convOnly) return;
    if ((o.norm ?? 'batch') === 'batch') this.norm = this.addModule('norm', new BatchNorm(o.outChannels));
    const act = o.act ?? 'leakyrelu';
    if (act !== 'none') this.act = this.addModule('act', new Activation(act, o.negativeSlope ?? 0.01));
  }

  forward(x: tf.Tensor, opts: ForwardOptions): tf.Tensor {
    let y = this.conv.forward(x);
    if (this.norm) y = this.norm.forward(y, opts);
    if (this.act) y = this.act.forward(y);
    return y;
  }
}
