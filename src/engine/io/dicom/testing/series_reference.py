"""Independent reference for series.test.ts, with pydicom and numpy only.

Usage: series_reference.py SHARED_REAL_DIR OUT_DIR  → JSON on stdout.
For each case: the slices sorted by ImagePositionPatient along the slice normal, rescaled, written
as raw little-endian float32 (i fastest) to OUT_DIR/<case>.f32, with the geometry in the JSON.
Also writes modified copies of real files that the tests need (deflated, scout, tilted, ...).
"""
import io
import json
import os
import sys

import numpy as np
import pydicom
from PIL import Image
from pydicom.encaps import encapsulate
from pydicom.uid import DeflatedExplicitVRLittleEndian, generate_uid

real, out = sys.argv[1], sys.argv[2]


def files(rel):
    p = os.path.join(real, rel)
    return sorted(os.path.join(p, f) for f in os.listdir(p)) if os.path.isdir(p) else [p]


def planes(ds):
    """(position, orientation, slope, intercept, 2-D pixels) per frame, classic or enhanced."""
    arr = ds.pixel_array.astype(np.float64)
    if 'PerFrameFunctionalGroupsSequence' in ds:
        shared = ds.SharedFunctionalGroupsSequence[0]
        out = []
        for n, fg in enumerate(ds.PerFrameFunctionalGroupsSequence):
            def get(seq, attr):
                item = fg.get(seq) or shared.get(seq)
                return getattr(item[0], attr)
            out.append((np.array(get('PlanePositionSequence', 'ImagePositionPatient'), float),
                        np.array(get('PlaneOrientationSequence', 'ImageOrientationPatient'), float),
                        float(get('PixelValueTransformationSequence', 'RescaleSlope')),
                        float(get('PixelValueTransformationSequence', 'RescaleIntercept')),
                        arr[n], [float(x) for x in get('PixelMeasuresSequence', 'PixelSpacing')]))
        return out
    return [(np.array(ds.ImagePositionPatient, float), np.array(ds.ImageOrientationPatient, float),
             float(ds.get('RescaleSlope', 1)), float(ds.get('RescaleIntercept', 0)), arr,
             [float(x) for x in ds.PixelSpacing])]


def reference(name, rel):
    items = [p for f in files(rel) for p in planes(pydicom.dcmread(f))]
    iop = items[0][1]
    normal = np.cross(iop[:3], iop[3:])
    items.sort(key=lambda it: float(np.dot(it[0], normal)))
    vol = np.stack([it[4] * it[2] + it[3] for it in items]).astype('<f4')
    vol.tofile(os.path.join(out, name + '.f32'))
    t = [float(np.dot(it[0], normal)) for it in items]
    gaps = np.diff(t)
    return {
        'dims': [vol.shape[2], vol.shape[1], vol.shape[0]],
        'origin': items[0][0].tolist(),
        'direction': iop[:3].tolist() + iop[3:].tolist() + normal.tolist(),
        'pixelSpacing': items[0][5],
        'gaps': gaps.tolist(),
        'positions': [it[0].tolist() for it in items],
        'min': float(vol.min()), 'max': float(vol.max()),
    }


cases = {
    'ct1_explicit_le': 'dicomParser/CT1_UNC.explicit_little_endian.dcm',
    'ct1_explicit_be': 'dicomParser/CT1_UNC.explicit_big_endian.dcm',
    'ct1_implicit_le': 'dicomParser/CT1_UNC.implicit_little_endian.dcm',
    'ct_small': 'pydicom/CT_small.dcm',
    'ct2_uneven': 'pydicom/dicomdirtests_CT2',
    'dcmqi_3slice': 'dcmqi/ct-3slice',
    'tiny': 'dcmqi/tiny_24x38x3/image',
    'ts_decompressed': 'totalsegmentator/example_ct_dicom_decompressed',
    'ts_j2k': 'totalsegmentator/example_ct_dicom_j2k',
    'enhanced_rle': 'dicomParser/CT0012.not_fragmented_bot_rle.dcm',
}
result = {name: reference(name, rel) for name, rel in cases.items()}

# Deflated Explicit VR Little Endian copy of CT_small (pydicom deflates on write).
ds = pydicom.dcmread(os.path.join(real, 'pydicom/CT_small.dcm'))
ds.file_meta.TransferSyntaxUID = DeflatedExplicitVRLittleEndian
ds.save_as(os.path.join(out, 'ct_small_deflated.dcm'), write_like_original=False)

# A scout saved into the tiny series, and an image of another orientation in it.
tiny = files('dcmqi/tiny_24x38x3/image')
scout = pydicom.dcmread(tiny[0])
scout.ImageType = ['ORIGINAL', 'PRIMARY', 'LOCALIZER']
scout.SOPInstanceUID = generate_uid()
scout.save_as(os.path.join(out, 'tiny_scout.dcm'))
sag = pydicom.dcmread(tiny[0])
sag.ImageOrientationPatient = [0, 1, 0, 0, 0, -1]
sag.SOPInstanceUID = generate_uid()
sag.save_as(os.path.join(out, 'tiny_sagittal.dcm'))

# The tiny series with a gantry tilt: each slice shifted one pixel row (0.7 mm) along +y.
os.makedirs(os.path.join(out, 'tilted'), exist_ok=True)
for f in tiny:
    d = pydicom.dcmread(f)
    k = round((float(d.ImagePositionPatient[2]) + 177.75) / 2.5)
    d.ImagePositionPatient = [d.ImagePositionPatient[0], float(d.ImagePositionPatient[1]) + 0.7 * k, d.ImagePositionPatient[2]]
    d.save_as(os.path.join(out, 'tilted', os.path.basename(f)))

# CT_small without position and orientation.
d = pydicom.dcmread(os.path.join(real, 'pydicom/CT_small.dcm'))
del d.ImagePositionPatient
del d.ImageOrientationPatient
d.save_as(os.path.join(out, 'ct_small_unlocated.dcm'))

# CT_small with a fractional slope: values no longer whole numbers.
d = pydicom.dcmread(os.path.join(real, 'pydicom/CT_small.dcm'))
d.RescaleSlope = 0.5
d.save_as(os.path.join(out, 'ct_small_slope_half.dcm'))

# Lossy codecs the real data lacks: CT_small encoded by Pillow (libjpeg, OpenJPEG), encapsulated by
# pydicom; the reference is Pillow's own decode of the same codestream.
def encapsulated(name, codestream, ts, bits, intercept):
    d = pydicom.dcmread(os.path.join(real, 'pydicom/CT_small.dcm'))
    d.file_meta.TransferSyntaxUID = ts
    d.BitsAllocated, d.BitsStored, d.HighBit, d.PixelRepresentation = bits, bits, bits - 1, 0
    d.RescaleSlope, d.RescaleIntercept = 1, intercept
    d.PixelData = encapsulate([codestream])
    d['PixelData'].VR = 'OB'
    d['PixelData'].is_undefined_length = True
    d.save_as(os.path.join(out, name + '.dcm'), write_like_original=False)
    decoded = np.array(Image.open(io.BytesIO(codestream))).astype(np.float64)
    (decoded + intercept).astype('<f4').tofile(os.path.join(out, name + '.f32'))


raw = pydicom.dcmread(os.path.join(real, 'pydicom/CT_small.dcm')).pixel_array.astype(np.float64)
window = np.clip((raw - 1024 + 160) / 400 * 255, 0, 255).astype(np.uint8)  # HU -160..240 → 0..255
buf = io.BytesIO()
Image.fromarray(window).save(buf, format='JPEG', quality=90)
encapsulated('ct_small_jpeg_baseline', buf.getvalue(), '1.2.840.10008.1.2.4.50', 8, 0)
buf = io.BytesIO()
Image.fromarray((raw + 2048).astype(np.uint16)).save(buf, format='JPEG2000', irreversible=True, quality_mode='rates', quality_layers=[20], no_jp2=True)
encapsulated('ct_small_j2k_lossy', buf.getvalue(), '1.2.840.10008.1.2.4.91', 16, -1024 - 2048)

json.dump(result, sys.stdout)
