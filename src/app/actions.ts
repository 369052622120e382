/**
 * What happens when the user opens files: the engine worker reads them; on success the scan is
 * replaced, on failure a message explains why and the loaded scan stays as it was.
 */
import type { LoadOptions } from '../engine/io/load';
import type { NamedBytes } from '../engine/io/named-bytes';
import type { Volume } from '../engine/volume';
import { fnv1a } from '../engine/hash';
import { engine, transferFiles } from './engine-client';
import { addImportedLabels, restoreLayers } from './layers';
import { useStore, type LabelLayer } from './store';

export const SAMPLE_URL = `${import.meta.env.BASE_URL}samples/example_ct.nii.gz`;

/** Name, size and a checksum of 4096 voxels spread over the scan: the key its saved layers are filed under. */
function scanKey(name: string, v: Volume): string {
  const step = Math.max(1, Math.floor(v.data.length / 4096));
  const samples = function* () {
    for (let n = 0; n < v.data.length; n += step) yield v.data[n];
  };
  return `${name}|${v.dims.join('x')}|${fnv1a(samples())}`;
}

export async function openFiles(files: NamedBytes[], opts: LoadOptions = {}): Promise<void> {
  const { setBusy, setScan, notify, setPendingSeries } = useStore.getState();
  const label = files.length === 1 ? files[0].name : `${files.length} files`;
  // Keep a copy for a later series choice: the originals are transferred to the worker.
  const keep = files.map((f) => ({ name: f.name, bytes: f.bytes.slice() }));
  setBusy({ label: `Reading ${label}`, progress: null });
  try {
    performance.mark('load:start');
    const result = await engine().load(transferFiles(files), opts);
    performance.mark('load:read');
    if (result.kind === 'choose-series') {
      setPendingSeries({ series: result.series, files: keep });
      return;
    }
    if (result.kind === 'labels') {
      addImportedLabels(result.labels);
      return;
    }
    const volume = result.volume;
    const name = volume.source?.name ?? label;
    const key = scanKey(name, volume);
    const saved = await restoreLayers(key);
    setScan({ key, name, volume }, saved.filter((l) => l.data.length === volume.data.length));
    if (saved.length) notify('info', `Restored ${saved.length} annotation layer(s) saved for this scan`);
    for (const notice of volume.notices) notify('warning', notice);
  } catch (err) {
    notify('error', err instanceof Error ? err.message : String(err));
  } finally {
    setBusy(null);
  }
}

export async function chooseSeries(uid: string): Promise<void> {
  const pending = useStore.getState().pendingSeries;
  if (!pending) return;
  useStore.getState().setPendingSeries(null);
  await openFiles(pending.files, { seriesUid: uid });
}

/** The second built-in sample: a chest phantom with known lesions and three simulated observers. */
export async function openPhantom(seed: number): Promise<void> {
  const { setBusy, setScan, notify } = useStore.getState();
  setBusy({ label: `Generating phantom (seed ${seed})`, progress: null });
  try {
    const res = await engine().generatePhantom(seed);
    const name = `phantom seed ${seed}`;
    const colours: [number, number, number][] = [[230, 25, 75], [60, 180, 75], [67, 99, 216]];
    const layers: LabelLayer[] = [
      ...res.observers.map((o, n) => ({ id: `phantom-${seed}-${n}`, name: o.name, kind: 'observer' as const, color: colours[n % 3], visible: true, opacity: 0.45, data: o.data })),
      { id: `phantom-${seed}-truth`, name: 'truth (phantom)', kind: 'consensus', color: [255, 255, 0], visible: false, opacity: 0.5, data: res.truth },
    ];
    setScan({ key: scanKey(name, res.volume), name, volume: res.volume }, layers);
    notify('info', `Phantom with ${res.observers.length} simulated observers; its true lesion mask is the hidden "truth (phantom)" layer.`);
  } catch (err) {
    notify('error', `Phantom: ${err instanceof Error ? err.message : String(err)}`);
  } finally {
    setBusy(null);
  }
}

export async function openSample(): Promise<void> {
  const { notify } = useStore.getState();
  try {
    const res = await fetch(SAMPLE_URL);
    if (!res.ok) throw new Error(`sample scan not found (${res.status})`);
    await openFiles([{ name: 'example_ct.nii.gz', bytes: new Uint8Array(await res.arrayBuffer()) }]);
  } catch (err) {
    notify('error', `Could not open the sample scan: ${err instanceof Error ? err.message : String(err)}`);
  }
}
