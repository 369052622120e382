/**
 * `npm run bench:viewer [-- --size 512,512,300]`: how fast a dropped scan becomes visible in the
 * workbench, and axial scrolling frames per second, in headless Chromium (WebGL on SwiftShader
 * here — a real GPU is much faster). Goal: a 512×512×300 volume visible ≤ 2 s after the drop,
 * scrolling ≥ 30 frames/s. Needs `npm run build` first (it serves dist/ with vite preview).
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { chromium } from '@playwright/test';
import { preview } from 'vite';
import { writeNifti } from '../src/engine/io/nifti';
import { syntheticCT } from './synthetic-ct';

const { values } = parseArgs({ options: { size: { type: 'string', default: '512,512,300' }, frames: { type: 'string', default: '60' } } });
const [nx, ny, nz] = values.size!.split(',').map(Number);
const frames = Number(values.frames);

async function main() {
  const dir = await mkdtemp(join(tmpdir(), 'bench-viewer-'));
  const file = join(dir, 'ct.nii.gz');
  await writeFile(file, await writeNifti(syntheticCT(nx, ny, nz), { gzip: true }));
  const server = await preview({ preview: { port: 4174, strictPort: true }, logLevel: 'error' });
  const browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
  try {
    const page = await browser.newPage({ viewport: { width: 1400, height: 800 } });
    await page.goto('http://localhost:4174/?nosample');
    await page.waitForFunction(() => !!window.__workbench);
    // The file input's change event is the "drop"; time to the first frame of all three viewports.
    await page.evaluate(() => {
      document.querySelector('[data-testid="file-input"]')!.addEventListener('change', () => ((window as unknown as { t0: number }).t0 = performance.now()), { once: true });
    });
    await page.getByTestId('file-input').setInputFiles(file);
    await page.waitForFunction(() => !!window.__workbench?.shownScan, null, { timeout: 300_000 });
    const visibleMs = await page.evaluate(() => window.__workbench!.shownAt! - (window as unknown as { t0: number }).t0);
    // Where the time went: marks set by the app along the way.
    // (A string, not a function: tsx would wrap inner helpers in a __name() the page lacks.)
    const phases = await page.evaluate(`(() => {
      const t0 = window.t0;
      const marks = ['load:start', 'load:read', 'view:volume-created', 'view:volume-set'];
      const parts = marks.map((m) => m + ' +' + ((performance.getEntriesByName(m).at(-1)?.startTime ?? NaN) - t0).toFixed(0));
      return [...parts, 'rendered +' + (window.__workbench.shownAt - t0).toFixed(0)].join(', ');
    })()`);
    console.log(`phases (ms after the drop): ${phases}`);
    const fps = await page.evaluate(async (n) => {
      const v = window.__workbench!.viewer;
      await v.scroll('axial', 1);
      const t0 = performance.now();
      for (let s = 0; s < n; s++) await v.scroll('axial', s % 40 < 20 ? 1 : -1);
      return (n * 1000) / (performance.now() - t0);
    }, frames);
    console.log(`volume ${nx}×${ny}×${nz} int16 .nii.gz: visible ${visibleMs.toFixed(0)} ms after the drop; axial scroll ${fps.toFixed(1)} frames/s (${frames} frames)`);
  } finally {
    await browser.close();
    await new Promise<void>((resolve) => server.httpServer.close(() => resolve()));
    await rm(dir, { recursive: true, force: true });
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
