/**
 * Cross-format geometry: the same scan read from DICOM and from its dcm2niix NIfTI conversion must
 * put every voxel at the same LPS position with the same HU, and the TotalSegmentator label map
 * must land on the same voxels.
 */
import { readdirSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { readShared, sharedPath } from '../../../tests/shared';
import { exactAxisMap, resampleToGrid } from '../grid';
import { worldLPS, type Volume } from '../volume';
import { readDicomSeries, scanDicom } from './dicom/series';
import { readNifti } from './nifti';

const TS = 'data/real/totalsegmentator';

async function dicomSeries(folder: string): Promise<Volume> {
  const dir = sharedPath(TS, folder);
  const files = readdirSync(dir).map((name) => ({ name, bytes: readShared(TS, folder, name) }));
  const { series } = scanDicom(files);
  expect(series).toHaveLength(1);
  return readDicomSeries(series[0]);
}

const nifti = (name: string) => readNifti({ name, bytes: readShared(TS, name) });

describe('DICOM series vs its dcm2niix conversion', () => {
  it('gives the same world position for every voxel (within 1e-3 mm) and the same HU', async () => {
    const dcm = await dicomSeries('example_ct_dicom_j2k');
    const nii = await nifti('example_ct_dicom_dcm2niix.nii.gz');
    expect(dcm.dims).toEqual([512, 512, 20]);
    const map = exactAxisMap(nii, dcm);
    expect(map).not.toBeNull();
    // The voxel map is affine, so matching positions at the 8 corners means matching everywhere;
    // check corners and a spread of interior voxels explicitly all the same.
    const step = (n: number) => [0, Math.floor(n / 3), Math.floor((2 * n) / 3), n - 1];
    let worst = 0;
    for (const i of step(512)) for (const j of step(512)) for (const k of step(20)) {
      const src = [i, j, k];
      const target = [0, 1, 2].map((r) => map!.offset[r] + (map!.flip[r] ? -1 : 1) * src[map!.axis[r]]) as [number, number, number];
      const p = worldLPS(nii, i, j, k);
      const q = worldLPS(dcm, ...target);
      worst = Math.max(worst, Math.hypot(p[0] - q[0], p[1] - q[1], p[2] - q[2]));
    }
    expect(worst).toBeLessThan(1e-3);
    // Every voxel's HU: the NIfTI resampled (exactly, by axis map) onto the DICOM grid.
    const onDicomGrid = resampleToGrid(nii, dcm);
    let mismatches = 0;
    for (let n = 0; n < dcm.data.length; n++) if (onDicomGrid[n] !== dcm.data[n]) mismatches++;
    expect(mismatches).toBe(0);
    expect(dcm.units).toBe('HU');
  });

  it('the TotalSegmentator label map lands on the same voxels as the dcm2niix scan', async () => {
    const scan = await nifti('example_ct_dicom_dcm2niix.nii.gz');
    const seg = await nifti('example_seg_dicom.nii.gz');
    expect(seg.dims).toEqual(scan.dims);
    const map = exactAxisMap(seg, scan);
    expect(map).toEqual({ axis: [0, 1, 2], flip: [false, false, false], offset: [0, 0, 0] });
    // Labelled voxels are body, not air: the mean HU under the labels is tissue-like.
    let sum = 0;
    let count = 0;
    for (let n = 0; n < seg.data.length; n++) {
      if (seg.data[n] > 0) {
        sum += scan.data[n];
        count++;
      }
    }
    expect(count).toBeGreaterThan(10_000);
    expect(sum / count).toBeGreaterThan(-200);
  });
});
