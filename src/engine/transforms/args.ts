/**
 * Argument checking shared by every transform, so a pipeline declared in JSON and one built in
 * code fail the same way: an `InputError` naming the transform and the offending argument.
 * Names and defaults are MONAI's (snake_case).
 */
import { InputError } from '../io/errors';

export type ArgKind =
  | 'number'
  | 'int'
  | 'boolean'
  | 'string'
  /** number or number[] */
  | 'numbers'
  /** int or int[] */
  | 'ints'
  /** MONAI RandRange: number, or a list whose items are numbers or [min, max] pairs */
  | 'range'
  /** [number, number] */
  | 'pair'
  /** string or string[] (per-key values in dictionary transforms) */
  | 'strings'
  /** non-empty string or string[] */
  | 'keys'
  | 'function';

export interface ArgSpec {
  kind: ArgKind;
  default?: unknown;
  required?: boolean;
  /** null is accepted (MONAI's None). */
  nullable?: boolean;
  /** Allowed string values (for 'string' and 'strings'). */
  oneOf?: readonly string[];
}

export type Spec = Record<string, ArgSpec>;

const isNum = (x: unknown): x is number => typeof x === 'number' && Number.isFinite(x);
const isInt = (x: unknown): x is number => isNum(x) && Number.isInteger(x);
const show = (x: unknown): string => {
  if (typeof x === 'function') return 'a function';
  try {
    return JSON.stringify(x) ?? String(x);
  } catch {
    return String(x);
  }
};

function valid(kind: ArgKind, v: unknown, oneOf?: readonly string[]): boolean {
  const okStr = (s: unknown) => typeof s === 'string' && (!oneOf || oneOf.includes(s));
  switch (kind) {
    case 'number':
      return isNum(v);
    case 'int':
      return isInt(v);
    case 'boolean':
      return typeof v === 'boolean';
    case 'string':
      return okStr(v);
    case 'numbers':
      return isNum(v) || (Array.isArray(v) && v.length > 0 && v.every(isNum));
    case 'ints':
      return isInt(v) || (Array.isArray(v) && v.length > 0 && v.every(isInt));
    case 'range':
      return isNum(v) || (Array.isArray(v) && v.every((r) => r === null || isNum(r) || (Array.isArray(r) && r.length === 2 && r.every(isNum))));
    case 'pair':
      return Array.isArray(v) && v.length === 2 && v.every(isNum);
    case 'strings':
      return okStr(v) || (Array.isArray(v) && v.length > 0 && v.every(okStr));
    case 'keys':
      return (typeof v === 'string' && v.length > 0) || (Array.isArray(v) && v.length > 0 && v.every((s) => typeof s === 'string' && s.length > 0));
    case 'function':
      return typeof v === 'function';
  }
}

/** Validates `args` against `spec` and fills in defaults. Unknown names are errors. */
export function parseArgs<T>(name: string, spec: Spec, args: object | undefined): T {
  const given = (args ?? {}) as Record<string, unknown>;
  if (typeof given !== 'object' || Array.isArray(given)) throw new InputError(name, `arguments must be an object, got ${show(args)}`);
  for (const k of Object.keys(given)) {
    if (!(k in spec)) throw new InputError(name, `unknown argument "${k}" (expected one of: ${Object.keys(spec).join(', ')})`);
  }
  const out: Record<string, unknown> = {};
  for (const [k, s] of Object.entries(spec)) {
    const v = given[k];
    if (v === undefined) {
      if (s.required) throw new InputError(name, `missing required argument "${k}"`);
      out[k] = s.default;
      continue;
    }
    if (v === null && s.nullable) {
      out[k] = null;
      continue;
    }
    if (!valid(s.kind, v, s.oneOf)) {
      const want = s.oneOf ? `${s.kind} from {${s.oneOf.join(', ')}}` : s.kind;
      throw new InputError(name, `argument "${k}" must be ${want}${s.nullable ? ' or null' : ''}, got ${show(v)}`);
    }
    out[k] = v;
  }
  return out as T;
}

/** Keys argument → string[]. */
export function keyList(keys: string | string[]): string[] {
  return typeof keys === 'string' ? [keys] : [...keys];
}

/** A per-key value (MONAI "sequence or single"): item i of a list, or the single value. */
export function perKey<T>(name: string, argName: string, v: T | T[], i: number, nKeys: number): T {
  if (!Array.isArray(v)) return v;
  if (v.length !== nKeys) throw new InputError(name, `argument "${argName}" has ${v.length} values for ${nKeys} keys`);
  return v[i];
}

/** A number or list expanded to `n` values: lists padded with their last value (MONAI's pixdim rule). */
export function expand(v: number | number[], n: number): number[] {
  const a = Array.isArray(v) ? v.slice(0, n) : [v];
  while (a.length < n) a.push(a[a.length - 1]);
  return a;
}

/** MONAI `fall_back_tuple`: non-positive components take the default. */
export function fallBack(v: number | number[] | null | undefined, dflt: readonly number[]): number[] {
  if (v === null || v === undefined) return [...dflt];
  const a = Array.isArray(v) ? v : dflt.map(() => v);
  if (a.length < dflt.length) throw new Error(`expected ${dflt.length} values, got ${a.length}`);
  return dflt.map((d, i) => (a[i] > 0 ? a[i] : d));
}

export const INTERP_MODES = ['bilinear', 'nearest'] as const;
export const GRID_PAD_MODES = ['zeros', 'border', 'reflection'] as const;
/** numpy names and their torch aliases. */
export const PAD_MODES = ['constant', 'edge', 'replicate', 'reflect', 'symmetric', 'wrap', 'circular'] as const;
