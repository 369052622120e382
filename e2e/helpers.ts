import { resolve } from 'node:path';
import { expect, type Locator, type Page } from '@playwright/test';

/** The read-only shared material (../shared from the project root, or SHARED_DIR). */
export const SHARED = process.env.SHARED_DIR ?? resolve(process.cwd(), '../shared');
/** A real scan or label file from the shared data (see its MANIFEST). */
export const real = (p: string) => resolve(SHARED, 'data/real', p);
/** MONAI's small COPLE-Net fixture checkpoint (features 8…128, 660,402 parameters). */
export const FIXTURE_WEIGHTS = resolve(SHARED, 'fixtures/monai/coplenet/weights.pt');

/** Waits until the viewer reports a rendered scan, and returns its key. */
export async function waitForScan(page: Page, previous?: string): Promise<string> {
  await page.waitForFunction((prev) => {
    const w = window.__workbench;
    return !!w?.shownScan && w.shownScan !== prev;
  }, previous ?? null, { timeout: 120_000 });
  return page.evaluate(() => window.__workbench!.shownScan!);
}

/** Mean and standard deviation of the grey values of a viewport's canvas, from a screenshot. */
export async function canvasStats(page: Page, testId: string): Promise<{ mean: number; std: number; nonBlack: number }> {
  return page.evaluate(async (id) => {
    const canvas = document.querySelector(`[data-testid="${id}"] canvas`) as HTMLCanvasElement;
    const bitmap = await createImageBitmap(canvas);
    const c = new OffscreenCanvas(bitmap.width, bitmap.height);
    const ctx = c.getContext('2d')!;
    ctx.drawImage(bitmap, 0, 0);
    const px = ctx.getImageData(0, 0, c.width, c.height).data;
    let sum = 0;
    let sq = 0;
    let nonBlack = 0;
    const n = px.length / 4;
    for (let i = 0; i < px.length; i += 4) {
      const g = (px[i] + px[i + 1] + px[i + 2]) / 3;
      sum += g;
      sq += g * g;
      if (g > 8) nonBlack++;
    }
    const mean = sum / n;
    return { mean, std: Math.sqrt(sq / n - mean * mean), nonBlack: nonBlack / n };
  }, testId);
}

/** Opens the phantom sample on `backend`, loads the fixture weights and opens the fine-tune panel, which it returns. */
export async function openPhantomWithFixtureWeights(page: Page, backend: 'wasm' | 'webgpu'): Promise<Locator> {
  await page.goto(`/?nosample&backend=${backend}`);
  await page.getByLabel('Samples').selectOption('phantom');
  await waitForScan(page);
  await page.getByTestId('weights-input').setInputFiles(FIXTURE_WEIGHTS);
  await expect(page.getByTestId('model-info')).toContainText('660,402 parameters');
  const panel = page.getByTestId('finetune-panel');
  await panel.getByText('Fine-tune on these labels').click();
  return panel;
}
