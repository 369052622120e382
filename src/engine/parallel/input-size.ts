/**
 * The UNetPipe input a scan becomes (no TF.js here, so the UI can import it): the scan's voxel axes
 * as (D, H, W) = (k, j, i), each zero-padded to a multiple of 32 (five stride-2 stages).
 */
export const UNETPIPE_DIVISOR = 32;

/** Padded (D, H, W) for a scan of dims (i, j, k). */
export function unetPipeInputSize(dims: readonly number[]): [number, number, number] {
  return [dims[2], dims[1], dims[0]].map((n) => Math.max(UNETPIPE_DIVISOR, Math.ceil(n / UNETPIPE_DIVISOR) * UNETPIPE_DIVISOR)) as [number, number, number];
}
