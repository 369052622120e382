/** Option values of the CLIs, checked with one-line messages that name the option. */

import { parseArgs, type ParseArgsConfig } from 'node:util';
import { isMinProbability } from '../engine/inference/peak-cut';
import { parsePixelSpacing, type PixelSpacing } from '../engine/inference/pixel-spacing';

/** A whole number in lo…hi; a missing value is "required" when `usage` is given. */
export function intArg(name: string, text: string | undefined, lo: number, hi: number, usage?: string): number {
  if (text === undefined && usage) throw new Error(`--${name} is required; ${usage}`);
  const v = Number(text);
  if (text === undefined || !/^\d+$/.test(text.trim()) || v < lo || v > hi) throw new Error(`--${name} must be an integer in ${lo}…${hi}, got "${text}"`);
  return v;
}

/** `count` positive numbers separated by commas (any count when null). */
export function positiveNumbers(name: string, text: string, count: number | null): number[] {
  const v = text.split(',').map((s) => Number(s.trim()));
  const what = count === 1 ? 'a positive number' : `${count ?? 'a list of'} positive numbers separated by commas`;
  if ((count !== null && v.length !== count) || v.some((x) => !(x > 0))) throw new Error(`--${name} must be ${what}, got "${text}"`);
  return v;
}

/** `--min-peak P|none`: a KeepConfidentComponentsd cut, "none" (no filter), or undefined when not given. */
export function peakCutArg(text: string | undefined): number | 'none' | undefined {
  if (text === undefined || text === 'none') return text;
  const p = Number(text);
  if (!text.trim() || !isMinProbability(p)) throw new Error(`--min-peak must be a probability in (0, 1] or none, got "${text}"`);
  return p;
}

/** `--pixel-spacing X[,Y]|none`: slices resampled to this pixel size (mm), "none" (the scan's own grid), or undefined when not given. */
export function pixelSpacingArg(text: string | undefined): PixelSpacing | 'none' | undefined {
  if (text === undefined || text === 'none') return text;
  const v = parsePixelSpacing(text);
  if (!v) throw new Error(`--pixel-spacing must be a pixel size in mm ("2" or "2,2") or none, got "${text}"`);
  return v;
}

/** node:util's parseArgs, its errors (unknown option, missing value) turned into one line that ends with the CLI's usage. */
export function parseCliArgs<T extends ParseArgsConfig>(config: T, usage: string): ReturnType<typeof parseArgs<T>> {
  try {
    return parseArgs(config);
  } catch (e) {
    throw new Error(`${(e as Error).message.replace(/\s*\n\s*/g, ' ')}; ${usage}`);
  }
}
