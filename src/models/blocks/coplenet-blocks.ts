/**
 * The COPLE-Net building blocks of RC coplenet.py (spec §1.2): ConvBNActBlock (conv-BN-LReLU,
 * dropout, conv-BN-LReLU, residual SE as `conv_conv_se.{0..3}`), DownBlock (MaxAvgPool then a
 * residual ConvBNActBlock) and UpBlock (upsample, concat [bridge, up], residual ConvBNActBlock).
 */
import * as tf from '@tensorflow/tfjs-core';
import { Convolution } from './convolution';
import { MaxAvgPool } from './downsample';
import { Dropout } from './layers';
import { Module, SeedSource, Sequential, type ForwardOptions, type Layer, type SpatialDims } from './module';
import { ResidualSELayer } from './squeeze-excitation';
import { UpSample } from './upsample';

export class ConvBNActBlock extends Module implements Layer {
  private readonly convConvSe: Sequential;

  constructor(dims: SpatialDims, inChannels: number, outChannels: number, dropout: number, seed = new SeedSource()) {
    super();
    this.convConvSe = this.addModule(
      'conv_conv_se',
      new Sequential([
        new Convolution({ dims, inChannels, outChannels, kernelSize: 3, seed }),
        new Dropout(dropout),
        new Convolution({ dims, inChannels: outChannels, outChannels, kernelSize: 3, seed }),
        new ResidualSELayer(outChannels, 2, seed),
      ]),
    );
  }

  forward(x: tf.Tensor, opts: ForwardOptions): tf.Tensor {
    return this.convConvSe.forward(x, opts);
  }
}

/** y = ConvBNActBlock(pool(x)) + pool(x); needs outChannels == 2 * inChannels. */
export class DownBlock extends Module implements Layer {
  private readonly pool: MaxAvgPool;
  private readonly conv: ConvBNActBlock;

  constructor(dims: SpatialDims, inChannels: number, outChannels: number, dropout: number, seed = new SeedSource()) {
    super();
    if (outChannels !== 2 * inChannels) throw new Error(`DownBlock: residual needs outChannels (${outChannels}) = 2 x inChannels (${inChannels})`);
    this.pool = this.addModule('max_avg_pool', new MaxAvgPool(dims, 2));
    this.conv = this.addModule('conv', new ConvBNActBlock(dims, 2 * inChannels, outChannels, dropout, seed));
  }

  forward(x: tf.Tensor, opts: ForwardOptions): tf.Tensor {
    const xp = this.pool.forward(x);
    return tf.add(this.conv.forward(xp, opts), xp);
  }
}

/** y = ConvBNActBlock(cat[x2, up(x1)]) + cat[x2, up(x1)]; `in2` = channels of x2 and of up(x1). */
export class UpBlock extends Module {
  private readonly up: UpSample;
  private readonly conv: ConvBNActBlock;

  constructor(dims: SpatialDims, in1: number, in2: number, outChannels: number, dropout: number, opts: { mode?: 'linear' | 'deconv'; seed?: SeedSource } = {}) {
    super();
    if (outChannels !== 2 * in2) throw new Error(`UpBlock: residual needs outChannels (${outChannels}) = 2 x in2 (${in2})`);
    const seed = opts.seed ?? new SeedSource();
    this.up = this.addModule('up', new UpSample({ dims, inChannels: in1, outChannels: in2, mode: opts.mode, seed }));
    this.conv = this.addModule('conv', new ConvBNActBlock(dims, 2 * in2, outChannels, dropout, seed));
  }

  forward(x1: tf.Tensor, x2: tf.Tensor, opts: ForwardOptions): tf.Tensor {
    const xc = tf.concat([x2, this.up.forward(x1, opts)], x1.rank - 1);
    return tf.add(this.conv.forward(xc, opts), xc);
  }
}
