import { resolve } from 'node:path';
import { expect, test } from '@playwright/test';
import { waitForScan } from './helpers';

const SHARED = process.env.SHARED_DIR ?? resolve(process.cwd(), '../shared');
const WEIGHTS = resolve(SHARED, 'fixtures/monai/coplenet/weights.pt');

test('fine-tune a small COPLE-Net on the phantom observers\' STAPLE consensus, then segment with it', async ({ page }) => {
  test.setTimeout(240_000);
  await page.goto('/?nosample&backend=wasm');
  await page.getByLabel('Samples').selectOption('phantom');
  await waitForScan(page);
  await page.getByTestId('weights-input').setInputFiles(WEIGHTS);
  await expect(page.getByTestId('model-info')).toContainText('660,402 parameters');
  const panel = page.getByTestId('finetune-panel');
  await panel.getByText('Fine-tune on these labels').click();
  await panel.getByLabel('steps', { exact: true }).fill('4');
  await panel.getByLabel('batch', { exact: true }).fill('2');
  await panel.getByLabel('patch', { exact: true }).fill('32');
  await panel.getByRole('button', { name: 'Train' }).click();
  await expect(page.getByTestId('finetune-summary')).toBeVisible({ timeout: 200_000 });
  await expect(page.getByTestId('finetune-status')).toContainText('step 4/4');
  await expect(page.getByTestId('training-chart').locator('canvas')).toHaveCount(1);
  // The .pt download is a zip archive (torch.save's format).
  const download = page.waitForEvent('download');
  await panel.getByRole('button', { name: 'Download .pt (MONAI)' }).click();
  expect((await download).suggestedFilename()).toBe('coplenet_finetuned_monai_dict.pt');
  await panel.getByRole('button', { name: 'Use the new weights' }).click();
  await expect(page.getByTestId('model-info')).toContainText('fine-tuned (step 4)');
});
