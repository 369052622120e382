/**
 * A plain U-Net on the same block library, in 2D or 3D, named like MONAI's BasicUNet:
 * `conv_0` (two Convolutions: conv-BN-LReLU x2), `down_<i>` (max-pool 2, two Convolutions),
 * `upcat_<i>` (UpSample to the skip's width, concat [skip, up], two Convolutions) and a 1x1
 * `final_conv`. Every level doubles the widths you pass; H, W (and D) must be divisible by 2^levels.
 */
import * as tf from '@tensorflow/tfjs-core';
import { Convolution } from './blocks/convolution';
import { MaxPool } from './blocks/downsample';
import { Conv } from './blocks/layers';
import { Module, SeedSource, type ForwardOptions, type Layer, type SpatialDims } from './blocks/module';
import { UpSample } from './blocks/upsample';
import { Network } from './network';

export interface UNetOptions {
  dims: SpatialDims;
  inChannels?: number;
  outChannels?: number;
  /** Widths per level, shallowest first; at least two. */
  features: readonly number[];
  /** 'linear' = 1x1 conv + (bi/tri)linear align_corners; 'deconv' = transposed conv (kernel 2, stride 2). */
  upsample: 'linear' | 'deconv';
  seed?: number;
}

/** Two conv-BN-LeakyReLU(0.01) blocks, children `conv_0`, `conv_1`. */
export class TwoConv extends Module implements Layer {
  private readonly convs: Convolution[];

  constructor(dims: SpatialDims, inChannels: number, outChannels: number, seed: SeedSource) {
    super();
    this.convs = [
      this.addModule('conv_0', new Convolution({ dims, inChannels, outChannels, kernelSize: 3, seed })),
      this.addModule('conv_1', new Convolution({ dims, inChannels: outChannels, outChannels, kernelSize: 3, seed })),
    ];
  }

  forward(x: tf.Tensor, opts: ForwardOptions): tf.Tensor {
    return this.convs[1].forward(this.convs[0].forward(x, opts), opts);
  }
}

class Down extends Module implements Layer {
  private readonly pool = this.addModule('max_pooling', new MaxPool(2));
  private readonly convs: TwoConv;

  constructor(dims: SpatialDims, inChannels: number, outChannels: number, seed: SeedSource) {
    super();
    this.convs = this.addModule('convs', new TwoConv(dims, inChannels, outChannels, seed));
  }

  forward(x: tf.Tensor, opts: ForwardOptions): tf.Tensor {
    return this.convs.forward(this.pool.forward(x), opts);
  }
}

class UpCat extends Module {
  private readonly upsample: UpSample;
  private readonly convs: TwoConv;

  constructor(dims: SpatialDims, inChannels: number, skipChannels: number, mode: 'linear' | 'deconv', seed: SeedSource) {
    super();
    this.upsample = this.addModule('upsample', new UpSample({ dims, inChannels, outChannels: skipChannels, mode, seed }));
    this.convs = this.addModule('convs', new TwoConv(dims, 2 * skipChannels, skipChannels, seed));
  }

  forward(x: tf.Tensor, skip: tf.Tensor, opts: ForwardOptions): tf.Tensor {
    return this.convs.forward(tf.concat([skip, this.upsample.forward(x, opts)], x.rank - 1), opts);
  }
}

export class UNet extends Network {
  readonly name: string;
  readonly dims: SpatialDims;
  readonly features: readonly number[];
  readonly inChannels: number;
  readonly outChannels: number;
  readonly sizeDivisor: number;
  private readonly first: TwoConv;
  private readonly downs: Down[];
  private readonly ups: UpCat[];
  private readonly finalConv: Conv;

  constructor(o: UNetOptions) {
    super();
    const f = (this.features = [...o.features]);
    if (f.length < 2) throw new Error('UNet needs at least two feature widths');
    this.dims = o.dims;
    this.name = `UNet${o.dims}D`;
    this.inChannels = o.inChannels ?? 1;
    this.outChannels = o.outChannels ?? 2;
    const seed = new SeedSource(o.seed);
    const levels = f.length - 1;
    this.sizeDivisor = 2 ** levels;
    this.first = this.addModule('conv_0', new TwoConv(o.dims, this.inChannels, f[0], seed));
    this.downs = Array.from({ length: levels }, (_, i) => this.addModule(`down_${i + 1}`, new Down(o.dims, f[i], f[i + 1], seed)));
    // upcat_<i> brings level i back to level i-1, deepest first in the forward pass.
    this.ups = Array.from({ length: levels }, (_, j) => {
      const i = levels - j;
      return this.addModule(`upcat_${i}`, new UpCat(o.dims, f[i], f[i - 1], o.upsample, seed));
    });
    this.finalConv = this.addModule('final_conv', new Conv({ dims: o.dims, inChannels: f[0], outChannels: this.outChannels, kernelSize: 1, seed }));
  }

  protected forward(x: tf.Tensor, opts: ForwardOptions): tf.Tensor {
    if (this.dims === 2 && x.rank === 5) {
      const [n, d, h, w, c] = x.shape; // slice-wise, like COPLE-Net
      return tf.reshape(this.forward(tf.reshape(x, [n * d, h, w, c]), opts), [n, d, h, w, this.outChannels]);
    }
    if (x.rank !== this.dims + 2) throw new Error(`${this.name} expects rank-${this.dims + 2} channels-last input, got shape [${x.shape.join(',')}]`);
    const spatial = x.shape.slice(1, -1);
    if (spatial.some((s) => s % this.sizeDivisor !== 0)) throw new Error(`${this.name} needs spatial sizes divisible by ${this.sizeDivisor}, got ${spatial.join('x')}`);
    if (x.shape[x.rank - 1] !== this.inChannels) throw new Error(`${this.name} expects ${this.inChannels} input channel(s), got ${x.shape[x.rank - 1]}`);
    const skips = [this.first.forward(x, opts)];
    for (const down of this.downs) skips.push(down.forward(skips[skips.length - 1], opts));
    let y = skips.pop()!;
    for (const up of this.ups) y = up.forward(y, skips.pop()!, opts);
    return this.finalConv.forward(y);
  }
}
