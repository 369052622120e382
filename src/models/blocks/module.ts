/**
 * PyTorch-like module tree on TF.js ops: every module registers named children and parameters,
 * so full parameter names are exactly the PyTorch (MONAI 0.2.0) state-dict keys. Parameters are
 * tf.Variables kept in TF.js layout (channels last); `layout` says how to convert to/from the
 * PyTorch layout of the state dict.
 */
import * as tf from '@tensorflow/tfjs-core';

/**
 * conv:          PyTorch [out, in, ...k]  <-> TF.js [...k, in, out]
 * convTranspose: PyTorch [in, out, ...k]  <-> TF.js [...k, out, in]   (same permutation)
 * linear:        PyTorch [out, in]        <-> TF.js [in, out]
 * plain:         identical (vectors, scalars)
 */
export type ParamLayout = 'conv' | 'convTranspose' | 'linear' | 'plain';

export interface Parameter {
  variable: tf.Variable;
  layout: ParamLayout;
  /** false for BatchNorm running statistics and counters (buffers in PyTorch terms). */
  trainable: boolean;
  /** dtype of the PyTorch tensor: BatchNorm's num_batches_tracked is int64 there, int32 here. */
  torchDtype: 'float32' | 'int64';
}

export interface ForwardOptions {
  /** Training mode: BatchNorm uses and updates batch statistics, dropout is active. */
  training: boolean;
}

/** A module that maps one tensor to one tensor (NHWC / NDHWC). */
export interface Layer {
  forward(x: tf.Tensor, opts: ForwardOptions): tf.Tensor;
}

export abstract class Module {
  private readonly children: [string, Module][] = [];
  private readonly params: [string, Parameter][] = [];

  protected addModule<M extends Module>(name: string, module: M): M {
    this.children.push([name, module]);
    return module;
  }

  /** Registers `value` (TF.js layout; the variable takes ownership of it). */
  protected addParameter(name: string, value: tf.Tensor, layout: ParamLayout, opts: { trainable?: boolean; torchDtype?: 'float32' | 'int64' } = {}): tf.Variable {
    const trainable = opts.trainable ?? true;
    const variable = tf.variable(value, trainable);
    value.dispose();
    this.params.push([name, { variable, layout, trainable, torchDtype: opts.torchDtype ?? 'float32' }]);
    return variable;
  }

  namedChildren(): ReadonlyArray<readonly [string, Module]> {
    return this.children;
  }

  /** A descendant by dotted path, e.g. 'down1.conv'. */
  getModule(path: string): Module {
    let m: Module = this;
    for (const part of path.split('.')) {
      const next = m.children.find(([n]) => n === part);
      if (!next) throw new Error(`no module ${path}`);
      m = next[1];
    }
    return m;
  }

  /** All parameters and buffers, in registration order, with full dotted names. */
  *namedParameters(prefix = ''): Generator<[string, Parameter]> {
    for (const [n, p] of this.params) yield [prefix + n, p];
    for (const [n, c] of this.children) yield* c.namedParameters(`${prefix}${n}.`);
  }

  trainableVariables(): tf.Variable[] {
    return [...this.namedParameters()].filter(([, p]) => p.trainable).map(([, p]) => p.variable);
  }

  /** Number of trainable scalars (PyTorch's `sum(p.numel() for p in parameters())`). */
  parameterCount(): number {
    let n = 0;
    for (const [, p] of this.namedParameters()) if (p.trainable) n += p.variable.size;
    return n;
  }

  dispose(): void {
    for (const [, p] of this.namedParameters()) p.variable.dispose();
  }
}

/** Runs children in order, like nn.Sequential (children named '0', '1', ...). */
export class Sequential extends Module implements Layer {
  private readonly layers: Layer[] = [];

  constructor(layers: ReadonlyArray<Module & Layer>) {
    super();
    layers.forEach((l, i) => this.layers.push(this.addModule(String(i), l)));
  }

  forward(x: tf.Tensor, opts: ForwardOptions): tf.Tensor {
    return this.layers.reduce((h, l) => l.forward(h, opts), x);
  }
}

/** Spatial dimensions of a module: 2 (NHWC) or 3 (NDHWC). */
export type SpatialDims = 2 | 3;

export function channelAxis(x: tf.Tensor): number {
  return x.rank - 1;
}

/** The spatial axes of a channels-last tensor: [1..rank-2]. */
export function spatialAxes(x: tf.Tensor): number[] {
  return Array.from({ length: x.rank - 2 }, (_, i) => i + 1);
}

/**
 * PyTorch's default initialisation for conv and linear layers (kaiming_uniform with a = sqrt(5)):
 * weight and bias both U(-1/sqrt(fan_in), 1/sqrt(fan_in)).
 */
export function defaultInit(shape: number[], fanIn: number, seed: SeedSource): tf.Tensor {
  const bound = 1 / Math.sqrt(fanIn);
  return tf.randomUniform(shape, -bound, bound, 'float32', seed.next());
}

/** Deterministic seeds for parameter initialisation (undefined = unseeded random). */
export class SeedSource {
  private n = 0;
  constructor(private readonly seed?: number) {}
  next(): number | undefined {
    return this.seed === undefined ? undefined : this.seed * 1000003 + this.n++;
  }
}
