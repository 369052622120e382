/**
 * Annotations survive page reloads: observer layers are kept in IndexedDB, keyed by the scan's
 * key (name + size + a checksum of its voxels), so reopening the same scan brings them back.
 */
import { openDB, type IDBPDatabase } from 'idb';
import type { LabelLayer } from './store';

const DB_NAME = 'lesion-workbench';
const STORE = 'annotations';

let db: Promise<IDBPDatabase> | null = null;
function database(): Promise<IDBPDatabase> {
  db ??= openDB(DB_NAME, 1, {
    upgrade(d) {
      d.createObjectStore(STORE);
    },
  });
  return db;
}

type StoredLayer = Omit<LabelLayer, 'data'> & { data: Uint8Array };

export async function saveLayers(scanKey: string, layers: LabelLayer[]): Promise<void> {
  // Copies, because the live buffers keep changing under the brush while IndexedDB clones them.
  const stored: StoredLayer[] = layers.filter((l) => l.kind === 'observer').map((l) => ({ ...l, data: l.data.slice() }));
  await (await database()).put(STORE, stored, scanKey);
}

export async function loadLayers(scanKey: string): Promise<LabelLayer[]> {
  const stored = (await (await database()).get(STORE, scanKey)) as StoredLayer[] | undefined;
  return stored ?? [];
}
