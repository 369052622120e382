/**
 * A CT-like int16 volume for benchmarks: a body ellipse of soft tissue with lungs and a spine,
 * plus noise. Deterministic. Also writes it as a DICOM CT series with dcmjs.
 */
import dcmjs from 'dcmjs';
import type { Volume } from '../src/engine/volume';

export function syntheticCT(nx: number, ny: number, nz: number): Volume {
  const data = new Int16Array(nx * ny * nz);
  let seed = 12345;
  const noise = () => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return (seed / 0x7fffffff - 0.5) * 40;
  };
  for (let k = 0; k < nz; k++) {
    for (let j = 0; j < ny; j++) {
      for (let i = 0; i < nx; i++) {
        const x = (i - nx / 2) / (nx * 0.42);
        const y = (j - ny / 2) / (ny * 0.32);
        let hu = -1000;
        if (x * x + y * y < 1) hu = 40;
        const lx = (Math.abs(i - nx / 2) - nx * 0.18) / (nx * 0.13);
        const ly = (j - ny / 2) / (ny * 0.24);
        if (lx * lx + ly * ly < 1) hu = -850;
        const sx = (i - nx / 2) / (nx * 0.04);
        const sy = (j - ny * 0.75) / (ny * 0.04);
        if (sx * sx + sy * sy < 1) hu = 700;
        data[i + nx * (j + ny * k)] = Math.round(hu + noise());
      }
    }
  }
  return {
    data,
    dims: [nx, ny, nz],
    spacing: [0.7, 0.7, 1.0],
    origin: [-179, -179, -300],
    direction: [1, 0, 0, 0, 1, 0, 0, 0, 1],
    units: 'HU',
    notices: [],
  };
}

/** One uncompressed (explicit VR little endian) CT Image Storage file per slice. */
export function writeDicomSeries(v: Volume): Uint8Array[] {
  const [nx, ny, nz] = v.dims;
  const { DicomMetaDictionary, DicomDict } = dcmjs.data;
  const study = DicomMetaDictionary.uid();
  const series = DicomMetaDictionary.uid();
  const frame = DicomMetaDictionary.uid();
  const out: Uint8Array[] = [];
  for (let k = 0; k < nz; k++) {
    const sop = DicomMetaDictionary.uid();
    // Stored values are HU + 1024 (unsigned), with RescaleIntercept -1024, as scanners do.
    const slice = new Uint16Array(nx * ny);
    for (let n = 0; n < slice.length; n++) slice[n] = Math.max(0, v.data[k * nx * ny + n] + 1024);
    const dataset = {
      SOPClassUID: '1.2.840.10008.5.1.4.1.1.2',
      SOPInstanceUID: sop,
      Modality: 'CT',
      PatientName: 'Synthetic^Bench',
      PatientID: 'BENCH',
      StudyInstanceUID: study,
      SeriesInstanceUID: series,
      FrameOfReferenceUID: frame,
      SeriesDescription: 'synthetic benchmark CT',
      InstanceNumber: k + 1,
      ImagePositionPatient: [v.origin[0], v.origin[1], v.origin[2] + k * v.spacing[2]],
      ImageOrientationPatient: [1, 0, 0, 0, 1, 0],
      PixelSpacing: [v.spacing[1], v.spacing[0]],
      SliceThickness: v.spacing[2],
      Rows: ny,
      Columns: nx,
      SamplesPerPixel: 1,
      PhotometricInterpretation: 'MONOCHROME2',
      BitsAllocated: 16,
      BitsStored: 16,
      HighBit: 15,
      PixelRepresentation: 0,
      RescaleIntercept: -1024,
      RescaleSlope: 1,
      PixelData: [slice.buffer],
      _vrMap: { PixelData: 'OW' },
    };
    const meta = {
      FileMetaInformationVersion: new Uint8Array([0, 1]).buffer,
      MediaStorageSOPClassUID: dataset.SOPClassUID,
      MediaStorageSOPInstanceUID: sop,
      TransferSyntaxUID: '1.2.840.10008.1.2.1',
      ImplementationClassUID: '1.2.826.0.1.3680043.9.7433.1.1',
    };
    const dict = new DicomDict(DicomMetaDictionary.denaturalizeDataset(meta));
    dict.dict = DicomMetaDictionary.denaturalizeDataset(dataset);
    out.push(new Uint8Array(dict.write()));
  }
  return out;
}
