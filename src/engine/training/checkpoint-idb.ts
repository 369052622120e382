/**
 * Checkpoints in IndexedDB (browser main thread or Web Worker), through the `idb` wrapper: one object
 * store, the checkpoint object as the value (its safetensors bytes are Uint8Arrays, which IndexedDB
 * stores as they are), the key as the key.
 */
import { openDB, type IDBPDatabase } from 'idb';
import { checkKey, type CheckpointStore, type TrainingCheckpoint } from './checkpoint';

const STORE = 'checkpoints';

export class IdbCheckpointStore implements CheckpointStore {
  private db: Promise<IDBPDatabase> | null = null;

  constructor(readonly dbName = 'lesion-workbench-training') {}

  private open(): Promise<IDBPDatabase> {
    this.db ??= openDB(this.dbName, 1, {
      upgrade(db) {
        if (!db.objectStoreNames.contains(STORE)) db.createObjectStore(STORE);
      },
    });
    return this.db;
  }

  async save(key: string, c: TrainingCheckpoint): Promise<void> {
    await (await this.open()).put(STORE, c, checkKey(key));
  }

  async load(key: string): Promise<TrainingCheckpoint | null> {
    return ((await (await this.open()).get(STORE, checkKey(key))) as TrainingCheckpoint | undefined) ?? null;
  }

  async list(): Promise<string[]> {
    return ((await (await this.open()).getAllKeys(STORE)) as string[]).sort();
  }

  async delete(key: string): Promise<void> {
    await (await this.open()).delete(STORE, checkKey(key));
  }

  close(): void {
    void this.db?.then((db) => db.close());
    this.db = null;
  }
}
