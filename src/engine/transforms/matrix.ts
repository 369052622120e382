/**
 * Small dense-matrix helpers for (n+1)×(n+1) homogeneous affines (n = 2 or 3), stored as
 * number[][] (row-major rows). The transforms need only products, inverses, a solve and a
 * Cholesky factor of 3×3 matrices; a linear-algebra package would be far larger than this.
 */
export type Matrix = number[][];

export function eye(n: number): Matrix {
  return Array.from({ length: n }, (_, r) => Array.from({ length: n }, (_, c) => (r === c ? 1 : 0)));
}

export function matmul(a: Matrix, b: Matrix): Matrix {
  const n = a.length;
  const m = b[0].length;
  const k = b.length;
  const out: Matrix = Array.from({ length: n }, () => new Array<number>(m).fill(0));
  for (let r = 0; r < n; r++) for (let c = 0; c < m; c++) {
    let s = 0;
    for (let t = 0; t < k; t++) s += a[r][t] * b[t][c];
    out[r][c] = s;
  }
  return out;
}

export function matvec(a: Matrix, v: number[]): number[] {
  return a.map((row) => row.reduce((s, x, c) => s + x * v[c], 0));
}

export function transpose(a: Matrix): Matrix {
  return a[0].map((_, c) => a.map((row) => row[c]));
}

/** Inverse by Gauss–Jordan elimination with partial pivoting. Throws on a singular matrix. */
export function inv(a: Matrix): Matrix {
  const n = a.length;
  const m = a.map((row, r) => [...row, ...eye(n)[r]]);
  for (let c = 0; c < n; c++) {
    let p = c;
    for (let r = c + 1; r < n; r++) if (Math.abs(m[r][c]) > Math.abs(m[p][c])) p = r;
    if (Math.abs(m[p][c]) < 1e-12) throw new Error('matrix is singular');
    [m[c], m[p]] = [m[p], m[c]];
    const d = m[c][c];
    for (let j = 0; j < 2 * n; j++) m[c][j] /= d;
    for (let r = 0; r < n; r++) {
      if (r === c) continue;
      const f = m[r][c];
      if (f !== 0) for (let j = 0; j < 2 * n; j++) m[r][j] -= f * m[c][j];
    }
  }
  return m.map((row) => row.slice(n));
}

/** Lower-triangular L with a = L·Lᵀ (a symmetric positive definite). */
export function cholesky(a: Matrix): Matrix {
  const n = a.length;
  const l: Matrix = Array.from({ length: n }, () => new Array<number>(n).fill(0));
  for (let r = 0; r < n; r++) {
    for (let c = 0; c <= r; c++) {
      let s = a[r][c];
      for (let t = 0; t < c; t++) s -= l[r][t] * l[c][t];
      if (r === c) {
        if (!(s > 0)) throw new Error('matrix is not positive definite');
        l[r][c] = Math.sqrt(s);
      } else l[r][c] = s / l[c][c];
    }
  }
  return l;
}

export function translate(shift: number[]): Matrix {
  const n = shift.length;
  const m = eye(n + 1);
  shift.forEach((s, d) => (m[d][n] = s));
  return m;
}

export function scale(factors: number[]): Matrix {
  const m = eye(factors.length + 1);
  factors.forEach((f, d) => (m[d][d] = f));
  return m;
}

/** Row-major flat 4×4 → number[][]. */
export function fromMat4(a: ArrayLike<number>): Matrix {
  return [0, 1, 2, 3].map((r) => [a[4 * r], a[4 * r + 1], a[4 * r + 2], a[4 * r + 3]]);
}

export function toMat4(m: Matrix): number[] {
  return m.flat();
}

export function allclose(a: Matrix, b: Matrix, atol: number): boolean {
  return a.every((row, r) => row.every((x, c) => Math.abs(x - b[r][c]) <= atol));
}
