import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, test, type Locator, type Page } from '@playwright/test';
import { readWeights, type StateDict, type TensorData } from '../src/engine/weights';
import { FIXTURE_WEIGHTS, openPhantomWithFixtureWeights } from './helpers';

const STEPS = 4;

/*
 * WebGPU here is SwiftShader (a CPU rasteriser): one update of the fixture COPLE-Net (8…128 features,
 * 660,402 parameters) on a 32² patch, batch 1, takes ~7 s, while validating on held-out slices of the
 * phantom takes minutes. So: batch 1, no held-out slab, no self-ensembling (its teacher doubles the
 * forward passes), four updates in all.
 */

/** The chart's plotted steps and losses (TrainingChart mirrors uPlot's data in data-* attributes). */
async function chartData(chart: Locator): Promise<{ steps: number[]; losses: string[] }> {
  const steps = (await chart.getAttribute('data-steps')) ?? '';
  const losses = (await chart.getAttribute('data-losses')) ?? '';
  return { steps: steps ? steps.split(',').map(Number) : [], losses: losses ? losses.split(',') : [] };
}

async function download(page: Page, button: Locator, dir: string): Promise<{ name: string; bytes: Uint8Array }> {
  const [dl] = await Promise.all([page.waitForEvent('download'), button.click()]);
  const path = join(dir, dl.suggestedFilename());
  await dl.saveAs(path);
  return { name: dl.suggestedFilename(), bytes: new Uint8Array(readFileSync(path)) };
}

function bytesOf(t: TensorData): Uint8Array {
  return new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);
}

function layout(sd: StateDict): string[] {
  return [...sd].map(([k, t]) => `${k} ${t.dtype} [${t.shape.join(',')}]`);
}

test('fine-tunes COPLE-Net on WebGPU, pauses, resumes after a reload and downloads weights the .pt reader reads back', async ({ page }) => {
  test.setTimeout(240_000);
  let panel = await openPhantomWithFixtureWeights(page, 'webgpu');
  // Forced WebGPU runs on SwiftShader's software adapter instead of being skipped for a faster backend.
  await expect(page.getByTestId('backend')).toHaveText(/^Backend: webgpu$/);

  await panel.getByLabel('steps', { exact: true }).fill(String(STEPS));
  await panel.getByLabel('batch', { exact: true }).fill('1');
  await panel.getByLabel('patch', { exact: true }).fill('32');
  await panel.getByLabel('checkpoint every').fill('1');
  await panel.getByLabel('validate every').fill('0');
  await panel.getByLabel('held-out fraction').fill('0');
  await panel.getByLabel('adaptive self-ensembling').uncheck();
  await panel.getByRole('button', { name: 'Train', exact: true }).click();

  const chart = page.getByTestId('training-chart');
  await expect(chart).toHaveAttribute('data-points', /^[2-9]\d*$/, { timeout: 120_000 });
  await panel.getByRole('button', { name: 'Pause' }).click();
  // "paused" shows only once the worker has stopped and written its checkpoint.
  await expect(page.getByTestId('finetune-status')).toContainText('paused', { timeout: 60_000 });
  const before = await chartData(chart);
  const k = before.steps.length;
  expect(k).toBeGreaterThanOrEqual(2);
  expect(k).toBeLessThan(STEPS);
  expect(before.steps).toEqual(Array.from({ length: k }, (_, n) => n + 1));
  expect(before.losses.every((l) => Number.isFinite(Number(l)) && Number(l) > 0)).toBe(true);
  await expect(page.getByTestId('finetune-status')).toContainText(`step ${k}/${STEPS}`);
  await expect(page.getByTestId('finetune-checkpoint')).toHaveText(`Checkpoint in this browser: step ${k} of ${STEPS}`);

  // A reload loses the worker and its trainer; the checkpoint in IndexedDB remains.
  await page.reload();
  panel = await openPhantomWithFixtureWeights(page, 'webgpu');
  await expect(page.getByTestId('finetune-checkpoint')).toHaveText(`Checkpoint in this browser: step ${k} of ${STEPS}`);
  await panel.getByRole('button', { name: `Resume from step ${k}` }).click();
  await expect(page.getByTestId('finetune-summary')).toBeVisible({ timeout: 150_000 });
  await expect(page.getByTestId('finetune-status')).toContainText(`done · step ${STEPS}/${STEPS}`);
  await expect(page.getByTestId('finetune-checkpoint')).toHaveText(`Checkpoint in this browser: step ${STEPS} of ${STEPS}`);
  // The curve continues across the reload: the saved points first, unchanged, then the new ones.
  const after = await chartData(chart);
  expect(after.steps).toEqual(Array.from({ length: STEPS }, (_, n) => n + 1));
  expect(after.losses.slice(0, k)).toEqual(before.losses);
  expect(after.losses.slice(k).every((l) => Number.isFinite(Number(l)) && Number(l) > 0)).toBe(true);

  const dir = mkdtempSync(join(tmpdir(), 'finetune-webgpu-'));
  const pt = await download(page, panel.getByRole('button', { name: 'Download .pt (MONAI)' }), dir);
  const st = await download(page, panel.getByRole('button', { name: 'Download .safetensors' }), dir);
  expect(pt.name).toBe('coplenet_finetuned_monai_dict.pt');
  expect(st.name).toBe('coplenet_finetuned.safetensors');

  // Read back in Node with the project's reader: torch.save's zip format, the fixture model's keys,
  // dtypes and shapes in its order, and every tensor bit-for-bit the app's own safetensors export.
  const fromPt = readWeights(pt.bytes, pt.name);
  const fromSt = readWeights(st.bytes, st.name);
  const fixture = readWeights(new Uint8Array(readFileSync(FIXTURE_WEIGHTS)), 'weights.pt').stateDict;
  expect(fromPt.format).toBe('torch-zip');
  expect(fromSt.format).toBe('safetensors');
  expect(layout(fromPt.stateDict)).toEqual(layout(fixture));
  expect(layout(fromSt.stateDict)).toEqual(layout(fixture));
  for (const [key, t] of fromPt.stateDict) expect(Buffer.compare(bytesOf(t), bytesOf(fromSt.stateDict.get(key)!)), key).toBe(0);
  // And the weights did train: some parameters moved away from the fixture's.
  const moved = [...fromPt.stateDict].filter(([key, t]) => t.dtype === 'float32' && Buffer.compare(bytesOf(t), bytesOf(fixture.get(key)!)) !== 0);
  expect(moved.length).toBeGreaterThan(50);
});
