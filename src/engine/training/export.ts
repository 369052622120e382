/**
 * "When one machine is not enough": the open scan, its labels and the current weights as a folder
 * MONAI and PyTorch read directly, so training can continue on a cluster and the resulting `.pt`
 * comes back through the checkpoint reader. Zip layout:
 *   imagesTr/scan.nii.gz              the CT (HU), on its own geometry
 *   labelsTr/<name>.nii.gz            each label layer (0/1), same geometry
 *   dataset.json                      MONAI datalist: training / validation lists of {image, label}
 *   weights/coplenet_monai_dict.pt    the current weights, torch.load(f)["model_state_dict"]
 *   README.txt                        what the files are and how to load them
 */
import { zipSync } from 'fflate';
import { writeNifti } from '../io/nifti';
import type { Volume } from '../volume';

export interface DatasetExportInput {
  scanName: string;
  volume: Volume;
  labels: { name: string; mask: Uint8Array }[];
  /** Labels whose entries go to the validation list (the rest train). */
  validation: string[];
  /** A `.pt` file (writeTorchCheckpoint), optional. */
  weightsPt?: Uint8Array;
}

const safe = (s: string) => s.replace(/[^A-Za-z0-9._-]+/g, '_');

export async function exportDataset(input: DatasetExportInput): Promise<Uint8Array> {
  const files: Record<string, Uint8Array> = {};
  files['imagesTr/scan.nii.gz'] = await writeNifti(input.volume, { gzip: true });
  const entries: { image: string; label: string; name: string }[] = [];
  for (const l of input.labels) {
    const path = `labelsTr/${safe(l.name)}.nii.gz`;
    files[path] = await writeNifti({ ...input.volume, data: l.mask, units: 'label', notices: [] }, { gzip: true });
    entries.push({ image: 'imagesTr/scan.nii.gz', label: path, name: l.name });
  }
  const datalist = {
    description: `Exported from Lesion Workbench: ${input.scanName}`,
    source_scan: input.scanName,
    labels: { '0': 'background', '1': 'lesion' },
    training: entries.filter((e) => !input.validation.includes(e.name)).map(({ image, label }) => ({ image, label })),
    validation: entries.filter((e) => input.validation.includes(e.name)).map(({ image, label }) => ({ image, label })),
  };
  files['dataset.json'] = new TextEncoder().encode(JSON.stringify(datalist, null, 2));
  if (input.weightsPt) files['weights/coplenet_monai_dict.pt'] = input.weightsPt;
  files['README.txt'] = new TextEncoder().encode(
    [
      'MONAI: monai.data.load_decathlon_datalist("dataset.json", data_list_key="training") (and "validation").',
      'Network: COPLE-Net from MONAI research-contributions (coplenet.py), feature channels as the weights say.',
      'Weights: model.load_state_dict(torch.load("weights/coplenet_monai_dict.pt")["model_state_dict"]).',
      'Images are CT in HU; labels 0/1 on the same geometry (NIfTI sform/qform, RAS as nibabel reads them).',
      'Train with the COPLE-Net preprocessing: ScaleIntensityRanged(a_min=-1400, a_max=100, b_min=0, b_max=1, clip=True),',
      'Orientationd(axcodes="SPL"), lung crop, 2D axial patches. Drop the resulting .pt back into the workbench.',
    ].join('\n') + '\n',
  );
  // .nii.gz and .pt are already compressed or binary: store them.
  return zipSync(files, { level: 0 });
}
