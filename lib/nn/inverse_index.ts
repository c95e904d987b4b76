/**
 * The inverse of a hash: for every trainable slot, the positions that map to
 * it (CSR layout), used by the deterministic table gradient.
 *
 * Layer: nn.
 * @module
 */

import { ArbnetError } from "../errors.ts";

/** Slot → positions, in CSR form, and each position's entry in it. */
export interface InverseIndex {
  /** `tableSize + 1` offsets into `positions`; slot k owns `[offsets[k], offsets[k+1])`. */
  offsets: Uint32Array;
  /** Position words (position | sign << 31), ascending position within a slot. */
  positions: Uint32Array;
  /**
   * Rank word of every position: its entry e in `positions` | sign << 31, or
   * `positions.length` (the sink) for zero-slot positions. The GPU writes
   * ξ(p)·G[p] to entry e, so each slot's sum reads contiguous memory.
   */
  ranks: Uint32Array;
}

/**
 * Builds the inverse index of `indices` (zero-slot positions are left out:
 * their gradient is never used). Positions must be below 2^31, since bit 31
 * carries the sign.
 */
export function inverseIndex(
  indices: Uint32Array,
  signs: Int8Array | null,
  tableSize: number,
): InverseIndex {
  if (indices.length > 0x80000000) {
    throw new ArbnetError(
      `the deterministic table gradient supports at most 2^31 positions, got ${indices.length}`,
    );
  }
  const offsets = new Uint32Array(tableSize + 1);
  for (let p = 0; p < indices.length; p++) {
    if (indices[p] < tableSize) offsets[indices[p] + 1]++;
  }
  for (let k = 0; k < tableSize; k++) offsets[k + 1] += offsets[k];
  const sink = offsets[tableSize];
  const positions = new Uint32Array(sink);
  const ranks = new Uint32Array(indices.length).fill(sink);
  const fill = offsets.slice(0, tableSize);
  for (let p = 0; p < indices.length; p++) {
    const k = indices[p];
    if (k >= tableSize) continue;
    const sign = signs && signs[p] < 0 ? 0x80000000 : 0;
    const e = fill[k]++;
    positions[e] = (p | sign) >>> 0;
    ranks[p] = (e | sign) >>> 0;
  }
  return { offsets, positions, ranks };
}
