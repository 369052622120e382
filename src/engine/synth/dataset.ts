/**
 * Synthetic datasets: cases of chest CT with exact lesion masks and simulated observers' masks,
 * written as NIfTI files plus a MONAI-style datalist.
 *
 * Layout: DIR/case_000/{scan,truth,lungs,observer_<name>}.nii.gz and DIR/dataset.json, whose
 * "training" entries have "image" (the scan) and "label" (the truth) paths relative to DIR, as
 * MONAI's `load_decathlon_datalist` reads them, plus the lungs, the observers, the case seed and its
 * lesions. The engine only produces the bytes; writing them is the caller's (the CLI writes files).
 */
import { writeNifti } from '../io/nifti';
import type { Volume } from '../volume';
import type { LesionRecord } from './lesions';
import { observe, type ObserverProfile } from './observers';
import { buildPhantom, resolvePhantomOptions, type PhantomOptions, type PhantomOptionsInput } from './phantom';
import { DEFAULT_PROFILES } from './profiles';
import { deriveSeed, streamFor } from './seeds';
import { TISSUE, TISSUE_NAMES } from './tissue';

export interface CaseOptions extends PhantomOptionsInput {
  /** The observers to simulate, in order (default: the three default profiles). */
  observers?: ObserverProfile[];
}

export interface GeneratedCase {
  seed: number;
  scan: Volume;
  truth: Volume;
  lungs: Volume;
  /** Tissue classes (`TISSUE`), useful for checks and for picking what observers confuse. */
  tissue: Volume;
  observers: { name: string; mask: Volume }[];
  lesions: LesionRecord[];
  /** Body scale (1 = adult) and the noise σ this case got. */
  scale: number;
  noiseHU: number;
}

/** One case, reproducible from (options, seed). Observers draw from their own streams, named after them. */
export function generateCase(opts: CaseOptions, seed: number): GeneratedCase {
  const { observers = DEFAULT_PROFILES, ...phantomInput } = opts;
  const phantom = buildPhantom(resolvePhantomOptions(phantomInput), seed >>> 0);
  const truth = phantom.truth.data as Uint8Array;
  const tissue = phantom.tissue.data as Uint8Array;
  const vessels = new Uint8Array(tissue.length);
  for (let x = 0; x < tissue.length; x++) if (tissue[x] === TISSUE.VESSEL) vessels[x] = 1;
  const ctx = { dims: phantom.scan.dims, spacing: phantom.scan.spacing, lungs: phantom.lungs.data as Uint8Array, vessels };
  return {
    seed: seed >>> 0,
    scan: phantom.scan,
    truth: phantom.truth,
    lungs: phantom.lungs,
    tissue: phantom.tissue,
    observers: observers.map((profile) => ({
      name: profile.name,
      mask: { ...phantom.truth, notices: [], source: { format: 'synthetic', name: `observer_${profile.name}` }, data: observe(truth, profile, ctx, streamFor(seed >>> 0, 'observer', profile.name)) },
    })),
    lesions: phantom.lesions,
    scale: phantom.scale,
    noiseHU: phantom.noiseHU,
  };
}

/**
 * `count` observers from the profiles: the first `count`, cycling when there are more observers than
 * profiles (the repeats are named `<name>_2`, `<name>_3`… and draw independently).
 */
export function observerRoster(profiles: ObserverProfile[], count: number): ObserverProfile[] {
  if (!profiles.length) return [];
  return Array.from({ length: count }, (_, n) => {
    const p = profiles[n % profiles.length];
    const round = Math.floor(n / profiles.length);
    return round === 0 ? p : { ...p, name: `${p.name}_${round + 1}` };
  });
}

export interface DatasetOptions {
  cases: number;
  /** Master seed; case n uses deriveSeed(seed, 'case', n). */
  seed: number;
  phantom?: PhantomOptionsInput;
  profiles?: ObserverProfile[];
  /** Observers per case (default: one per profile). */
  observers?: number;
}

export interface DatasetFile {
  /** Relative to the dataset folder, '/'-separated. */
  path: string;
  bytes: Uint8Array;
}

export interface DatasetEntry {
  image: string;
  label: string;
  lungs: string;
  observers: Record<string, string>;
  seed: number;
  noiseHU: number;
  scale: number;
  lesions: LesionRecord[];
}

export interface DatasetManifest {
  name: string;
  description: string;
  tensorImageSize: '3D';
  modality: { '0': 'CT' };
  labels: { '0': 'background'; '1': 'lesion' };
  numTraining: number;
  generator: { seed: number; cases: number; phantom: PhantomOptions; observers: ObserverProfile[]; tissueClasses: string[] };
  training: DatasetEntry[];
}

export const caseFolder = (index: number) => `case_${String(index).padStart(3, '0')}`;

/** The case's NIfTI files (gzip) and its datalist entry. */
export async function caseFiles(c: GeneratedCase, index: number): Promise<{ files: DatasetFile[]; entry: DatasetEntry }> {
  const dir = caseFolder(index);
  const named: [string, Volume][] = [
    ['scan', c.scan],
    ['truth', c.truth],
    ['lungs', c.lungs],
    ...c.observers.map((o) => [`observer_${o.name}`, o.mask] as [string, Volume]),
  ];
  const files: DatasetFile[] = [];
  for (const [name, vol] of named) {
    files.push({ path: `${dir}/${name}.nii.gz`, bytes: await writeNifti(vol, { description: `synthetic chest CT ${name}, seed ${c.seed}` }) });
  }
  return {
    files,
    entry: {
      image: `${dir}/scan.nii.gz`,
      label: `${dir}/truth.nii.gz`,
      lungs: `${dir}/lungs.nii.gz`,
      observers: Object.fromEntries(c.observers.map((o) => [o.name, `${dir}/observer_${o.name}.nii.gz`])),
      seed: c.seed,
      noiseHU: c.noiseHU,
      scale: Number(c.scale.toFixed(4)),
      lesions: c.lesions,
    },
  };
}

/**
 * Generates the cases one at a time and hands each file to `write` as soon as it exists (so memory
 * holds one case), then dataset.json. Returns the manifest.
 */
export async function writeDataset(opts: DatasetOptions, write: (file: DatasetFile) => Promise<void>, onCase?: (index: number, c: GeneratedCase) => void): Promise<DatasetManifest> {
  const phantom = resolvePhantomOptions(opts.phantom);
  const profiles = opts.profiles ?? DEFAULT_PROFILES;
  const roster = observerRoster(profiles, opts.observers ?? profiles.length);
  const training: DatasetEntry[] = [];
  for (let n = 0; n < opts.cases; n++) {
    const c = generateCase({ ...phantom, observers: roster }, deriveSeed(opts.seed, 'case', n));
    const { files, entry } = await caseFiles(c, n);
    for (const f of files) await write(f);
    training.push(entry);
    onCase?.(n, c);
  }
  const manifest: DatasetManifest = {
    name: 'synthetic-chest-ct-lesions',
    description: 'Chest CT phantoms with COVID-19-like lesions (exact truth) and simulated observers (noisy labels)',
    tensorImageSize: '3D',
    modality: { '0': 'CT' },
    labels: { '0': 'background', '1': 'lesion' },
    numTraining: training.length,
    generator: { seed: opts.seed >>> 0, cases: opts.cases, phantom, observers: roster, tissueClasses: TISSUE_NAMES },
    training,
  };
  await write({ path: 'dataset.json', bytes: new TextEncoder().encode(JSON.stringify(manifest, null, 2) + '\n') });
  return manifest;
}
