import { resolve } from 'node:path';
import { expect, test } from '@playwright/test';
import { canvasStats, real, waitForScan } from './helpers';

test('the embedded sample CT is shown at start in three viewports', async ({ page }) => {
  await page.goto('/');
  await waitForScan(page);
  await expect(page.getByTestId('scan-dims')).toHaveText('122 × 101 × 112');
  for (const view of ['axial', 'sagittal', 'coronal']) {
    const s = await canvasStats(page, `viewport-${view}`);
    // A CT in lung window: a body (bright) on black air, so real contrast, not a blank canvas.
    expect(s.std).toBeGreaterThan(20);
    expect(s.nonBlack).toBeGreaterThan(0.1);
  }
});

test('a bad file gives a clear message and keeps the loaded scan', async ({ page }) => {
  await page.goto('/');
  const key = await waitForScan(page);
  await page.getByTestId('file-input').setInputFiles(real('nifti_oddities/nifti-reader-js/not-nifti.nii'));
  await expect(page.getByTestId('message-error')).toContainText('not-nifti.nii');
  expect(await page.evaluate(() => window.__workbench!.shownScan)).toBe(key);
  await expect(page.getByTestId('scan-dims')).toHaveText('122 × 101 × 112');
});

test('a DICOM series picked as files replaces the scan', async ({ page }) => {
  await page.goto('/');
  const key = await waitForScan(page);
  const dir = real('dcmqi/tiny_24x38x3/image');
  await page.getByTestId('file-input').setInputFiles(['IMG0001.dcm', 'IMG0002.dcm', 'IMG0003.dcm'].map((f) => resolve(dir, f)));
  await waitForScan(page, key);
  await expect(page.getByTestId('scan-dims')).toHaveText('24 × 38 × 3');
});
