import { resolve } from 'node:path';
import { expect, test, type Locator, type Page } from '@playwright/test';
import { FIXTURE_WEIGHTS, real, waitForScan } from './helpers';

/** The smallest real CT series (24×38×3) on WebGPU, and the LAMP panel set to a tiny UNetPipe (n_feat 4, 2 classes) for its padded 32×64×32. */
async function tinyCtInLampPanel(page: Page): Promise<Locator> {
  await page.goto('/?nosample&backend=webgpu');
  const dir = real('dcmqi/tiny_24x38x3/image');
  await page.getByTestId('file-input').setInputFiles(['IMG0001.dcm', 'IMG0002.dcm', 'IMG0003.dcm'].map((f) => resolve(dir, f)));
  await waitForScan(page);
  // Forcing webgpu keeps the SwiftShader adapter instead of skipping it for a faster backend.
  await expect(page.getByTestId('backend')).toContainText('Backend: webgpu');
  const panel = page.getByTestId('lamp-panel');
  await panel.getByText('LAMP model partitioning').click();
  await panel.getByLabel('base filters').selectOption('4');
  await panel.getByLabel('classes', { exact: true }).fill('2');
  await panel.getByRole('button', { name: "This scan's size" }).click();
  await expect(panel.getByLabel('input size (voxels)')).toHaveValue('32,64,32');
  return panel;
}

/** Records every label the busy bar shows from now on (window.lampBusy). */
async function recordBusyLabels(page: Page): Promise<void> {
  await page.evaluate(() => {
    const seen: string[] = [];
    Object.assign(window, { lampBusy: seen });
    window.__workbench!.store.subscribe((s) => {
      if (s.busy && seen.at(-1) !== s.busy.label) seen.push(s.busy.label);
    });
  });
}

const busyLabels = (page: Page) => page.evaluate(() => (window as unknown as { lampBusy: string[] }).lampBusy);

test('LAMP runs a tiny UNetPipe in 2+ stages on WebGPU over a real CT; staged equals whole; the mask lands on the scan grid', async ({ page }) => {
  test.setTimeout(150_000);
  const panel = await tinyCtInLampPanel(page);
  // One stage under a roomy budget; then 90 % of that stage's bytes, which only a split meets.
  await panel.getByLabel('stage budget (MiB)').fill('1000');
  await panel.getByRole('button', { name: 'Profile and plan' }).click();
  await expect(panel.getByTestId('lamp-plan')).toContainText('1 stage(s)');
  const oneStage = Number(await panel.getByTestId('lamp-stages').locator('tbody tr').first().getAttribute('data-bytes'));
  expect(oneStage).toBeGreaterThan(0);
  await panel.getByLabel('stage budget (MiB)').fill(String((0.9 * oneStage) / 2 ** 20));

  // A checkpoint of another network (COPLE-Net's) is refused with the reason; the random weights stay.
  await panel.getByTestId('lamp-weights-input').setInputFiles(FIXTURE_WEIGHTS);
  await expect(page.getByTestId('message-error')).toContainText('weights.pt: not a UNetPipe state dict');
  await expect(panel.getByTestId('lamp-weights')).toContainText('Weights: random (seed 1), base filters 4, 2 classes');

  await expect(panel.getByLabel('check against the unpartitioned model')).toBeChecked();
  await recordBusyLabels(page);
  await panel.getByRole('button', { name: 'Run staged on this scan' }).click();
  const run = panel.getByTestId('lamp-run');
  await expect(run).toBeVisible({ timeout: 120_000 });
  await expect(run).toContainText('On webgpu:');
  await expect(run).toContainText('padded 32×64×32 input');

  // The plan the run used: 2+ stages covering layers 0–29, with skips crossing between them.
  const rows = panel.getByTestId('lamp-stages').locator('tbody tr');
  expect(await rows.count()).toBeGreaterThanOrEqual(2);
  await expect(rows.first().locator('td').first()).toHaveText(/^0–/);
  await expect(rows.last().locator('td').first()).toHaveText(/–29$/);
  await expect(panel.getByTestId('lamp-skips')).toContainText('Skips crossing stages');

  const busy = await busyLabels(page);
  const stageLabels = busy.filter((l) => l.startsWith('LAMP: stage '));
  expect(stageLabels).toHaveLength(await rows.count());
  expect(stageLabels[0]).toMatch(/^LAMP: stage 1\/\d+ \(layers 0–\d+\), micro-batch 1\/1$/);
  expect(busy.at(-1)).toBe('LAMP: checked against the unpartitioned network');

  const delta = Number(await panel.getByTestId('lamp-delta').textContent());
  expect(delta).toBeGreaterThanOrEqual(0);
  expect(delta).toBeLessThan(1e-3);

  const layers = await page.evaluate(() =>
    window.__workbench!.store.getState().layers.map((l) => ({ kind: l.kind, name: l.name, length: l.data.length, max: l.data.reduce((a, v) => Math.max(a, v), 0) })),
  );
  expect(layers).toEqual([{ kind: 'model', name: 'LAMP UNetPipe (random (seed 1))', length: 24 * 38 * 3, max: expect.any(Number) }]);
  expect(layers[0].max).toBeLessThanOrEqual(1);

  // Cancel: the run stops at the next stage boundary, says so, and adds nothing.
  await panel.getByRole('button', { name: 'Run staged on this scan' }).click();
  await panel.getByRole('button', { name: 'Cancel' }).click();
  await expect(page.getByTestId('message-info').filter({ hasText: 'LAMP run cancelled' })).toBeVisible({ timeout: 60_000 });
  await expect(panel.getByTestId('lamp-progress')).toHaveCount(0);
  expect(await page.evaluate(() => window.__workbench!.store.getState().layers.length)).toBe(1);
});

test('LAMP on 2 stage workers, each with its own WebGPU device: staged equals whole; a training step on 2 wasm stage workers equals the whole network on one', async ({ page }) => {
  test.setTimeout(240_000);
  const panel = await tinyCtInLampPanel(page);
  await panel.getByLabel('stage budget (MiB)').fill('1000');
  await panel.getByLabel('stages run').selectOption('workers');
  await panel.getByLabel('workers (stages)').fill('2');
  await recordBusyLabels(page);
  await panel.getByRole('button', { name: 'Run staged on this scan' }).click();
  const run = panel.getByTestId('lamp-run');
  await expect(run).toBeVisible({ timeout: 120_000 });
  // One stage per worker, each worker on its own webgpu backend.
  await expect(panel.getByTestId('lamp-workers')).toHaveText(/^2 workers \(webgpu[^;]*; webgpu[^;]*\)$/);
  await expect(run).toContainText('2 stage(s) for the padded 32×64×32 input');
  const busy = await busyLabels(page);
  expect(busy.filter((l) => / on worker \d, micro-batch 1\/1$/.test(l)).map((l) => l.match(/on worker (\d)/)![1])).toEqual(['1', '2']);
  const delta = Number(await panel.getByTestId('lamp-delta').textContent());
  expect(delta).toBeGreaterThanOrEqual(0);
  expect(delta).toBeLessThan(1e-3);
  const layers = await page.evaluate(() => window.__workbench!.store.getState().layers.map((l) => ({ name: l.name, data: Array.from(l.data) })));
  expect(layers.map((l) => [l.name, l.data.length])).toEqual([['LAMP UNetPipe (random (seed 1))', 24 * 38 * 3]]);

  // One GPipe training step, batch 2 in 2 micro-batches, on 2 stage workers and on one holding the whole
  // network; on wasm (tfjs-webgpu 4.22 cannot differentiate UNetPipe's rank-5 LeakyReLU).
  await panel.getByLabel('worker backend').selectOption('wasm');
  await panel.getByLabel('input size (voxels)').fill('32,32,32');
  await panel.getByLabel('batch', { exact: true }).fill('2');
  await panel.getByLabel('micro-batches').fill('2');
  await panel.getByRole('button', { name: 'Check a training step on the workers' }).click();
  const check = panel.getByTestId('lamp-train-check');
  await expect(check).toBeVisible({ timeout: 180_000 });
  const text = (await check.textContent())!;
  expect(text).toMatch(/on 2 stage workers \(wasm; wasm\)/);
  const [stagedLoss, wholeLoss] = [...text.matchAll(/loss (\d+\.\d+)/g)].map((m) => Number(m[1]));
  expect(stagedLoss).toBeGreaterThan(0);
  expect(Math.abs(stagedLoss - wholeLoss)).toBeLessThan(1e-4);
  // Adam moves every weight by ≈ lr = 1e-3; the two steps agree far below that.
  expect(Number(await panel.getByTestId('lamp-train-delta').textContent())).toBeLessThan(1e-5);
  console.log(`LAMP e2e timings: ${await run.textContent()} | ${text}`);

  // The same run on the wasm workers without the whole-network check (the engine frees its copy of the
  // network once the stages hold the weights): the same mask, replacing the first one's layer.
  await panel.getByLabel('check against the unpartitioned model').uncheck();
  await panel.getByRole('button', { name: 'Run staged on this scan' }).click();
  await expect(panel.getByTestId('lamp-workers')).toHaveText(/^2 workers \(wasm; wasm\)$/, { timeout: 120_000 });
  await expect(panel.getByTestId('lamp-delta')).toHaveCount(0);
  const masks = await page.evaluate(() => window.__workbench!.store.getState().layers.map((l) => Array.from(l.data)));
  expect(masks).toHaveLength(1);
  expect(masks[0]).toEqual(layers[0].data);

  // Cancel a run on the workers: it stops, says so, and adds nothing.
  await panel.getByRole('button', { name: 'Run staged on this scan' }).click();
  await panel.getByRole('button', { name: 'Cancel' }).click();
  await expect(page.getByTestId('message-info').filter({ hasText: 'LAMP run cancelled' })).toBeVisible({ timeout: 60_000 });
  await expect(panel.getByTestId('lamp-progress')).toHaveCount(0);
  expect(await page.evaluate(() => window.__workbench!.store.getState().layers.length)).toBe(1);
});
