/**
 * `npm run bench:io [-- --size 512,512,300]`: load time of a CT-like int16 volume as .nii.gz and as
 * a DICOM series (one file per slice), to a Volume, in Node and in headless Chromium.
 * Goal on the 2-core dev machine: .nii.gz ≤ 1.5 s, DICOM ≤ 3 s, peak memory ≤ 3× the voxel bytes.
 */
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { chromium } from '@playwright/test';
import { createServer } from 'vite';
import { loadFiles } from '../src/engine/io/load';
import { writeNifti } from '../src/engine/io/nifti';
import { syntheticCT, writeDicomSeries } from './synthetic-ct';

const { values } = parseArgs({ options: { size: { type: 'string', default: '512,512,300' }, runs: { type: 'string', default: '3' } } });
const [nx, ny, nz] = values.size!.split(',').map(Number);
const runs = Number(values.runs);
const median = (xs: number[]) => xs.slice().sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function main() {
  const dir = await mkdtemp(join(tmpdir(), 'bench-io-'));
  const vol = syntheticCT(nx, ny, nz);
  const voxelBytes = vol.data.byteLength;
  await writeFile(join(dir, 'ct.nii.gz.bin'), await writeNifti(vol, { gzip: true }));
  const dcmDir = join(dir, 'dicom');
  await import('node:fs/promises').then((fs) => fs.mkdir(dcmDir));
  const slices = writeDicomSeries(vol);
  await Promise.all(slices.map((b, k) => writeFile(join(dcmDir, `IM${String(k).padStart(4, '0')}.dcm.bin`), b)));
  console.log(`volume ${nx}×${ny}×${nz} int16 = ${(voxelBytes / 2 ** 20).toFixed(0)} MiB; files in ${dir}`);

  // Node: time from bytes on disk to a Volume, and the peak extra memory while loading.
  for (const [label, read] of [
    ['nii.gz', async () => [{ name: 'ct.nii.gz', bytes: new Uint8Array(await readFile(join(dir, 'ct.nii.gz.bin'))) }]],
    [`DICOM (${nz} files)`, async () => Promise.all((await readdir(dcmDir)).map(async (f) => ({ name: f, bytes: new Uint8Array(await readFile(join(dcmDir, f))) })))],
  ] as const) {
    const times: number[] = [];
    let peak = 0;
    for (let r = 0; r < runs; r++) {
      globalThis.gc?.();
      const base = process.memoryUsage().rss;
      const timer = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss - base)), 20);
      const t0 = performance.now();
      const res = await loadFiles(await read());
      times.push(performance.now() - t0);
      clearInterval(timer);
      peak = Math.max(peak, process.memoryUsage().rss - base);
      if (res.kind !== 'volume' || res.volume.dims.join() !== [nx, ny, nz].join()) throw new Error(`${label}: wrong result`);
    }
    console.log(`node     ${label.padEnd(18)} median ${median(times).toFixed(0)} ms  (runs: ${times.map((t) => t.toFixed(0)).join(', ')})  peak +${(peak / voxelBytes).toFixed(2)}× voxel bytes`);
  }

  // Chromium: the same engine code served by Vite, files fetched from disk by the page.
  const server = await createServer({ root: resolve(import.meta.dirname, '..'), server: { port: 5199, strictPort: true, fs: { allow: [resolve(import.meta.dirname, '..'), dir] } }, logLevel: 'error' });
  await server.listen();
  const browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
  try {
    const page = await browser.newPage();
    await page.goto('http://localhost:5199/bench/io.html');
    await page.waitForFunction(() => (window as unknown as { benchReady?: boolean }).benchReady === true, null, { timeout: 120_000 });
    const dcmNames = (await readdir(dcmDir)).map((f) => `/@fs${join(dcmDir, f)}`);
    for (const [label, urls] of [
      ['nii.gz', [`/@fs${join(dir, 'ct.nii.gz.bin')}`]],
      [`DICOM (${nz} files)`, dcmNames],
    ] as const) {
      const times: number[] = [];
      for (let r = 0; r < runs; r++) {
        times.push(await page.evaluate((u) => (window as unknown as { benchLoad: (u: string[]) => Promise<number> }).benchLoad(u), urls as string[]));
      }
      console.log(`chromium ${label.padEnd(18)} median ${median(times).toFixed(0)} ms  (runs: ${times.map((t) => t.toFixed(0)).join(', ')}; files already fetched)`);
    }
  } finally {
    await browser.close();
    await server.close();
    await rm(dir, { recursive: true, force: true });
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
