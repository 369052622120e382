/**
 * Elementary layers with PyTorch semantics on channels-last TF.js tensors: Conv, ConvTranspose,
 * Linear, BatchNorm, activations, Dropout. Parameter names match torch.nn (weight, bias,
 * running_mean, running_var, num_batches_tracked).
 */
import * as tf from '@tensorflow/tfjs-core';
import { addBias, padSpatial } from './ops';
import { defaultInit, Module, SeedSource, type ForwardOptions, type Layer, type SpatialDims } from './module';

export interface ConvOptions {
  dims: SpatialDims;
  inChannels: number;
  outChannels: number;
  kernelSize: number;
  stride?: number;
  dilation?: number;
  /** Symmetric zero padding per side; default "same" for odd kernels: (k - 1) / 2 * dilation. */
  padding?: number;
  bias?: boolean;
  seed?: SeedSource;
}

/** nn.Conv2d / nn.Conv3d. */
export class Conv extends Module implements Layer {
  readonly weight: tf.Variable;
  readonly bias: tf.Variable | null;
  private readonly dims: SpatialDims;
  private readonly stride: number;
  private readonly dilation: number;
  private readonly padding: number;
  private readonly kernelSize: number;

  constructor(o: ConvOptions) {
    super();
    this.dims = o.dims;
    this.kernelSize = o.kernelSize;
    this.stride = o.stride ?? 1;
    this.dilation = o.dilation ?? 1;
    this.padding = o.padding ?? ((o.kernelSize - 1) / 2) * this.dilation;
    const seed = o.seed ?? new SeedSource();
    const k = new Array<number>(o.dims).fill(o.kernelSize);
    const fanIn = o.inChannels * o.kernelSize ** o.dims;
    this.weight = this.addParameter('weight', defaultInit([...k, o.inChannels, o.outChannels], fanIn, seed), 'conv');
    this.bias = o.bias === false ? null : this.addParameter('bias', defaultInit([o.outChannels], fanIn, seed), 'plain');
  }

  forward(x: tf.Tensor): tf.Tensor {
    const p = this.padding;
    const spatialPad = (t: tf.Tensor) => padSpatial(t, p);
    let y: tf.Tensor;
    if (this.dilation > 1) {
      y = atrousConv(spatialPad(x), this.weight, this.dilation, this.dims);
    } else if (this.stride === 1 && 2 * p === this.kernelSize - 1) {
      y = convOp(x, this.weight, 1, 'same'); // 'same' is symmetric and exact for odd kernels at stride 1
    } else {
      // Pad like PyTorch: TF's 'same' at stride 2 would pad only after, shifting the sampling grid.
      y = convOp(spatialPad(x), this.weight, this.stride, 'valid');
    }
    return this.bias ? addBias(y, this.bias) : y;
  }
}

function convOp(x: tf.Tensor, w: tf.Tensor, stride: number, pad: 'same' | 'valid'): tf.Tensor {
  return x.rank === 4
    ? tf.conv2d(x as tf.Tensor4D, w as tf.Tensor4D, stride, pad)
    : tf.conv3d(x as tf.Tensor5D, w as tf.Tensor5D, stride, pad);
}

/**
 * 'valid' dilated convolution of an already padded input, computed as space-to-batch ->
 * plain conv -> batch-to-space (TensorFlow's atrous formulation). TF.js has no gradient for
 * dilations > 1, so this keeps ASPP trainable; the result equals conv(x, dilations = d).
 */
function atrousConv(x: tf.Tensor, w: tf.Tensor, d: number, dims: number): tf.Tensor {
  const spatial = x.shape.slice(1, 1 + dims);
  const k = w.shape.slice(0, dims);
  const block = new Array<number>(dims).fill(d);
  const extra = spatial.map((s) => [0, (d - (s % d)) % d]);
  const phases = tf.spaceToBatchND(x, block, extra);
  const y = tf.batchToSpaceND(convOp(phases, w, 1, 'valid'), block, new Array(dims).fill([0, 0]));
  const out = spatial.map((s, i) => s - (k[i] - 1) * d);
  return tf.slice(y, new Array(dims + 2).fill(0), [-1, ...out, -1]);
}

export interface ConvTransposeOptions {
  dims: SpatialDims;
  inChannels: number;
  outChannels: number;
  /** Kernel size and stride are equal (non-overlapping), as in MONAI's UpSample deconv mode. */
  scale: number;
  bias?: boolean;
  seed?: SeedSource;
}

/** nn.ConvTranspose2d / 3d with kernel_size = stride = scale, padding 0. */
export class ConvTranspose extends Module implements Layer {
  readonly weight: tf.Variable;
  readonly bias: tf.Variable | null;

  constructor(private readonly o: ConvTransposeOptions) {
    super();
    const seed = o.seed ?? new SeedSource();
    const k = new Array<number>(o.dims).fill(o.scale);
    // PyTorch computes fan_in from weight.size(1) = out_channels for transposed convs.
    const fanIn = o.outChannels * o.scale ** o.dims;
    this.weight = this.addParameter('weight', defaultInit([...k, o.outChannels, o.inChannels], fanIn, seed), 'convTranspose');
    this.bias = o.bias === false ? null : this.addParameter('bias', defaultInit([o.outChannels], fanIn, seed), 'plain');
  }

  /**
   * With kernel = stride the output patches do not overlap, so the op is one matMul (every input
   * voxel times the kernel) followed by interleaving the kernel offsets with the spatial axes.
   * Written this way because TF.js has no gradient for conv3dTranspose.
   */
  forward(x: tf.Tensor): tf.Tensor {
    const { scale: s, dims, outChannels: cout } = this.o;
    const n = x.shape[0];
    const spatial = x.shape.slice(1, -1);
    const cin = x.shape[x.rank - 1];
    // TF layout [...k, out, in] -> [in, ...k, out] -> [in, k^dims * out]
    const w = tf.reshape(tf.transpose(this.weight, [dims + 1, ...Array.from({ length: dims }, (_, i) => i), dims]), [cin, s ** dims * cout]);
    let y = tf.matMul(tf.reshape(x, [-1, cin]), w); // [n * prod(spatial), k..., out]
    // Move each kernel offset next to its spatial axis: [A, S_i, B, k_i, C] -> [A, S_i, k_i, B, C].
    let done = n;
    for (let i = 0; i < dims; i++) {
      const rest = spatial.slice(i + 1).reduce((a, b) => a * b, 1);
      const inner = s ** (dims - i - 1) * cout;
      if (rest > 1) y = tf.transpose(tf.reshape(y, [done, spatial[i], rest, s, inner]), [0, 1, 3, 2, 4]);
      done *= spatial[i] * s;
    }
    y = tf.reshape(y, [n, ...spatial.map((d) => d * s), cout]);
    return this.bias ? addBias(y, this.bias) : y;
  }
}

/** nn.Linear on [N, in]. */
export class Linear extends Module implements Layer {
  readonly weight: tf.Variable;
  readonly bias: tf.Variable | null;

  constructor(inFeatures: number, outFeatures: number, opts: { bias?: boolean; seed?: SeedSource } = {}) {
    super();
    const seed = opts.seed ?? new SeedSource();
    this.weight = this.addParameter('weight', defaultInit([inFeatures, outFeatures], inFeatures, seed), 'linear');
    this.bias = opts.bias === false ? null : this.addParameter('bias', defaultInit([outFeatures], inFeatures, seed), 'plain');
  }

  forward(x: tf.Tensor): tf.Tensor {
    const y = tf.matMul(x as tf.Tensor2D, this.weight as tf.Tensor2D);
    return this.bias ? addBias(y, this.bias) : y;
  }
}

/**
 * nn.BatchNorm2d / 3d (affine, running stats). Eval: y = (x - running_mean) / sqrt(running_var + eps)
 * * weight + bias. Training: normalises with the biased batch variance and updates
 * running = (1 - momentum) * running + momentum * batch (the unbiased variance for running_var).
 */
export class BatchNorm extends Module implements Layer {
  readonly weight: tf.Variable;
  readonly bias: tf.Variable;
  readonly runningMean: tf.Variable;
  readonly runningVar: tf.Variable;
  readonly numBatchesTracked: tf.Variable;

  constructor(
    channels: number,
    readonly eps = 1e-5,
    readonly momentum = 0.1,
  ) {
    super();
    this.weight = this.addParameter('weight', tf.ones([channels]), 'plain');
    this.bias = this.addParameter('bias', tf.zeros([channels]), 'plain');
    this.runningMean = this.addParameter('running_mean', tf.zeros([channels]), 'plain', { trainable: false });
    this.runningVar = this.addParameter('running_var', tf.ones([channels]), 'plain', { trainable: false });
    this.numBatchesTracked = this.addParameter('num_batches_tracked', tf.scalar(0, 'int32'), 'plain', { trainable: false, torchDtype: 'int64' });
  }

  forward(x: tf.Tensor, opts: ForwardOptions): tf.Tensor {
    // TF.js's batchNorm gradient handles rank <= 4 only: fold 5D (N, D, H, W, C) into (N, D*H, W, C).
    const [n, d, h, w, c] = x.shape;
    const x4 = x.rank === 5 ? tf.reshape(x, [n, d * h, w, c]) : x;
    const y = this.normalize(x4, opts);
    return x.rank === 5 ? tf.reshape(y, x.shape) : y;
  }

  private normalize(x: tf.Tensor, opts: ForwardOptions): tf.Tensor {
    if (!opts.training) return tf.batchNorm(x, this.runningMean, this.runningVar, this.bias, this.weight, this.eps);
    const axes = Array.from({ length: x.rank - 1 }, (_, i) => i);
    const { mean, variance } = tf.moments(x, axes);
    const n = x.size / x.shape[x.rank - 1];
    const m = this.momentum;
    tf.tidy(() => {
      // Not part of the loss, so no gradient flows through these updates.
      const unbiased = tf.mul(variance, n / Math.max(n - 1, 1));
      this.runningMean.assign(tf.add(tf.mul(this.runningMean, 1 - m), tf.mul(mean, m)));
      this.runningVar.assign(tf.add(tf.mul(this.runningVar, 1 - m), tf.mul(unbiased, m)));
      this.numBatchesTracked.assign(tf.add(this.numBatchesTracked, tf.scalar(1, 'int32')));
    });
    return tf.batchNorm(x, mean, variance, this.bias, this.weight, this.eps);
  }
}

export type ActivationKind = 'leakyrelu' | 'relu' | 'none';

/** nn.LeakyReLU (PyTorch default slope 0.01, not TF.js's 0.2) / nn.ReLU / identity. */
export class Activation extends Module implements Layer {
  constructor(
    readonly kind: ActivationKind,
    readonly negativeSlope = 0.01,
  ) {
    super();
  }

  forward(x: tf.Tensor): tf.Tensor {
    if (this.kind === 'leakyrelu') return tf.leakyRelu(x, this.negativeSlope);
    if (this.kind === 'relu') return tf.relu(x);
    return x;
  }
}

/** nn.Dropout: element-wise, scaled by 1/(1-p), identity outside training. */
export class Dropout extends Module implements Layer {
  constructor(readonly p: number) {
    super();
  }

  forward(x: tf.Tensor, opts: ForwardOptions): tf.Tensor {
    return opts.training && this.p > 0 ? tf.dropout(x, this.p) : x;
  }
}
