/**
 * The passes of one pipeline stage of a UNetPipe, shared by the single-device pipeline
 * (pipeline.ts: every stage in turn on one backend) and the stage devices (stage-device.ts: one
 * stage per backend / worker). One way of doing each: the checkpointed forward, the recomputed
 * backward (GPipe checkpoint='always'), and the layer-by-layer inference forward.
 */
import * as tf from '@tensorflow/tfjs-core';
import '../training/gradients';
import type { ForwardOptions } from '../../models/blocks/module';
import type { SkipStash, UNetPipe } from '../../models/unetpipe';
import { abortError, yieldToEvents } from '../inference/sliding-window';
import type { Stage } from './plan';

/** A tensor as plain data: what crosses between stage devices (workers), never a tf.Tensor. */
export interface PlainTensor {
  data: Float32Array;
  shape: number[];
}

export async function toPlain(t: tf.Tensor): Promise<PlainTensor> {
  // A copy: the cpu backend hands out its own buffer, which must be neither shared nor transferred.
  return { data: new Float32Array(await t.data()), shape: t.shape.slice() };
}

export function fromPlain(p: PlainTensor): tf.Tensor {
  return tf.tensor(p.data, p.shape, 'float32');
}

export function checkStages(net: UNetPipe, stages: readonly Stage[]): void {
  let next = 0;
  for (const s of stages) {
    if (s.from !== next || s.to <= s.from) throw new Error(`stages must be contiguous, non-empty and start at layer 0; got [${stages.map((t) => `${t.from}-${t.to}`).join(', ')}]`);
    next = s.to;
  }
  if (next !== net.layers.length) throw new Error(`stages end at layer ${next}, the network has ${net.layers.length}`);
}

/** Skip namespaces popped in `stage` from earlier stages, and stashed in it for later ones. */
export function stageSkips(net: UNetPipe, stage: Stage): { in: number[]; out: number[] } {
  const inn: number[] = [];
  const out: number[] = [];
  net.layers.forEach((l, i) => {
    if (l.stashes === undefined) return;
    const pop = net.layers.findIndex((p, k) => k > i && p.pops === l.stashes);
    const stashHere = stage.from <= i && i < stage.to;
    const popHere = stage.from <= pop && pop < stage.to;
    if (stashHere && pop >= stage.to) out.push(l.stashes);
    if (popHere && i < stage.from) inn.push(l.stashes);
  });
  return { in: inn, out };
}

/**
 * Skip namespaces stashed in stage j and popped in a later one (`out[j]`), and those popped in j
 * from an earlier one (`in[j]`): torchgpipe's portals.
 */
export function crossings(net: UNetPipe, stages: readonly Stage[]): { out: number[][]; in: number[][] } {
  const each = stages.map((s) => stageSkips(net, s));
  return { out: each.map((e) => e.out), in: each.map((e) => e.in) };
}

/** Yields to queued events, then rejects with the signal's reason if it is aborted. */
export async function checkAbort(signal: AbortSignal | undefined): Promise<void> {
  if (!signal) return;
  await yieldToEvents();
  if (signal.aborted) throw abortError(signal);
}

/**
 * Training forward of one stage in one tidy (checkpoint='always': nothing of the tape is kept):
 * its output and the skips it stashes for later stages (`outNs`). `stash` holds the skips popped here
 * (and may hold others passing by); the caller owns everything returned.
 */
export function stageForward(net: UNetPipe, stage: Stage, x: tf.Tensor, stash: SkipStash, outNs: readonly number[], mode: ForwardOptions): { y: tf.Tensor; kept: tf.Tensor[] } {
  const local: SkipStash = new Map(stash);
  const [y, ...kept] = tf.tidy(() => {
    const out = net.runLayers(stage.from, stage.to, x, local, mode);
    return [out, ...outNs.map((ns) => local.get(ns)!)];
  });
  return { y, kept };
}

/**
 * Σ(y·dy) + Σ(skip·dskip) over the crossing skips that have a gradient: differentiating it gives the
 * stage's gradients with the upstream gradients folded in (the vector–Jacobian product).
 */
export function upstreamObjective(y: tf.Tensor, stash: SkipStash, dy: tf.Tensor, dSkips: ReadonlyMap<number, tf.Tensor>, outNs: readonly number[]): tf.Scalar {
  let obj = tf.sum(tf.mul(y, dy));
  for (const ns of outNs) if (dSkips.has(ns)) obj = tf.add(obj, tf.sum(tf.mul(stash.get(ns)!, dSkips.get(ns)!)));
  return obj as tf.Scalar;
}

export interface StageGradients {
  /** The objective's value. */
  value: tf.Scalar;
  /** Gradient of the stage input (null unless asked for). */
  dInput: tf.Tensor | null;
  /** Gradients of the popped skips, except one that is the stage input itself (its gradient is part of dInput). */
  dSkips: Map<number, tf.Tensor>;
  /** The stage's trainable variables and their gradients (null where the objective does not depend on one). */
  vars: tf.Variable[];
  grads: (tf.Tensor | null)[];
}

/**
 * Backward of one stage by recomputation: its forward is re-run under the gradient tape from the
 * checkpoint (`input` + the popped skips) and `objective(y, stash)` is differentiated with respect to
 * the input, the popped skips and the stage's parameters. With `restoreBuffers`, BatchNorm running
 * statistics the recomputation updates are put back (the checkpointed forward already updated them).
 */
export function stageGradients(
  net: UNetPipe,
  stage: Stage,
  input: tf.Tensor,
  popped: SkipStash,
  mode: ForwardOptions,
  objective: (y: tf.Tensor, stash: SkipStash) => tf.Scalar,
  opts: { inputGrad: boolean; restoreBuffers: boolean },
): StageGradients {
  // A skip stashed by the last layer of the stage before can be this stage's input tensor itself:
  // it is differentiated once, as the input.
  const separate = [...popped].filter(([, t]) => t !== input);
  const vars = net.layerVariables(stage.from, stage.to);
  const xs = [...(opts.inputGrad ? [input] : []), ...separate.map(([, t]) => t), ...vars];
  const buffers = net.layerParameters(stage.from, stage.to).filter(([, p]) => !p.trainable).map(([, p]) => p.variable);
  const saved = opts.restoreBuffers && mode.training ? buffers.map((v) => tf.clone(v)) : [];
  const f = (): tf.Scalar => {
    const stash: SkipStash = new Map(popped);
    return objective(net.runLayers(stage.from, stage.to, input, stash, mode), stash);
  };
  try {
    const { value, grads: g } = tf.engine().gradients(f, xs, undefined, true);
    let i = 0;
    const dInput = opts.inputGrad ? g[i++] : null;
    const dSkips = new Map(separate.map(([ns]) => [ns, g[i++]] as const));
    return { value, dInput, dSkips, vars, grads: vars.map((_, n) => g[i + n] ?? null) };
  } finally {
    saved.forEach((s, n) => buffers[n].assign(s));
    tf.dispose(saved);
  }
}

/** Adds a stage's parameter gradients into `acc` (keyed by variable name) and frees them. */
export function accumulateInto(acc: Map<string, tf.Tensor> | tf.NamedTensorMap, vars: readonly tf.Variable[], grads: readonly (tf.Tensor | null)[]): void {
  const get = (k: string) => (acc instanceof Map ? acc.get(k) : acc[k]);
  const set = (k: string, t: tf.Tensor) => (acc instanceof Map ? acc.set(k, t) : (acc[k] = t));
  vars.forEach((v, n) => {
    const g = grads[n];
    if (!g) return;
    const prev = get(v.name);
    set(v.name, prev ? tf.add(prev, g) : g);
    if (prev) tf.dispose([prev, g]);
  });
}

/**
 * Eval-mode forward of layers [from, to) one layer per tidy, so that only the current activation and
 * the pending skips are alive. Takes ownership of `x`; skips come from `stash`, or are uploaded from
 * `parked` (CPU memory) right before the layer that pops them. The signal is read before every layer
 * (one stage of a whole volume can take long). On error the current activation is freed; what is in
 * `stash` stays the caller's.
 */
export async function stageInference(
  net: UNetPipe,
  stage: Stage,
  x: tf.Tensor,
  stash: SkipStash,
  opts: { parked?: Map<number, PlainTensor>; signal?: AbortSignal } = {},
): Promise<tf.Tensor> {
  const mode = { training: false };
  let a = x;
  try {
    for (let l = stage.from; l < stage.to; l++) {
      await checkAbort(opts.signal);
      const layer = net.layers[l];
      const ns = layer.pops;
      if (ns !== undefined && opts.parked?.has(ns)) {
        stash.set(ns, fromPlain(opts.parked.get(ns)!));
        opts.parked.delete(ns);
      }
      const popped = ns !== undefined ? stash.get(ns) : undefined;
      const input = a;
      const y = tf.tidy(() => layer.forward(input, stash, mode));
      if (y !== input && ![...stash.values()].includes(input)) input.dispose();
      popped?.dispose();
      a = y;
    }
    return a;
  } catch (e) {
    if (![...stash.values()].includes(a)) a.dispose();
    throw e;
  }
}
