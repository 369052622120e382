/**
 * Observer profiles: the three defaults, and reading a user's profiles from JSON.
 *
 * JSON: an array of profiles, or { "profiles": [...] }. A profile is { "name": "...", "models": [...] };
 * a model is { "kind": "<model>", ...parameters }, any parameter left out takes `MODEL_DEFAULTS`.
 */
import { InputError } from '../io/errors';
import { MODEL_DEFAULTS, type ModelKind, type ObserverModel, type ObserverProfile } from './observers';

export const DEFAULT_PROFILES: ObserverProfile[] = [
  {
    // Slightly wavy outlines, no systematic bias, rarely misses a tiny lesion.
    name: 'careful_expert',
    models: [
      { kind: 'boundaryJitter', amplitudeMm: 0.5, scaleMm: 4, clipToLungs: true },
      { kind: 'boundaryBias', minMm: -0.5, maxMm: 0.5, clipToLungs: true },
      { kind: 'missSmall', maxVolumeMl: 0.05, probability: 0.2 },
    ],
  },
  {
    // Misses small lesions, clicks coarse polygons on every third slice, takes the odd vessel for a nodule.
    name: 'fast_nonexpert',
    models: [
      { kind: 'missSmall', maxVolumeMl: 0.5, probability: 0.6 },
      { kind: 'coarsePolygon', minVertices: 5, maxVertices: 8 },
      { kind: 'sliceSkip', every: 3, interpolation: 'shape' },
      { kind: 'vesselFalsePositives', meanCount: 1, radiusMm: 2.5 },
    ],
  },
  {
    // Draws generously around every lesion and marks vessels as lesions.
    name: 'over_segmenter',
    models: [
      { kind: 'boundaryBias', minMm: 1.5, maxMm: 3, clipToLungs: true },
      { kind: 'boundaryJitter', amplitudeMm: 1, scaleMm: 5, clipToLungs: true },
      { kind: 'vesselFalsePositives', meanCount: 3, radiusMm: 3 },
    ],
  },
];

type Check = (v: unknown) => string | null;
const num = (lo: number, hi: number, integer = false): Check => (v) =>
  typeof v === 'number' && Number.isFinite(v) && v >= lo && v <= hi && (!integer || Number.isInteger(v)) ? null : `must be ${integer ? 'an integer' : 'a number'} in [${lo}, ${hi}]`;
const bool: Check = (v) => (typeof v === 'boolean' ? null : 'must be true or false');
const oneOf = (values: string[]): Check => (v) => (typeof v === 'string' && values.includes(v) ? null : `must be one of ${values.join(', ')}`);

const PARAMS: { [K in ModelKind]: Record<string, Check> } = {
  boundaryBias: { minMm: num(-50, 50), maxMm: num(-50, 50), clipToLungs: bool },
  boundaryJitter: { amplitudeMm: num(0, 20), scaleMm: num(0.1, 200), clipToLungs: bool },
  coarsePolygon: { minVertices: num(3, 64, true), maxVertices: num(3, 64, true) },
  missSmall: { maxVolumeMl: num(0, 1e6), probability: num(0, 1) },
  vesselFalsePositives: { meanCount: num(0, 100), radiusMm: num(0.1, 50) },
  sliceSkip: { every: num(1, 1000, true), interpolation: oneOf(['none', 'nearest', 'shape']), offset: num(0, 100000, true) },
};

/** Checks one model's parameters (defaults filled in); `where` names it in the message. */
export function checkModel(raw: unknown, file: string, where: string): ObserverModel {
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) throw new InputError(file, `${where} must be an object with a "kind"`);
  const { kind, ...params } = raw as Record<string, unknown>;
  if (typeof kind !== 'string' || !(kind in PARAMS)) throw new InputError(file, `${where}: unknown kind ${JSON.stringify(kind)} (known: ${Object.keys(PARAMS).join(', ')})`);
  const k = kind as ModelKind;
  const checks = PARAMS[k];
  for (const [name, value] of Object.entries(params)) {
    if (!(name in checks)) throw new InputError(file, `${where} (${k}): unknown parameter "${name}" (known: ${Object.keys(checks).join(', ')})`);
    const problem = checks[name](value);
    if (problem) throw new InputError(file, `${where} (${k}): ${name} ${problem}, got ${JSON.stringify(value)}`);
  }
  const model = { kind: k, ...MODEL_DEFAULTS[k], ...params } as ObserverModel;
  if (model.kind === 'boundaryBias' && model.minMm > model.maxMm) throw new InputError(file, `${where} (boundaryBias): minMm must not exceed maxMm`);
  if (model.kind === 'coarsePolygon' && model.minVertices > model.maxVertices) throw new InputError(file, `${where} (coarsePolygon): minVertices must not exceed maxVertices`);
  return model;
}

/** Profiles from a JSON text; any problem is an InputError naming the file and where. */
export function parseProfiles(text: string, file: string): ObserverProfile[] {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new InputError(file, `not valid JSON (${(e as Error).message})`);
  }
  const list = Array.isArray(json) ? json : (json as { profiles?: unknown })?.profiles;
  if (!Array.isArray(list) || list.length === 0) throw new InputError(file, 'expected a non-empty array of profiles, or { "profiles": [...] }');
  const names = new Set<string>();
  return list.map((p, n) => {
    const where = `profile ${n + 1}`;
    if (!p || typeof p !== 'object') throw new InputError(file, `${where} must be an object`);
    const { name, models, ...rest } = p as Record<string, unknown>;
    const extra = Object.keys(rest);
    if (extra.length) throw new InputError(file, `${where}: unknown field "${extra[0]}" (expected name, models)`);
    if (typeof name !== 'string' || !/^[A-Za-z0-9_-]{1,64}$/.test(name)) throw new InputError(file, `${where}: name must be 1–64 letters, digits, '_' or '-', got ${JSON.stringify(name)}`);
    if (names.has(name)) throw new InputError(file, `${where}: duplicate name "${name}"`);
    names.add(name);
    if (!Array.isArray(models)) throw new InputError(file, `${where} ("${name}"): models must be an array`);
    return { name, models: models.map((m, i) => checkModel(m, file, `profile "${name}" model ${i + 1}`)) };
  });
}
