/**
 * Matches a loaded state dict against the keys and shapes a network expects. MONAI 0.2.0 names
 * are canonical; also accepted: current-MONAI names (`adn.N`/`adn.A`, `up.preconv`), the COPLE-Net
 * authors' original names (HiLab-git/COPLE-Net, spec §1.7), and the `partitions.<j>.` (GPipe) and
 * `module.` (DataParallel) prefixes. Every rename and fill-in is reported as a notice.
 */
import { numel, type DType, type StateDict, type TensorArray, type TensorData } from './tensor';

export interface ExpectedTensor {
  shape: number[];
  dtype: DType;
  /** A key some variants of the network lack; when absent it is filled with zeros, with a notice. */
  optional?: string;
}

export interface WrongShape {
  key: string;
  expected: number[];
  actual: number[];
}

export interface StateDictReport {
  missing: string[];
  unexpected: string[];
  wrongShape: WrongShape[];
}

export interface StateDictMatch {
  /** Canonical keys in the network's order; present only when `ok`. */
  stateDict: StateDict;
  ok: boolean;
  report: StateDictReport;
  notices: string[];
}

interface RuleSet {
  label: string;
  rules: [RegExp, string][];
}

const PREFIXES: RuleSet = {
  label: 'prefixes stripped (partitions.<j>. / module.)',
  rules: [
    [/^partitions\.\d+\./, ''],
    [/^module\./, ''],
  ],
};

const RULE_SETS: RuleSet[] = [
  {
    label: 'current-MONAI names mapped to MONAI 0.2.0 (adn.N -> norm, adn.A -> act, up.preconv -> up.upsample.0)',
    rules: [
      [/\.adn\.N\./, '.norm.'],
      [/\.adn\.A\./, '.act.'],
      [/\.up\.preconv\./, '.up.upsample.0.'],
    ],
  },
  {
    label: "COPLE-Net authors' (HiLab) names mapped to MONAI 0.2.0",
    rules: [
      [/\.conv_conv\.0\./, '.conv_conv_se.0.conv.'],
      [/\.conv_conv\.1\./, '.conv_conv_se.0.norm.'],
      [/\.conv_conv\.4\./, '.conv_conv_se.2.conv.'],
      [/\.conv_conv\.5\./, '.conv_conv_se.2.norm.'],
      [/\.conv_conv\.7\.se_layers\.1\./, '.conv_conv_se.3.fc.0.'],
      [/\.conv_conv\.7\.se_layers\.3\./, '.conv_conv_se.3.fc.2.'],
      [/^(up\d+)\.conv1x1\./, '$1.up.upsample.0.'],
      [/^aspp\.conv_1x1\.0\./, 'aspp.conv_k1.conv.'],
      [/^aspp\.conv_1x1\.1\./, 'aspp.conv_k1.norm.'],
      [/^aspp\.conv_1\./, 'aspp.convs.0.'],
      [/^aspp\.conv_2\./, 'aspp.convs.1.'],
      [/^aspp\.conv_3\./, 'aspp.convs.2.'],
      [/^aspp\.conv_4\./, 'aspp.convs.3.'],
      [/^(bridge\d+)\.conv\.0\./, '$1.conv.'],
      [/^(bridge\d+)\.conv\.1\./, '$1.norm.'],
      [/^out_conv\.(weight|bias)$/, 'out_conv.conv.$1'],
    ],
  },
];

function applyRules(key: string, set: RuleSet): string {
  let k = key;
  for (const [re, to] of set.rules) k = k.replace(re, to);
  return k;
}

/** Drops trailing 1s: a 1x1 conv weight [out, in, 1, 1] and a Linear weight [out, in] hold the same data. */
function squeezeTrailing(shape: readonly number[]): string {
  const s = [...shape];
  while (s.length > 1 && s[s.length - 1] === 1) s.pop();
  return s.join(',');
}

export function matchStateDict(source: StateDict, expected: ReadonlyMap<string, ExpectedTensor>): StateDictMatch {
  const found = new Map<string, TensorData>();
  const report: StateDictReport = { missing: [], unexpected: [], wrongShape: [] };
  const notices = new Set<string>();
  const misshaped = new Set<string>();

  for (const [key, t] of source) {
    const stripped = applyRules(key, PREFIXES);
    let canonical: string | undefined;
    if (expected.has(stripped)) canonical = stripped;
    else {
      for (const set of RULE_SETS) {
        const k = applyRules(stripped, set);
        if (expected.has(k)) {
          canonical = k;
          notices.add(set.label);
          break;
        }
      }
    }
    if (canonical === undefined || found.has(canonical)) {
      report.unexpected.push(key);
      continue;
    }
    if (stripped !== key) notices.add(PREFIXES.label);
    const want = expected.get(canonical)!;
    if (t.shape.join(',') === want.shape.join(',')) found.set(canonical, t);
    else if (numel(t.shape) === numel(want.shape) && squeezeTrailing(t.shape) === squeezeTrailing(want.shape)) {
      found.set(canonical, { ...t, shape: want.shape.slice() });
      notices.add('1x1 convolution weights reshaped to Linear weights');
    } else {
      report.wrongShape.push({ key, expected: want.shape.slice(), actual: t.shape.slice() });
      misshaped.add(canonical);
    }
  }

  const out: StateDict = new Map();
  for (const [key, want] of expected) {
    const t = found.get(key);
    if (t) out.set(key, t);
    else if (misshaped.has(key)) continue;
    else if (want.optional !== undefined) {
      out.set(key, { dtype: want.dtype, shape: want.shape.slice(), data: zeros(want.dtype, numel(want.shape)) });
      notices.add(`${key} missing (${want.optional}): set to zeros`);
    } else report.missing.push(key);
  }
  const ok = report.missing.length === 0 && report.unexpected.length === 0 && report.wrongShape.length === 0;
  return { stateDict: ok ? out : new Map(), ok, report, notices: [...notices] };
}

function zeros(dtype: DType, n: number): TensorArray {
  return dtype === 'int64' ? new BigInt64Array(n) : new Float32Array(n);
}

/** One line for an error message: what is missing, unexpected and wrongly shaped (first few of each). */
export function formatReport(r: StateDictReport, limit = 6): string {
  const list = (xs: string[]) => xs.slice(0, limit).join(', ') + (xs.length > limit ? `, … (${xs.length} in all)` : '');
  const parts: string[] = [];
  if (r.missing.length) parts.push(`missing: ${list(r.missing)}`);
  if (r.unexpected.length) parts.push(`unexpected: ${list(r.unexpected)}`);
  if (r.wrongShape.length) {
    parts.push(`wrong shape: ${list(r.wrongShape.map((w) => `${w.key} [${w.actual.join(',')}] (expected [${w.expected.join(',')}])`))}`);
  }
  return parts.join('; ');
}
