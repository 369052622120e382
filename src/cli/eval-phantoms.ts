/**
 * `npm run eval:phantoms -- --weights FILE [--stream test] [--cases 6] [--seed 1] [--size 160,160,24]
 *   [--spacing 2,2,5] [--features a,b,c,d,e] [--flips] [--min-ml ML] [--min-peak P|none] [--pixel-spacing X[,Y]|none] [--backend wasm|webgpu|cpu]
 *   [--tune-peak [--out FILE]]`
 *
 * Scores COPLE-Net weights on synthetic phantoms against their exact lesion masks, with the app's
 * inference path (`segmentVolume`, the default COPLE-Net pipeline, optionally with the Inference panel's
 * run options: flip averaging, small-component removal, and removal of components whose peak
 * probability stays under P — by default the weights' own cut, as in the app; `none` turns it off —
 * and, again by default when the weights carry one, their slices resampled to the pixel size the
 * weights were trained at; `--pixel-spacing none` keeps the phantom's grid).
 * `--tune-peak` instead chooses that cut on the phantoms (src/engine/inference/peak-cut.ts: each
 * phantom segmented once, every candidate cut scored, the best plateau taken) and with `--out` writes
 * a copy of the weights that carries it in their metadata. The phantoms are
 * `generateCase({ size, spacing }, deriveSeed(seed, stream, n))` for n = 0…cases−1: train:default's
 * held-out cases are stream `test`, its validation cases stream `val`; any other stream name gives
 * phantoms no training run has seen. Prints Dice / HD95 per case, the mean and pooled Dice, and lesion
 * detection and Dice by lesion size — the numbers of the model card's larger checks.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { DEFAULT_COPLENET_PIPELINE, PEAK_CUT_KEY, peakCutOf, pixelSpacingOf, withConfidentComponents, withFlipTta, withPixelSpacing, withSliceContext, withSmallLesionRemoval } from '../engine/inference';
import { generateCase } from '../engine/synth/dataset';
import { deriveSeed } from '../engine/synth/seeds';
import { initBackend, type BackendName } from '../engine/tf/backend';
import { readWeights, writeSafetensors } from '../engine/weights';
import { createNetwork } from '../models';
import { inferFeatures } from '../models/features';
import { contextSlicesOf } from '../models/input-channels';
import { contextChannels } from '../engine/inference/slice-context';
import { intArg, peakCutArg, pixelSpacingArg, positiveNumbers, parseCliArgs } from './args';
import { runCli } from './files';
import { binTable, evaluate, falsePositivesPerCase, fmt, meanDice, pooledDice, tunePeakCut } from './phantom-eval';

const USAGE =
  'usage: npm run eval:phantoms -- --weights FILE [--stream NAME] [--cases N] [--seed X] [--size X,Y,Z] [--spacing X,Y,Z] [--features a,b,c,d,e] [--flips] [--min-ml ML] [--min-peak P|none] [--pixel-spacing X[,Y]|none] [--backend wasm|webgpu|cpu] [--tune-peak [--out FILE]]';

function parse() {
  return parseCliArgs(
    {
      allowPositionals: false,
      options: {
        weights: { type: 'string' },
        stream: { type: 'string', default: 'test' },
        cases: { type: 'string', default: '6' },
        seed: { type: 'string', default: '1' },
        size: { type: 'string', default: '160,160,24' },
        spacing: { type: 'string', default: '2,2,5' },
        features: { type: 'string' },
        flips: { type: 'boolean', default: false },
        'min-ml': { type: 'string' },
        'min-peak': { type: 'string' },
        'pixel-spacing': { type: 'string' },
        backend: { type: 'string', default: 'wasm' },
        'tune-peak': { type: 'boolean', default: false },
        out: { type: 'string' },
      },
    },
    USAGE,
  ).values;
}

const log = (line: string) => process.stdout.write(`${line}\n`);

runCli(async () => {
  const v = parse();
  if (!v.weights) throw new Error(`--weights is required; ${USAGE}`);
  const cases = intArg('cases', v.cases!, 1, 10000);
  const seed = intArg('seed', v.seed!, 0, 4294967295);
  if (!/^[a-z][a-z0-9-]*$/i.test(v.stream!)) throw new Error(`--stream must be a name of letters, digits and dashes (test, val, or a new one), got "${v.stream}"`);
  const size = positiveNumbers('size', v.size!, 3).map(Math.round) as [number, number, number];
  const spacing = positiveNumbers('spacing', v.spacing!, 3) as [number, number, number];
  const minMl = v['min-ml'] === undefined ? 0 : positiveNumbers('min-ml', v['min-ml'], 1)[0];
  const peakArg = peakCutArg(v['min-peak']);
  const spacingArg = pixelSpacingArg(v['pixel-spacing']);
  if (v['tune-peak'] && (v.flips || v['min-ml'] !== undefined || v['min-peak'] !== undefined)) throw new Error('--tune-peak chooses the cut on the plain pipeline: leave out --flips, --min-ml and --min-peak');
  if (v.out !== undefined && !v['tune-peak']) throw new Error('--out writes the weights with a tuned cut: it needs --tune-peak');
  const backendName = v.backend as BackendName;
  if (!['wasm', 'webgpu', 'cpu'].includes(backendName)) throw new Error(`--backend must be wasm, webgpu or cpu, got "${v.backend}"`);

  const { stateDict, metadata } = readWeights(new Uint8Array(await readFile(v.weights).catch(() => { throw new Error(`${v.weights}: no such file`); })), v.weights);
  const features = v.features ? positiveNumbers('features', v.features, 5).map(Math.round) : inferFeatures(stateDict, v.weights);
  // esbuild's ESM bundle has no __dirname; tfjs-backend-wasm's Emscripten loader reads it in Node.
  (globalThis as { __dirname?: string }).__dirname ??= join(process.cwd(), 'node_modules/@tensorflow/tfjs-backend-wasm/dist');
  const backend = await initBackend([backendName]);
  // 2.5D weights take each slice with its neighbours; the pipeline follows, as in the app.
  const context = contextSlicesOf(stateDict, v.weights);
  const network = createNetwork('coplenet', { features, inChannels: contextChannels(context) });
  network.loadStateDict(stateDict);

  // The weights' own cut applies unless --min-peak says otherwise (or they are being tuned).
  const ownCut = peakCutOf(metadata, v.weights);
  const minPeak = v['tune-peak'] || peakArg === 'none' ? null : (peakArg ?? ownCut);
  // Likewise the pixel size the weights were trained at (an identity resampling on phantoms made at it).
  const ownSpacing = pixelSpacingOf(metadata, v.weights);
  const pixels = spacingArg === 'none' ? null : (spacingArg ?? ownSpacing);
  let pipeline = withSliceContext(DEFAULT_COPLENET_PIPELINE, context);
  if (pixels) pipeline = withPixelSpacing(pipeline, pixels);
  if (v.flips) pipeline = withFlipTta(pipeline);
  if (minMl > 0) pipeline = withSmallLesionRemoval(pipeline, minMl);
  if (minPeak !== null) pipeline = withConfidentComponents(pipeline, minPeak);
  const peakNote = minPeak !== null && `components peaking under ${minPeak} removed${peakArg === undefined ? " (the weights' cut)" : ''}`;
  const options = [pixels && `slices resampled to ${pixels.join('×')} mm${spacingArg === undefined ? " (the weights' pixel size)" : ''}`, v.flips && 'flip averaging', minMl > 0 && `components < ${minMl} mL removed`, peakNote].filter(Boolean).join(', ') || 'none';
  log(`weights ${v.weights} (COPLE-Net ${features.join(', ')}${context ? `, each slice with ${context} neighbour${context > 1 ? 's' : ''} on either side` : ''}${ownCut !== null ? `, peak cut ${ownCut}` : ''}), backend ${backend.name}; phantoms: stream "${v.stream}" seed ${seed}, ${cases} cases, ${size.join('×')} at ${spacing.join('×')} mm; ${v['tune-peak'] ? 'choosing the peak cut' : `run options: ${options}`}`);

  const phantoms = Array.from({ length: cases }, (_, n) => generateCase({ size, spacing, observers: [] }, deriveSeed(seed, v.stream!, n)));
  if (v['tune-peak']) {
    const { cut } = await tunePeakCut(network, phantoms, pipeline, log);
    network.dispose();
    log(cut === null ? 'no cut beats no filter on these phantoms' : `chosen cut: ${cut}`);
    if (v.out) {
      // Same tensors and dtypes (float16 stays float16), the cut added to (or removed from) the metadata.
      const { [PEAK_CUT_KEY]: _, ...rest } = metadata;
      await writeFile(v.out, writeSafetensors(stateDict, { metadata: cut === null ? rest : { ...rest, [PEAK_CUT_KEY]: String(cut) } }));
      log(`wrote ${v.out}`);
    }
    return;
  }
  const results = await evaluate(network, phantoms, v.stream!, log, { pipeline, idPrefix: v.stream });
  network.dispose();

  const withLesions = results.filter((r) => r.truthMl > 0);
  const hds = withLesions.map((r) => r.hd95).filter(Number.isFinite);
  log(`mean Dice ${fmt(meanDice(results), 4)} over ${withLesions.length} cases with lesions; pooled Dice ${fmt(pooledDice(results), 4)}; mean HD95 ${fmt(hds.reduce((s, x) => s + x, 0) / hds.length, 1)} mm over ${hds.length} cases; ${fmt(falsePositivesPerCase(results), 1)} false-positive components per case`);
  log(`per case: ${withLesions.map((r) => fmt(r.dice, 2)).join(' ')}`);
  for (const b of binTable(results)) log(`lesions ${b.bin}: ${b.lesions}, detected ${b.detected}${b.lesions ? `, mean lesion Dice ${fmt(b.meanDice)}` : ''}`);
});
