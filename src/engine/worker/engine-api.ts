/**
 * What the engine worker offers the UI. Everything heavy (decoding, metrics, inference) runs
 * behind this interface, off the main thread. The worker remembers the scan it loaded last (its
 * grid, and its DICOM series when it came from DICOM), which label import and SEG export need.
 */
import type { Grid } from '../grid';
import type { DicomSeries } from '../io/dicom/series';
import { writeDicomSeg } from '../io/dicom/seg';
import { InputError } from '../io/errors';
import { loadFiles, type LoadOptions, type LoadResult } from '../io/load';
import type { NamedBytes } from '../io/named-bytes';
import { writeNifti } from '../io/nifti';
import { fillHolesInSlice, interpolateBetweenSlices } from '../labels/edit';
import { compareObservers, type CompareObserversOptions, type ObserverComparison, type ObserverMask } from '../metrics/observers';
import { importLabels, labelOnGrid, type ImportedLabel } from '../labels/import';
import { isDicom, scanDicom } from '../io/dicom/series';
import { generateCase } from '../synth/dataset';
import type { Volume } from '../volume';
import * as compute from './compute';
import * as finetune from './finetune';
import * as lamp from './lamp';
import { exportDataset } from '../training/export';
import { readWeights, writeTorchCheckpoint } from '../weights';

interface Current {
  grid: Grid;
  series: DicomSeries | null;
}
let current: Current | null = null;

const gridOf = (v: Volume): Grid => ({ dims: v.dims, spacing: v.spacing, origin: v.origin, direction: v.direction });

export const engineApi = {
  /**
   * Files the user dropped or picked. With a scan open, label files (a DICOM SEG, or a NIfTI/NRRD
   * holding a label map) become layers over it instead of replacing it.
   */
  async load(files: NamedBytes[], opts: LoadOptions = {}): Promise<LoadResult | { kind: 'labels'; labels: ImportedLabel[] }> {
    if (current && files.every((f) => isDicom(f.bytes))) {
      const { series } = scanDicom(files);
      if (series.length > 0 && series.every((s) => s.modality === 'SEG')) return { kind: 'labels', labels: await engineApi.importLabels(files) };
    }
    const result = await loadFiles(files, opts);
    if (result.kind !== 'volume') return result;
    if (current && result.volume.units === 'label') {
      return { kind: 'labels', labels: [labelOnGrid(result.volume, current.grid, files[0].name, false)] };
    }
    // The series stays here (SEG import/export over this scan); only the volume crosses to the UI.
    current = { grid: gridOf(result.volume), series: result.dicomSeries ?? null };
    return { kind: 'volume', volume: result.volume };
  },

  async importLabels(files: NamedBytes[], opts: { resample?: boolean } = {}): Promise<ImportedLabel[]> {
    if (!current) throw new InputError(files[0]?.name ?? '(no file)', 'open a scan before its labels');
    return importLabels(files, current.grid, { resample: opts.resample, series: current.series });
  },

  /**
   * A synthetic chest CT with COVID-19-like lesions, its exact lesion mask and three simulated
   * observers (the phantom generator, `synth/`). Deterministic for a seed.
   */
  async generatePhantom(seed: number): Promise<{ volume: Volume; truth: Uint8Array; observers: { name: string; data: Uint8Array }[] }> {
    const c = generateCase({}, seed);
    c.scan.source = { format: 'phantom', name: `phantom seed ${seed}` };
    current = { grid: gridOf(c.scan), series: null };
    return { volume: c.scan, truth: c.truth.data as Uint8Array, observers: c.observers.map((o) => ({ name: o.name, data: o.mask.data as Uint8Array })) };
  },

  startBackend: compute.startBackend,
  backendInfo: async () => compute.backendInfo(),
  loadModel: compute.loadModel,
  currentPipeline: async () => compute.currentPipeline(),
  setPipeline: async (json: unknown) => compute.setPipeline(json),
  previewPipeline: compute.previewPipeline,
  segment: compute.segment,
  cancelSegment: async () => compute.cancelSegment(),

  currentModelInfo: async () => compute.currentModel(),
  planLamp: lamp.planLamp,
  /** A UNetPipe checkpoint (.pt, flat or GPipe keys) for the staged runs; a bad file keeps the previous one. */
  loadLampWeights: lamp.loadLampWeights,
  clearLampWeights: async () => lamp.clearLampWeights(),
  /** The scan through UNetPipe stage by stage, under the stage budget; the argmax on the scan grid. */
  runLamp: lamp.runLamp,
  cancelLamp: async () => lamp.cancelLamp(),
  /** One training step on K stage workers against the whole network on one worker (a self-check). */
  checkLampTraining: lamp.checkLampTraining,

  /** The scan, its labels (observers train; consensus layers validate) and the current weights as a MONAI dataset zip. */
  async exportDataset(scanName: string, volume: Volume, labels: { name: string; mask: Uint8Array }[], validation: string[]): Promise<Uint8Array> {
    const w = compute.currentWeights();
    const weightsPt = w ? writeTorchCheckpoint(readWeights(w.bytes, w.name).stateDict) : undefined;
    return exportDataset({ scanName, volume, labels, validation, weightsPt });
  },
  hasFineTuneCheckpoint: finetune.hasCheckpoint,
  startFineTune: finetune.startFineTune,
  pauseFineTune: async () => finetune.pauseFineTune(),
  resumeFineTune: async () => finetune.resumeFineTune(),
  cancelFineTune: async () => finetune.cancelFineTune(),
  fineTunedWeights: finetune.fineTunedWeights,
  applyFineTuned: finetune.applyFineTuned,
  discardFineTune: finetune.discardFineTune,

  /** Fills the inside of closed outlines on axial slice k. */
  async fillHoles(data: Uint8Array, k: number): Promise<{ data: Uint8Array; filled: number }> {
    if (!current) throw new Error('no scan loaded');
    const filled = fillHolesInSlice(data, current.grid.dims, k);
    return { data, filled };
  },

  /** Fills the axial slices between annotated ones by shape interpolation. */
  async fillBetweenSlices(data: Uint8Array): Promise<{ data: Uint8Array; slices: number[] }> {
    if (!current) throw new Error('no scan loaded');
    const slices = interpolateBetweenSlices(data, current.grid.dims, current.grid.spacing);
    return { data, slices };
  },

  /** Pairwise metrics, STAPLE, majority vote, agreement and per-slice Dice of the given layers. */
  async compareLayers(layers: ObserverMask[], opts: Omit<CompareObserversOptions, 'onProgress'> = {}, onProgress?: (f: number) => void): Promise<ObserverComparison> {
    if (!current) throw new Error('no scan loaded');
    return compareObservers(layers, current.grid, { ...opts, onProgress });
  },

  /** A layer as NIfTI on the scan's geometry. */
  async exportNifti(data: Uint8Array): Promise<Uint8Array> {
    if (!current) throw new Error('no scan loaded');
    return writeNifti({ ...current.grid, data, units: 'label', notices: [] }, { gzip: true });
  },

  /** A layer as a DICOM SEG over the scan's series (only for scans opened from DICOM). */
  async exportDicomSeg(data: Uint8Array, label: string): Promise<Uint8Array> {
    if (!current?.series) throw new Error('DICOM SEG export needs a scan opened from a DICOM series');
    return writeDicomSeg({ ...current.grid, data, units: 'label', notices: [] }, current.series, [{ number: 1, label }]);
  },
};

export type EngineApi = typeof engineApi;
