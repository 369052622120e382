/**
 * LAMP's `UNetPipe` (MONAI research-contributions lamp-automated-model-parallelism/unet_pipe.py on
 * MONAI 0.2.0 + torchgpipe, spec §4.1), flattened the way train.py flattens it: a sequence of 30
 * atomic layers named `encoder_0_Conv_conv` … `decoder_4_out`, so that state-dict keys are the flat
 * keys (`partitions.<j>.` prefixes of GPipe checkpoints are stripped by the key map).
 *
 * The four long skips are torchgpipe `Stash` / `PopCat` layers: `encoder_i_skip` stores its input
 * (unchanged) under namespace i, `decoder_k_skip` pops namespace 3−k and returns cat([x, skip]).
 * Here the namespaces are a Map carried through `runLayers(from, to, x, stash)`, so any contiguous
 * slice of layers runs on its own: a pipeline stage (src/engine/parallel/).
 *
 * 3D only, channels last (N, D, H, W, C); D, H, W divisible by 32 (five stride-2 stages).
 */
import * as tf from '@tensorflow/tfjs-core';
import { Convolution } from './blocks/convolution';
import { Activation, BatchNorm, Conv } from './blocks/layers';
import { Module, SeedSource, Sequential, type ForwardOptions, type Layer, type Parameter } from './blocks/module';
import { UpSample } from './blocks/upsample';
import { Network } from './network';
import type { StateDict } from '../engine/weights/tensor';
import { InputError } from '../engine/io/errors';

/** The long-skip namespaces of one forward pass: namespace index -> stashed tensor. */
export type SkipStash = Map<number, tf.Tensor>;

/** One atomic layer of the flat sequence. */
export interface PipeLayer {
  /** Flat layer name (the state-dict key prefix). */
  readonly name: string;
  /** Layer type as in the spec's table: Conv3d, BatchNorm3d, LeakyReLU, Stash, DoubleConv, UpSample, PopCat. */
  readonly type: string;
  /** Namespace this layer stashes its input under (Stash layers). */
  readonly stashes?: number;
  /** Namespace this layer pops and concatenates (PopCat layers). */
  readonly pops?: number;
  readonly module: Module;
  forward(x: tf.Tensor, stash: SkipStash, opts: ForwardOptions): tf.Tensor;
}

export interface UNetPipeOptions {
  /** Base filters n_feat (LAMP: 32, 64 or 128). Default 32. */
  nFeat?: number;
  inChannels?: number;
  /** Default 10 (background + 9 head-and-neck organs). */
  outChannels?: number;
  /** Seed of the kaiming-normal initialisation (unseeded when absent). */
  seed?: number;
}

/** Encoder widths: n_feat, then doubled four times, capped at 1024 (spec §4.1). */
export function unetPipeFilters(nFeat: number): number[] {
  const f = [nFeat];
  for (let i = 1; i < 5; i++) f.push(Math.min(f[i - 1] * 2, 1024));
  return f;
}

/**
 * MONAI's DoubleConv of unet_pipe.py: `conv.0` = Convolution(3³, stride, no bias) → BN → LReLU,
 * `conv.1` = Convolution(3³, stride 1, bias, conv only) — no norm or activation after the second conv.
 */
export class DoubleConv extends Module implements Layer {
  private readonly conv: Sequential;

  constructor(inChannels: number, outChannels: number, stride: number, seed: SeedSource) {
    super();
    this.conv = this.addModule(
      'conv',
      new Sequential([
        new Convolution({ dims: 3, inChannels, outChannels, kernelSize: 3, stride, bias: false, seed }),
        new Convolution({ dims: 3, inChannels: outChannels, outChannels, kernelSize: 3, convOnly: true, seed }),
      ]),
    );
  }

  forward(x: tf.Tensor, opts: ForwardOptions): tf.Tensor {
    return this.conv.forward(x, opts);
  }
}

/** torchgpipe `stash('skip', x)`: identity, and the input is stored under `namespace`. */
class Stash extends Module {
  constructor(readonly namespace: number) {
    super();
  }
}

/** torchgpipe `pop('skip')` + cat([x, skip], dim=1): upsampled first, skip second. */
class PopCat extends Module {
  constructor(readonly namespace: number) {
    super();
  }
}

function layer(name: string, type: string, module: Module & Layer): PipeLayer {
  return { name, type, module, forward: (x, _stash, opts) => module.forward(x, opts) };
}

function stashLayer(name: string, namespace: number): PipeLayer {
  return {
    name,
    type: 'Stash',
    stashes: namespace,
    module: new Stash(namespace),
    forward(x, stash) {
      if (stash.has(namespace)) throw new Error(`${name}: namespace ${namespace} is already stashed`);
      stash.set(namespace, x);
      return x;
    },
  };
}

function popCatLayer(name: string, namespace: number): PipeLayer {
  return {
    name,
    type: 'PopCat',
    pops: namespace,
    module: new PopCat(namespace),
    forward(x, stash) {
      const skip = stash.get(namespace);
      if (!skip) throw new Error(`${name}: nothing stashed under namespace ${namespace}`);
      stash.delete(namespace);
      return tf.concat([x, skip], x.rank - 1);
    },
  };
}

export class UNetPipe extends Network {
  readonly name = 'UNetPipe';
  readonly nFeat: number;
  readonly filters: readonly number[];
  readonly inChannels: number;
  readonly outChannels: number;
  readonly sizeDivisor = 32;
  /** The 30 layers of the flattened network, in execution (= state-dict) order. */
  readonly layers: readonly PipeLayer[];

  constructor(o: UNetPipeOptions = {}) {
    super();
    this.nFeat = o.nFeat ?? 32;
    if (!(Number.isInteger(this.nFeat) && this.nFeat >= 2)) throw new Error(`UNetPipe: nFeat must be an integer >= 2, got ${this.nFeat}`);
    this.inChannels = o.inChannels ?? 1;
    this.outChannels = o.outChannels ?? 10;
    const f = (this.filters = unetPipeFilters(this.nFeat));
    const seed = new SeedSource(o.seed);
    const conv = (inChannels: number, outChannels: number, kernelSize: number, stride = 1, bias = true) =>
      new Conv({ dims: 3, inChannels, outChannels, kernelSize, stride, bias, seed });
    const up = (inChannels: number, outChannels: number) => new UpSample({ dims: 3, inChannels, outChannels, mode: 'deconv', seed });

    const layers: PipeLayer[] = [
      layer('encoder_0_Conv_conv', 'Conv3d', conv(this.inChannels, f[0], 3, 2, false)),
      layer('encoder_0_Conv_norm', 'BatchNorm3d', new BatchNorm(f[0])),
      layer('encoder_0_Conv_act', 'LeakyReLU', new Activation('leakyrelu', 0.01)),
      stashLayer('encoder_0_skip', 0),
    ];
    for (let i = 1; i <= 4; i++) {
      layers.push(layer(`encoder_${i}_Down`, 'DoubleConv', new DoubleConv(f[i - 1], f[i], 2, seed)));
      if (i <= 3) layers.push(stashLayer(`encoder_${i}_skip`, i));
    }
    for (let k = 0; k < 4; k++) {
      const i = 4 - k; // decoder_k brings level i back to level i-1
      layers.push(
        layer(`decoder_${k}_Up`, 'UpSample', up(f[i], f[i - 1])),
        popCatLayer(`decoder_${k}_skip`, i - 1),
        layer(`decoder_${k}_Conv1x1x1`, 'Conv3d', conv(2 * f[i - 1], f[i], 1)),
        layer(`decoder_${k}_Conv`, 'DoubleConv', new DoubleConv(f[i], f[i - 1], 1, seed)),
      );
    }
    const last = Math.min(Math.floor(f[0] / 2), 32);
    layers.push(
      layer('decoder_4_Up', 'UpSample', up(f[0], last)),
      layer('decoder_4_RELU', 'LeakyReLU', new Activation('leakyrelu', 0.01)),
      layer('decoder_4_out', 'Conv3d', conv(last, this.outChannels, 3)),
    );
    for (const l of layers) this.addModule(l.name, l.module);
    this.layers = layers;
    this.kaimingInit(seed);
  }

  /**
   * unet_pipe.py re-initialises every Conv3d / ConvTranspose3d weight with kaiming_normal_
   * (fan_in, gain √2): std = √(2 / fan_in), fan_in = weight.size(1) · kernel volume — for a transposed
   * conv size(1) is its out_channels. In TF.js layout both are [...k, size(1), size(0)].
   */
  private kaimingInit(seed: SeedSource): void {
    for (const [key, p] of this.namedParameters()) {
      if (!key.endsWith('.weight') || p.layout === 'plain') continue;
      const shape = p.variable.shape;
      const fanIn = shape.slice(0, -1).reduce((a, b) => a * b, 1);
      const value = tf.randomNormal(shape, 0, Math.sqrt(2 / fanIn), 'float32', seed.next());
      p.variable.assign(value);
      value.dispose();
    }
  }

  /**
   * Runs layers [from, to) on `x`, filling and emptying `stash` as the Stash / PopCat layers say.
   * No tidy and no disposal (callers differentiate through it or tidy it themselves).
   */
  runLayers(from: number, to: number, x: tf.Tensor, stash: SkipStash, opts: ForwardOptions = { training: false }): tf.Tensor {
    if (!(Number.isInteger(from) && Number.isInteger(to) && 0 <= from && from <= to && to <= this.layers.length)) {
      throw new Error(`UNetPipe: layer range [${from}, ${to}) is outside [0, ${this.layers.length})`);
    }
    let y = x;
    for (let i = from; i < to; i++) y = this.layers[i].forward(y, stash, opts);
    return y;
  }

  /** Parameters and buffers of layers [from, to), with their flat keys. */
  layerParameters(from: number, to: number): [string, Parameter][] {
    return this.layers.slice(from, to).flatMap((l) => [...l.module.namedParameters(`${l.name}.`)]);
  }

  /** Trainable variables of layers [from, to). */
  layerVariables(from: number, to: number): tf.Variable[] {
    return this.layerParameters(from, to)
      .filter(([, p]) => p.trainable)
      .map(([, p]) => p.variable);
  }

  /** Throws unless `x` is (N, D, H, W, inChannels) with D, H, W divisible by 32. */
  checkInput(x: tf.Tensor): void {
    if (x.rank !== 5) throw new Error(`UNetPipe expects NDHWC input, got shape [${x.shape.join(',')}]`);
    const spatial = x.shape.slice(1, 4);
    if (spatial.some((s) => s % this.sizeDivisor !== 0)) throw new Error(`UNetPipe needs D, H, W divisible by 32, got ${spatial.join('x')}`);
    if (x.shape[4] !== this.inChannels) throw new Error(`UNetPipe expects ${this.inChannels} input channel(s), got ${x.shape[4]}`);
  }

  protected forward(x: tf.Tensor, opts: ForwardOptions): tf.Tensor {
    this.checkInput(x);
    const stash: SkipStash = new Map();
    const y = this.runLayers(0, this.layers.length, x, stash, opts);
    if (stash.size) throw new Error(`UNetPipe: namespaces ${[...stash.keys()].join(', ')} were stashed but never popped`);
    return y;
  }
}

/**
 * nFeat, in- and out-channels of the UNetPipe a state dict was saved from (flat keys, or GPipe keys
 * `partitions.<j>.<flat key>`): from the shapes of `encoder_0_Conv_conv.weight` and `decoder_4_out.weight`.
 */
export function unetPipeOptionsFromStateDict(sd: StateDict, file: string): Required<Omit<UNetPipeOptions, 'seed'>> {
  const find = (name: string) => [...sd].find(([k]) => k.replace(/^partitions\.\d+\./, '') === name)?.[1];
  const first = find('encoder_0_Conv_conv.weight');
  const out = find('decoder_4_out.weight');
  if (!first || !out || first.shape.length !== 5 || out.shape.length !== 5) {
    throw new InputError(file, 'not a UNetPipe state dict (no 5D encoder_0_Conv_conv.weight / decoder_4_out.weight)');
  }
  return { nFeat: first.shape[0], inChannels: first.shape[1], outChannels: out.shape[0] };
}
