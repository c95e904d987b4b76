/**
 * Sparsity: which positions go to the zero slot. It is one rule for every
 * family, applied on top of the family's own slots, so the sparse positions
 * depend only on the seed and `s`, never on the family (the experiments
 * compare families at equal sparsity, position for position). Families that
 * already use the zero slot (`conv2d`, `recurrent`) keep those positions
 * there; sparsity only adds to them. `dense` accepts sparsity too: a pruned
 * plain layer.
 *
 * Rule (u32 only, GPU-reproducible): `p` is sparse iff
 * `xxh32U32(p, sparsitySeed) < threshold`, with
 * `sparsitySeed = deriveSeed("sparsity", seed)` and
 * `threshold = floor(s · 2^32)`. The expected sparse fraction is
 * `threshold / 2^32`, within `2^-32` of `s`.
 * @module
 */

import { invalidOption } from "../errors.ts";
import { deriveSeed } from "./seeds.ts";
import { xxh32U32 } from "./xxhash32.ts";

/**
 * The u32 threshold of a sparsity `s`: `floor(s · 2^32)`.
 *
 * @param s the sparse fraction, in `[0, 1)`
 * @returns a u32; `0` means no position is sparse
 */
export function sparsityThreshold(s: number): number {
  if (typeof s !== "number" || !(s >= 0 && s < 1)) {
    invalidOption("sparsity", s, "a number in [0, 1)");
  }
  return Math.floor(s * 4294967296);
}

/**
 * Whether position `p` goes to the zero slot.
 *
 * @param p the position, a u32
 * @param sparsitySeed `deriveSeed("sparsity", seed)`
 * @param threshold `sparsityThreshold(s)`
 * @returns true for a sparse (zero-slot) position
 */
export function isSparse(p: number, sparsitySeed: number, threshold: number): boolean {
  return xxh32U32(p, sparsitySeed) < threshold;
}

/**
 * Sends the sparse positions of `indices` to the zero slot `tableSize`, in place.
 *
 * @param indices slots of positions `0 .. indices.length − 1`
 * @param tableSize `K`, the zero slot's index
 * @param sparsity `s`, in `[0, 1)`
 * @param seed the user seed, a u32
 */
export function applySparsity(
  indices: Uint32Array,
  tableSize: number,
  sparsity: number,
  seed: number,
): void {
  const threshold = sparsityThreshold(sparsity);
  if (threshold === 0) return;
  const sparsitySeed = deriveSeed("sparsity", seed);
  for (let p = 0; p < indices.length; p++) {
    if (xxh32U32(p, sparsitySeed) < threshold) indices[p] = tableSize;
  }
}
