import { unzipSync } from 'fflate';
import { describe, expect, it } from 'vitest';
import { readNifti } from '../io/nifti';
import { readWeights, writeTorchCheckpoint } from '../weights';
import type { Volume } from '../volume';
import { exportDataset } from './export';

describe('dataset export for MONAI', () => {
  it('writes scan, labels, a datalist with the split, and weights that read back', async () => {
    const volume: Volume = { data: new Int16Array(24).map((_, n) => n * 10 - 100), dims: [2, 3, 4], spacing: [1, 1, 2], origin: [1, 2, 3], direction: [1, 0, 0, 0, 1, 0, 0, 0, 1], units: 'HU', notices: [] };
    const a = new Uint8Array(24).map((_, n) => (n % 3 === 0 ? 1 : 0));
    const b = new Uint8Array(24).map((_, n) => (n % 2 === 0 ? 1 : 0));
    const pt = writeTorchCheckpoint(new Map([['out_conv.conv.bias', { dtype: 'float32', shape: [2], data: new Float32Array([0.5, -0.5]) }]]));
    const zip = unzipSync(await exportDataset({ scanName: 'ct.nii.gz', volume, labels: [{ name: 'reader 1', mask: a }, { name: 'STAPLE', mask: b }], validation: ['STAPLE'], weightsPt: pt }));
    const datalist = JSON.parse(new TextDecoder().decode(zip['dataset.json']));
    expect(datalist.training).toEqual([{ image: 'imagesTr/scan.nii.gz', label: 'labelsTr/reader_1.nii.gz' }]);
    expect(datalist.validation).toEqual([{ image: 'imagesTr/scan.nii.gz', label: 'labelsTr/STAPLE.nii.gz' }]);
    const scan = await readNifti({ name: 'scan.nii.gz', bytes: zip['imagesTr/scan.nii.gz'] });
    expect(Array.from(scan.data)).toEqual(Array.from(volume.data));
    expect(scan.origin).toEqual([1, 2, 3]);
    const label = await readNifti({ name: 'l.nii.gz', bytes: zip['labelsTr/reader_1.nii.gz'] });
    expect(Array.from(label.data)).toEqual(Array.from(a));
    const w = readWeights(zip['weights/coplenet_monai_dict.pt'], 'w.pt');
    expect(Array.from(w.stateDict.get('out_conv.conv.bias')!.data as Float32Array)).toEqual([0.5, -0.5]);
  });
});
