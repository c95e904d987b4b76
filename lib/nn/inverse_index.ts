/**
 * The inverse of a hash: for every trainable slot, the positions that map to
 * it (CSR layout), used by the deterministic table gradient.
 *
 * Layer: nn.
 * @module
 */

import { ArbnetError } from "../errors.ts";

/** Slot → positions, in CSR form. */
export interface InverseIndex {
  /** `tableSize + 1` offsets into `positions`; slot k owns `[offsets[k], offsets[k+1])`. */
  offsets: Uint32Array;
  /** Position words (position | sign << 31), ascending position within a slot. */
  positions: Uint32Array;
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
  const positions = new Uint32Array(offsets[tableSize]);
  const fill = offsets.slice(0, tableSize);
  for (let p = 0; p < indices.length; p++) {
    const k = indices[p];
    if (k >= tableSize) continue;
    positions[fill[k]++] = signs && signs[p] < 0 ? (p | 0x80000000) >>> 0 : p;
  }
  return { offsets, positions };
}
