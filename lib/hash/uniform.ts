/**
 * The `uniform` family (HashedNets): `h(p) = xxh32U32(p, slotSeed) % K`,
 * with an optional sign hash (on by default, as in HashedNets). `% K` has a
 * modulo bias of at most `K / 2^32`, far below the sampling noise of any
 * layer that fits in memory.
 * @module
 */

import { makeHash } from "./family.ts";
import { deriveSeed } from "./seeds.ts";
import type { Hash } from "./types.ts";
import { checkBool, checkKeys } from "./validate.ts";
import { xxh32U32 } from "./xxhash32.ts";

/** Options of {@linkcode uniform}. */
export interface UniformOptions {
  /** Use the sign hash `ξ(p)`. Default `true` (HashedNets). */
  sign?: boolean;
}

/**
 * The slot of one position under `uniform`.
 *
 * @param p the position, a u32
 * @param slotSeed `deriveSeed("slot", seed)`
 * @param tableSize `K`
 * @returns a slot in `[0, K)`
 */
export function uniformSlot(p: number, slotSeed: number, tableSize: number): number {
  return xxh32U32(p, slotSeed) % tableSize;
}

/**
 * A uniform random hash: each position independently takes a slot uniformly
 * at random (seeded, reproducible).
 *
 * @param options `sign` (default true)
 * @returns the hash
 *
 * @example
 * ```ts
 * import { uniform } from "./uniform.ts";
 * const idx = uniform().indices({ rows: 784, cols: 1000, tableSize: 98_000, seed: 1 });
 * ```
 */
export function uniform(options?: UniformOptions): Hash {
  const o = checkKeys("hashes.uniform options", options, ["sign"]);
  const sign = checkBool("sign", o.sign, true);
  return makeHash({
    family: "uniform",
    options: { sign },
    sign,
    fill(s, out) {
      const slotSeed = deriveSeed("slot", s.seed);
      const k = s.tableSize;
      for (let p = 0; p < s.n; p++) out[p] = xxh32U32(p, slotSeed) % k;
    },
  });
}
