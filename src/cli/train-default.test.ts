import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { beforeAll, describe, expect, it } from 'vitest';
import { choosePeakCut, PEAK_CUT_CANDIDATES, PEAK_CUT_KEY, PIXEL_SPACING_KEY } from '../engine/inference';
import { readSafetensors, writeSafetensors } from '../engine/weights';
import { createNetwork } from '../models';
import { expectOneLineError, runBundled } from './cli-errors.test-util';

const tmp = mkdtempSync(join(tmpdir(), 'train-default-'));
const TINY = ['--features', '4,8,16,32,64', '--patch', '32', '--batch', '2', '--size', '96,96,8', '--spacing', '3.5,3.5,8', '--test-cases', '2', '--val-cases', '1', '--seed', '2'];

const SAMPLING = ['--positives', 'lesion', '--hard-negatives', '0.5'];
const train = (...args: string[]) => runBundled('train-default.ts', ...args);

beforeAll(async () => {
  await tf.setBackend('cpu');
});

describe('train:default', () => {
  it('trains, stops at the time limit, resumes from its checkpoint, evaluates, and writes loadable weights and a model card', () => {
    const out = join(tmp, 'weights');
    const ckpt = join(tmp, 'ckpt');
    // A time limit of 0.06 s stops the run after its first step; the checkpoint is saved on the way out.
    const first = train('--cases', '2', '--steps', '3', '--out', out, '--checkpoint', ckpt, '--time-limit', '0.001', '--checkpoint-every', '0', '--backend', 'wasm', '--tune-cases', '0', ...SAMPLING, ...TINY);
    expect(first.status, first.stderr).toBe(0);
    expect(first.stdout).toMatch(/time limit reached after 1 steps/);
    expect(first.stdout).toMatch(/training cancelled after 1 steps/);

    const r = train('--cases', '2', '--steps', '3', '--out', out, '--checkpoint', ckpt, '--resume', '--backend', 'wasm', '--tune-cases', '2', ...SAMPLING, ...TINY);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/resumed from .*coplenet-seed2 at step 1/);
    expect(r.stdout).toMatch(/step 3\/3 loss/);
    expect(r.stdout).toMatch(/training finished after 3 steps/);
    // The two held-out cases are evaluated twice (float32, then float16-rounded weights).
    expect(r.stdout.match(/^\[float(32|16)\] test_00[01]: \d+ lesions/gm)).toHaveLength(4);

    const bytes = new Uint8Array(readFileSync(join(out, 'coplenet.safetensors')));
    const { stateDict, metadata } = readSafetensors(bytes, 'coplenet.safetensors');
    // The phantoms' pixel size (TINY's --spacing) goes with the weights, for the app to resample other scans to.
    expect(metadata).toMatchObject({ model: 'coplenet', features: '4,8,16,32,64', seed: '2', steps: '3', labels: 'truth', [PIXEL_SPACING_KEY]: '3.5,3.5' });
    const net = createNetwork('coplenet', { features: [4, 8, 16, 32, 64] });
    expect(() => net.loadStateDict(stateDict)).not.toThrow();
    net.dispose();

    const dice = r.stdout.match(/held-out mean Dice float32 ([\d.]+|NaN), float16 ([\d.]+|NaN); wrote .* \((float16|float32),/);
    expect(dice).not.toBeNull();
    const [d32, d16] = [Number(dice![1]), Number(dice![2])];
    expect(dice![3]).toBe(Math.abs(d16 - d32) <= 0.005 ? 'float16' : 'float32');
    const card = readFileSync(join(out, 'MODEL_CARD.md'), 'utf8');
    expect(card).toContain('# COPLE-Net default weights');
    expect(card).toContain(`Metadata: \`"${PIXEL_SPACING_KEY}": "3.5,3.5"\`, the phantoms' pixel size`);
    expect(card).toContain(`float32 ${d32.toFixed(4)}, float16 ${d16.toFixed(4)}`);
    expect(card).toMatch(/\| test_000 \| \d+ \| \d+ \|/);
    expect(card).toMatch(/\| 10–20 mm \| \d+ \|/);
    expect(card).toMatch(/Run: finished after 3 of 3 steps/);
    expect(card).toContain('(pos:neg 1:1; positives lesion by lesion, 50 % of negatives on lung vessels)');
    // The peak cut: every candidate scored on the 2 tune phantoms, the choice stored in the metadata and the card.
    const curve = [...r.stdout.matchAll(/^cut (none|[\d.]+): mean Dice ([\d.]+), pooled Dice ([\d.]+), ([\d.]+) false-positive components per case$/gm)];
    expect(curve.map((m) => m[1])).toEqual(['none', ...PEAK_CUT_CANDIDATES.map(String)]);
    const chosen = choosePeakCut(curve.map((m) => ({ cut: m[1] === 'none' ? 0 : Number(m[1]), meanDice: Number(m[2]), pooledDice: Number(m[3]), falsePositives: Number(m[4]) })));
    expect(r.stdout).toContain(`peak cut: ${chosen ?? 'none (no cut beats no filter)'}`);
    expect(metadata[PEAK_CUT_KEY]).toBe(chosen === null ? undefined : String(chosen));
    expect(card).toContain('## Peak-probability cut (KeepConfidentComponentsd)');
    expect(card).toContain(chosen === null ? 'No cut beat no filter' : `**Cut: ${chosen}**`);
    // …and where the card says what the weights do (the metadata line and the output step), only when there is one.
    expect(card.includes(`\`"${PEAK_CUT_KEY}": "${chosen}"\`, the weights' peak cut`)).toBe(chosen !== null);
    expect(card.includes(`KeepConfidentComponentsd with the weights' cut ${chosen}**`)).toBe(chosen !== null);
    expect(r.stdout.match(/^\[with cut\] test_00[01]: /gm) ?? []).toHaveLength(chosen === null ? 0 : 2);
  });

  it('--context-slices 1 widens one-channel --init weights and trains, evaluates and writes a 3-channel network', async () => {
    const init = join(tmp, 'one-channel.safetensors');
    const seedNet = createNetwork('coplenet', { features: [4, 8, 16, 32, 64], seed: 1 });
    writeFileSync(init, writeSafetensors(await seedNet.stateDict()));
    seedNet.dispose();
    const out = join(tmp, 'context');
    const r = train('--cases', '2', '--steps', '2', '--out', out, '--checkpoint', join(tmp, 'ckpt-context'), '--backend', 'wasm', '--init', init, '--context-slices', '1', '--tune-cases', '0', ...TINY);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toContain('(warm start; 1-channel weights widened to 3 input channels, new neighbours at zero)');
    expect(r.stdout).toContain('COPLE-Net (4, 8, 16, 32, 64), 3 input channels (1 context slice each side)');
    expect(r.stdout.match(/^\[float32\] test_00[01]: \d+ lesions/gm)).toHaveLength(2);
    const { stateDict } = readSafetensors(new Uint8Array(readFileSync(join(out, 'coplenet.safetensors'))), 'coplenet.safetensors');
    expect(stateDict.get('in_conv.conv_conv_se.0.conv.weight')!.shape).toEqual([4, 3, 3, 3]);
    expect(readFileSync(join(out, 'MODEL_CARD.md'), 'utf8')).toContain('3 input channels (each axial slice with its 1 neighbour on either side: "context_slices": 1');
    // Weights with more context than asked for are refused, not cut down.
    const narrower = train('--cases', '1', '--steps', '1', '--out', join(tmp, 'narrow'), '--checkpoint', join(tmp, 'ckpt-narrow'), '--backend', 'wasm', '--init', join(out, 'coplenet.safetensors'), ...TINY);
    expectOneLineError(narrower, /--init .*coplenet\.safetensors takes 3 input channels, more than --context-slices 0 gives \(1\); use --context-slices 1/);
  });

  it('--backend webgpu trains on WebGPU (SwiftShader here) and names the adapter in the model card', () => {
    const out = join(tmp, 'webgpu');
    const r = train('--cases', '1', '--steps', '1', '--out', out, '--checkpoint', join(tmp, 'ckpt-webgpu'), '--checkpoint-every', '0', '--backend', 'webgpu', '--tune-cases', '0', ...TINY, '--test-cases', '1', '--val-cases', '0', '--size', '64,64,8');
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^backend webgpu$/m);
    expect(r.stdout).toMatch(/training finished after 1 steps/);
    expect(readFileSync(join(out, 'MODEL_CARD.md'), 'utf8')).toMatch(/backend `webgpu` on the GPU swiftshader[^\n]*\(Dawn\)\./);
  });

  it('reports bad arguments in one line', () => {
    const base = ['--cases', '1', '--steps', '1', '--out', tmp];
    expectOneLineError(train(...base, '--patch', '40'), /--patch must be a multiple of 16/);
    expectOneLineError(train(...base, '--labels', 'consensus'), /unknown label source "consensus"/);
    expectOneLineError(train(...base, '--dice', 'both'), /--dice must be patch .* or pooled/);
    expectOneLineError(train(...base, '--positives', 'blobs'), /--positives must be voxel .* or lesion/);
    expectOneLineError(train(...base, '--hard-negatives', '2'), /--hard-negatives must be a share in 0…1, got "2"/);
    expectOneLineError(train(...base, '--context-slices', '9'), /--context-slices must be an integer in 0…8, got "9"/);
    expectOneLineError(train(...base, '--tune-cases', 'x'), /--tune-cases must be an integer in 0…10000, got "x"/);
  });
});
