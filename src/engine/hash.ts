/** FNV-1a over a sequence of integers (char codes, voxel values): a short stable key, not a security hash. */
export function fnv1a(values: Iterable<number>): string {
  let h = 2166136261;
  for (const v of values) h = Math.imul(h ^ (v | 0), 16777619);
  return (h >>> 0).toString(16);
}
