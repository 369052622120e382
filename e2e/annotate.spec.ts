import { expect, test, type Page } from '@playwright/test';
import { real, waitForScan } from './helpers';

const layerCounts = (page: Page) =>
  page.evaluate(() =>
    window.__workbench!.store.getState().layers.map((l) => ({ name: l.name, voxels: l.data.reduce((a, v) => a + (v ? 1 : 0), 0) })),
  );

async function brushStroke(page: Page) {
  const box = (await page.getByTestId('viewport-axial').boundingBox())!;
  const cx = box.x + box.width / 2;
  const cy = box.y + box.height / 2;
  await page.mouse.move(cx - 20, cy);
  await page.mouse.down();
  for (let s = 1; s <= 8; s++) await page.mouse.move(cx - 20 + s * 5, cy, { steps: 2 });
  await page.mouse.up();
}

test('brush into a new observer layer, undo, and find the annotation again after a reload', async ({ page }) => {
  await page.goto('/');
  await waitForScan(page);
  await page.getByRole('button', { name: 'New observer' }).click();
  await page.getByRole('button', { name: 'Brush', exact: true }).click();
  await brushStroke(page);
  await expect.poll(async () => (await layerCounts(page))[0]?.voxels ?? 0).toBeGreaterThan(20);
  const painted = (await layerCounts(page))[0].voxels;

  await page.getByRole('button', { name: 'Undo' }).click();
  await expect.poll(async () => (await layerCounts(page))[0].voxels).toBe(0);
  await page.getByRole('button', { name: 'Redo' }).click();
  await expect.poll(async () => (await layerCounts(page))[0].voxels).toBe(painted);

  await page.waitForTimeout(1500); // the debounced save after the last stroke
  await page.reload();
  await waitForScan(page);
  await expect.poll(async () => layerCounts(page)).toEqual([{ name: 'Observer 1', voxels: painted }]);
});

test('label files become layers after a geometry check; other grids are refused or resampled', async ({ page }) => {
  await page.goto('/?nosample');
  await page.getByTestId('file-input').setInputFiles(real('totalsegmentator/example_ct_sm.nii.gz'));
  const key = await waitForScan(page);
  await page.getByTestId('label-input').setInputFiles(real('totalsegmentator/example_seg.nii.gz'));
  await expect.poll(async () => (await layerCounts(page)).map((l) => l.name)).toEqual(['example_seg']);
  const voxels = (await layerCounts(page))[0].voxels;
  expect(voxels).toBeGreaterThan(1000);

  // The 3 mm aorta mask sits on another grid: refused with the reason, nothing lost.
  await page.getByTestId('label-input').setInputFiles(real('totalsegmentator/aorta_cta/aorta.nii.gz'));
  await expect(page.getByTestId('message-error')).toContainText('differs from the scan');
  expect(await layerCounts(page)).toEqual([{ name: 'example_seg', voxels }]);
  expect(await page.evaluate(() => window.__workbench!.shownScan)).toBe(key);

  // …resampled: the same file is put on the scan's grid (nearest neighbour) and kept.
  const chooser = page.waitForEvent('filechooser');
  await page.getByRole('button', { name: '…resampled' }).click();
  await (await chooser).setFiles(real('totalsegmentator/aorta_cta/aorta.nii.gz'));
  await expect.poll(async () => (await layerCounts(page)).map((l) => l.name)).toEqual(['example_seg', 'aorta']);
  await page.evaluate(() => window.__workbench!.store.getState().removeLayer(window.__workbench!.store.getState().layers[1].id));

  // A label map opened like a scan (drop, file picker) joins the open scan as a layer.
  await page.getByTestId('file-input').setInputFiles(real('totalsegmentator/example_seg.nii.gz'));
  await expect.poll(async () => layerCounts(page)).toEqual([{ name: 'example_seg', voxels }, { name: 'example_seg', voxels }]);
  expect(await page.evaluate(() => window.__workbench!.shownScan)).toBe(key);
});
