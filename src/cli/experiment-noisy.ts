/**
 * `npm run experiment:noisy -- --out DIR [--cases 20] [--test-cases 10] [--steps 400] [--seed 1]
 *   [--features 8,16,32,64,128] [--patch 64] [--batch 4] [--lr 0.001] [--gamma 1.5] [--nrdice pymic|paper] [--lambda 0.1]
 *   [--rampup 0.4] [--size 192,192,20] [--spacing 1.6,1.6,5] [--observers fast_nonexpert,over_segmenter]
 *   [--arms a,b,c,d] [--backend wasm|cpu|webgpu]`
 *
 * The COPLE-Net paper's noisy-label experiment on the project's phantoms (src/engine/synth): a small
 * COPLE-Net trained with (a) Dice on the observers' labels, (b) NR-Dice on them, (c) NR-Dice + adaptive
 * self-ensembling on them, (d) Dice on the true masks (upper bound) — arm definitions in noisy-arms.ts —
 * then every arm scored on the same held-out phantoms against their exact masks with the app's inference
 * path (phantom-eval.ts): Dice mean ± sd over cases, pooled Dice, HD95. For (c) the mean teacher is
 * scored too (row c′).
 *
 * Design (why these choices):
 * - Labels: the paper trains on non-expert annotations. Each training scan is annotated ONCE, the
 *   `--observers` taking turns (scan n by observer n mod k); the default pair is the two non-expert
 *   profiles of src/engine/synth/profiles.ts: `fast_nonexpert` (misses small lesions, coarse polygons,
 *   every third slice drawn and the rest interpolated, vessel false positives) and `over_segmenter`
 *   (dilates 1.5–3 mm, wavy outlines, more vessel false positives). The Dice of these labels against the
 *   truth is measured and printed, so the noise level is a number, not an adjective.
 * - Same budget: every arm has the same network and initialisation seed, optimizer (Adam, cosine to
 *   lr/50), steps, batch/patch size, and patch-sampler seed: update s draws the same scan and the same
 *   augmentation in every arm. Positive patch centres come from each arm's own label (MONAI
 *   RandCropByPosNegLabel on the labels one has), so truth and observer arms see different centres.
 * - NR-Dice in PyMIC's form Σ|p−g|^γ / (Σ(p + g) + ε) by default (`--nrdice paper` for the paper's
 *   Σp² + Σg² denominator). Measured: with the paper form on the lesion channel only (the trainer's NR-Dice),
 *   training collapses to "everything in the lung is lesion": ∂L/∂p on a background voxel is negative (raising
 *   p grows the Σp² denominator faster than the numerator) at the initial p ≈ 0.5 when under ~8 % of the
 *   batch's voxels are lesion, and at p = 1 when under 1/7 are, so p = 1 attracts; with Σ(p + g) the same
 *   derivative is positive at both points (README, "Noisy-label experiment").
 * - Held-out phantoms always contain lesions (Dice is undefined without), default lesion mix otherwise;
 *   the training phantoms keep the generator defaults (10 % without lesions).
 * - Small by default (features 8…128, 64² patches, 400 steps of 4 patches) so that all four arms fit in
 *   about half an hour on a shared 2-core CPU with tfjs-wasm. The phantoms are 1.6 mm in-plane because
 *   the observer models work in mm: at 2.5 mm most of over_segmenter's 1.5–3 mm dilation vanishes
 *   (its Dice against the truth is 0.98 there, 0.91 at 1.6 mm).
 * Writes `<out>/results.json` (every number, per case) and `<out>/results.md` (the table) after each arm.
 * Must run through `node scripts/run-ts.mjs` (tfjs gradients; see scripts/run-ts.mjs).
 */
import { cpus } from 'node:os';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { generateCase, type CaseOptions, type GeneratedCase } from '../engine/synth/dataset';
import { DEFAULT_PROFILES } from '../engine/synth/profiles';
import { deriveSeed } from '../engine/synth/seeds';
import { initBackend, type BackendName } from '../engine/tf/backend';
import { casesFromScans, prepareCases, type AnnotatedScan } from '../engine/training/data';
import { Trainer } from '../engine/training/trainer';
import type { Network } from '../models';
import { intArg, parseCliArgs } from './args';
import { runCli } from './files';
import { armConfig, observerFor, parseArms, type Arm } from './noisy-arms';
import { evaluate, fmt, meanDice, pooledDice, type CaseResult } from './phantom-eval';

const USAGE =
  'usage: npm run experiment:noisy -- --out DIR [--cases N] [--test-cases N] [--steps S] [--seed X] [--features a,b,c,d,e] [--patch P] [--batch B] [--lr LR] [--gamma G] [--nrdice pymic|paper] [--lambda L] [--rampup F] [--size X,Y,Z] [--spacing X,Y,Z] [--observers name,name] [--arms a,b,c,d] [--backend wasm|cpu|webgpu]';

const log = (line: string) => process.stdout.write(`${line}\n`);

function parse() {
  return parseCliArgs(
    {
      allowPositionals: false,
      options: {
        out: { type: 'string' },
        cases: { type: 'string', default: '20' },
        'test-cases': { type: 'string', default: '10' },
        steps: { type: 'string', default: '400' },
        seed: { type: 'string', default: '1' },
        features: { type: 'string', default: '8,16,32,64,128' },
        patch: { type: 'string', default: '64' },
        batch: { type: 'string', default: '4' },
        lr: { type: 'string', default: '0.001' },
        gamma: { type: 'string', default: '1.5' },
        nrdice: { type: 'string', default: 'pymic' },
        lambda: { type: 'string', default: '0.1' },
        rampup: { type: 'string', default: '0.4' },
        size: { type: 'string', default: '192,192,20' },
        spacing: { type: 'string', default: '1.6,1.6,5' },
        observers: { type: 'string', default: 'fast_nonexpert,over_segmenter' },
        arms: { type: 'string', default: 'a,b,c,d' },
        backend: { type: 'string', default: 'wasm' },
      },
    },
    USAGE,
  ).values;
}


function numbers(name: string, text: string, count: number, lo: number, hi: number): number[] {
  const v = text.split(',').map((s) => Number(s.trim()));
  if (v.length !== count || v.some((x) => !(x >= lo && x <= hi))) throw new Error(`--${name} must be ${count === 1 ? 'a number' : `${count} numbers separated by commas`} in [${lo}, ${hi}], got "${text}"`);
  return v;
}

/** Mean and sample standard deviation of the finite values, and how many there were. */
function meanSd(xs: number[]): { mean: number; sd: number; n: number } {
  const v = xs.filter(Number.isFinite);
  const mean = v.reduce((a, b) => a + b, 0) / (v.length || NaN);
  const sd = v.length > 1 ? Math.sqrt(v.reduce((a, b) => a + (b - mean) ** 2, 0) / (v.length - 1)) : NaN;
  return { mean, sd, n: v.length };
}

/** Pooled Dice of label masks against the truth masks. */
function labelDice(pairs: { label: Uint8Array; truth: Uint8Array }[]): number {
  let inter = 0;
  let sum = 0;
  for (const { label, truth } of pairs) {
    for (let n = 0; n < truth.length; n++) {
      const l = label[n] ? 1 : 0;
      const t = truth[n] ? 1 : 0;
      inter += l & t;
      sum += l + t;
    }
  }
  return sum ? (2 * inter) / sum : 1;
}

interface ArmResult {
  row: string;
  arm: string;
  loss: string;
  labels: string;
  steps: number;
  trainSeconds: number;
  finalLoss: number;
  teacherSuppressed?: number;
  diceMean: number;
  diceSd: number;
  diceN: number;
  pooledDice: number;
  hd95Mean: number;
  hd95Sd: number;
  hd95N: number;
  cases: CaseResult[];
}

function summarise(row: string, arm: Arm, trainer: Trainer, trainSeconds: number, cases: CaseResult[]): ArmResult {
  const withLesions = cases.filter((r) => r.truthMl > 0);
  const d = meanSd(withLesions.map((r) => r.dice));
  const h = meanSd(withLesions.map((r) => r.hd95));
  const last = trainer.history.slice(-20);
  const suppressed = trainer.history.filter((s) => s.teacherSuppressed).length;
  return {
    row,
    arm: arm.id,
    loss: arm.loss,
    labels: arm.labels,
    steps: trainer.step,
    trainSeconds,
    finalLoss: last.reduce((s, r) => s + r.supervisedLoss, 0) / Math.max(last.length, 1),
    ...(arm.selfEnsembling ? { teacherSuppressed: suppressed } : {}),
    diceMean: meanDice(cases),
    diceSd: d.sd,
    diceN: d.n,
    pooledDice: pooledDice(cases),
    hd95Mean: h.mean,
    hd95Sd: h.sd,
    hd95N: h.n,
    cases,
  };
}

function table(rows: ArmResult[], observers: string[]): string {
  const labels = (r: ArmResult) => (r.labels === 'truth' ? 'true masks' : `observers (${observers.join(' / ')})`);
  const lines = rows.map(
    (r) =>
      `| ${r.row} | ${r.loss} | ${labels(r)} | ${fmt(r.diceMean)} ± ${fmt(r.diceSd)} (${r.diceN}) | ${fmt(r.pooledDice)} | ${fmt(r.hd95Mean, 1)} ± ${fmt(r.hd95Sd, 1)} (${r.hd95N}) | ${(r.trainSeconds / 60).toFixed(1)} min |`,
  );
  return ['| arm | loss | training labels | Dice mean ± sd (cases) | pooled Dice | HD95 mm mean ± sd (cases) | train time |', '|---|---|---|---|---|---|---|', ...lines].join('\n');
}

runCli(async () => {
  const t0 = performance.now();
  const v = parse();
  if (!v.out) throw new Error(`--out is required; ${USAGE}`);
  const cases = intArg('cases', v.cases, 1, 10000);
  const testCases = intArg('test-cases', v['test-cases'], 1, 1000);
  const steps = intArg('steps', v.steps, 1, 10_000_000);
  const seed = intArg('seed', v.seed, 0, 4294967295);
  const features = numbers('features', v.features!, 5, 1, 4096).map(Math.round);
  const patch = intArg('patch', v.patch, 16, 1024);
  if (patch % 16) throw new Error(`--patch must be a multiple of 16 (COPLE-Net's size divisor), got ${patch}`);
  const batch = intArg('batch', v.batch, 1, 256);
  const [lr] = numbers('lr', v.lr!, 1, 1e-8, 1);
  const [gamma] = numbers('gamma', v.gamma!, 1, 0.01, 10);
  if (v.nrdice !== 'pymic' && v.nrdice !== 'paper') throw new Error(`--nrdice must be pymic (Σ(p + g) denominator) or paper (Σp² + Σg²), got "${v.nrdice}"`);
  const nrdiceForm: 'pymic' | 'paper' = v.nrdice;
  const [lambda] = numbers('lambda', v.lambda!, 1, 0, 1000);
  const [rampup] = numbers('rampup', v.rampup!, 1, 0, 1);
  const size = numbers('size', v.size!, 3, 8, 2048).map(Math.round) as [number, number, number];
  const spacing = numbers('spacing', v.spacing!, 3, 0.01, 50) as [number, number, number];
  const observerNames = v.observers!.split(',').map((s) => s.trim());
  const profiles = observerNames.map((name) => {
    const p = DEFAULT_PROFILES.find((x) => x.name === name);
    if (!p) throw new Error(`--observers: unknown observer "${name}" (have: ${DEFAULT_PROFILES.map((x) => x.name).join(', ')})`);
    return p;
  });
  const armIds = parseArms(v.arms!);
  const backendName = v.backend as BackendName;
  if (!['wasm', 'webgpu', 'cpu'].includes(backendName)) throw new Error(`--backend must be wasm, webgpu or cpu, got "${v.backend}"`);
  const settings = { features, patch, batch, steps, seed, lr, gamma, nrdiceForm, lambda, rampup };
  const arms = armIds.map((id) => armConfig(id, settings));

  // esbuild's ESM bundle has no __dirname; tfjs-backend-wasm's Emscripten loader reads it in Node.
  (globalThis as { __dirname?: string }).__dirname ??= join(process.cwd(), 'node_modules/@tensorflow/tfjs-backend-wasm/dist');
  const backend = await initBackend([backendName]);
  log(`backend ${backend.name}${backend.notes.length ? ` (${backend.notes.join('; ')})` : ''}`);

  // Data: training phantoms with their observers, held-out phantoms (always with lesions) from another seed stream.
  const tData = performance.now();
  const phantom: CaseOptions = { size, spacing, observers: profiles };
  const train = Array.from({ length: cases }, (_, n) => generateCase(phantom, deriveSeed(seed, 'train', n)));
  const test = Array.from({ length: testCases }, (_, n) => generateCase({ size, spacing, observers: [], lesions: { noneProbability: 0 } }, deriveSeed(seed, 'test', n)));
  const truthOf = (c: GeneratedCase) => c.truth.data as Uint8Array;
  const assigned = train.map((c, n) => c.observers.find((o) => o.name === observerFor(n, observerNames))!);
  const scans = (labels: 'observers' | 'truth'): AnnotatedScan[] =>
    train.map((c, n) =>
      labels === 'truth'
        ? { id: `train_${n}`, image: c.scan, truth: truthOf(c) }
        : { id: `train_${n}`, image: c.scan, observers: [{ name: assigned[n].name, mask: assigned[n].mask.data as Uint8Array }] },
    );
  const prepared = {
    truth: prepareCases(casesFromScans(scans('truth'), { kind: 'truth' })),
    observers: prepareCases(casesFromScans(scans('observers'), { kind: 'each-observer' })),
  };
  const noise = {
    trainingLabels: labelDice(train.map((c, n) => ({ label: assigned[n].mask.data as Uint8Array, truth: truthOf(c) }))),
    perObserver: Object.fromEntries(observerNames.map((name) => [name, labelDice(train.map((c) => ({ label: c.observers.find((o) => o.name === name)!.mask.data as Uint8Array, truth: truthOf(c) })))])),
  };
  const lesionCount = train.reduce((s, c) => s + c.lesions.length, 0);
  const testLesions = test.reduce((s, c) => s + c.lesions.length, 0);
  log(`data: ${cases} training phantoms (${lesionCount} lesions), ${testCases} test (${testLesions} lesions), ${size.join('×')} at ${spacing.join('×')} mm (${((performance.now() - tData) / 1000).toFixed(1)} s)`);
  log(`label noise: the training labels (observers taking turns: ${observerNames.join(', ')}) have pooled Dice ${fmt(noise.trainingLabels)} against the truth; each observer on all training scans: ${Object.entries(noise.perObserver).map(([k, d]) => `${k} ${fmt(d)}`).join(', ')}`);

  const cpu = cpus();
  const hardware = `${cpu.length} × ${cpu[0]?.model ?? 'CPU'}, Node ${process.version}, TF.js ${tf.version_core} backend ${backend.name}`;
  const results: ArmResult[] = [];
  const write = async () => {
    const wallSeconds = (performance.now() - t0) / 1000;
    const md = `${table(results, observerNames)}\n\nCommand: \`npm run experiment:noisy -- ${process.argv.slice(2).join(' ')}\`; ${hardware}; wall time ${(wallSeconds / 60).toFixed(1)} min. Training labels' pooled Dice against the truth: ${fmt(noise.trainingLabels)}.\n`;
    await mkdir(v.out!, { recursive: true });
    await writeFile(join(v.out!, 'results.md'), md);
    const json = { argv: process.argv.slice(2), settings, size, spacing, observers: observerNames, cases, testCases, lesionCount, testLesions, labelNoise: noise, hardware, wallSeconds, arms: results };
    await writeFile(join(v.out!, 'results.json'), `${JSON.stringify(json, null, 1)}\n`);
    return md;
  };

  for (const arm of arms) {
    const every = Math.max(1, Math.round(steps / 10));
    const trainer = await Trainer.create(arm.config, {
      train: arm.labels === 'truth' ? prepared.truth : prepared.observers,
      onStep: (s) => {
        if (s.step % every === 0 || s.step === steps) log(`(${arm.id}) step ${s.step}/${steps} loss ${fmt(s.loss, 4)} supervised ${fmt(s.supervisedLoss, 4)} ${fmt(s.stepsPerSec, 2)} step/s (${fmt((performance.now() - t0) / 60000, 1)} min)`);
      },
    });
    if (arm === arms[0]) log(`COPLE-Net (${features.join(', ')}): ${trainer.network.parameterCount()} parameters; Adam lr ${lr} cosine → ${lr / 50}, ${batch}×${patch}² patches (pos:neg 1:1), ${steps} steps per arm`);
    log(`(${arm.id}) ${arm.loss} on ${arm.labels === 'truth' ? 'the true masks' : "the observers' labels"}`);
    const tTrain = performance.now();
    await trainer.run();
    const trainSeconds = (performance.now() - tTrain) / 1000;
    results.push(summarise(arm.id, arm, trainer, trainSeconds, await evaluate(trainer.network, test, arm.id, log)));
    if (trainer.teacherNetwork) results.push(summarise(`${arm.id}′ (teacher)`, arm, trainer, trainSeconds, await evaluate(trainer.teacherNetwork as Network, test, `${arm.id} teacher`, log)));
    trainer.dispose();
    log(`(${arm.id}) done in ${(trainSeconds / 60).toFixed(1)} min of training; ${tf.memory().numTensors} tensors left`);
    await write();
  }
  log('');
  log(await write());
});
