import type { VoxelArray } from '../engine/volume';

export type CornerstoneScalars = Uint8Array | Int16Array | Uint16Array | Float32Array;

/**
 * Cornerstone3D volumes take Uint8/Int16/Uint16/Float32 only. Other stored types are narrowed
 * to Int16 when every value fits (CT in int32 files, the common case), else widened to Float32.
 */
export function toCornerstoneScalars(data: VoxelArray): CornerstoneScalars {
  if (data instanceof Uint8Array || data instanceof Int16Array || data instanceof Uint16Array || data instanceof Float32Array) {
    return data;
  }
  let fitsInt16 = !(data instanceof Float64Array);
  if (fitsInt16) {
    for (let n = 0; n < data.length; n++) {
      const v = data[n];
      if (v < -32768 || v > 32767) {
        fitsInt16 = false;
        break;
      }
    }
  }
  return fitsInt16 ? Int16Array.from(data) : Float32Array.from(data);
}
