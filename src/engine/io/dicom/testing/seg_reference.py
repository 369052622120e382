"""Independent reference for seg.test.ts, with pydicom and numpy only.

Usage: seg_reference.py SHARED_REAL_DIR OUT_DIR WRITTEN_SEG... → JSON on stdout.
- The dcmqi NRRD label maps, decoded here (gzip raw int16), as OUT_DIR/<name>.i16 with their geometry.
- SEG files the project has no real example of, built here: FRACTIONAL (from dcmqi's liver SEG), and a
  BINARY one with 5×3 frames (15 bits: frames start mid-byte) and two overlapping segments.
- For each SEG the test wrote: what pydicom reads from it (frames, positions, references, bits as
  OUT_DIR/<basename>.u8).
"""
import gzip
import json
import os
import re
import sys

import numpy as np
import pydicom
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.sequence import Sequence
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

real, out, written = sys.argv[1], sys.argv[2], sys.argv[3:]
result = {}


def nrrd(name, rel):
    raw = open(os.path.join(real, rel), 'rb').read()
    head, body = raw.split(b'\n\n', 1)
    head = head.decode()
    sizes = [int(x) for x in re.search(r'sizes: (.*)', head).group(1).split()]
    origin = [float(x) for x in re.search(r'space origin: \((.*)\)', head).group(1).split(',')]
    dirs = [[float(x) for x in v.split(',')] for v in re.findall(r'\(([^)]*)\)', re.search(r'space directions: (.*)', head).group(1))]
    arr = np.frombuffer(gzip.decompress(body), dtype='<i2')
    assert arr.size == np.prod(sizes)
    arr.tofile(os.path.join(out, name + '.i16'))
    result[name] = {'sizes': sizes, 'origin': origin, 'spacing': [float(np.linalg.norm(d)) for d in dirs]}


nrrd('liver_nrrd', 'dcmqi/liver_seg.nrrd')
nrrd('tiny_nrrd', 'dcmqi/tiny_24x38x3/sparse_labelmap_noppv_seg.nrrd')

# FRACTIONAL: dcmqi's liver SEG as 8-bit probabilities. Inside the liver 255; outside, rows 0-9 hold
# 127 (just under half of 255: out) and rows 10-19 hold 128 (at least half: in).
seg = pydicom.dcmread(os.path.join(real, 'dcmqi/liver.dcm'))
frames = seg.pixel_array.astype(np.uint8) * 255
frames[:, 0:10, :] = np.where(frames[:, 0:10, :] == 0, 127, frames[:, 0:10, :])
frames[:, 10:20, :] = np.where(frames[:, 10:20, :] == 0, 128, frames[:, 10:20, :])
seg.SegmentationType = 'FRACTIONAL'
seg.SegmentationFractionalType = 'PROBABILITY'
seg.MaximumFractionalValue = 255
seg.BitsAllocated = 8
seg.BitsStored = 8
seg.HighBit = 7
seg.PixelData = frames.tobytes()
seg['PixelData'].VR = 'OB'
seg.SOPInstanceUID = generate_uid()
seg.save_as(os.path.join(out, 'liver_fractional.dcm'))

# BINARY 5×3 frames on slices z = 30, 31, 32 mm: segment 1 on slices 0 and 2, segment 2 on slice 0.
rng = np.random.default_rng(7)
masks = (rng.random((3, 3, 5)) < 0.5).astype(np.uint8)
plan = [(1, 0), (2, 0), (1, 2)]  # (segment, slice) per frame
ds = Dataset()
ds.file_meta = FileMetaDataset()
ds.file_meta.MediaStorageSOPClassUID = '1.2.840.10008.5.1.4.1.1.66.4'
ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
ds.SOPClassUID = '1.2.840.10008.5.1.4.1.1.66.4'
ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID
ds.Modality = 'SEG'
ds.SeriesInstanceUID = generate_uid()
ds.SamplesPerPixel = 1
ds.PhotometricInterpretation = 'MONOCHROME2'
ds.Rows, ds.Columns, ds.NumberOfFrames = 3, 5, 3
ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 1, 1, 0, 0
ds.SegmentationType = 'BINARY'
segments = []
for number, label in [(1, 'first'), (2, 'second')]:
    it = Dataset()
    it.SegmentNumber = number
    it.SegmentLabel = label
    it.SegmentAlgorithmType = 'MANUAL'
    segments.append(it)
ds.SegmentSequence = Sequence(segments)
shared = Dataset()
po = Dataset()
po.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
pm = Dataset()
pm.PixelSpacing = [0.5, 0.5]
pm.SliceThickness = 1
shared.PlaneOrientationSequence = Sequence([po])
shared.PixelMeasuresSequence = Sequence([pm])
ds.SharedFunctionalGroupsSequence = Sequence([shared])
per = []
for (number, k) in plan:
    fg = Dataset()
    pp = Dataset()
    pp.ImagePositionPatient = [10, 20, 30 + k]
    si = Dataset()
    si.ReferencedSegmentNumber = number
    fg.PlanePositionSequence = Sequence([pp])
    fg.SegmentIdentificationSequence = Sequence([si])
    per.append(fg)
ds.PerFrameFunctionalGroupsSequence = Sequence(per)
packed = np.packbits(masks.reshape(-1), bitorder='little')
ds.PixelData = packed.tobytes() + (b'\0' if packed.size % 2 else b'')
ds['PixelData'].VR = 'OB'
ds.save_as(os.path.join(out, 'odd_binary.dcm'), write_like_original=False)
assert (pydicom.dcmread(os.path.join(out, 'odd_binary.dcm')).pixel_array == masks).all()
expected = np.zeros((3, 3, 5), np.uint8)
overlap = 0
for (number, k), m in sorted(zip(plan, masks), key=lambda x: x[0][0]):  # later (higher) segment wins
    overlap += int(((expected[k] != 0) & (expected[k] != number) & (m != 0)).sum())
    expected[k][m != 0] = number
expected.tofile(os.path.join(out, 'odd_binary_expected.u8'))
result['odd_binary'] = {'overlap': overlap}

# What pydicom sees in the SEGs the project wrote.
ct_by_position = {}
for d in ['dcmqi/ct-3slice', 'dcmqi/tiny_24x38x3/image']:
    for f in os.listdir(os.path.join(real, d)):
        img = pydicom.dcmread(os.path.join(real, d, f))
        ct_by_position[tuple(round(float(x), 3) for x in img.ImagePositionPatient)] = img.SOPInstanceUID
for path in written:
    d = pydicom.dcmread(path)
    arr = d.pixel_array.reshape(int(d.NumberOfFrames), d.Rows, d.Columns).astype(np.uint8)
    arr.tofile(os.path.join(out, os.path.basename(path) + '.u8'))
    frames = []
    for fg in d.PerFrameFunctionalGroupsSequence:
        ipp = [float(x) for x in fg.PlanePositionSequence[0].ImagePositionPatient]
        src = fg.DerivationImageSequence[0].SourceImageSequence[0]
        frames.append({
            'segment': int(fg.SegmentIdentificationSequence[0].ReferencedSegmentNumber),
            'position': ipp,
            'referencedSop': src.ReferencedSOPInstanceUID,
            'sopAtPosition': ct_by_position.get(tuple(round(x, 3) for x in ipp)),
        })
    result[os.path.basename(path)] = {
        'modality': d.Modality,
        'sopClass': d.SOPClassUID,
        'transferSyntax': d.file_meta.TransferSyntaxUID,
        'segmentationType': d.SegmentationType,
        'numberOfFrames': int(d.NumberOfFrames),
        'bitsAllocated': int(d.BitsAllocated),
        'rows': int(d.Rows), 'columns': int(d.Columns),
        'referencedSeries': d.ReferencedSeriesSequence[0].SeriesInstanceUID,
        'referencedInstances': len(d.ReferencedSeriesSequence[0].ReferencedInstanceSequence),
        'studyUid': d.StudyInstanceUID,
        'frameOfReference': d.FrameOfReferenceUID,
        'patientName': str(d.PatientName),
        'segments': [{'number': int(s.SegmentNumber), 'label': s.SegmentLabel, 'algorithmType': s.SegmentAlgorithmType,
                      'algorithmName': s.get('SegmentAlgorithmName'),
                      'category': s.SegmentedPropertyCategoryCodeSequence[0].CodeMeaning,
                      'type': s.SegmentedPropertyTypeCodeSequence[0].CodeMeaning,
                      'lab': [int(x) for x in s.RecommendedDisplayCIELabValue] if 'RecommendedDisplayCIELabValue' in s else None}
                     for s in d.SegmentSequence],
        'pixelSpacing': [float(x) for x in d.SharedFunctionalGroupsSequence[0].PixelMeasuresSequence[0].PixelSpacing],
        'orientation': [float(x) for x in d.SharedFunctionalGroupsSequence[0].PlaneOrientationSequence[0].ImageOrientationPatient],
        'frames': frames,
    }

json.dump(result, sys.stdout)
