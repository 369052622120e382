/**
 * Base class of the networks: a Module tree whose parameter names are the PyTorch state-dict keys,
 * plus eval/train forward, PyTorch-layout state dict import/export, and layout helpers.
 */
import * as tf from '@tensorflow/tfjs-core';
import { InputError } from '../engine/io/errors';
import { formatReport, matchStateDict, type ExpectedTensor, type StateDictReport } from '../engine/weights/key-map';
import type { StateDict, TensorData } from '../engine/weights/tensor';
import { Module, type ForwardOptions, type ParamLayout } from './blocks/module';

/** Thrown by loadStateDict when keys or shapes do not fit; `report` lists them all. */
export class StateDictMismatchError extends InputError {
  constructor(
    source: string,
    network: string,
    readonly report: StateDictReport,
  ) {
    super(source, `weights do not fit ${network}: ${formatReport(report)}`);
    this.name = 'StateDictMismatchError';
  }
}

export abstract class Network extends Module {
  abstract readonly name: string;
  abstract readonly inChannels: number;
  abstract readonly outChannels: number;
  /** Spatial sizes the network accepts are multiples of this (2^number of poolings). */
  abstract readonly sizeDivisor: number;

  /** Channels-last forward pass (NHWC, or NDHWC for 5D input); no tidy, no checks. */
  protected abstract forward(x: tf.Tensor, opts: ForwardOptions): tf.Tensor;

  /** Keys a checkpoint may lack (filled with zeros), with the reason shown in the notice. */
  protected optionalKeys(): Record<string, string> {
    return {};
  }

  /** Forward pass inside tf.tidy. Default eval mode (running BN statistics, no dropout). */
  apply(x: tf.Tensor, opts: ForwardOptions = { training: false }): tf.Tensor {
    return tf.tidy(() => this.forward(x, opts));
  }

  /** Every state-dict key with its PyTorch shape and dtype, in registration order. */
  expectedStateDict(): Map<string, ExpectedTensor> {
    const optional = this.optionalKeys();
    const out = new Map<string, ExpectedTensor>();
    for (const [key, p] of this.namedParameters()) {
      const e: ExpectedTensor = { shape: torchShape(p.variable.shape, p.layout), dtype: p.torchDtype === 'int64' ? 'int64' : 'float32' };
      if (key in optional) e.optional = optional[key];
      out.set(key, e);
    }
    return out;
  }

  /**
   * Loads a PyTorch-layout state dict (MONAI 0.2.0 keys, or the variants key-map accepts).
   * Throws StateDictMismatchError naming missing, unexpected and wrongly shaped keys.
   */
  loadStateDict(stateDict: StateDict, opts: { source?: string } = {}): { notices: string[] } {
    const match = matchStateDict(stateDict, this.expectedStateDict());
    if (!match.ok) throw new StateDictMismatchError(opts.source ?? 'state dict', this.name, match.report);
    for (const [key, p] of this.namedParameters()) {
      const t = match.stateDict.get(key)!;
      const value = tf.tidy(() => {
        if (p.torchDtype === 'int64') return tf.reshape(tf.scalar(Number(t.data[0]), 'int32'), p.variable.shape);
        if (t.data instanceof BigInt64Array) throw new InputError(opts.source ?? 'state dict', `${key} holds integers, expected floats`);
        const data = Float32Array.from(t.data as ArrayLike<number>); // copy: do not keep the file buffer alive
        const torchTensor = tf.tensor(data, t.shape, 'float32');
        return p.layout === 'plain' ? torchTensor : tf.transpose(torchTensor, toTfPerm(t.shape.length));
      });
      p.variable.assign(value);
      value.dispose();
    }
    return { notices: match.notices };
  }

  /** The parameters and buffers as a PyTorch-layout state dict (MONAI 0.2.0 keys). */
  async stateDict(): Promise<StateDict> {
    const out: StateDict = new Map();
    for (const [key, p] of this.namedParameters()) {
      const t = p.layout === 'plain' ? p.variable : tf.transpose(p.variable, toTorchPerm(p.variable.rank));
      const values = await t.data();
      if (t !== p.variable) t.dispose();
      const shape = torchShape(p.variable.shape, p.layout);
      const entry: TensorData =
        p.torchDtype === 'int64'
          ? { dtype: 'int64', shape, data: BigInt64Array.from(values as Int32Array, (v) => BigInt(v)) }
          : { dtype: 'float32', shape, data: new Float32Array(values as Float32Array) };
      out.set(key, entry);
    }
    return out;
  }
}

/** TF.js [...k, a, b] -> PyTorch [b, a, ...k] (conv, conv-transpose and linear alike). */
function toTorchPerm(rank: number): number[] {
  return [rank - 1, rank - 2, ...Array.from({ length: rank - 2 }, (_, i) => i)];
}

function toTfPerm(rank: number): number[] {
  return [...Array.from({ length: rank - 2 }, (_, i) => i + 2), 1, 0];
}

function torchShape(tfShape: number[], layout: ParamLayout): number[] {
  return layout === 'plain' ? tfShape.slice() : toTorchPerm(tfShape.length).map((i) => tfShape[i]);
}

/** PyTorch NCHW / NCDHW -> channels last (NHWC / NDHWC). */
export function toChannelsLast(x: tf.Tensor): tf.Tensor {
  if (x.rank === 4) return tf.transpose(x, [0, 2, 3, 1]);
  if (x.rank === 5) return tf.transpose(x, [0, 2, 3, 4, 1]);
  throw new Error(`expected a 4D or 5D tensor, got shape [${x.shape.join(',')}]`);
}

/** Channels last -> PyTorch NCHW / NCDHW. */
export function toChannelsFirst(x: tf.Tensor): tf.Tensor {
  if (x.rank === 4) return tf.transpose(x, [0, 3, 1, 2]);
  if (x.rank === 5) return tf.transpose(x, [0, 4, 1, 2, 3]);
  throw new Error(`expected a 4D or 5D tensor, got shape [${x.shape.join(',')}]`);
}
