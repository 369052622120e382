import { expect, test, type Page } from '@playwright/test';
import { waitForScan } from './helpers';

async function stroke(page: Page) {
  const box = (await page.getByTestId('viewport-axial').boundingBox())!;
  const cx = box.x + box.width / 2;
  const cy = box.y + box.height / 2;
  await page.mouse.move(cx - 30, cy);
  await page.mouse.down();
  for (let s = 1; s <= 12; s++) await page.mouse.move(cx - 30 + s * 5, cy, { steps: 2 });
  await page.mouse.up();
}

/** Painted voxel count and the HU range under the painted voxels of the first layer. */
const painted = (page: Page) =>
  page.evaluate(() => {
    const { scan, layers } = window.__workbench!.store.getState();
    let n = 0;
    let lo = Infinity;
    let hi = -Infinity;
    layers[0].data.forEach((v, i) => {
      if (!v) return;
      n++;
      lo = Math.min(lo, scan!.volume.data[i]);
      hi = Math.max(hi, scan!.volume.data[i]);
    });
    return { n, lo, hi };
  });

test('the HU brush paints only voxels inside its HU range', async ({ page }) => {
  await page.goto('/');
  await waitForScan(page);
  await page.getByRole('button', { name: 'New observer' }).click();
  await page.getByRole('button', { name: 'HU brush' }).click();
  const inputs = page.getByTestId('annotation-tools').locator('input[type="number"]');
  await inputs.nth(0).fill('0');
  await inputs.nth(1).fill('200');
  await stroke(page);
  await expect.poll(async () => (await painted(page)).n).toBeGreaterThan(5);
  const p = await painted(page);
  expect(p.lo).toBeGreaterThanOrEqual(0);
  expect(p.hi).toBeLessThanOrEqual(200);
});

test('fill between slices interpolates an observer\'s outlines across the gap', async ({ page }) => {
  await page.goto('/');
  await waitForScan(page);
  await page.getByRole('button', { name: 'New observer' }).click();
  // Two discs on axial slices 50 and 54 (radius 5 and 9 voxels) written into the layer.
  await page.evaluate(() => {
    const { scan, layers, updateLayer } = window.__workbench!.store.getState();
    const [nx, ny] = scan!.volume.dims;
    const data = new Uint8Array(layers[0].data.length);
    for (const [k, r] of [[50, 5], [54, 9]]) for (let j = 0; j < ny; j++) for (let i = 0; i < nx; i++) if ((i - 60) ** 2 + (j - 50) ** 2 <= r * r) data[i + nx * (j + ny * k)] = 1;
    updateLayer(layers[0].id, { data });
  });
  await page.getByRole('button', { name: 'Fill between slices' }).click();
  await expect(page.getByTestId('message-info').filter({ hasText: 'slices 52–54 filled' })).toBeVisible();
  const rows = await page.evaluate(() => {
    const { scan, layers } = window.__workbench!.store.getState();
    const [nx, ny] = scan!.volume.dims;
    return [51, 52, 53].map((k) => Array.from({ length: nx }, (_, i) => layers[0].data[i + nx * (50 + ny * k)]).reduce((a, b) => a + b, 0));
  });
  // Radii interpolate 6, 7, 8 → 13, 15, 17 voxels across the centre row.
  expect(rows).toEqual([13, 15, 17]);
});
