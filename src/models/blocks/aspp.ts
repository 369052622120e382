/**
 * MONAI 0.2.0 `SimpleASPP`: parallel convs (no norm/act, bias) with kernel sizes ks[i] and
 * dilations d[i], concatenated in order, then `conv_k1` = 1x1 Convolution with BN + LeakyReLU.
 * Keys: `convs.<i>.{weight,bias}`, `conv_k1.conv.*`, `conv_k1.norm.*`.
 */
import * as tf from '@tensorflow/tfjs-core';
import { Convolution } from './convolution';
import { Conv } from './layers';
import { Module, SeedSource, type ForwardOptions, type Layer, type SpatialDims } from './module';

class ModuleList extends Module {
  constructor(readonly items: Module[]) {
    super();
    items.forEach((m, i) => this.addModule(String(i), m));
  }
}

export interface SimpleASPPOptions {
  dims: SpatialDims;
  inChannels: number;
  convOutChannels: number;
  kernelSizes?: number[];
  dilations?: number[];
  seed?: SeedSource;
}

export class SimpleASPP extends Module implements Layer {
  private readonly convs: Conv[];
  readonly convK1: Convolution;

  constructor(o: SimpleASPPOptions) {
    super();
    const ks = o.kernelSizes ?? [1, 3, 3, 3];
    const ds = o.dilations ?? [1, 2, 4, 6];
    if (ks.length !== ds.length) throw new Error('SimpleASPP: kernelSizes and dilations differ in length');
    const seed = o.seed ?? new SeedSource();
    this.convs = ks.map((k, i) => new Conv({ dims: o.dims, inChannels: o.inChannels, outChannels: o.convOutChannels, kernelSize: k, dilation: ds[i], seed }));
    this.addModule('convs', new ModuleList(this.convs));
    const out = o.convOutChannels * ks.length;
    this.convK1 = this.addModule('conv_k1', new Convolution({ dims: o.dims, inChannels: out, outChannels: out, kernelSize: 1, seed }));
  }

  forward(x: tf.Tensor, opts: ForwardOptions): tf.Tensor {
    const branches = this.convs.map((c) => c.forward(x));
    return this.convK1.forward(tf.concat(branches, x.rank - 1), opts);
  }
}
