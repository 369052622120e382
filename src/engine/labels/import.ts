/**
 * Label files dropped onto a loaded scan become binary layers on the scan's grid: NIfTI, NRRD, or a
 * DICOM SEG referencing the scan's series. A label on another grid is refused with the reason,
 * unless the caller asks for resampling (nearest neighbour).
 */
import { exactAxisMap, resampleToGrid, type Grid } from '../grid';
import { readDicomSeg } from '../io/dicom/seg';
import { isDicom, type DicomSeries } from '../io/dicom/series';
import { InputError } from '../io/errors';
import { loadFiles } from '../io/load';
import type { NamedBytes } from '../io/named-bytes';
import { axisCodes, sameGrid, type Volume } from '../volume';

export interface ImportedLabel {
  name: string;
  data: Uint8Array;
  notices: string[];
}

const describe = (g: Grid) => `${g.dims.join('×')} voxels of ${g.spacing.map((s) => +s.toFixed(3)).join('×')} mm, ${axisCodes(g)}, origin ${g.origin.map((x) => +x.toFixed(1)).join(', ')}`;

/** Binary mask (label > 0) of `label` on `grid`, or an InputError explaining the mismatch. */
export function labelOnGrid(label: Volume, grid: Grid, fileName: string, resample: boolean): ImportedLabel {
  const notices: string[] = [];
  let values: ArrayLike<number>;
  if (sameGrid({ ...label }, { ...grid })) {
    values = label.data;
  } else if (exactAxisMap(grid, label)) {
    values = resampleToGrid(label, grid, 'nearest');
    notices.push(`${fileName}: reoriented onto the scan's grid (same voxels, other axis order)`);
  } else if (resample) {
    values = resampleToGrid(label, grid, 'nearest');
    notices.push(`${fileName}: resampled onto the scan's grid (nearest neighbour)`);
  } else {
    throw new InputError(fileName, `label grid (${describe(label)}) differs from the scan's (${describe(grid)}); open it with "resample" to put it on the scan's grid`);
  }
  const data = new Uint8Array(values.length);
  const distinct = new Set<number>();
  for (let n = 0; n < values.length; n++) {
    const v = values[n];
    if (v > 0) {
      data[n] = 1;
      if (distinct.size < 256) distinct.add(v);
    }
  }
  if (distinct.size > 1) notices.push(`${fileName}: ${distinct.size} labels merged into one lesion mask`);
  return { name: fileName.replace(/^.*\//, '').replace(/\.(nii(\.gz)?|nrrd|nhdr|dcm)$/i, ''), data, notices };
}

export async function importLabels(files: NamedBytes[], grid: Grid, opts: { resample?: boolean; series?: DicomSeries | null } = {}): Promise<ImportedLabel[]> {
  const out: ImportedLabel[] = [];
  for (const file of files) {
    if (isDicom(file.bytes)) {
      if (!opts.series) throw new InputError(file.name, 'a DICOM SEG can only be placed on a scan opened from its DICOM series');
      const seg = await readDicomSeg(file, opts.series);
      for (const segment of seg.segments) {
        const one = { ...seg.labelmap, data: seg.labelmap.data.map((v) => (v === segment.number ? 1 : 0)) };
        const imported = labelOnGrid(one, grid, file.name, !!opts.resample);
        out.push({ ...imported, name: segment.label || imported.name, notices: [...seg.labelmap.notices, ...imported.notices] });
      }
      continue;
    }
    const res = await loadFiles([file]);
    if (res.kind !== 'volume') throw new InputError(file.name, 'not a label file');
    out.push(labelOnGrid(res.volume, grid, file.name, !!opts.resample));
  }
  return out;
}
