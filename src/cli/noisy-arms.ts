/**
 * The four arms of the COPLE-Net paper's noisy-label experiment (experiment:noisy), as trainer
 * configurations that differ ONLY in loss, labels and self-ensembling: same network, initialisation
 * seed, optimizer, schedule, steps, patch sampler seed and augmentation.
 *
 *  (a) Dice loss on the observers' (noisy) labels — the baseline the paper improves on;
 *  (b) NR-Dice (γ) on the observers' labels;
 *  (c) NR-Dice + adaptive self-ensembling (adaptive teacher and adaptive student) on the observers' labels;
 *  (d) Dice loss on the true masks — the upper bound.
 *
 * Dice is MONAI DiceLoss (softmax, lesion channel only) pooled over the batch, like NR-Dice, so that
 * (a) and (b) differ only in the loss's form.
 */
import { InputError } from '../engine/io/errors';
import type { LossSpec, SelfEnsemblingConfig, TrainerConfig } from '../engine/training/trainer';

export type ArmId = 'a' | 'b' | 'c' | 'd';
export const ARM_IDS: readonly ArmId[] = ['a', 'b', 'c', 'd'];

export interface ArmSettings {
  features: number[];
  patch: number;
  batch: number;
  steps: number;
  seed: number;
  /** Adam's initial learning rate, cosine-decayed to lr/50. */
  lr: number;
  /** NR-Dice exponent and form: 'paper' Σ|p−g|^γ / (Σp² + Σg² + ε), 'pymic' Σ|p−g|^γ / (Σ(p + g) + ε). */
  gamma: number;
  nrdiceForm: 'paper' | 'pymic';
  /** Self-ensembling: consistency weight λ and the fraction of the steps its sigmoid ramp-up takes. */
  lambda: number;
  rampup: number;
}

export interface Arm {
  id: ArmId;
  /** What the table shows. */
  loss: string;
  labels: 'observers' | 'truth';
  selfEnsembling: boolean;
  config: TrainerConfig;
}

/** 'a,b,c,d' (any subset, any order, no repeats) → the arm ids in a-to-d order. */
export function parseArms(text: string): ArmId[] {
  const ids = text.split(',').map((s) => s.trim().toLowerCase());
  const bad = ids.find((id) => !(ARM_IDS as readonly string[]).includes(id));
  if (bad !== undefined || !ids.length) throw new InputError('--arms', `expected a comma-separated subset of a,b,c,d, got "${text}"`);
  if (new Set(ids).size !== ids.length) throw new InputError('--arms', `an arm is listed twice in "${text}"`);
  return ARM_IDS.filter((id) => ids.includes(id));
}

/** The trainer configuration of one arm. */
export function armConfig(id: ArmId, s: ArmSettings): Arm {
  const dice: LossSpec = { kind: 'dice', batch: true };
  const nrdice: LossSpec = { kind: 'nrdice', gamma: s.gamma, form: s.nrdiceForm };
  const nr = `NR-Dice (γ ${s.gamma}, ${s.nrdiceForm === 'paper' ? 'paper' : 'PyMIC'} form)`;
  const selfEnsembling: SelfEnsemblingConfig = {
    alpha: 0.99,
    adaptiveTeacher: true,
    adaptiveStudent: true,
    consistency: { lambda: s.lambda, rampupStart: 0, rampupEnd: Math.round(s.rampup * s.steps) },
  };
  const arm = {
    a: { loss: 'Dice', labels: 'observers', se: null, spec: dice },
    b: { loss: nr, labels: 'observers', se: null, spec: nrdice },
    c: { loss: `${nr} + adaptive self-ensembling`, labels: 'observers', se: selfEnsembling, spec: nrdice },
    d: { loss: 'Dice', labels: 'truth', se: null, spec: dice },
  }[id] as { loss: string; labels: 'observers' | 'truth'; se: SelfEnsemblingConfig | null; spec: LossSpec };
  const config: TrainerConfig = {
    model: { kind: 'coplenet', features: s.features, seed: s.seed },
    loss: arm.spec,
    optimizer: { kind: 'adam', schedule: { kind: 'cosine', lr: s.lr, totalSteps: s.steps, minLr: s.lr / 50 } },
    steps: s.steps,
    patches: { patchSize: s.patch, batchSize: s.batch, pos: 1, neg: 1 },
    seed: s.seed,
    selfEnsembling: arm.se,
  };
  return { id, loss: arm.loss, labels: arm.labels, selfEnsembling: arm.se !== null, config };
}

/**
 * Which observer annotates training scan `n`: observers take turns, one annotation per scan (the
 * paper's setting: each training image labelled once, by a non-expert).
 */
export function observerFor(n: number, observers: readonly string[]): string {
  if (!observers.length) throw new InputError('--observers', 'at least one observer is needed');
  return observers[n % observers.length];
}
