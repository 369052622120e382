/**
 * Optimizer helpers for in-browser fine-tuning: Adam / SGD-with-momentum with a learning-rate
 * schedule, gradient accumulation over micro-batches, and a tensor-leak guard.
 *
 * tfjs optimizers take a fixed learning rate. Our Adam (adam.ts: tfjs's update, constants kept on the
 * device) reads its `learningRate` field at every `applyGradients` (so we set that field), while tfjs's
 * SGD/Momentum cache `−lr` in a kept scalar that only `setLearningRate` refreshes (so we call that).
 * Both keep the optimizer's moment slots, which recreating the optimizer per step would lose.
 * optim.test.ts checks the effective step size.
 */
import * as tf from '@tensorflow/tfjs-core';
import { DeviceAdam } from './adam';
import './gradients';

export type LrSchedule =
  | { kind: 'constant'; lr: number }
  /** lr · gamma^⌊step / stepSize⌋ (PyTorch StepLR). gamma defaults to 0.1. */
  | { kind: 'step'; lr: number; stepSize: number; gamma?: number }
  /** minLr + (lr − minLr) · (1 + cos(π · min(step, totalSteps) / totalSteps)) / 2 (CosineAnnealingLR, no restart). */
  | { kind: 'cosine'; lr: number; totalSteps: number; minLr?: number }
  /** minLr + (lr − minLr) · (1 − min(step, totalSteps) / totalSteps)^power (nnU-Net "poly"; power defaults to 0.9). */
  | { kind: 'poly'; lr: number; totalSteps: number; power?: number; minLr?: number };

/** The learning rate of update number `step` (0-based). */
export function learningRateAt(step: number, schedule: LrSchedule): number {
  switch (schedule.kind) {
    case 'constant':
      return schedule.lr;
    case 'step':
      return schedule.lr * (schedule.gamma ?? 0.1) ** Math.floor(step / schedule.stepSize);
    case 'cosine': {
      const { lr, totalSteps, minLr = 0 } = schedule;
      return minLr + ((lr - minLr) * (1 + Math.cos((Math.PI * Math.min(step, totalSteps)) / totalSteps))) / 2;
    }
    case 'poly': {
      const { lr, totalSteps, power = 0.9, minLr = 0 } = schedule;
      return minLr + (lr - minLr) * (1 - Math.min(step, totalSteps) / totalSteps) ** power;
    }
  }
}

export interface OptimizerOptions {
  kind: 'adam' | 'sgd';
  schedule: LrSchedule;
  /** Adam β1, β2, ε. PyTorch defaults 0.9, 0.999, 1e-8 (tfjs's own ε default is 1e-7). */
  beta1?: number;
  beta2?: number;
  epsilon?: number;
  /** SGD momentum (default 0.9) and Nesterov (default false). */
  momentum?: number;
  nesterov?: boolean;
  /** L2 penalty added to each gradient as weightDecay · θ (PyTorch `weight_decay` of Adam / SGD). Default 0. */
  weightDecay?: number;
}

/** A tfjs optimizer whose learning rate follows a schedule of the update count. */
export class ScheduledOptimizer {
  readonly optimizer: tf.Optimizer;
  /** Number of updates applied so far. */
  step = 0;
  private appliedLr: number;

  constructor(readonly options: OptimizerOptions) {
    const lr = learningRateAt(0, options.schedule);
    this.appliedLr = lr;
    this.optimizer =
      options.kind === 'adam'
        ? new DeviceAdam(lr, options.beta1 ?? 0.9, options.beta2 ?? 0.999, options.epsilon ?? 1e-8)
        : tf.train.momentum(lr, options.momentum ?? 0.9, options.nesterov ?? false);
  }

  /** The learning rate the next update will use. */
  get learningRate(): number {
    return learningRateAt(this.step, this.options.schedule);
  }

  private syncLearningRate(): void {
    const lr = this.learningRate;
    if (lr === this.appliedLr) return;
    // By kind, not instanceof: tfjs optimizers define Symbol.hasInstance as duck typing.
    if (this.options.kind === 'sgd') (this.optimizer as tf.MomentumOptimizer).setLearningRate(lr);
    else (this.optimizer as DeviceAdam).learningRate = lr;
    this.appliedLr = lr;
  }

  /** One update with gradients keyed by variable name (as `tf.variableGrads` returns). Does not dispose them. */
  applyGradients(grads: tf.NamedTensorMap): void {
    this.syncLearningRate();
    const wd = this.options.weightDecay ?? 0;
    if (wd === 0) {
      this.optimizer.applyGradients(grads);
    } else {
      const decayed = tf.tidy(() => {
        // One host scalar per step, not one per variable (each is an upload on WebGPU; see adam.ts).
        const decay = tf.scalar(wd);
        const out: tf.NamedTensorMap = {};
        for (const [name, g] of Object.entries(grads)) out[name] = tf.add(g, tf.mul(tf.engine().registeredVariables[name], decay));
        return out;
      });
      this.optimizer.applyGradients(decayed);
      tf.dispose(Object.values(decayed));
    }
    this.step++;
  }

  /** Gradients of `loss` (trainable variables, or `varList`), one update; returns the loss value tensor. */
  minimize(loss: () => tf.Scalar, varList?: tf.Variable[]): tf.Scalar {
    const { value, grads } = tf.variableGrads(loss, varList);
    this.applyGradients(grads);
    tf.dispose(Object.values(grads));
    return value;
  }

  dispose(): void {
    this.optimizer.dispose();
  }
}

export function createOptimizer(options: OptimizerOptions): ScheduledOptimizer {
  return new ScheduledOptimizer(options);
}

export interface AccumulateOptions {
  /** Variables to differentiate; default all trainable variables. */
  varList?: tf.Variable[];
  /** Divide the summed gradients and losses by the number of micro-batches. Default true. */
  average?: boolean;
}

/**
 * Gradients summed over `microBatches` calls of `lossOf(i)` (then averaged unless `average: false`),
 * for one optimizer update on a batch too large for memory at once. With equal micro-batches and a
 * mean-reduced loss, the average equals the full batch's gradient; with a sum-reduced loss, use the
 * sum. Only one micro-batch's activations are alive at a time. Returns the gradients and the loss
 * (summed/averaged the same way); the caller disposes both.
 */
export function accumulateGradients(
  microBatches: number,
  lossOf: (i: number) => tf.Scalar,
  opts: AccumulateOptions = {},
): { grads: tf.NamedTensorMap; loss: tf.Scalar } {
  if (!(Number.isInteger(microBatches) && microBatches >= 1)) throw new Error(`micro-batch count must be a positive integer, got ${microBatches}`);
  let sum: tf.NamedTensorMap = {};
  let loss: tf.Scalar = tf.scalar(0);
  for (let i = 0; i < microBatches; i++) {
    const { value, grads } = tf.variableGrads(() => lossOf(i), opts.varList);
    const next: tf.NamedTensorMap = {};
    for (const [name, g] of Object.entries(grads)) next[name] = sum[name] ? tf.add(sum[name], g) : g;
    const nextLoss = tf.add(loss, value) as tf.Scalar;
    tf.dispose([...Object.values(sum), ...Object.entries(grads).filter(([n]) => next[n] !== grads[n]).map(([, g]) => g), loss, value]);
    sum = next;
    loss = nextLoss;
  }
  if (opts.average === false || microBatches === 1) return { grads: sum, loss };
  const scaled = tf.tidy(() => {
    const out: tf.NamedTensorMap = {};
    for (const [name, g] of Object.entries(sum)) out[name] = tf.div(g, microBatches);
    return { grads: out, loss: tf.div(loss, microBatches) as tf.Scalar };
  });
  tf.dispose([...Object.values(sum), loss]);
  return scaled;
}

/**
 * Guards against tensors leaking across training steps: the first `check()` records
 * `tf.memory().numTensors`; every later call throws if the count has grown. Call it at the same point
 * of each step, after the optimizer's slot variables exist (i.e. from the end of step 1 on).
 */
export class TensorLeakGuard {
  private baseline: number | null = null;

  /** Returns the current count; throws when it exceeds the first recorded one. */
  check(label = 'training step'): number {
    const n = tf.memory().numTensors;
    if (this.baseline === null) this.baseline = n;
    else if (n > this.baseline) throw new Error(`${label}: ${n - this.baseline} tensors leaked (${this.baseline} -> ${n})`);
    return n;
  }
}
