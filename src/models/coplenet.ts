/**
 * COPLE-Net (Wang et al., IEEE TMI 2020) as in MONAI research-contributions coplenet.py on
 * MONAI 0.2.0 blocks (spec §1): a 2D network; 5D input (N, D, H, W, C) runs as N·D independent
 * slices. Parameter names are the MONAI 0.2.0 state-dict keys (spec Appendix A), so the
 * pretrained `coplenet_pretrained_monai_dict.pt` loads 1:1.
 */
import * as tf from '@tensorflow/tfjs-core';
import { ConvBNActBlock, DownBlock, UpBlock } from './blocks/coplenet-blocks';
import { Convolution } from './blocks/convolution';
import { SimpleASPP } from './blocks/aspp';
import { SeedSource, type ForwardOptions } from './blocks/module';
import { Network } from './network';

export interface CopleNetOptions {
  inChannels?: number;
  outChannels?: number;
  /** Five widths, each double the previous (the DownBlock residuals need it). Default (32, 64, 128, 256, 512). */
  features?: readonly number[];
  /** Per-level dropout (encoder stage i and the decoder stage at the same resolution). */
  dropout?: readonly number[];
  /** true: 1x1 conv + bilinear (align_corners) upsampling, as the pretrained weights; false: transposed conv. */
  bilinear?: boolean;
  /** Seed for the PyTorch-style random initialisation (unseeded when absent). */
  seed?: number;
}

export const COPLENET_DEFAULT_FEATURES = [32, 64, 128, 256, 512] as const;
export const COPLENET_DEFAULT_DROPOUT = [0.0, 0.0, 0.3, 0.4, 0.5] as const;

export class CopleNet extends Network {
  readonly name = 'CopleNet';
  readonly features: readonly number[];
  readonly inChannels: number;
  readonly outChannels: number;
  readonly sizeDivisor = 16;
  private readonly inConv: ConvBNActBlock;
  private readonly downs: DownBlock[];
  private readonly bridges: Convolution[];
  private readonly ups: UpBlock[];
  private readonly aspp: SimpleASPP;
  private readonly outConv: Convolution;

  constructor(o: CopleNetOptions = {}) {
    super();
    const f = (this.features = [...(o.features ?? COPLENET_DEFAULT_FEATURES)]);
    const p = o.dropout ?? COPLENET_DEFAULT_DROPOUT;
    this.inChannels = o.inChannels ?? 1;
    this.outChannels = o.outChannels ?? 2;
    if (f.length !== 5 || p.length !== 5) throw new Error('CopleNet: features and dropout need 5 entries each');
    for (let i = 1; i < 5; i++) if (f[i] !== 2 * f[i - 1]) throw new Error(`CopleNet: features must double at each level, got (${f.join(', ')})`);
    const seed = new SeedSource(o.seed);
    const mode = o.bilinear === false ? 'deconv' : 'linear';
    const bridge = (c: number) => new Convolution({ dims: 2, inChannels: c, outChannels: c / 2, kernelSize: 1, seed });
    // Registration order = state-dict order: in_conv, down1-4, bridge0-3, up1-4, aspp, out_conv.
    this.inConv = this.addModule('in_conv', new ConvBNActBlock(2, this.inChannels, f[0], p[0], seed));
    this.downs = [1, 2, 3, 4].map((i) => this.addModule(`down${i}`, new DownBlock(2, f[i - 1], f[i], p[i], seed)));
    this.bridges = [0, 1, 2, 3].map((i) => this.addModule(`bridge${i}`, bridge(f[i])));
    this.ups = [1, 2, 3, 4].map((k) => {
      const lvl = 4 - k; // up1 works at level 3 (1/8 resolution), up4 at level 0
      return this.addModule(`up${k}`, new UpBlock(2, f[lvl + 1], f[lvl] / 2, f[lvl], p[lvl], { mode, seed }));
    });
    this.aspp = this.addModule('aspp', new SimpleASPP({ dims: 2, inChannels: f[4], convOutChannels: f[4] / 4, kernelSizes: [1, 3, 3, 3], dilations: [1, 2, 4, 6], seed }));
    this.outConv = this.addModule('out_conv', new Convolution({ dims: 2, inChannels: f[0], outChannels: this.outChannels, kernelSize: 3, convOnly: true, seed }));
  }

  protected override optionalKeys(): Record<string, string> {
    return { 'aspp.conv_k1.conv.bias': 'current MONAI SimpleASPP has no bias in conv_k1' };
  }

  protected forward(x: tf.Tensor, opts: ForwardOptions): tf.Tensor {
    if (x.rank === 5) {
      // (N, D, H, W, C) -> N·D slices, like x.transpose(1, 2).reshape(N*D, C, H, W) in PyTorch.
      const [n, d, h, w, c] = x.shape;
      const y = this.forward2d(tf.reshape(x, [n * d, h, w, c]), opts);
      return tf.reshape(y, [n, d, h, w, this.outChannels]);
    }
    if (x.rank !== 4) throw new Error(`CopleNet expects NHWC or NDHWC input, got shape [${x.shape.join(',')}]`);
    return this.forward2d(x, opts);
  }

  private forward2d(x: tf.Tensor, opts: ForwardOptions): tf.Tensor {
    const [, h, w, c] = x.shape;
    if (h % this.sizeDivisor !== 0 || w % this.sizeDivisor !== 0) throw new Error(`CopleNet needs H and W divisible by 16, got ${h}x${w}`);
    if (c !== this.inChannels) throw new Error(`CopleNet expects ${this.inChannels} input channel(s), got ${c}`);
    const x0 = this.inConv.forward(x, opts);
    const x1 = this.downs[0].forward(x0, opts);
    const x2 = this.downs[1].forward(x1, opts);
    const x3 = this.downs[2].forward(x2, opts);
    const x4 = this.aspp.forward(this.downs[3].forward(x3, opts), opts);
    const bridged = [x0, x1, x2, x3].map((t, i) => this.bridges[i].forward(t, opts));
    let y = this.ups[0].forward(x4, bridged[3], opts);
    y = this.ups[1].forward(y, bridged[2], opts);
    y = this.ups[2].forward(y, bridged[1], opts);
    y = this.ups[3].forward(y, bridged[0], opts);
    return this.outConv.forward(y, opts);
  }
}
