/** Comparing the label layers in the engine worker, and turning consensus results into layers. */
import * as Comlink from 'comlink';
import type { ObserverComparison } from '../engine/metrics/observers';
import { engine } from './engine-client';
import { useStore, type LabelLayer } from './store';

export async function compareLayers(referenceId: string | null): Promise<ObserverComparison | null> {
  const { layers, setBusy, notify } = useStore.getState();
  const compared = layers.filter((l) => !l.palette);
  if (compared.length < 2) {
    notify('info', 'Comparing needs at least two label layers (observers, model or consensus).');
    return null;
  }
  setBusy({ label: 'Comparing observers', progress: 0 });
  // Progress messages can arrive after the result; ignore them once it is in.
  let finished = false;
  try {
    // Copies: the live buffers stay with the viewer while the worker reads its own.
    const masks = compared.map((l) => ({ id: l.id, name: l.name, data: l.data.slice(), isObserver: l.kind === 'observer' }));
    const reference = Math.max(0, compared.findIndex((l) => l.id === referenceId));
    return await engine().compareLayers(
      Comlink.transfer(masks, masks.map((m) => m.data.buffer)),
      { reference },
      Comlink.proxy((f: number) => {
        if (!finished) useStore.getState().setBusy({ label: 'Comparing observers', progress: f });
      }),
    );
  } catch (err) {
    notify('error', `Comparison failed: ${err instanceof Error ? err.message : String(err)}`);
    return null;
  } finally {
    finished = true;
    setBusy(null);
  }
}

/** Agreement heat map colours: 1 observer (blue) … all observers (red). */
export function heatPalette(n: number): [number, number, number][] {
  return Array.from({ length: n }, (_, k) => {
    const t = n === 1 ? 1 : k / (n - 1);
    return [Math.round(40 + 215 * t), Math.round(90 + 60 * (1 - Math.abs(2 * t - 1))), Math.round(255 * (1 - t))];
  });
}

/** Adds (or replaces, by name) a derived layer such as the STAPLE consensus. */
export function addDerivedLayer(name: string, kind: LabelLayer['kind'], data: Uint8Array, extra: Partial<LabelLayer> = {}): void {
  const { layers, addLayer, removeLayer } = useStore.getState();
  const existing = layers.find((l) => l.name === name && l.kind === kind);
  if (existing) removeLayer(existing.id);
  addLayer({ id: `${kind}-${Date.now().toString(36)}`, name, kind, color: [255, 255, 255], visible: true, opacity: 0.5, data, ...extra });
}
