/**
 * LAMP from the UI: UNetPipe weights for the staged runs, and the staged whole-scan run in the
 * worker with progress and cancel; its argmax becomes a model layer over the scan.
 */
import * as Comlink from 'comlink';
import type { LampRunRequest, LampRunResult, LampTrainCheckRequest, LampTrainCheckResult, LampWeightsInfo } from '../engine/worker/lamp';
import { addDerivedLayer } from './compare';
import { engine } from './engine-client';
import { useStore } from './store';

const CLASS_COLOURS: [number, number, number][] = [
  [255, 215, 0],
  [0, 200, 255],
  [255, 80, 200],
  [120, 255, 80],
  [255, 140, 0],
  [160, 120, 255],
];

/** Colours of classes 1..n-1 (class 0 stays transparent). */
function classPalette(classes: number): [number, number, number][] {
  return Array.from({ length: classes - 1 }, (_, c) => CLASS_COLOURS[c % CLASS_COLOURS.length]);
}

export async function loadLampWeightsFile(file: File): Promise<LampWeightsInfo | null> {
  const { notify } = useStore.getState();
  try {
    const bytes = new Uint8Array(await file.arrayBuffer());
    const info = await engine().loadLampWeights(Comlink.transfer({ name: file.name, bytes }, [bytes.buffer as ArrayBuffer]));
    for (const n of info.notices) notify('info', n);
    return info;
  } catch (err) {
    notify('error', `LAMP weights refused: ${err instanceof Error ? err.message : String(err)}`);
    return null;
  }
}

/** Runs the open scan by stages; the panel shows `onProgress` messages. Returns null on cancel or error. */
export async function runLampOnScan(req: LampRunRequest, onProgress: (message: string) => void): Promise<LampRunResult | null> {
  const { scan, setBusy, notify } = useStore.getState();
  if (!scan) {
    notify('error', 'LAMP: open a scan first.');
    return null;
  }
  let finished = false;
  const cancel = () => void engine().cancelLamp();
  setBusy({ label: 'LAMP staged inference', progress: 0, cancel });
  try {
    const res = await engine().runLamp(
      scan.volume,
      req,
      Comlink.proxy((fraction: number, message: string) => {
        if (finished) return;
        useStore.getState().setBusy({ label: `LAMP: ${message}`, progress: fraction, cancel });
        onProgress(message);
      }),
    );
    if (useStore.getState().scan !== scan) {
      notify('warning', 'LAMP: the scan changed during the run; its result was dropped.');
      return null;
    }
    const extra = res.classes > 2 ? { palette: classPalette(res.classes) } : { color: CLASS_COLOURS[0] };
    addDerivedLayer(`LAMP UNetPipe (${res.weights})`, 'model', res.mask, extra);
    return res;
  } catch (err) {
    const aborted = err instanceof Error && err.name === 'AbortError';
    notify(aborted ? 'info' : 'error', aborted ? 'LAMP run cancelled' : `LAMP run failed: ${err instanceof Error ? err.message : String(err)}`);
    return null;
  } finally {
    finished = true;
    setBusy(null);
  }
}

/** One training step on K stage workers vs on one device (the engine's self-check); null on cancel or error. */
export async function checkLampTrainingOnWorkers(req: LampTrainCheckRequest, onProgress: (message: string) => void): Promise<LampTrainCheckResult | null> {
  const { setBusy, notify } = useStore.getState();
  let finished = false;
  const cancel = () => void engine().cancelLamp();
  setBusy({ label: 'LAMP training check', progress: 0, cancel });
  try {
    return await engine().checkLampTraining(
      req,
      Comlink.proxy((fraction: number, message: string) => {
        if (finished) return;
        useStore.getState().setBusy({ label: `LAMP: ${message}`, progress: fraction, cancel });
        onProgress(message);
      }),
    );
  } catch (err) {
    const aborted = err instanceof Error && err.name === 'AbortError';
    notify(aborted ? 'info' : 'error', aborted ? 'LAMP training check cancelled' : `LAMP training check failed: ${err instanceof Error ? err.message : String(err)}`);
    return null;
  } finally {
    finished = true;
    setBusy(null);
  }
}
