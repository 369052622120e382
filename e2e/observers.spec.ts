import { readFileSync } from 'node:fs';
import { expect, test } from '@playwright/test';
import { real, waitForScan } from './helpers';

test('compare observers: Dice matrix, STAPLE, consensus layers and the per-slice plot', async ({ page }) => {
  await page.goto('/?nosample');
  await page.getByTestId('file-input').setInputFiles(real('totalsegmentator/example_ct_sm.nii.gz'));
  await waitForScan(page);
  const seg = real('totalsegmentator/example_seg.nii.gz');
  await page.getByTestId('label-input').setInputFiles(seg);
  await expect(page.getByTestId('layer')).toHaveCount(1);
  await page.getByTestId('label-input').setInputFiles(seg);
  await expect(page.getByTestId('layer')).toHaveCount(2);
  // A third observer who marked only the lower half of the slices.
  await page.evaluate(() => {
    const { layers, addLayer } = window.__workbench!.store.getState();
    const data = layers[0].data.slice();
    data.fill(0, data.length / 2);
    addLayer({ ...layers[0], id: 'half', name: 'half', data });
  });
  await page.getByRole('button', { name: 'Compare' }).click();
  const matrix = page.getByTestId('metric-matrix');
  await expect(matrix).toBeVisible();
  // Identical layers: Dice 1 both ways; the half observer has Dice 2·|half|/(|half|+|full|) < 1.
  await expect(matrix.locator('tbody tr').nth(0).locator('td').nth(1)).toHaveText('1.000');
  await expect(matrix.locator('tbody tr').nth(1).locator('td').nth(0)).toHaveText('1.000');
  const halfDice = Number(await matrix.locator('tbody tr').nth(0).locator('td').nth(2).textContent());
  const expected = await page.evaluate(() => {
    const [full, , half] = window.__workbench!.store.getState().layers.map((l) => l.data.reduce((a, v) => a + (v ? 1 : 0), 0));
    return (2 * half) / (half + full);
  });
  expect(halfDice).toBeCloseTo(expected, 3);
  await expect(page.getByTestId('staple-table').locator('tbody tr')).toHaveCount(3);
  await page.getByRole('button', { name: 'Add STAPLE layer' }).click();
  await page.getByRole('button', { name: 'Agreement heat map' }).click();
  await expect(page.getByTestId('layer')).toHaveCount(5);
  // STAPLE of two identical full observers and one half observer is the full mask.
  const same = await page.evaluate(() => {
    const layers = window.__workbench!.store.getState().layers;
    const full = layers[0].data;
    const consensus = layers.find((l) => l.name === 'STAPLE consensus')!.data;
    return consensus.every((v, n) => v === full[n]);
  });
  expect(same).toBe(true);
  await expect(page.getByTestId('slice-dice-plot').locator('canvas')).toHaveCount(1);
  // The comparison follows the layers: the new consensus layer joins the matrix by itself.
  await expect(matrix.locator('thead th')).toHaveCount(1 + 4);
  await expect(matrix.locator('thead')).toContainText('STAPLE consensus');
  // The comparison as CSV: one row per ordered pair of the 4 compared layers, Dice as in the matrix.
  const download = page.waitForEvent('download');
  await page.getByRole('button', { name: 'CSV', exact: true }).click();
  const csv = readFileSync(await (await download).path(), 'utf8').trim().split('\n');
  expect(csv).toHaveLength(1 + 12);
  const header = csv[0].split(',');
  const row = csv.find((l) => l.includes(',example_seg,half,'))!.split(',');
  expect(Number(row[header.indexOf('dice')])).toBeCloseTo(expected, 6);
  expect(row[header.indexOf('spacing_mm')]).toBe('3x3x3');
});

test('the phantom sample opens with three observers whose STAPLE consensus is close to the truth', async ({ page }) => {
  await page.goto('/?nosample');
  await page.getByLabel('Samples').selectOption('phantom');
  await waitForScan(page);
  await expect(page.getByTestId('scan-dims')).toHaveText('256 × 256 × 64');
  await expect(page.getByTestId('layer')).toHaveCount(4);
  await page.getByRole('button', { name: 'Compare' }).click();
  await expect(page.getByTestId('staple-table').locator('tbody tr')).toHaveCount(3);
  await page.getByRole('button', { name: 'Add STAPLE layer' }).click();
  await expect(page.getByTestId('layer')).toHaveCount(5);
  const dice = await page.evaluate(() => {
    const layers = window.__workbench!.store.getState().layers;
    const truth = layers.find((l) => l.name === 'truth (phantom)')!.data;
    const staple = layers.find((l) => l.name === 'STAPLE consensus')!.data;
    let both = 0, a = 0, b = 0;
    for (let n = 0; n < truth.length; n++) { a += truth[n]; b += staple[n]; both += truth[n] & staple[n]; }
    return (2 * both) / (a + b);
  });
  expect(dice).toBeGreaterThan(0.7);
});
