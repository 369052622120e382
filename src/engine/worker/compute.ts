/**
 * The worker's model state: which TF.js backend runs, which network with which weights, and the
 * inference pipeline stored with the model. A lost GPU device is retried once on a fallback
 * backend, without losing anything the user loaded.
 */
import * as tf from '@tensorflow/tfjs-core';
import { InputError } from '../io/errors';
import { DEFAULT_COPLENET_PIPELINE, parsePipeline, previewPipelineSteps, segmentVolume, withConfidentComponents, withFlipTta, withSliceContext, withSmallLesionRemoval, type InferencePipeline, type PreviewStep, type SegmentResult } from '../inference';
import { DEFAULT_BACKEND_ORDER, initBackend, type BackendInfo, type BackendName, type InitBackendOptions } from '../tf/backend';
import { readWeights } from '../weights';
import type { Volume } from '../volume';
import { createNetwork, isSliceWise, type ModelKind } from '../../models';
import { inferFeatures } from '../../models/features';
import { contextSlicesOf } from '../../models/input-channels';
import { contextChannels } from '../inference/slice-context';
import { peakCutOf } from '../inference/peak-cut';
import { pixelSpacingOf, withPixelSpacing, type PixelSpacing } from '../inference/pixel-spacing';
import type { Network } from '../../models/network';

export interface ModelInfo {
  kind: ModelKind;
  features: number[];
  /** Slice-wise networks: neighbouring slices on each side the weights take as extra channels (0: one slice). */
  contextSlices: number;
  /** The weights' own cut for KeepConfidentComponentsd (safetensors metadata, peak-cut.ts), or null. */
  minPeakProbability: number | null;
  /** The in-plane pixel size (mm) the weights were trained at (safetensors metadata, pixel-spacing.ts), or null. */
  pixelSpacing: PixelSpacing | null;
  parameters: number;
  weights: string;
  notices: string[];
}

let backend: BackendInfo | null = null;
let backendOptions: InitBackendOptions = {};
let backendOrder: readonly BackendName[] = DEFAULT_BACKEND_ORDER;
let network: Network | null = null;
let model: ModelInfo | null = null;
/** The weights file as loaded, to rebuild the network on another backend if the GPU is lost. */
let modelWeights: { name: string; bytes: Uint8Array } | null = null;
let pipeline: InferencePipeline = DEFAULT_COPLENET_PIPELINE;
let running: AbortController | null = null;

export async function startBackend(order: readonly BackendName[] = DEFAULT_BACKEND_ORDER, options: InitBackendOptions = {}): Promise<BackendInfo> {
  backendOrder = order;
  backendOptions = options;
  backend = await initBackend(order, options);
  return backend;
}

export function backendInfo(): BackendInfo | null {
  return backend;
}

/** Builds the network for `kind` and loads the weights (.pt zip or legacy, or .safetensors). */
let loadGeneration = 0;

export async function loadModel(kind: ModelKind, weights: { name: string; bytes: Uint8Array }): Promise<ModelInfo> {
  // When loads overlap (default weights arriving while the user drops a file), the last one asked for wins.
  const generation = ++loadGeneration;
  if (!backend) await startBackend(backendOrder, backendOptions);
  const { stateDict, metadata } = readWeights(weights.bytes, weights.name);
  const minPeakProbability = peakCutOf(metadata, weights.name);
  const pixelSpacing = pixelSpacingOf(metadata, weights.name);
  const features = inferFeatures(stateDict, weights.name);
  const contextSlices = isSliceWise(kind) ? contextSlicesOf(stateDict, weights.name) : 0;
  const next = createNetwork(kind, { features, inChannels: contextChannels(contextSlices) });
  let notices: string[];
  try {
    notices = next.loadStateDict(stateDict, { source: weights.name }).notices;
  } catch (err) {
    next.dispose();
    throw err;
  }
  if (generation !== loadGeneration) {
    next.dispose();
    throw new Error(`${weights.name}: replaced by a later model load`);
  }
  network?.dispose();
  network = next;
  modelWeights = weights;
  // The slice pipeline follows the weights' input: one slice, or a slice with its neighbours as channels.
  if (pipeline.inference.kind === 'slices' && (pipeline.inference.context_slices ?? 0) !== contextSlices) {
    pipeline = withSliceContext(pipeline, contextSlices);
    notices = [...notices, contextSlices ? `${weights.name} takes each slice with ${contextSlices} neighbour${contextSlices > 1 ? 's' : ''} on either side (${contextChannels(contextSlices)} input channels): the pipeline's "context_slices" is now ${contextSlices}` : `${weights.name} takes one slice at a time: the pipeline's "context_slices" is now 0`];
  }
  model = { kind, features, contextSlices, minPeakProbability, pixelSpacing, parameters: next.parameterCount(), weights: weights.name, notices };
  return model;
}

export function currentPipeline(): InferencePipeline {
  return pipeline;
}

/** Replaces the pipeline after checking it; a bad one is refused with the reason and the old one stays. */
export function setPipeline(json: unknown): InferencePipeline {
  pipeline = parsePipeline(json, 'pipeline');
  return pipeline;
}

export function previewPipeline(volume: Volume, sliceIndex: number): Promise<PreviewStep[]> {
  return previewPipelineSteps(volume, pipeline, sliceIndex);
}

function isDeviceLost(err: unknown): boolean {
  return /device (was |is )?lost|GPUDevice.*lost|context lost/i.test(err instanceof Error ? err.message : String(err));
}

export interface SegmentRunOptions {
  /** Resample the slices to this pixel size (mm) for this run (a Spacingd after the SPL Orientationd; the mask comes back on the scan's grid). */
  pixelSpacing?: PixelSpacing;
  /** Drop lesion components under this many mL for this run (a RemoveSmallObjectsd after the pipeline's steps). */
  minLesionMl?: number;
  /** Average the logits over in-plane flips for this run (4× the time). */
  flipTta?: boolean;
  /** Drop lesion components whose peak probability stays under this for this run (a KeepConfidentComponentsd last). */
  minPeakProbability?: number;
}

export async function segment(
  volume: Volume,
  onProgress: (fraction: number, message: string) => void,
  opts: SegmentRunOptions = {},
): Promise<SegmentResult & { backend: string; pipeline: InferencePipeline }> {
  if (!network || !model || !modelWeights) throw new InputError('model', 'load a model (weights) before segmenting');
  if (running) throw new Error('a segmentation is already running');
  let pipeline = opts.pixelSpacing ? withPixelSpacing(currentPipeline(), opts.pixelSpacing) : currentPipeline();
  if (opts.minLesionMl !== undefined) pipeline = withSmallLesionRemoval(pipeline, opts.minLesionMl);
  if (opts.minPeakProbability !== undefined) pipeline = withConfidentComponents(pipeline, opts.minPeakProbability);
  if (opts.flipTta) pipeline = withFlipTta(pipeline);
  running = new AbortController();
  try {
    try {
      return { ...(await segmentVolume(volume, network as never, pipeline, { onProgress, signal: running.signal })), backend: tf.getBackend(), pipeline };
    } catch (err) {
      if (!isDeviceLost(err) || running.signal.aborted) throw err;
      // The GPU went away: rebuild on the next backend in line, reload the same weights, retry once.
      const fallback = backendOrder.filter((b) => b !== tf.getBackend());
      onProgress(0, `GPU device lost; retrying on ${fallback[0]}`);
      network = null; // its tensors died with the device
      await startBackend(fallback, backendOptions);
      await loadModel(model.kind, modelWeights!);
      const res = await segmentVolume(volume, network as never, pipeline, { onProgress, signal: running.signal });
      return { ...res, notices: [`GPU device lost: finished on ${tf.getBackend()}`, ...res.notices], backend: tf.getBackend(), pipeline };
    }
  } finally {
    running = null;
  }
}

export function cancelSegment(): void {
  running?.abort();
}

export function currentModel(): ModelInfo | null {
  return model;
}

/** The weights file the current model was loaded from. */
export function currentWeights(): { name: string; bytes: Uint8Array } | null {
  return modelWeights;
}
