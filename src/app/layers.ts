/** Label-layer actions: new observer, import of label files, export, persistence hooks. */
import * as Comlink from 'comlink';
import { download } from './download';
import { engine, transferFiles } from './engine-client';
import { loadLayers, saveLayers } from './persistence';
import { useStore, type LabelLayer } from './store';
import type { NamedBytes } from '../engine/io/named-bytes';
import type { ImportedLabel } from '../engine/labels/import';

const OBSERVER_COLOURS: [number, number, number][] = [
  [230, 25, 75],
  [60, 180, 75],
  [67, 99, 216],
  [245, 130, 49],
  [145, 30, 180],
  [70, 240, 240],
];

let layerCounter = 0;
const newId = () => `layer${Date.now().toString(36)}${++layerCounter}`;

function nextColour(): [number, number, number] {
  const used = useStore.getState().layers.filter((l) => l.kind === 'observer').length;
  return OBSERVER_COLOURS[used % OBSERVER_COLOURS.length];
}

export function newObserverLayer(name?: string): void {
  const { scan, layers, addLayer } = useStore.getState();
  if (!scan) return;
  const n = layers.filter((l) => l.kind === 'observer').length + 1;
  addLayer({
    id: newId(),
    name: name ?? `Observer ${n}`,
    kind: 'observer',
    color: nextColour(),
    visible: true,
    opacity: 0.5,
    data: new Uint8Array(scan.volume.data.length),
  });
  void persist();
}

/** Label maps read by the engine become observer layers (and are saved with the scan). */
export function addImportedLabels(labels: ImportedLabel[]): void {
  const { addLayer, notify } = useStore.getState();
  for (const label of labels) {
    addLayer({ id: newId(), name: label.name, kind: 'observer', color: nextColour(), visible: true, opacity: 0.5, data: label.data });
    for (const n of label.notices) notify('info', n);
  }
  void persist();
}

export async function openLabelFiles(files: NamedBytes[], resample = false): Promise<void> {
  const { scan, notify, setBusy } = useStore.getState();
  if (!scan) {
    notify('error', 'Open a scan first, then drop its label files.');
    return;
  }
  setBusy({ label: 'Reading labels', progress: null });
  try {
    addImportedLabels(await engine().importLabels(transferFiles(files), { resample }));
  } catch (err) {
    notify('error', err instanceof Error ? err.message : String(err));
  } finally {
    setBusy(null);
  }
}

const safeName = (s: string) => s.replace(/[^A-Za-z0-9._-]+/g, '_');

export async function exportLayer(layer: LabelLayer, format: 'nifti' | 'dicom-seg'): Promise<void> {
  const { notify } = useStore.getState();
  try {
    // A copy: the live buffer is shared with the viewer's labelmap and must stay here.
    const data = layer.data.slice();
    if (format === 'nifti') download(await engine().exportNifti(data), `${safeName(layer.name)}.nii.gz`);
    else download(await engine().exportDicomSeg(data, layer.name), `${safeName(layer.name)}_seg.dcm`);
  } catch (err) {
    notify('error', `Export of ${layer.name} failed: ${err instanceof Error ? err.message : String(err)}`);
  }
}

/** Saves the observer layers of the current scan (called after edits, debounced by the caller). */
export async function persist(): Promise<void> {
  const { scan, layers, notify } = useStore.getState();
  if (!scan) return;
  try {
    await saveLayers(scan.key, layers);
  } catch (err) {
    notify('warning', `Annotations could not be saved in this browser: ${err instanceof Error ? err.message : String(err)}`);
  }
}

export async function restoreLayers(scanKey: string): Promise<LabelLayer[]> {
  try {
    return await loadLayers(scanKey);
  } catch {
    return [];
  }
}

/** Runs a whole-layer edit in the worker on a copy, then writes the result into the live buffer. */
export async function editLayer(layer: LabelLayer, edit: 'fill-holes' | 'fill-between', sliceK: number): Promise<void> {
  const { notify, updateLayer } = useStore.getState();
  try {
    const copy = layer.data.slice();
    const sent = Comlink.transfer(copy, [copy.buffer]);
    const res = edit === 'fill-holes' ? await engine().fillHoles(sent, sliceK) : await engine().fillBetweenSlices(sent);
    layer.data.set(res.data);
    // A new array identity tells the viewer to refresh this labelmap.
    updateLayer(layer.id, { revision: (layer.revision ?? 0) + 1 });
    const what = 'filled' in res ? `${res.filled} voxels filled on slice ${sliceK + 1}` : res.slices.length ? `slices ${res.slices[0] + 1}–${res.slices[res.slices.length - 1] + 1} filled` : 'no gaps between annotated slices';
    notify('info', `${layer.name}: ${what}`);
    await persist();
  } catch (err) {
    notify('error', err instanceof Error ? err.message : String(err));
  }
}
