/**
 * One entry point for "the user gave us these files": finds out what they are (by content, not
 * only by name) and returns a Volume, or the list of series to pick from.
 */
import type { Volume } from '../volume';
import { isDicom, readDicomSeries, scanDicom, type DicomSeries } from './dicom/series';
import { InputError } from './errors';
import { gunzipHead, isGzip } from './gzip';
import type { NamedBytes } from './named-bytes';
import { isNifti, readNifti } from './nifti';
import { isNrrd, readNrrd } from './nrrd';

export interface SeriesSummary {
  uid: string;
  description: string;
  modality: string;
  images: number;
}

export type LoadResult =
  /** `dicomSeries`: the series read, for SEG import/export; it stays in the engine (not cloneable). */
  | { kind: 'volume'; volume: Volume; dicomSeries?: DicomSeries }
  | { kind: 'choose-series'; series: SeriesSummary[] };

export interface LoadOptions {
  /** Which DICOM series to read when the files hold several. */
  seriesUid?: string;
  /** Resample a DICOM series with gantry tilt or uneven slice gaps onto a regular grid. */
  resample?: boolean;
}

const NIFTI_IMG = /\.img(\.gz)?$/i;
const NIFTI_HDR = /\.hdr(\.gz)?$/i;

/** What a single file is, looking at its (decompressed) first bytes. */
async function sniff(file: NamedBytes): Promise<'nifti' | 'nrrd' | 'dicom' | 'unknown'> {
  if (isDicom(file.bytes)) return 'dicom';
  if (isNrrd(file.bytes)) return 'nrrd';
  if (isNifti(file.bytes)) return 'nifti';
  if (isGzip(file.bytes)) {
    // The header tells; inflate only the first bytes (the reader inflates the whole file once).
    const head = await gunzipHead(file.bytes, 544);
    if (head && isNifti(head)) return 'nifti';
  }
  return 'unknown';
}

export async function loadFiles(files: NamedBytes[], opts: LoadOptions = {}): Promise<LoadResult> {
  if (files.length === 0) throw new InputError('(no files)', 'nothing to open');
  const hdr = files.find((f) => NIFTI_HDR.test(f.name));
  if (hdr) {
    const stem = hdr.name.replace(NIFTI_HDR, '');
    const img = files.find((f) => NIFTI_IMG.test(f.name) && f.name.replace(NIFTI_IMG, '') === stem);
    return { kind: 'volume', volume: await readNifti(hdr, img) };
  }
  const kinds = await Promise.all(files.map(sniff));
  const dicom = files.filter((_, n) => kinds[n] === 'dicom');
  const others = files.map((f, n) => ({ f, kind: kinds[n] })).filter((x) => x.kind === 'nifti' || x.kind === 'nrrd');
  if (others.length > 0 && dicom.length === 0) {
    if (others.length > 1) {
      throw new InputError(others.map((o) => o.f.name).join(', '), 'several volumes dropped at once; open one scan at a time');
    }
    const { f, kind } = others[0];
    return { kind: 'volume', volume: kind === 'nifti' ? await readNifti(f) : await readNrrd(f) };
  }
  if (dicom.length === 0) {
    const name = files.length === 1 ? files[0].name : `${files.length} files`;
    throw new InputError(name, 'not a NIfTI, NRRD or DICOM file');
  }
  const { series, skipped } = scanDicom(dicom);
  const images = series.filter((s) => s.modality !== 'SEG');
  if (images.length === 0) {
    throw new InputError(dicom.length === 1 ? dicom[0].name : `${dicom.length} DICOM files`, 'no DICOM image series with pixel data found');
  }
  const chosen = opts.seriesUid ? images.find((s) => s.uid === opts.seriesUid) : images.length === 1 ? images[0] : undefined;
  if (!chosen) {
    return {
      kind: 'choose-series',
      series: images.map((s) => ({ uid: s.uid, description: s.description, modality: s.modality, images: s.count })),
    };
  }
  const volume = await readDicomSeries(chosen, { resample: opts.resample });
  const ignored = skipped.length + files.length - dicom.length;
  if (ignored > 0) volume.notices.push(`${ignored} file(s) ignored (not part of an image series)`);
  return { kind: 'volume', volume, dicomSeries: chosen };
}
