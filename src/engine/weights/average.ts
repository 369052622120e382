/**
 * Weighted average of state dicts with the same keys and shapes: a "model soup" (Wortsman et al.,
 * ICML 2022) of networks fine-tuned from one starting point, which tends to generalise better than
 * each of them at no extra inference cost. Floating-point tensors are averaged (BatchNorm running
 * statistics included, an approximation for the running variance); integer tensors such as
 * BatchNorm's `num_batches_tracked` are counters, not parameters, and are taken from the first.
 */
import type { StateDict, TensorData } from './tensor';

const isFloat = (t: TensorData) => t.dtype === 'float32' || t.dtype === 'float16' || t.dtype === 'bfloat16' || t.dtype === 'float64';

/** `dicts[i]` weighted by `weights[i]` (normalised to sum 1); `names[i]` only for messages. */
export function averageStateDicts(dicts: readonly StateDict[], weights: readonly number[], names: readonly string[]): StateDict {
  if (dicts.length === 0) throw new Error('nothing to average');
  if (weights.length !== dicts.length) throw new Error(`${weights.length} weights for ${dicts.length} files`);
  if (weights.some((w) => !(w > 0))) throw new Error(`weights must be positive, got ${weights.join(', ')}`);
  const total = weights.reduce((a, b) => a + b, 0);
  const [first] = dicts;
  dicts.forEach((d, i) => {
    const missing = [...first.keys()].filter((k) => !d.has(k));
    const extra = [...d.keys()].filter((k) => !first.has(k));
    if (missing.length || extra.length) throw new Error(`${names[i]}: not the same network as ${names[0]} (${missing.length ? `missing ${missing.slice(0, 3).join(', ')}` : `extra ${extra.slice(0, 3).join(', ')}`}${missing.length + extra.length > 3 ? ', …' : ''})`);
    for (const [k, t] of d) {
      const s = first.get(k)!.shape;
      if (t.shape.length !== s.length || t.shape.some((n, j) => n !== s[j])) throw new Error(`${names[i]}: ${k} has shape [${t.shape.join(', ')}], ${names[0]} [${s.join(', ')}]`);
    }
  });
  const out: StateDict = new Map();
  for (const [key, t] of first) {
    if (!isFloat(t)) {
      out.set(key, t);
      continue;
    }
    const acc = new Float64Array(t.data.length);
    dicts.forEach((d, i) => {
      const src = d.get(key)!.data;
      const w = weights[i] / total;
      for (let j = 0; j < acc.length; j++) acc[j] += w * Number(src[j]);
    });
    // float16 files stay float16 when written back; everything else becomes float32.
    out.set(key, { dtype: t.dtype === 'float16' ? 'float16' : 'float32', shape: [...t.shape], data: Float32Array.from(acc) });
  }
  return out;
}
