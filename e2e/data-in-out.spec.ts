import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { expect, test } from '@playwright/test';
import { readNifti } from '../src/engine/io/nifti';
import { real, waitForScan } from './helpers';

test('the voxel value under the cursor is the scan\'s HU at that voxel', async ({ page }) => {
  await page.goto('/');
  await waitForScan(page);
  const box = (await page.getByTestId('viewport-axial').boundingBox())!;
  await page.mouse.move(box.x + box.width / 2 + 10, box.y + box.height / 2 + 10);
  const text = await page.getByTestId('probe').textContent();
  const m = /voxel \((\d+), (\d+), (\d+)\).* · (-?[\d.]+) HU/.exec(text ?? '');
  expect(m, text ?? '').not.toBeNull();
  const [i, j, k, hu] = m!.slice(1).map(Number);
  // Read the same voxel from the shipped sample file in Node.
  const vol = await readNifti({ name: 'example_ct.nii.gz', bytes: new Uint8Array(readFileSync('public/samples/example_ct.nii.gz')) });
  expect(vol.data[i + vol.dims[0] * (j + vol.dims[1] * k)]).toBe(hu);
});

test('several series in one drop: the user picks one, and each pick opens that series', async ({ page }) => {
  await page.goto('/');
  let key = await waitForScan(page);
  const tiny = real('dcmqi/tiny_24x38x3/image');
  const ct3 = real('dcmqi/ct-3slice');
  const files = [...['IMG0001.dcm', 'IMG0002.dcm', 'IMG0003.dcm'].map((f) => resolve(tiny, f)), ...['01.dcm', '02.dcm', '03.dcm'].map((f) => resolve(ct3, f))];
  const seen: string[] = [];
  for (const pick of [0, 1]) {
    await page.getByTestId('file-input').setInputFiles(files);
    const choices = page.getByRole('dialog', { name: 'Pick a series' }).getByRole('button', { name: /3 images/ });
    await expect(choices).toHaveCount(2);
    await choices.nth(pick).click();
    key = await waitForScan(page, key);
    seen.push((await page.getByTestId('scan-dims').textContent())!);
  }
  expect(seen.sort()).toEqual(['24 × 38 × 3', '512 × 512 × 3']);
});

test('a layer exports as .nii.gz on the scan geometry and as DICOM SEG over a DICOM scan', async ({ page }) => {
  await page.goto('/?nosample');
  const ct3 = real('dcmqi/ct-3slice');
  await page.getByTestId('file-input').setInputFiles(['01.dcm', '02.dcm', '03.dcm'].map((f) => resolve(ct3, f)));
  await waitForScan(page);
  await page.getByTestId('label-input').setInputFiles(real('dcmqi/liver.dcm'));
  await expect(page.getByTestId('layer')).toHaveCount(1);

  const niiDownload = page.waitForEvent('download');
  await page.getByRole('button', { name: '.nii.gz', exact: true }).click();
  const nii = await readNifti({ name: 'x.nii.gz', bytes: new Uint8Array(readFileSync(await (await niiDownload).path())) });
  expect(nii.dims).toEqual([512, 512, 3]);
  expect(Array.from(nii.data).filter((v) => v !== 0).length).toBe(107098);

  const segDownload = page.waitForEvent('download');
  await page.getByRole('button', { name: 'SEG', exact: true }).click();
  const seg = readFileSync(await (await segDownload).path());
  // DICM preamble and the Segmentation Storage SOP class in the file.
  expect(seg.subarray(128, 132).toString()).toBe('DICM');
  expect(seg.includes(Buffer.from('1.2.840.10008.5.1.4.1.1.66.4'))).toBe(true);
});
