/**
 * How many positions of a layer each slot holds, without a per-position
 * array: a procedural layer's counts are computed position by position from
 * the same rules its shaders use, so occupancy entropy costs O(K) host
 * memory (K + 1 counts) instead of 4 bytes per position (4 GB for 10^9).
 *
 * Layer: hash; imports the per-family slot rules and `./procedural.ts`.
 * @module
 */

import { aliasSlot } from "./dirichlet.ts";
import { neighborhoodSlot } from "./neighborhood.ts";
import { proceduralHash } from "./procedural.ts";
import { isSparse } from "./sparsity.ts";
import type { Hash, IndexSpec } from "./types.ts";
import { uniformSlot } from "./uniform.ts";

/**
 * Slot counts of a procedural-family hash (`uniform`, `neighborhood`,
 * `dirichlet`) over a layer: equal to `slotCounts(hash.indices(spec), K)`,
 * computed without building the indices. O(K) memory, O(rows · cols) time.
 *
 * @param hash a hash with a procedural form
 * @param spec the layer's shape, table size, sparsity and seed
 * @returns `K + 1` counts; the last is the zero slot
 *
 * @example
 * ```ts
 * import { hashes } from "./mod.ts";
 * import { proceduralSlotCounts } from "./occupancy.ts";
 * proceduralSlotCounts(hashes.uniform(), { rows: 4, cols: 5, tableSize: 3, seed: 1 }).length; // 4
 * ```
 */
export function proceduralSlotCounts(hash: Hash, spec: IndexSpec): Uint32Array {
  const { family, params, alias } = proceduralHash(hash, spec);
  const k = params[0];
  const n = spec.rows * spec.cols;
  const [threshold, sparsitySeed, seed] = [params[1], params[2], params[5]];
  const slotOf = family === "uniform"
    ? (p: number) => uniformSlot(p, seed, k)
    : family === "neighborhood"
    ? (p: number) => neighborhoodSlot(p, seed, (params[7] - 1) / 2, k)
    : (p: number) => aliasSlot(p, seed, params[6], alias!.threshold, alias!.alias);
  const counts = new Uint32Array(k + 1);
  for (let p = 0; p < n; p++) {
    counts[threshold !== 0 && isSparse(p, sparsitySeed, threshold) ? k : slotOf(p)]++;
  }
  return counts;
}
