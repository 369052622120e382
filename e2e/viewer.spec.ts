import { readdirSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { expect, test } from '@playwright/test';
import { canvasStats, real, waitForScan } from './helpers';

test('the JPEG 2000 DICOM series renders in every viewport, and a window preset changes the pixels', async ({ page }, info) => {
  await page.goto('/?nosample');
  const dir = real('totalsegmentator/example_ct_dicom_j2k');
  await page.getByTestId('file-input').setInputFiles(readdirSync(dir).map((f) => resolve(dir, f)));
  await waitForScan(page);
  await expect(page.getByTestId('scan-dims')).toHaveText('512 × 512 × 20');
  const lung = await canvasStats(page, 'viewport-axial');
  for (const view of ['axial', 'sagittal', 'coronal']) expect((await canvasStats(page, `viewport-${view}`)).std).toBeGreaterThan(15);
  await page.screenshot({ path: info.outputPath('j2k-lung.png') });
  await page.getByRole('button', { name: 'bone', exact: true }).click();
  await expect.poll(async () => Math.abs((await canvasStats(page, 'viewport-axial')).mean - lung.mean)).toBeGreaterThan(5);
  await page.screenshot({ path: info.outputPath('j2k-bone.png') });
});

test('a label layer exported as .nii.gz and opened again comes back voxel for voxel', async ({ page }) => {
  await page.goto('/?nosample');
  await page.getByTestId('file-input').setInputFiles(real('totalsegmentator/example_ct_sm.nii.gz'));
  await waitForScan(page);
  await page.getByTestId('label-input').setInputFiles(real('totalsegmentator/example_seg.nii.gz'));
  await expect(page.getByTestId('layer')).toHaveCount(1);
  const download = page.waitForEvent('download');
  await page.getByRole('button', { name: '.nii.gz', exact: true }).click();
  const path = await (await download).path();
  await page.getByTestId('label-input').setInputFiles({ name: 'reimported.nii.gz', mimeType: 'application/gzip', buffer: readFileSync(path) });
  await expect(page.getByTestId('layer')).toHaveCount(2);
  const same = await page.evaluate(() => {
    const [a, b] = window.__workbench!.store.getState().layers;
    return a.data.length === b.data.length && a.data.every((v, n) => v === b.data[n]);
  });
  expect(same).toBe(true);
});
