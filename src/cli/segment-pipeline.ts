/**
 * `npm run segment -- <scan> <out.nii.gz> [--weights f.pt|f.safetensors] [--model coplenet|unet2d|unet3d]
 *    [--features 32,64,128,256,512] [--backend webgpu|wasm|cpu] [--probabilities p.nii.gz] [--pipeline p.json]
 *    [--min-peak P|none] [--pixel-spacing X[,Y]|none]`
 *
 * Whole-scan lesion segmentation: reads any scan the app reads (NIfTI, NRRD, a DICOM file or folder),
 * runs the model's inference pipeline (default: the COPLE-Net pipeline of engine/inference) and
 * writes the label map — and optionally the lesion probability — as NIfTI on the scan's own grid.
 * As in the app, the default pipeline ends with the weights' own KeepConfidentComponentsd cut when
 * they carry one (peak-cut.ts); `--min-peak P` sets another, `none` turns it off. Likewise the
 * slices are resampled to the pixel size the weights were trained at when they say (pixel-spacing.ts);
 * `--pixel-spacing X,Y` sets another, `none` keeps the scan's own grid.
 */
import { inferFeatures } from '../models/features';
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { basename, dirname, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { DEFAULT_COPLENET_PIPELINE, DEFAULT_UNET3D_PIPELINE, parsePipeline, peakCutOf, pixelSpacingOf, segmentVolume, withConfidentComponents, withPixelSpacing, withSliceContext, type InferencePipeline, type PixelSpacing } from '../engine/inference';
import { InputError } from '../engine/io/errors';
import { loadFiles } from '../engine/io/load';
import { writeNifti } from '../engine/io/nifti';
import { initBackend, type BackendName } from '../engine/tf/backend';
import { readWeights } from '../engine/weights';
import type { Volume, VoxelArray } from '../engine/volume';
import { createNetwork, isSliceWise, MODEL_KINDS, type ModelKind } from '../models';
import { contextSlicesOf } from '../models/input-channels';
import { contextChannels } from '../engine/inference/slice-context';
import { peakCutArg, pixelSpacingArg } from './args';
import { readPath, runCli } from './files';

/** Where trained COPLE-Net weights are shipped with the app (trained by a later issue). */
export const DEFAULT_WEIGHTS = resolve(dirname(fileURLToPath(import.meta.url)), '../../public/weights/coplenet.safetensors');

export interface SegmentFileOptions {
  /** .pt / .safetensors state dict; default DEFAULT_WEIGHTS when that file exists. */
  weights?: string;
  model?: ModelKind;
  /** Five widths; default: the first convolution's width in the weights, doubled per level. */
  features?: readonly number[];
  /** One backend, or the default order webgpu → wasm → cpu. */
  backend?: BackendName;
  /** Also write the lesion probability (float32 NIfTI) here. */
  probabilities?: string;
  /** An inference pipeline JSON; default by model (COPLE-Net pipeline; sliding window for unet3d). */
  pipeline?: string;
  /** Overrides DEFAULT_WEIGHTS (tests, packaging). */
  defaultWeights?: string;
  /** KeepConfidentComponentsd cut at the end; default the weights' own (default pipeline only), 'none' for no filter. */
  minPeak?: number | 'none';
  /** Slices resampled to this pixel size (mm); default the weights' own (default pipeline only), 'none' for the scan's grid. */
  pixelSpacing?: PixelSpacing | 'none';
}

export interface SegmentFileSummary {
  backend: BackendName;
  model: ModelKind;
  features: number[];
  pipeline: string;
  /** The KeepConfidentComponentsd cut the run applied (null: none) and what it removed. */
  minPeakProbability: number | null;
  /** The pixel size (mm) the slices were resampled to (null: the scan's own grid). */
  pixelSpacing: PixelSpacing | null;
  removedComponents: number;
  dims: number[];
  crop: { start: number[]; end: number[]; region: string } | null;
  lesionVoxels: number;
  lesionMl: number;
  notices: string[];
  seconds: number;
}

export const SEGMENT_USAGE =
  'usage: npm run segment -- <scan> <out.nii.gz> [--weights f.pt|f.safetensors] [--model coplenet|unet2d|unet3d] [--features 32,64,128,256,512] [--backend webgpu|wasm|cpu] [--probabilities p.nii.gz] [--pipeline p.json] [--min-peak P|none] [--pixel-spacing X[,Y]|none]';

export async function segmentFile(scanPath: string, outPath: string, opts: SegmentFileOptions = {}): Promise<SegmentFileSummary> {
  const t0 = performance.now();
  const kind = opts.model ?? 'coplenet';
  if (!MODEL_KINDS.includes(kind)) throw new Error(`--model must be one of ${MODEL_KINDS.join(', ')}`);
  const weightsPath = opts.weights ?? (existsSync(opts.defaultWeights ?? DEFAULT_WEIGHTS) ? (opts.defaultWeights ?? DEFAULT_WEIGHTS) : null);
  if (!weightsPath) throw new Error('no weights: pass --weights');
  const given = opts.pipeline ? await readPipeline(opts.pipeline) : null;

  const loaded = await loadFiles(await readPath(scanPath));
  if (loaded.kind !== 'volume') {
    throw new InputError(scanPath, `holds ${loaded.series.length} image series (${loaded.series.map((s) => s.description || s.uid).join('; ')}); pass a folder with one`);
  }
  const volume = loaded.volume;

  const backend = await initBackend(opts.backend ? [opts.backend] : ['webgpu', 'wasm', 'cpu']);
  const { stateDict, metadata } = readWeights(new Uint8Array(await readFile(weightsPath)), weightsPath);
  const features = opts.features ? [...opts.features] : inferFeatures(stateDict, weightsPath);
  if (features.some((f) => !Number.isInteger(f) || f < 1)) throw new Error(`--features must be positive integers, got ${features.join(',')}`);
  // A slice-wise network may take each slice with its neighbours (2.5D weights): the default pipeline follows.
  const context = isSliceWise(kind) ? contextSlicesOf(stateDict, weightsPath) : 0;
  // The weights' own cut goes with the default pipeline only: a pipeline file says all it wants.
  const cut = opts.minPeak === 'none' ? null : (opts.minPeak ?? (given ? null : peakCutOf(metadata, weightsPath)));
  const spacing = opts.pixelSpacing === 'none' ? null : (opts.pixelSpacing ?? (given ? null : pixelSpacingOf(metadata, weightsPath)));
  const base = given ?? defaultPipeline(kind, context);
  const resampled = spacing === null ? base : withPixelSpacing(base, spacing);
  const pipeline = cut === null ? resampled : withConfidentComponents(resampled, cut);
  const net = createNetwork(kind, { features, inChannels: contextChannels(context) });
  try {
    const { notices: weightNotices } = net.loadStateDict(stateDict, { source: weightsPath });
    const res = await segmentVolume(volume, net, pipeline);
    const grid = { dims: volume.dims, spacing: volume.spacing, origin: volume.origin, direction: volume.direction };
    const out = (data: VoxelArray, units: Volume['units'], path: string): Volume => ({ ...grid, data, units, notices: [], source: { format: 'nifti', name: basename(path) } });
    const gz = (path: string) => !/\.nii$/i.test(path);
    await writeFile(outPath, await writeNifti(out(res.mask, 'label', outPath), { gzip: gz(outPath), description: `${kind} lesion mask` }));
    if (opts.probabilities) {
      await writeFile(opts.probabilities, await writeNifti(out(res.probabilities!, 'unknown', opts.probabilities), { gzip: gz(opts.probabilities), description: `${kind} lesion probability` }));
    }
    const lesionVoxels = res.mask.reduce((s, m) => s + (m > 0 ? 1 : 0), 0);
    return {
      backend: backend.name,
      model: kind,
      features,
      pipeline: pipeline.name,
      minPeakProbability: cut,
      pixelSpacing: spacing,
      removedComponents: res.removedObjects.reduce((n, r) => n + r.components, 0),
      dims: [...volume.dims],
      crop: res.crop && { start: res.crop.start, end: res.crop.end, region: res.crop.region },
      lesionVoxels,
      lesionMl: Number(((lesionVoxels * volume.spacing[0] * volume.spacing[1] * volume.spacing[2]) / 1000).toFixed(3)),
      notices: [...volume.notices, ...weightNotices, ...res.notices, ...backend.notes],
      seconds: Number(((performance.now() - t0) / 1000).toFixed(3)),
    };
  } finally {
    net.dispose();
  }
}

async function readPipeline(path: string): Promise<InferencePipeline> {
  const text = await readFile(path, 'utf8').catch((e: Error) => {
    throw new InputError(path, `cannot read (${e.message})`);
  });
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new InputError(path, `not valid JSON (${(e as Error).message})`);
  }
  return parsePipeline(json, path);
}

function defaultPipeline(kind: ModelKind, contextSlices: number): InferencePipeline {
  return kind === 'unet3d' ? DEFAULT_UNET3D_PIPELINE : withSliceContext(DEFAULT_COPLENET_PIPELINE, contextSlices);
}

/** Parses the command line (after `npm run segment --`) into segmentFile's arguments. */
export function parseSegmentArgs(argv: string[]): { scan: string; out: string; options: SegmentFileOptions } {
  const { positionals, values } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      weights: { type: 'string' },
      model: { type: 'string' },
      features: { type: 'string' },
      backend: { type: 'string' },
      probabilities: { type: 'string' },
      pipeline: { type: 'string' },
      'min-peak': { type: 'string' },
      'pixel-spacing': { type: 'string' },
    },
  });
  if (positionals.length !== 2) throw new Error(SEGMENT_USAGE);
  const model = (values.model ?? 'coplenet') as ModelKind;
  if (!MODEL_KINDS.includes(model)) throw new Error(`--model must be one of ${MODEL_KINDS.join(', ')}`);
  const backend = values.backend as BackendName | undefined;
  if (backend && !['webgpu', 'webgl', 'wasm', 'cpu'].includes(backend)) throw new Error('--backend must be webgpu, wasm or cpu');
  const features = values.features?.split(',').map(Number);
  if (features && (features.length !== 5 || features.some((f) => !Number.isInteger(f) || f < 1))) throw new Error(`--features needs five positive integers, got ${values.features}`);
  const minPeak = peakCutArg(values['min-peak']);
  const pixelSpacing = pixelSpacingArg(values['pixel-spacing']);
  return {
    scan: positionals[0],
    out: positionals[1],
    options: {
      model,
      ...(values.weights ? { weights: values.weights } : {}),
      ...(features ? { features } : {}),
      ...(backend ? { backend } : {}),
      ...(values.probabilities ? { probabilities: values.probabilities } : {}),
      ...(values.pipeline ? { pipeline: values.pipeline } : {}),
      ...(minPeak !== undefined ? { minPeak } : {}),
      ...(pixelSpacing !== undefined ? { pixelSpacing } : {}),
    },
  };
}

/** CLI entry: segments and prints a one-line JSON summary. */
export async function segmentMain(argv: string[]): Promise<void> {
  const { scan, out, options } = parseSegmentArgs(argv);
  const summary = await segmentFile(scan, out, options);
  process.stdout.write(JSON.stringify(summary) + '\n');
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) runCli(() => segmentMain(process.argv.slice(2)));
