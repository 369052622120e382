import { expect, test } from '@playwright/test';
import { openPhantomWithFixtureWeights } from './helpers';

test('fine-tune a small COPLE-Net on the phantom observers\' STAPLE consensus, then segment with it', async ({ page }) => {
  test.setTimeout(240_000);
  const panel = await openPhantomWithFixtureWeights(page, 'wasm');
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
