/**
 * CPU reference of every matmul variant: the oracle for `tests/matmul.test.ts`.
 * Written for clarity (float64 accumulation, no tiling), not speed.
 * @module
 */

import type { MatmulShape, MatmulVariant } from "./matmul.ts";

const SLOT_MASK = 0x7fffffff;

/** Host inputs of a reference product, mirroring `MatmulBuffers`. */
export interface MatmulRefInputs {
  /** Operand A (M×K, or K×M when `a` is `cols`). */
  a: Float32Array;
  /** Dense B, or the table of a hashed B. */
  b: Float32Array;
  /** Slot words (slot | sign << 31). */
  slots?: Uint32Array;
  /** Bias of length N. */
  bias?: Float32Array;
  /** Initial table gradient for `scatter` (accumulated into); zeros when absent. */
  grad?: Float32Array;
}

/** Value of a slot word's signed table entry. */
export function signedEntry(table: Float32Array, word: number): number {
  const v = table[word & SLOT_MASK];
  return word >>> 31 ? -v : v;
}

/**
 * What the GPU variant computes, on the CPU: C (M×N), the table gradient for
 * `scatter`, or for `permuted` the M·N + 1 entries (sink last, left 0) that
 * rank words send ξ·C to.
 */
export function matmulRef(v: MatmulVariant, s: MatmulShape, x: MatmulRefInputs): Float32Array {
  const { M, N, K } = s;
  const A = (m: number, k: number) => v.a === "rows" ? x.a[m * K + k] : x.a[k * M + m];
  const W = (p: number) => v.weights === "dense" ? x.b[p] : signedEntry(x.b, x.slots![p]);
  const B = (k: number, n: number) => v.b === "rows" ? W(k * N + n) : W(n * K + k);
  const c = new Float64Array(M * N);
  for (let m = 0; m < M; m++) {
    for (let n = 0; n < N; n++) {
      let acc = 0;
      for (let k = 0; k < K; k++) acc += A(m, k) * B(k, n);
      c[m * N + n] = acc;
    }
  }
  if (v.store === "scatter") {
    const grad = Float64Array.from(x.grad ?? new Float32Array(x.b.length));
    const zero = s.zeroSlot ?? Infinity;
    for (let p = 0; p < M * N; p++) {
      const word = x.slots![p];
      const slot = word & SLOT_MASK;
      if (slot >= zero) continue;
      grad[slot] += word >>> 31 ? -c[p] : c[p];
    }
    return Float32Array.from(grad);
  }
  if (v.store === "permuted") {
    // Entries named by the rank words, one more for the zero-slot sink; the
    // sink's value depends on which write lands last, so it is left 0.
    const out = new Float32Array(M * N + 1);
    const sink = M * N;
    for (let p = 0; p < M * N; p++) {
      const word = x.slots![p];
      const e = word & SLOT_MASK;
      if (e !== sink) out[e] = word >>> 31 ? -c[p] : c[p];
    }
    return out;
  }
  const out = new Float32Array(M * N);
  for (let p = 0; p < M * N; p++) {
    let y = c[p];
    if (v.store !== "plain") y += x.bias![p % N];
    if (v.store === "bias_relu") y = Math.max(y, 0);
    out[p] = y;
  }
  return out;
}
