/**
 * Lesion inference from the UI: the worker picks the backend at start, loads the model (the
 * shipped default weights or a file the user drops), and segments the scan with progress and
 * cancel. Results become a model layer and, optionally, a probability heat layer.
 */
import * as Comlink from 'comlink';
import type { BackendName } from '../engine/tf/backend';
import { addDerivedLayer, heatPalette } from './compare';
import { engine } from './engine-client';
import { useStore } from './store';

export const DEFAULT_WEIGHTS_URL = `${import.meta.env.BASE_URL}weights/coplenet.safetensors`;
const DEFAULT_WEIGHTS_NAME = 'default weights (phantoms)';

export const isDefaultWeights = (weights: string) => weights === DEFAULT_WEIGHTS_NAME;
const BACKENDS: BackendName[] = ['webgpu', 'webgl', 'wasm', 'cpu'];

/** Starts the TF.js backend in the worker (`?backend=webgpu` etc. forces one, for tests). */
export async function startCompute(): Promise<void> {
  const { setCompute, notify } = useStore.getState();
  const forced = new URLSearchParams(location.search).get('backend') as BackendName | null;
  try {
    const info = await engine().startBackend(forced && BACKENDS.includes(forced) ? [forced] : BACKENDS);
    setCompute({ backend: info.name, notes: info.notes, softwareAdapter: info.isSoftwareAdapter });
    await loadDefaultWeights(true);
  } catch (err) {
    notify('error', `No compute backend: ${err instanceof Error ? err.message : String(err)}`);
  }
}

/** Set once the user picks weights, so the default weights arriving later do not replace them. */
let userChoseWeights = false;

export async function loadWeights(name: string, bytes: Uint8Array, byUser = true): Promise<void> {
  if (byUser) userChoseWeights = true;
  else if (userChoseWeights) return;
  const { setModel, notify, setBusy } = useStore.getState();
  // The start-up load runs in the background, without taking over the busy bar.
  if (byUser) setBusy({ label: `Loading weights ${name}`, progress: null });
  try {
    const info = await engine().loadModel('coplenet', Comlink.transfer({ name, bytes }, [bytes.buffer as ArrayBuffer]));
    // A start-up default load that lost the race to the user's own weights changes nothing.
    if (!byUser && userChoseWeights) return;
    setModel(info);
    for (const n of info.notices) notify('info', n);
  } catch (err) {
    if (byUser || !userChoseWeights) notify('error', err instanceof Error ? err.message : String(err));
  } finally {
    if (byUser) setBusy(null);
  }
}

/**
 * The shipped default weights (trained on synthetic phantoms by the project). `quiet`: at start-up,
 * say nothing when this build ships none.
 */
export async function loadDefaultWeights(quiet = false): Promise<void> {
  const res = await fetch(DEFAULT_WEIGHTS_URL).catch(() => null);
  if (!res?.ok) {
    if (!quiet) useStore.getState().notify('warning', 'No default COPLE-Net weights are shipped with this build: load a .pt or .safetensors file.');
    return;
  }
  const bytes = new Uint8Array(await res.arrayBuffer());
  if (quiet && userChoseWeights) return;
  await loadWeights(DEFAULT_WEIGHTS_NAME, bytes, !quiet);
}

/** Probabilities as 10 heat bins (0.1 … 1.0); below 0.1 stays transparent. */
function probabilityBins(p: Float32Array): Uint8Array {
  const out = new Uint8Array(p.length);
  for (let n = 0; n < p.length; n++) out[n] = p[n] < 0.1 ? 0 : Math.min(10, Math.floor(p[n] * 10));
  return out;
}

/** What each component filter of the run removed, for the run's summary. */
function removalSummary(removed: { step: string; components: number; voxels: number }[], voxelMl: number): string {
  return removed.map((r) => `; ${r.step}: ${r.components} component(s) removed (${(r.voxels * voxelMl).toFixed(2)} mL)`).join('');
}

export interface RunOptions {
  /** Resample the slices to this pixel size (mm) for this run: the weights' training pixel size. */
  pixelSpacing?: [number, number];
  /** Drop lesion components under this volume for this run (RemoveSmallObjectsd by measure). */
  minLesionMl?: number;
  /** Drop lesion components whose peak probability stays under this for this run (KeepConfidentComponentsd). */
  minPeakProbability?: number;
  /** Average the logits over in-plane flips for this run. */
  flipTta?: boolean;
}

export async function runSegmentation(showProbabilities: boolean, opts: RunOptions = {}): Promise<void> {
  const { pixelSpacing, minLesionMl, minPeakProbability, flipTta = false } = opts;
  const { scan, model, setBusy, notify } = useStore.getState();
  if (!scan || !model) return;
  let finished = false;
  const cancel = () => void engine().cancelSegment();
  setBusy({ label: 'Segmenting lesions', progress: 0, cancel });
  try {
    const res = await engine().segment(
      scan.volume,
      Comlink.proxy((fraction: number, message: string) => {
        if (!finished) useStore.getState().setBusy({ label: `Segmenting lesions: ${message}`, progress: fraction, cancel });
      }),
      { ...(pixelSpacing && { pixelSpacing }), ...(minLesionMl === undefined ? {} : { minLesionMl }), ...(minPeakProbability === undefined ? {} : { minPeakProbability }), ...(flipTta && { flipTta }) },
    );
    // Its own layer, so runs with and without each option can be compared.
    const removal = (minLesionMl === undefined ? '' : `, components < ${minLesionMl} mL removed`) + (minPeakProbability === undefined ? '' : `, components peaking < ${minPeakProbability} removed`);
    const resampled = pixelSpacing ? `, slices at ${pixelSpacing.join('×')} mm` : '';
    const name = `${model.kind === 'coplenet' ? 'COPLE-Net' : model.kind} (${model.weights})${resampled}${flipTta ? ', flip-averaged' : ''}${removal}`;
    addDerivedLayer(name, 'model', res.mask, { color: [255, 215, 0] });
    if (showProbabilities && res.probabilities) {
      addDerivedLayer('Lesion probability', 'probability', probabilityBins(res.probabilities), { palette: heatPalette(10), opacity: 0.5 });
    }
    const voxels = res.mask.reduce((a, v) => a + (v ? 1 : 0), 0);
    const voxelMl = (scan.volume.spacing[0] * scan.volume.spacing[1] * scan.volume.spacing[2]) / 1000;
    notify('info', `Lesions: ${(voxels * voxelMl).toFixed(1)} mL in ${(res.timings.totalMs / 1000).toFixed(1)} s on ${res.backend} (batch ${res.batchSize})${removalSummary(res.removedObjects, voxelMl)}`);
    for (const n of res.notices) notify('warning', n);
  } catch (err) {
    const aborted = err instanceof Error && err.name === 'AbortError';
    notify(aborted ? 'info' : 'error', aborted ? 'Segmentation cancelled' : `Segmentation failed: ${err instanceof Error ? err.message : String(err)}`);
  } finally {
    finished = true;
    setBusy(null);
  }
}
