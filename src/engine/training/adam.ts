/**
 * Adam whose constants stay on the device: PyTorch's update, tfjs's slot layout.
 *
 * tfjs-core's AdamOptimizer hands β1, 1 − β1, β2, 1 − β2, ε and −lr to each variable's ops as JS
 * numbers, so every step makes six host tensors per variable (876 for COPLE-Net). On WebGPU each
 * becomes its own buffer upload, and the H200 profile of session 7 spent a third of a second per step
 * creating upload buffers. Here the four β constants and ε are kept scalars, and the step's two
 * bias-corrected factors are the only host tensors of a step, whatever the number of variables.
 *
 * The update is torch.optim.Adam's (no weight decay): with bc1 = 1 − β1^t and bc2 = 1 − β2^t,
 *   m ← β1·m + (1 − β1)·g,  v ← β2·v + (1 − β2)·g²,  θ ← θ − (lr / bc1) · m / (√v / √bc2 + ε),
 * which is tfjs's `m̂ / (√v̂ + ε)` rearranged. getWeights/setWeights keep tfjs's layout (the iteration
 * count, then `<variable>/m` for every variable, then `<variable>/v`), so checkpoints written with
 * tfjs's optimizer restore here (checkpoint.ts).
 */
import * as tf from '@tensorflow/tfjs-core';

/** tfjs's `{ name, tensor }` (not exported from tfjs-core's index). */
type NamedTensor = Awaited<ReturnType<tf.Optimizer['getWeights']>>[number];

interface Slot {
  originalName: string;
  variable: tf.Variable;
}

export class DeviceAdam extends tf.Optimizer {
  /** Read at every update (ScheduledOptimizer sets it). */
  learningRate: number;
  private readonly constants: { beta1: tf.Scalar; oneMinusBeta1: tf.Scalar; beta2: tf.Scalar; oneMinusBeta2: tf.Scalar; epsilon: tf.Scalar };
  private firstMoments: Slot[] = [];
  private secondMoments: Slot[] = [];

  static get className(): string {
    return 'DeviceAdam';
  }

  constructor(learningRate: number, readonly beta1 = 0.9, readonly beta2 = 0.999, readonly epsilon = 1e-8) {
    super();
    this.learningRate = learningRate;
    // Kept: the optimizer may be made inside a caller's tidy.
    const kept = (x: number) => tf.keep(tf.scalar(x));
    this.constants = { beta1: kept(beta1), oneMinusBeta1: kept(1 - beta1), beta2: kept(beta2), oneMinusBeta2: kept(1 - beta2), epsilon: kept(epsilon) };
  }

  applyGradients(variableGradients: tf.NamedTensorMap | NamedTensor[]): void {
    const names = Array.isArray(variableGradients) ? variableGradients.map((v) => v.name) : Object.keys(variableGradients);
    const t = this.iterations + 1;
    const { beta1, oneMinusBeta1, beta2, oneMinusBeta2, epsilon } = this.constants;
    tf.tidy(() => {
      // The step's only host tensors (bias correction in float64 on the host).
      const stepSize = tf.scalar(-this.learningRate / (1 - this.beta1 ** t));
      const vScale = tf.scalar(1 / Math.sqrt(1 - this.beta2 ** t));
      names.forEach((name, i) => {
        const value = tf.engine().registeredVariables[name];
        this.firstMoments[i] ??= { originalName: `${name}/m`, variable: tf.tidy(() => tf.zerosLike(value).variable(false)) };
        this.secondMoments[i] ??= { originalName: `${name}/v`, variable: tf.tidy(() => tf.zerosLike(value).variable(false)) };
        const g = Array.isArray(variableGradients) ? variableGradients[i].tensor : variableGradients[name];
        if (g == null) return;
        const m = tf.add(tf.mul(this.firstMoments[i].variable, beta1), tf.mul(g, oneMinusBeta1));
        const v = tf.add(tf.mul(this.secondMoments[i].variable, beta2), tf.mul(tf.square(g), oneMinusBeta2));
        this.firstMoments[i].variable.assign(m);
        this.secondMoments[i].variable.assign(v);
        value.assign(tf.add(value, tf.mul(stepSize, tf.div(m, tf.add(tf.mul(tf.sqrt(v), vScale), epsilon)))));
      });
    });
    this.incrementIterations();
  }

  async getWeights(): Promise<NamedTensor[]> {
    const slots = [...this.firstMoments, ...this.secondMoments];
    return [await this.saveIterations(), ...slots.map((s) => ({ name: s.originalName, tensor: s.variable }))];
  }

  async setWeights(weightValues: NamedTensor[]): Promise<void> {
    const slots = await this.extractIterations(weightValues);
    if (slots.length % 2) throw new Error(`Adam state has ${slots.length} slots, not a first and a second moment per variable`);
    tf.dispose([...this.firstMoments, ...this.secondMoments].map((s) => s.variable));
    const n = slots.length / 2;
    const wrap = (s: NamedTensor): Slot => ({ originalName: s.name, variable: s.tensor.variable(false) });
    this.firstMoments = slots.slice(0, n).map(wrap);
    this.secondMoments = slots.slice(n).map(wrap);
  }

  dispose(): void {
    tf.dispose([...Object.values(this.constants), ...[...this.firstMoments, ...this.secondMoments].map((s) => s.variable)]);
  }

  getConfig(): tf.serialization.ConfigDict {
    return { learningRate: this.learningRate, beta1: this.beta1, beta2: this.beta2, epsilon: this.epsilon };
  }
}
