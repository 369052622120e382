/**
 * The shipped default weights reach, on a held-out phantom, the Dice their model card reports:
 * the case is regenerated from the card's seed and segmented with the app's inference path.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { ROOT } from '../../tests/shared';
import { DEFAULT_COPLENET_PIPELINE, peakCutOf, pixelSpacingOf, segmentVolume, withConfidentComponents, withPixelSpacing, withSliceContext } from '../engine/inference';
import { compareMasks } from '../engine/metrics';
import { generateCase } from '../engine/synth/dataset';
import { initBackend } from '../engine/tf/backend';
import { readWeights } from '../engine/weights';
import { createNetwork } from '.';
import { contextSlicesOf } from './input-channels';

const card = readFileSync(resolve(ROOT, 'public/weights/MODEL_CARD.md'), 'utf8');

describe('default COPLE-Net weights (public/weights)', () => {
  beforeAll(async () => {
    await initBackend(['wasm']);
  });

  it('reproduce the model card\'s Dice on its best held-out phantom', async () => {
    const size = JSON.parse(/size: (\[[\d, ]+\])/.exec(card)![1]) as [number, number, number];
    const spacing = JSON.parse(/spacing: (\[[\d., ]+\])/.exec(card)![1]) as [number, number, number];
    // Rows: | case | seed | lesions | truth mL | pred mL | Dice | Dice (float32) | HD95 | FP | Dice with the cut | FP with the cut |
    const rows = [...card.matchAll(/^\| (test_\d+) \| (\d+) \| \d+ \| [\d.]+ \| [\d.]+ \| ([\d.]+) \| [\d.]+ \| [\d.]+ \| \d+ \| ([\d.]+) \| \d+ \|$/gm)];
    expect(rows.length).toBeGreaterThan(0);
    const best = rows.reduce((a, b) => (Number(b[3]) > Number(a[3]) ? b : a));
    const phantom = generateCase({ size, spacing }, Number(best[2]));
    const { stateDict, metadata } = readWeights(new Uint8Array(readFileSync(resolve(ROOT, 'public/weights/coplenet.safetensors'))), 'coplenet.safetensors');
    // The weights may take each slice with its neighbours (the card's "context_slices"); the pipeline follows, as in the app.
    const context = contextSlicesOf(stateDict, 'coplenet.safetensors');
    expect(card).toContain(context ? `${2 * context + 1} input channels` : '1 input channel');
    const net = createNetwork('coplenet', { inChannels: 2 * context + 1 });
    net.loadStateDict(stateDict);
    expect(net.parameterCount()).toBe(10_521_666 + 32 * 9 * 2 * context);
    const pipeline = withSliceContext(DEFAULT_COPLENET_PIPELINE, context);
    const grid = { dims: phantom.scan.dims, spacing: phantom.scan.spacing };
    const res = await segmentVolume(phantom.scan, net as never, pipeline, { keepProbabilities: false });
    const dice = compareMasks(res.mask, phantom.truth.data, grid).dice;
    expect(dice).toBeGreaterThan(0.85);
    expect(Math.abs(dice - Number(best[3]))).toBeLessThan(0.005);
    // With the peak cut the weights carry (the app's default), the card's other column.
    // The pixel size the weights carry is the card's phantoms' (x, y): on phantoms made at it the resampling the app
    // adds is an identity, so the Dice with it is the card's too.
    expect(pixelSpacingOf(metadata, 'coplenet.safetensors')).toEqual([spacing[0], spacing[1]]);
    expect(card).toContain(`"input_pixel_spacing_mm": "${spacing[0]},${spacing[1]}"`);
    const resampled = await segmentVolume(phantom.scan, net as never, withPixelSpacing(pipeline, [spacing[0], spacing[1]]), { keepProbabilities: false });
    expect(Array.from(resampled.mask)).toEqual(Array.from(res.mask));
    const cut = peakCutOf(metadata, 'coplenet.safetensors');
    expect(card).toContain(`**Cut: ${cut}**`);
    const sure = await segmentVolume(phantom.scan, net as never, withConfidentComponents(pipeline, cut!), { keepProbabilities: false });
    expect(Math.abs(compareMasks(sure.mask, phantom.truth.data, grid).dice - Number(best[4]))).toBeLessThan(0.005);
    net.dispose();
    expect(tf.memory().numTensors).toBe(0);
  });
});
