/**
 * `npm run train:default -- --cases N --steps S --seed X --backend wasm|webgpu|cpu --out public/weights
 *   [--features 32,64,128,256,512] [--labels truth|observer:<name>|each-observer|staple|majority]
 *   [--batch 4] [--patch 96] [--lr 1e-3] [--dice patch|pooled] [--size 160,160,24] [--spacing 2,2,5] [--test-cases 6]
 *   [--val-cases 2] [--checkpoint DIR] [--checkpoint-every 25] [--resume] [--time-limit MINUTES]
 *   [--init WEIGHTS] [--kinds GGO,CONSOLIDATION,MIXED] [--positives voxel|lesion] [--hard-negatives RATIO]
 *   [--context-slices R] [--tune-cases 24]`
 *
 * Trains the project's own default COPLE-Net weights on synthetic chest CT phantoms (src/engine/synth)
 * and evaluates them on held-out phantoms with the app's inference path (`segmentVolume` with the
 * default COPLE-Net pipeline) against the exact lesion masks: Dice and HD95 per case (`compareMasks`)
 * and lesion detection / Dice by lesion size. Writes `<out>/coplenet.safetensors` (float16 storage when
 * the held-out Dice stays within 0.005 of float32) and `<out>/MODEL_CARD.md`.
 * `--positives lesion` centres positive patches lesion by lesion (small lesions as often as large);
 * `--hard-negatives R` draws a share R of negative centres on the phantoms' lung vessels (PatchOptions).
 * `--context-slices R` gives the network each slice's R neighbours on either side as extra input channels
 * (2.5D, src/engine/inference/slice-context.ts); `--init` may then be weights with less context (e.g. one channel), widened so
 * that the network starts out computing what they did (src/models/input-channels.ts).
 * `--tune-cases N` (default 24; 0 = none) then chooses the weights' KeepConfidentComponentsd cut on N
 * phantoms of stream `tune` (src/engine/inference/peak-cut.ts), stores it in the weights' metadata (the
 * app's and the CLIs' default) and scores the test phantoms with it too.
 * Must run through `node scripts/run-ts.mjs` (tfjs gradients; see scripts/run-ts.mjs).
 */
import { cpus } from 'node:os';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { generateCase, type CaseOptions, type GeneratedCase } from '../engine/synth/dataset';
import { DEFAULT_PROFILES } from '../engine/synth/profiles';
import { TISSUE } from '../engine/synth/tissue';
import { deriveSeed } from '../engine/synth/seeds';
import { initBackend, type BackendName } from '../engine/tf/backend';
import { NodeCheckpointStore } from '../engine/training/checkpoint-node';
import { casesFromScans, parseLabelSource, prepareCases, validationSlices, type AnnotatedScan } from '../engine/training/data';
import { Trainer, type StepInfo, type TrainerConfig } from '../engine/training/trainer';
import { readSafetensors, readWeights, writeSafetensors, type StateDict } from '../engine/weights';
import { createNetwork, type Network } from '../models';
import { inputChannels, widenInputChannels } from '../models/input-channels';
import { DEFAULT_COPLENET_PIPELINE, PEAK_CUT_KEY, PIXEL_SPACING_KEY, withConfidentComponents, withSliceContext, type CutScore } from '../engine/inference';
import { contextChannels } from '../engine/inference/slice-context';
import { intArg, positiveNumbers, parseCliArgs } from './args';
import { runCli } from './files';
import { binTable, evaluate as evaluateCases, falsePositivesPerCase, fmt, meanDice, pooledDice, tunePeakCut, type CaseResult, type EvaluateOptions } from './phantom-eval';

const USAGE =
  'usage: npm run train:default -- --cases N --steps S --seed X --backend wasm|webgpu|cpu --out DIR [--features a,b,c,d,e] [--labels truth|observer:<name>|each-observer|staple|majority] [--batch B] [--patch P] [--lr LR] [--dice patch|pooled] [--size X,Y,Z] [--spacing X,Y,Z] [--test-cases N] [--val-cases N] [--checkpoint DIR] [--checkpoint-every N] [--resume] [--time-limit MIN] [--init WEIGHTS.safetensors|.pt] [--kinds GGO,CONS,MIXED] [--positives voxel|lesion] [--hard-negatives RATIO] [--context-slices R] [--tune-cases N]';

function parse() {
  return parseCliArgs(
    {
      allowPositionals: false,
      options: {
        cases: { type: 'string' },
        steps: { type: 'string' },
        seed: { type: 'string', default: '1' },
        backend: { type: 'string', default: 'wasm' },
        out: { type: 'string' },
        features: { type: 'string', default: '32,64,128,256,512' },
        labels: { type: 'string', default: 'truth' },
        batch: { type: 'string', default: '4' },
        patch: { type: 'string', default: '96' },
        lr: { type: 'string', default: '0.001' },
        dice: { type: 'string', default: 'patch' },
        size: { type: 'string', default: '160,160,24' },
        spacing: { type: 'string', default: '2,2,5' },
        'test-cases': { type: 'string', default: '6' },
        'val-cases': { type: 'string', default: '2' },
        checkpoint: { type: 'string', default: 'tmp/train-default-checkpoints' },
        'checkpoint-every': { type: 'string', default: '25' },
        resume: { type: 'boolean', default: false },
        'time-limit': { type: 'string' },
        init: { type: 'string' },
        kinds: { type: 'string' },
        positives: { type: 'string', default: 'voxel' },
        'hard-negatives': { type: 'string', default: '0' },
        'context-slices': { type: 'string', default: '0' },
        'tune-cases': { type: 'string', default: '24' },
      },
    },
    USAGE,
  ).values;
}

async function loadWeights(path: string): Promise<StateDict> {
  return readWeights(new Uint8Array(await readFile(path)), path).stateDict;
}

const log = (line: string) => process.stdout.write(`${line}\n`);
const evaluate = (network: Network, cases: GeneratedCase[], what: string, opts: EvaluateOptions) => evaluateCases(network, cases, what, log, opts);

runCli(async () => {
  const t0 = performance.now();
  const v = parse();
  const cases = intArg('cases', v.cases, 1, 10000, USAGE);
  const steps = intArg('steps', v.steps, 1, 10_000_000, USAGE);
  const seed = intArg('seed', v.seed, 0, 4294967295, USAGE);
  if (!v.out) throw new Error(`--out is required; ${USAGE}`);
  const backendName = v.backend as BackendName;
  if (!['wasm', 'webgpu', 'cpu'].includes(backendName)) throw new Error(`--backend must be wasm, webgpu or cpu, got "${v.backend}"`);
  const features = positiveNumbers('features', v.features!, 5).map(Math.round);
  const labelSource = parseLabelSource(v.labels!);
  const batch = intArg('batch', v.batch, 1, 256, USAGE);
  const patch = intArg('patch', v.patch, 16, 1024, USAGE);
  if (patch % 16) throw new Error(`--patch must be a multiple of 16 (COPLE-Net's size divisor), got ${patch}`);
  const lr = positiveNumbers('lr', v.lr!, 1)[0];
  if (v.dice !== 'patch' && v.dice !== 'pooled') throw new Error(`--dice must be patch (one Dice per patch, MONAI's default) or pooled (one per batch), got "${v.dice}"`);
  const size = positiveNumbers('size', v.size!, 3) as [number, number, number];
  const spacing = positiveNumbers('spacing', v.spacing!, 3) as [number, number, number];
  const testCases = intArg('test-cases', v['test-cases'], 1, 1000, USAGE);
  const valCases = intArg('val-cases', v['val-cases'], 0, 1000, USAGE);
  // Lesion-kind mix of the training phantoms only; validation and test phantoms keep the defaults.
  const kinds = v.kinds ? positiveNumbers('kinds', v.kinds, 3) : null;
  if (v.positives !== 'voxel' && v.positives !== 'lesion') throw new Error(`--positives must be voxel (any lesion voxel, MONAI) or lesion (each lesion equally likely), got "${v.positives}"`);
  const hardNegatives = Number(v['hard-negatives']);
  if (!(hardNegatives >= 0 && hardNegatives <= 1) || !v['hard-negatives']!.trim()) throw new Error(`--hard-negatives must be a share in 0…1, got "${v['hard-negatives']}"`);
  const contextSlices = intArg('context-slices', v['context-slices'], 0, 8, USAGE);
  const tuneCases = intArg('tune-cases', v['tune-cases'], 0, 10000, USAGE);
  // 0: only at the end (a checkpoint holds weights and Adam state, ~125 MB for COPLE-Net; on a fast GPU writing it every 25 steps costs more than the steps).
  const checkpointEvery = intArg('checkpoint-every', v['checkpoint-every'], 0, 10_000_000, USAGE);
  const inChannels = contextChannels(contextSlices);
  const pipeline = withSliceContext(DEFAULT_COPLENET_PIPELINE, contextSlices);
  const timeLimit = v['time-limit'] ? positiveNumbers('time-limit', v['time-limit'], 1)[0] * 60 : Infinity;
  // Read and checked before the phantoms are made, so a wrong file fails at once (a run resumed from a checkpoint ignores it).
  const given = v.init ? await loadWeights(v.init) : undefined;
  const givenChannels = given && inputChannels(given, v.init!);
  if (givenChannels && givenChannels > inChannels) throw new Error(`--init ${v.init} takes ${givenChannels} input channels, more than --context-slices ${contextSlices} gives (${inChannels}); use --context-slices ${(givenChannels - 1) / 2}`);

  // esbuild's ESM bundle has no __dirname; tfjs-backend-wasm's Emscripten loader reads it in Node.
  (globalThis as { __dirname?: string }).__dirname ??= join(process.cwd(), 'node_modules/@tensorflow/tfjs-backend-wasm/dist');
  const backend = await initBackend([backendName]);
  log(`backend ${backend.name}${backend.notes.length ? ` (${backend.notes.join('; ')})` : ''}`);

  // Data: training, validation (monitoring) and test (final evaluation) phantoms from separate seed streams.
  const needObservers = labelSource.kind !== 'truth';
  const phantom = { size, spacing, observers: needObservers ? DEFAULT_PROFILES : [] };
  const gen = (stream: string, count: number, opts: CaseOptions = phantom) => Array.from({ length: count }, (_, n) => generateCase(opts, deriveSeed(seed, stream, n)));
  const tData = performance.now();
  const train = gen('train', cases, kinds ? { ...phantom, lesions: { kinds: { ggo: kinds[0], consolidation: kinds[1], mixed: kinds[2] } } } : phantom);
  const val = gen('val', valCases);
  const test = gen('test', testCases);
  const toScan = (c: GeneratedCase, id: string): AnnotatedScan => ({ id, image: c.scan, truth: c.truth.data as Uint8Array, observers: c.observers.map((o) => ({ name: o.name, mask: o.mask.data as Uint8Array })) });
  // Hard negatives: the lung vessels the generator drew (what undertrained nets take for small lesions).
  const vessels = (c: GeneratedCase) => Uint8Array.from(c.tissue.data as Uint8Array, (t) => (t === TISSUE.VESSEL ? 1 : 0));
  const trainScan = (c: GeneratedCase, n: number): AnnotatedScan => ({ ...toScan(c, `train_${n}`), ...(hardNegatives > 0 && { hardNegatives: vessels(c) }) });
  const prepared = prepareCases(casesFromScans(train.map(trainScan), labelSource));
  const validation = validationSlices(prepareCases(casesFromScans(val.map((c, n) => toScan(c, `val_${n}`)), { kind: 'truth' })), { maxSlicesPerCase: 12, contextSlices });
  const lesionCount = train.reduce((s, c) => s + c.lesions.length, 0);
  log(`data: ${cases} training phantoms (${lesionCount} lesions), ${valCases} validation, ${testCases} test, ${size.join('×')} at ${spacing.join('×')} mm, labels ${v.labels} (${((performance.now() - tData) / 1000).toFixed(1)} s)`);

  const config: TrainerConfig = {
    model: { kind: 'coplenet', features, seed },
    loss: { kind: 'dicece', batch: v.dice === 'pooled' },
    optimizer: { kind: 'adam', schedule: { kind: 'cosine', lr, totalSteps: steps, minLr: lr / 50 } },
    steps,
    patches: { patchSize: patch, batchSize: batch, pos: 1, neg: 1, positives: v.positives, hardNegativeRatio: hardNegatives, contextSlices },
    seed,
    validateEvery: Math.max(1, Math.round(steps / 10)),
    checkpointEvery,
  };
  const store = new NodeCheckpointStore(v.checkpoint!);
  const key = `coplenet-seed${seed}`;
  const onStep = (s: StepInfo) => {
    const elapsed = (performance.now() - t0) / 1000;
    log(`step ${s.step}/${steps} loss ${fmt(s.loss, 4)} lr ${s.lr.toExponential(2)} ${fmt(s.stepsPerSec, 3)} step/s${s.valDice !== undefined ? ` val Dice ${fmt(s.valDice)}` : ''} (${fmt(elapsed / 60, 1)} min)`);
    if (elapsed > timeLimit && trainer.state === 'running') {
      log(`time limit reached after ${s.step} steps: stopping`);
      trainer.cancel();
    }
  };
  const data = { train: prepared, validation, store, key, onStep };
  const saved = v.resume ? await store.load(key) : null;
  const widen = !saved && given !== undefined && givenChannels! < inChannels;
  const init = saved ? undefined : widen ? widenInputChannels(given!, inChannels, v.init!) : given;
  const trainer = saved ? await Trainer.fromCheckpoint(saved, data) : await Trainer.create(config, data, init);
  if (init) log(`initialised from ${v.init} (warm start${widen ? `; ${givenChannels}-channel weights widened to ${inChannels} input channels, new neighbours at zero` : ''})`);
  if (saved) log(`resumed from ${join(v.checkpoint!, key)} at step ${saved.step}`);
  log(`COPLE-Net (${features.join(', ')})${contextSlices ? `, ${inChannels} input channels (${contextSlices} context slice${contextSlices > 1 ? 's' : ''} each side)` : ''}: ${trainer.network.parameterCount()} parameters; Adam lr ${lr} cosine → ${Number((lr / 50).toPrecision(3))}, Dice (${v.dice === 'pooled' ? 'pooled over the batch' : 'per patch'}) + CE, ${batch}×${patch}² patches (pos:neg 1:1${sampling(config.patches)}), ${steps} steps`);
  const tTrain = performance.now();
  const status = await trainer.run();
  const trainSeconds = (performance.now() - tTrain) / 1000;
  await trainer.save();
  log(`training ${status} after ${trainer.step} steps in ${(trainSeconds / 60).toFixed(1)} min`);

  // Evaluation on the held-out phantoms, float32 then float16-rounded weights.
  const sd32 = await trainer.network.stateDict();
  const results32 = await evaluate(trainer.network, test, 'float32', { pipeline });
  // The phantoms' pixel size goes with the weights: the app and the CLIs resample other scans' slices to it.
  const meta: Record<string, string> = { format: 'pt', model: 'coplenet', features: features.join(','), seed: String(seed), steps: String(trainer.step), labels: v.labels!, [PIXEL_SPACING_KEY]: `${spacing[0]},${spacing[1]}` };
  const net16 = createNetwork('coplenet', { features, inChannels });
  net16.loadStateDict(readSafetensors(writeSafetensors(sd32, { float16: true }), 'float16 weights').stateDict);
  const results16 = await evaluate(net16, test, 'float16', { pipeline });
  const d32 = meanDice(results32);
  const d16 = meanDice(results16);
  const useHalf = Math.abs(d16 - d32) <= 0.005;
  const final = useHalf ? results16 : results32;
  const finalNet = useHalf ? net16 : trainer.network;
  // The weights' own cut for KeepConfidentComponentsd, on phantoms neither training nor the test set uses.
  const tune = tuneCases ? await tunePeakCut(finalNet, gen('tune', tuneCases), pipeline, log) : null;
  if (tune) log(`peak cut: ${tune.cut ?? 'none (no cut beats no filter)'}`);
  if (tune?.cut) meta[PEAK_CUT_KEY] = String(tune.cut);
  const withCut = tune?.cut ? await evaluate(finalNet, test, 'with cut', { pipeline: withConfidentComponents(pipeline, tune.cut) }) : null;
  net16.dispose();
  const weights = writeSafetensors(sd32, { float16: useHalf, metadata: meta });
  await mkdir(v.out, { recursive: true });
  await writeFile(join(v.out, 'coplenet.safetensors'), weights);
  const wallSeconds = (performance.now() - t0) / 1000;
  const card = modelCard({
    argv: process.argv.slice(2).join(' '),
    features,
    params: trainer.network.parameterCount(),
    config,
    status,
    stepsDone: trainer.step,
    trainSeconds,
    wallSeconds,
    backend: backend.name,
    gpu: backend.adapterInfo ? [backend.adapterInfo.device, backend.adapterInfo.description].filter(Boolean).join(', ') : undefined,
    cases,
    valCases,
    testCases,
    size,
    spacing,
    labels: v.labels!,
    lesionCount,
    history: trainer.history,
    results32,
    results16,
    d32,
    d16,
    useHalf,
    bytes: weights.length,
    final,
    init: saved ? undefined : v.init,
    kinds,
    tuneCases,
    tune,
    withCut,
  });
  await writeFile(join(v.out, 'MODEL_CARD.md'), card);
  log(`held-out pooled Dice ${fmt(pooledDice(final), 4)}`);
  if (withCut) log(`held-out mean Dice with the peak cut ${tune!.cut}: ${fmt(meanDice(withCut), 4)} (pooled ${fmt(pooledDice(withCut), 4)})`);
  log(`held-out mean Dice float32 ${fmt(d32, 4)}, float16 ${fmt(d16, 4)}; wrote ${join(v.out, 'coplenet.safetensors')} (${useHalf ? 'float16' : 'float32'}, ${(weights.length / 1e6).toFixed(1)} MB) and MODEL_CARD.md; wall time ${(wallSeconds / 60).toFixed(1)} min`);
  trainer.dispose();
  tf.disposeVariables();
});

/** The optional departures from MONAI's patch sampling, for the log and the card. */
function sampling(p: TrainerConfig['patches']): string {
  const parts = [];
  if (p?.positives === 'lesion') parts.push('positives lesion by lesion');
  if (p?.hardNegativeRatio) parts.push(`${Math.round(p.hardNegativeRatio * 100)} % of negatives on lung vessels`);
  return parts.length ? `; ${parts.join(', ')}` : '';
}

interface CardInput {
  argv: string;
  features: number[];
  params: number;
  config: TrainerConfig;
  status: string;
  stepsDone: number;
  trainSeconds: number;
  wallSeconds: number;
  backend: string;
  /** The WebGPU adapter (device, driver) when the backend is webgpu. */
  gpu?: string;
  cases: number;
  valCases: number;
  testCases: number;
  size: number[];
  spacing: number[];
  labels: string;
  lesionCount: number;
  history: Trainer['history'];
  results32: CaseResult[];
  results16: CaseResult[];
  d32: number;
  d16: number;
  useHalf: boolean;
  bytes: number;
  final: CaseResult[];
  init?: string;
  kinds: number[] | null;
  tuneCases: number;
  tune: { curve: CutScore[]; cut: number | null } | null;
  withCut: CaseResult[] | null;
}

function modelCard(c: CardInput): string {
  const cpu = cpus();
  const p = c.config.patches;
  const val = c.history.filter((h) => h.valDice !== undefined).map((h) => `${h.step}: ${fmt(h.valDice!)}`).join(', ');
  const lastLosses = c.history.slice(-20);
  const meanLast = lastLosses.reduce((s, h) => s + h.loss, 0) / Math.max(lastLosses.length, 1);
  const withLesions = c.final.filter((r) => r.truthMl > 0);
  // HD95 is undefined (NaN) when the prediction is empty; averaged over the cases where it exists.
  const hds = withLesions.map((r) => r.hd95).filter(Number.isFinite);
  const meanHd = hds.reduce((s, h) => s + h, 0) / Math.max(hds.length, 1);
  const cutCells = (n: number) => (c.withCut ? ` ${fmt(c.withCut[n].dice)} | ${c.withCut[n].falsePositiveComponents} |` : '');
  const rows = c.final.map((r, n) => `| ${r.id} | ${r.seed} | ${r.lesions} | ${fmt(r.truthMl, 1)} | ${fmt(r.predMl, 1)} | ${fmt(r.dice)} | ${fmt(c.results32[n].dice)} | ${fmt(r.hd95, 1)} | ${r.falsePositiveComponents} |${cutCells(n)}`);
  const cutHds = c.withCut?.filter((r) => r.truthMl > 0).map((r) => r.hd95).filter(Number.isFinite) ?? [];
  const cut = c.tune?.cut ?? null;
  const bins = binTable(c.final).map((b) => `| ${b.bin} | ${b.lesions} | ${b.detected} (${b.lesions ? Math.round((100 * b.detected) / b.lesions) : 0} %) | ${b.lesions ? fmt(b.meanDice) : '–'} |`);
  return `# COPLE-Net default weights (\`coplenet.safetensors\`)

The project's own COPLE-Net weights, trained from scratch **on synthetic chest CT phantoms only**
(src/engine/synth), so that the app segments something without a download. They are not trained on
patient data and are not a medical device: on real CT expect far worse results than below; use the
authors' pretrained weights (MONAI \`coplenet_pretrained_monai_dict.pt\`) or fine-tune for real scans.

## Model
- MONAI research-contributions COPLE-Net (spec §1), features (${c.features.join(', ')}), bilinear
  upsampling, ${p.contextSlices ? `${contextChannels(p.contextSlices)} input channels (each axial slice with its ${p.contextSlices} neighbour${p.contextSlices > 1 ? 's' : ''} on either side: "context_slices": ${p.contextSlices}, src/engine/inference/slice-context.ts)` : '1 input channel'}, 2 classes (background, lesion); ${c.params.toLocaleString('en-US')} trainable parameters.
- File: safetensors, PyTorch state-dict keys and layout (MONAI 0.2.0 names), ${c.useHalf ? 'float16' : 'float32'} storage (${(c.bytes / 1e6).toFixed(1)} MB).
  float16 is used when the held-out mean Dice stays within 0.005 of float32: float32 ${fmt(c.d32, 4)}, float16 ${fmt(c.d16, 4)}.
  Metadata: \`"${PIXEL_SPACING_KEY}": "${c.spacing[0]},${c.spacing[1]}"\`, the phantoms' pixel size: the app, \`segment\` and \`eval:phantoms\`
  resample other scans' slices to it (Spacingd after the orientation; \`--pixel-spacing none\` or the panel's check box to keep the scan's grid)${cut ? `;
  \`"${PEAK_CUT_KEY}": "${cut}"\`, the weights' peak cut (below)` : ''}.
- Input: the default COPLE-Net inference pipeline (src/engine/inference/pipeline.ts): lung crop + 10 mm,
  HU window [−1400, 100] → [0, 1] (clipped), SPL orientation, axial slices padded to a multiple of 32${p.contextSlices ? `, each slice with its ${p.contextSlices} neighbour${p.contextSlices > 1 ? 's' : ''} on either side as channels (\`"context_slices": ${p.contextSlices}\`, set by the app, \`segment\` and \`eval:phantoms\` from the weights' ${contextChannels(p.contextSlices)} input channels). MONAI's own one-slice checkpoint still loads (the pipeline then goes back to \`"context_slices": 0\`)` : ''}.${cut ? `
- Output: argmax, then **KeepConfidentComponentsd with the weights' cut ${cut}** — a lesion component stays only if
  its most certain voxel reaches it. On by default in the app (Inference panel), \`segment\` and \`eval:phantoms\`; off with
  the panel's check box or \`--min-peak none\`.` : ''}

## Data recipe
- ${c.cases} training phantoms (${c.lesionCount} lesions), ${c.valCases} validation phantoms (monitoring only),
  ${c.testCases} test phantoms (held out): \`generateCase({ size: [${c.size.join(', ')}], spacing: [${c.spacing.join(', ')}] }, deriveSeed(seed, 'train' | 'val' | 'test', n))\`,
  default phantom options otherwise (lesions: none with p 0.1, 1–6 per case, equivalent radius 2–30 mm, 60 % ground glass,
  15 % consolidation, 25 % mixed)${c.kinds ? `; the training phantoms' lesion kinds drawn with weights ground glass ${c.kinds[0]}, consolidation ${c.kinds[1]}, mixed ${c.kinds[2]} (validation and test phantoms keep the defaults)` : ''}.
- Training labels: \`${c.labels}\`.
- Patches: ${p.batchSize} × ${p.patchSize}×${p.patchSize} per update from the lung-cropped, windowed axial slices,
  RandCropByPosNegLabel centres (pos:neg ${p.pos}:${p.neg}${sampling(p)}); augmentation: random flips (each axis, p 0.5), rot90 (p 0.5),
  intensity scale ±10 % and shift ±0.05 (p 0.5 each), Gaussian noise σ ≤ 0.02 (p 0.3).

## Training
- Command: \`npm run train:default -- ${c.argv}\`; seed ${c.config.seed} (${c.init ? `batches, dropout; warm start from \`${c.init}\`, the previous default weights` : 'network initialisation, batches, dropout'}).
- Loss: ${c.config.loss.kind === 'dicece' && c.config.loss.batch ? 'Dice pooled over the batch' : 'Dice per patch'} (softmax, lesion channel) + cross-entropy. Optimizer: Adam (β 0.9/0.999, ε 1e-8), lr ${c.config.optimizer.schedule.lr}
  with cosine decay to ${Number((c.config.optimizer.schedule as { minLr?: number }).minLr!.toPrecision(3))} over ${c.config.steps} steps; BatchNorm in training mode; dropout as in MONAI's defaults.
- Run: ${c.status} after ${c.stepsDone} of ${c.config.steps} steps; mean loss of the last 20 steps ${fmt(meanLast, 4)}.
- Validation Dice (pooled, eval mode, 12 slices per validation phantom) by step: ${val || 'none'}.
- Time: training ${(c.trainSeconds / 60).toFixed(1)} min (${fmt(c.stepsDone / c.trainSeconds, 3)} steps/s), whole command ${(c.wallSeconds / 60).toFixed(1)} min.
- Hardware: ${cpu.length} × ${cpu[0]?.model ?? 'CPU'} (shared with other jobs), Node ${process.version}, TF.js ${tf.version_core} backend \`${c.backend}\`${c.backend === 'wasm' ? ' (single-threaded SIMD in Node; training kernels from src/engine/tf/wasm-kernels.ts)' : ''}${c.gpu ? ` on the GPU ${c.gpu} (Dawn)` : ''}.

## Held-out evaluation (${c.testCases} test phantoms, against the exact lesion masks)
Full inference path (\`segmentVolume\` with the default pipeline, argmax). Dice and HD95 (mm, 95th percentile
of symmetric surface distances) from \`compareMasks\` on the scan grid; mean over cases with lesions:
**Dice ${fmt(meanDice(c.final), 4)}** over ${withLesions.length} cases (pooled over all test voxels: ${fmt(pooledDice(c.final), 4)}), HD95 ${fmt(meanHd, 1)} mm over the ${hds.length} cases with a non-empty prediction (${c.useHalf ? 'float16' : 'float32'} weights).

| case | seed | lesions | truth mL | pred mL | Dice | Dice (float32) | HD95 mm | FP components |${c.withCut ? ' Dice with the cut | FP with the cut |' : ''}
|---|---|---|---|---|---|---|---|---|${c.withCut ? '---|---|' : ''}
${rows.join('\n')}
${c.withCut ? `
With the weights' peak cut (below; the app's default for these weights): **Dice ${fmt(meanDice(c.withCut), 4)}** (pooled ${fmt(pooledDice(c.withCut), 4)}), HD95 ${fmt(cutHds.reduce((s, h) => s + h, 0) / Math.max(cutHds.length, 1), 1)} mm over ${cutHds.length} cases
with a non-empty prediction; ${fmt(falsePositivesPerCase(c.withCut), 1)} false-positive components per case instead of ${fmt(falsePositivesPerCase(c.final), 1)}. The by-size table below is without the cut
(\`npm run eval:phantoms -- --weights <these weights> --stream test --cases ${c.testCases}\` gives it with the cut).
` : ''}
By lesion size (true lesions = 6-connected components of the truth, so touching lesions count as one;
size = equivalent-sphere diameter; detected = at least one predicted voxel on it; lesion Dice = the
prediction in the lesion's box grown by 2 voxels / 1 slice, other lesions excluded):

| size | lesions | detected | mean lesion Dice |
|---|---|---|---|
${bins.join('\n')}

${c.tune ? peakCutSection(c.tune, c.tuneCases) : ''}## Limits
- Synthetic data only (analytic anatomy, simulated partial volume and noise); no claim about real CT.
- One training run, one seed; no hyper-parameter search. Numbers above are from this run's log.
`;
}

/** The card's account of the peak cut: the curve it was chosen from. */
function peakCutSection(tune: { curve: CutScore[]; cut: number | null }, cases: number): string {
  const rows = tune.curve.map((s) => `| ${s.cut ? s.cut : 'none'} | ${fmt(s.meanDice, 4)} | ${fmt(s.pooledDice, 4)} | ${fmt(s.falsePositives, 1)} |`);
  return `## Peak-probability cut (KeepConfidentComponentsd)
A lesion component stays only if its most certain voxel reaches the cut (hysteresis thresholding; src/engine/inference/peak-cut.ts).
Chosen on ${cases} phantoms of stream \`tune\` (\`deriveSeed(seed, 'tune', n)\`, used for nothing else): each segmented once,
every cut scored, the best mean Dice averaged with its two neighbours taken. ${tune.cut ? `**Cut: ${tune.cut}**, stored in the weights' metadata (\`${PEAK_CUT_KEY}\`): the app and the CLIs apply it by default.` : 'No cut beat no filter: the weights carry none.'}

| cut | mean Dice | pooled Dice | FP components per case |
|---|---|---|---|
${rows.join('\n')}

`;
}
