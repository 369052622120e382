import { readFileSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { expect, test } from '@playwright/test';
import { readSafetensors, readWeights, writeSafetensors } from '../src/engine/weights';
import { PEAK_CUT_KEY } from '../src/engine/inference/peak-cut';
import { PIXEL_SPACING_KEY } from '../src/engine/inference/pixel-spacing';
import { contextSlicesOf, widenInputChannels } from '../src/models/input-channels';
import { FIXTURE_WEIGHTS, real, waitForScan } from './helpers';

test('COPLE-Net segments a real CT on the WebGPU backend and the mask lands on the scan grid', async ({ page }) => {
  await page.goto('/?nosample&backend=webgpu');
  // The smallest real CT series (24×38×3 GE slices): SwiftShader runs WebGPU on the CPU.
  const dir = real('dcmqi/tiny_24x38x3/image');
  await page.getByTestId('file-input').setInputFiles(['IMG0001.dcm', 'IMG0002.dcm', 'IMG0003.dcm'].map((f) => resolve(dir, f)));
  await waitForScan(page);
  await expect(page.getByTestId('backend')).toContainText('Backend: webgpu');
  await page.getByTestId('weights-input').setInputFiles(FIXTURE_WEIGHTS);
  await expect(page.getByTestId('model-info')).toContainText('8/16/32/64/128, 660,402 parameters, weights.pt');
  await page.getByRole('button', { name: 'Segment lesions' }).click();
  await expect(page.getByTestId('message-info').filter({ hasText: 'Lesions:' })).toContainText('on webgpu', { timeout: 150_000 });
  const layers = await page.evaluate(() =>
    window.__workbench!.store.getState().layers.map((l) => ({ kind: l.kind, length: l.data.length, max: l.data.reduce((a, v) => Math.max(a, v), 0) })),
  );
  expect(layers.map((l) => [l.kind, l.length])).toEqual([
    ['model', 24 * 38 * 3],
    ['probability', 24 * 38 * 3],
  ]);
  // A label map (0/1) and probability bins (0 = below 0.1, 1…10).
  expect(layers[0].max).toBeLessThanOrEqual(1);
  expect(layers[1].max).toBeLessThanOrEqual(10);
});

test('the default weights load at start with their disclaimer, their own peak cut and their pixel size on; weights without them turn both off', async ({ page }) => {
  await page.goto('/?nosample&backend=wasm');
  await page.getByTestId('file-input').setInputFiles(real('totalsegmentator/example_ct_sm.nii.gz'));
  await waitForScan(page);
  // The slice context and the cut the default weights carry (chosen on tune phantoms) show in the panel.
  const shipped = readSafetensors(new Uint8Array(readFileSync(resolve('public/weights/coplenet.safetensors'))), 'coplenet.safetensors');
  const r = contextSlicesOf(shipped.stateDict, 'coplenet.safetensors');
  expect(r).toBeGreaterThan(0);
  await expect(page.getByTestId('model-info')).toContainText(`input: each slice with ${r} neighbour${r > 1 ? 's' : ''} on either side, default weights (phantoms)`, { timeout: 60_000 });
  await expect(page.getByTestId('weights-disclaimer')).toContainText('trained by this project on synthetic chest phantoms only');
  const cut = shipped.metadata[PEAK_CUT_KEY];
  expect(Number(cut)).toBeGreaterThan(0.9);
  await expect(page.getByTestId('keep-confident-toggle')).toBeChecked();
  await expect(page.getByTestId('keep-confident-p')).toHaveValue(cut);
  // The phantoms' pixel size: other scans' slices are resampled to it before the network sees them.
  expect(shipped.metadata[PIXEL_SPACING_KEY]).toBe('2,2');
  await expect(page.getByTestId('pixel-spacing-toggle')).toBeChecked();
  await expect(page.getByTestId('inference-panel')).toContainText("Resample the slices to the weights' pixel size (2 × 2 mm)");
  await page.getByTestId('weights-input').setInputFiles(FIXTURE_WEIGHTS);
  await expect(page.getByTestId('model-info')).toContainText('weights.pt');
  await expect(page.getByTestId('keep-confident-toggle')).not.toBeChecked();
  await expect(page.getByTestId('pixel-spacing-toggle')).toHaveCount(0);
  await expect(page.getByTestId('weights-disclaimer')).toHaveCount(0);
});

test('removing small or unsure lesion components adds RemoveSmallObjectsd / KeepConfidentComponentsd to the run and never adds mask voxels; flip averaging is a run option too', async ({ page }) => {
  await page.goto('/?nosample&backend=wasm');
  await page.getByTestId('file-input').setInputFiles(real('totalsegmentator/example_ct_sm.nii.gz'));
  await waitForScan(page);
  await page.getByTestId('weights-input').setInputFiles(FIXTURE_WEIGHTS);
  await expect(page.getByTestId('model-info')).toContainText('weights.pt');
  await page.getByLabel('probability heat map').uncheck();
  const modelLayers = () =>
    page.evaluate(() =>
      window.__workbench!.store
        .getState()
        .layers.filter((l) => l.kind === 'model')
        .map((l) => ({ name: l.name, voxels: l.data.reduce((a, v) => a + (v ? 1 : 0), 0) })),
    );
  const segment = async (layers: number) => {
    await page.getByRole('button', { name: 'Segment lesions' }).click();
    await expect.poll(async () => (await modelLayers()).length, { timeout: 120_000 }).toBe(layers);
    return page.getByTestId('message-info').filter({ hasText: 'Lesions:' }).last().textContent();
  };
  expect(await segment(1)).not.toContain('RemoveSmallObjectsd');
  // The confidence filter is on only for weights that carry their own cut; the fixture has none.
  await expect(page.getByTestId('keep-confident-toggle')).not.toBeChecked();
  await expect(page.getByTestId('keep-confident-p')).toBeDisabled();
  await expect(page.getByTestId('remove-small-ml')).toBeDisabled();
  await page.getByTestId('remove-small-toggle').check();
  await expect(page.getByTestId('remove-small-ml')).toHaveValue('0.4');
  const summary = await segment(2);
  const removed = Number(/RemoveSmallObjectsd: (\d+) component\(s\) removed/.exec(summary ?? '')?.[1]);
  expect(Number.isInteger(removed)).toBe(true);
  const [plain, pruned] = await modelLayers();
  expect([plain.name, pruned.name]).toEqual(['COPLE-Net (weights.pt)', 'COPLE-Net (weights.pt), components < 0.4 mL removed']);
  expect(pruned.voxels).toBeLessThanOrEqual(plain.voxels);
  expect(pruned.voxels < plain.voxels).toBe(removed > 0);
  // Flip averaging: its own layer; the run's options leave the stored pipeline as it was.
  await page.getByTestId('remove-small-toggle').uncheck();
  await page.getByTestId('flip-tta-toggle').check();
  await segment(3);
  const flipped = (await modelLayers())[2];
  expect(flipped.name).toBe('COPLE-Net (weights.pt), flip-averaged');
  expect(flipped.voxels).toBeGreaterThan(0);
  await page.getByTestId('flip-tta-toggle').uncheck();
  await page.getByTestId('keep-confident-toggle').check();
  await expect(page.getByTestId('keep-confident-p')).toHaveValue('0.999');
  const unsure = Number(/KeepConfidentComponentsd: (\d+) component\(s\) removed/.exec((await segment(4)) ?? '')?.[1]);
  expect(Number.isInteger(unsure)).toBe(true);
  const sure = (await modelLayers())[3];
  expect(sure.name).toBe('COPLE-Net (weights.pt), components peaking < 0.999 removed');
  expect(sure.voxels < plain.voxels).toBe(unsure > 0);
  expect(sure.voxels).toBeLessThanOrEqual(plain.voxels);
  // The pipeline stored with the model is unchanged by the run's option; the JSON editor takes the step.
  const stored = () => page.evaluate(async () => JSON.stringify(await window.__workbench!.engine().currentPipeline()));
  expect(await stored()).not.toContain('RemoveSmallObjectsd');
  expect(await stored()).not.toContain('flip_tta');
  expect(await stored()).not.toContain('KeepConfidentComponentsd');
  await page.getByText('Pipeline (MONAI transforms, JSON)').click();
  const json = JSON.parse(await page.getByTestId('pipeline-json').inputValue());
  json.postprocessing.push({ name: 'RemoveSmallObjectsd', args: { keys: ['pred'], min_size: 64, connectivity: 3 } });
  await page.getByTestId('pipeline-json').fill(JSON.stringify(json));
  await page.getByRole('button', { name: 'Apply' }).click();
  await expect(page.getByTestId('pipeline-json')).toContainText('"connectivity": 3');
  expect(await stored()).toContain('"name":"RemoveSmallObjectsd","args":{"keys":["pred"],"min_size":64,"connectivity":3}');
  // Loading other weights resets the filter to theirs: the default weights bring their cut, and their
  // pixel size: this 3 mm scan's slices are resampled to 2 mm for the run, the mask comes back on its grid.
  await page.getByRole('button', { name: 'Default weights' }).click();
  await expect(page.getByTestId('model-info')).toContainText('default weights (phantoms)');
  await expect(page.getByTestId('keep-confident-toggle')).toBeChecked();
  await expect(page.getByTestId('pixel-spacing-toggle')).toBeChecked();
  await segment(5);
  const resampled = (await modelLayers())[4];
  expect(resampled.name).toMatch(/^COPLE-Net \(default weights \(phantoms\)\), slices at 2×2 mm, components peaking < 0\.9+\d* removed$/);
  const grid = await page.evaluate(() => {
    const { layers, scan } = window.__workbench!.store.getState();
    return { mask: layers.filter((l) => l.kind === 'model')[4].data.length, scan: scan!.volume.data.length };
  });
  expect(grid.mask).toBe(grid.scan);
});

test('weights that take each slice with its neighbours set the pipeline’s context_slices and segment like the one-slice weights they were widened from', async ({ page }, info) => {
  // The MONAI fixture widened to 3 input channels (kernel on the centre channel): the same network.
  const wide = info.outputPath('weights-2.5d.safetensors');
  const sd = readWeights(new Uint8Array(readFileSync(FIXTURE_WEIGHTS)), 'weights.pt').stateDict;
  writeFileSync(wide, writeSafetensors(widenInputChannels(sd, 3, 'weights.pt')));
  await page.goto('/?nosample&backend=wasm');
  await page.getByTestId('file-input').setInputFiles(real('totalsegmentator/example_ct_sm.nii.gz'));
  await waitForScan(page);
  await page.getByLabel('probability heat map').uncheck();
  const masks = () => page.evaluate(() => window.__workbench!.store.getState().layers.filter((l) => l.kind === 'model').map((l) => Array.from(l.data)));
  const segment = async (n: number) => {
    await page.getByRole('button', { name: 'Segment lesions' }).click();
    await expect.poll(async () => (await masks()).length, { timeout: 120_000 }).toBe(n);
  };
  await page.getByTestId('weights-input').setInputFiles(FIXTURE_WEIGHTS);
  await expect(page.getByTestId('model-info')).toContainText('660,402 parameters, weights.pt');
  await segment(1);
  await page.getByTestId('weights-input').setInputFiles(wide);
  await expect(page.getByTestId('model-info')).toContainText('input: each slice with 1 neighbour on either side, weights-2.5d.safetensors');
  // (Filtered by name: whether the start-up default weights came before the fixture, and so
  // whether a notice for it set context_slices back to 0, depends on timing.)
  await expect(page.getByTestId('message-info').filter({ hasText: 'weights-2.5d.safetensors takes' })).toContainText('each slice with 1 neighbour on either side (3 input channels): the pipeline\'s "context_slices" is now 1');
  const stored = await page.evaluate(async () => (await window.__workbench!.engine().currentPipeline()).inference);
  expect(stored).toEqual({ kind: 'slices', context_slices: 1 });
  await page.getByText('Pipeline (MONAI transforms, JSON)').click();
  await expect(page.getByTestId('pipeline-json')).toContainText('"context_slices": 1');
  await segment(2);
  const [one, three] = await masks();
  expect(one.reduce((a, v) => a + v, 0)).toBeGreaterThan(0);
  expect(three).toEqual(one);
});

test('the pipeline panel previews each preprocessing step and refuses a bad pipeline without losing the old one', async ({ page }) => {
  await page.goto('/?nosample&backend=wasm');
  await page.getByTestId('file-input').setInputFiles(real('totalsegmentator/example_ct_sm.nii.gz'));
  await waitForScan(page);
  await page.getByText('Pipeline (MONAI transforms, JSON)').click();
  await expect(page.getByTestId('pipeline-json')).toContainText('ScaleIntensityRanged');
  await page.getByRole('button', { name: 'Preview on this slice' }).click();
  const figures = page.getByTestId('pipeline-steps').locator('figcaption');
  await expect(figures).toHaveCount(5);
  await expect(figures.nth(0)).toContainText('input');
  await expect(figures.nth(3)).toContainText('Orientationd');
  const good = await page.getByTestId('pipeline-json').inputValue();
  await page.getByTestId('pipeline-json').fill(good.replace('"Orientationd"', '"Orientashun"'));
  await page.getByRole('button', { name: 'Apply' }).click();
  await expect(page.getByTestId('message-error')).toContainText('Orientashun');
  // The worker kept the previous pipeline.
  const kept = await page.evaluate(async () => JSON.stringify(await window.__workbench!.engine().currentPipeline()));
  expect(kept).toContain('Orientationd');
});

test('the LAMP panel profiles a 3D U-Net and splits it into more stages under a smaller budget', async ({ page }) => {
  await page.goto('/?backend=wasm');
  await waitForScan(page);
  const panel = page.getByTestId('lamp-panel');
  await panel.getByText('LAMP model partitioning').click();
  await panel.getByLabel('base filters').selectOption('8');
  await panel.getByLabel('input size (voxels)').fill('32,32,32');
  await panel.getByLabel('stage budget (MiB)').fill('1000');
  await panel.getByRole('button', { name: 'Profile and plan' }).click();
  await expect(panel.getByTestId('lamp-plan')).toContainText('1 stage(s)');
  await panel.getByLabel('stage budget (MiB)').fill('3');
  await panel.getByRole('button', { name: 'Profile and plan' }).click();
  await expect(panel.getByTestId('lamp-plan')).not.toContainText('1 stage(s)');
  const rows = await panel.locator('tbody tr').count();
  expect(rows).toBeGreaterThan(1);
  await expect(panel.locator('tbody tr').last().locator('td').first()).toHaveText(/–29$/);
});
