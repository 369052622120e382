/** Lesion-like masks for the metrics benchmark: the same 12 ellipsoids, each observer's a little shifted and scaled. */
import type { Vec3 } from '../src/engine/volume';

export function lesionMasks(dims: Vec3, spacing: Vec3, observers: number): Uint8Array[] {
  return Array.from({ length: observers }, (_, n) => lesions(dims, spacing, n + 1));
}

/** Blobs (ellipsoids) at fixed places, each observer shifting and scaling them a little. */
function lesions(dims: Vec3, spacing: Vec3, seed: number): Uint8Array {
  const [nx, ny, nz] = dims;
  const m = new Uint8Array(nx * ny * nz);
  let s = seed;
  const rnd = () => ((s = (s * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff);
  for (let b = 0; b < 12; b++) {
    const c = [nx * (0.2 + 0.6 * ((b * 0.37) % 1)), ny * (0.2 + 0.6 * ((b * 0.61) % 1)), nz * (0.2 + 0.6 * ((b * 0.23) % 1))];
    const r = (4 + (b % 5) * 6) * (0.85 + 0.3 * rnd());
    const jitter = [rnd() * 3 - 1.5, rnd() * 3 - 1.5, rnd() - 0.5];
    const rz = r * (spacing[0] / spacing[2]);
    for (let k = Math.max(0, Math.floor(c[2] - rz - 2)); k < Math.min(nz, c[2] + rz + 2); k++)
      for (let j = Math.max(0, Math.floor(c[1] - r - 2)); j < Math.min(ny, c[1] + r + 2); j++)
        for (let i = Math.max(0, Math.floor(c[0] - r - 2)); i < Math.min(nx, c[0] + r + 2); i++) {
          const d = ((i - c[0] - jitter[0]) / r) ** 2 + ((j - c[1] - jitter[1]) / r) ** 2 + ((k - c[2] - jitter[2]) / rz) ** 2;
          if (d <= 1) m[i + nx * (j + ny * k)] = 1;
        }
  }
  return m;
}

