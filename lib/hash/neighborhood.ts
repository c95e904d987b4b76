/**
 * The `neighborhood` family: `h(p) = (p mod K + δ(p)) mod K`, with `δ(p)`
 * uniform in `[−r, r]`, `δ(p) = xxh32U32(p, offsetSeed) % (2r + 1) − r`.
 * It varies *noise* while keeping *balance* near maximal: `r = 0` is exactly
 * round-robin `p mod K` (deterministic), and `r ≥ K/2` makes every slot about
 * equally likely for every position, i.e. as random as `uniform`.
 *
 * The seed paper's own Neighborhood hash was not available to us and may be
 * parametrised differently; this one isolates noise from balance, which is
 * what the experiments need.
 *
 * u32-only evaluation (what the GPU does), never negative, never above
 * `2^32 − 1`: with `a = p % K`, `d = (hash % (2r + 1)) % K`, `b = r % K`,
 * `h = addMod(addMod(a, d), (K − b) % K)` where `addMod(x, y) = x ≥ K − y ?
 * x − (K − y) : x + y` for `x, y < K`. Hence `r` may exceed `K`.
 * @module
 */

import { makeHash } from "./family.ts";
import { deriveSeed } from "./seeds.ts";
import type { Hash } from "./types.ts";
import { checkBool, checkInt, checkKeys } from "./validate.ts";
import { xxh32U32 } from "./xxhash32.ts";

/** Largest radius: `2r + 1` must fit in a u32. */
export const MAX_RADIUS = 2147483647;

/** Options of {@linkcode neighborhood}. */
export interface NeighborhoodOptions {
  /** Half-width `r` of the offset window, an integer in `[0, 2^31 − 1]`. */
  radius: number;
  /** Use the sign hash `ξ(p)`. Default `false`. */
  sign?: boolean;
}

/**
 * The slot of one position under `neighborhood`.
 *
 * @param p the position, a u32
 * @param offsetSeed `deriveSeed("offset", seed)`
 * @param radius `r`
 * @param tableSize `K`
 * @returns a slot in `[0, K)`
 */
export function neighborhoodSlot(
  p: number,
  offsetSeed: number,
  radius: number,
  tableSize: number,
): number {
  const k = tableSize;
  const a = p % k;
  const d = (xxh32U32(p, offsetSeed) % (2 * radius + 1)) % k;
  const back = (k - (radius % k)) % k;
  const ad = a >= k - d ? a - (k - d) : a + d;
  return ad >= k - back ? ad - (k - back) : ad + back;
}

/**
 * Round-robin with a seeded random offset in `[−radius, radius]`.
 *
 * @param options `radius` (required), `sign` (default false)
 * @returns the hash
 *
 * @example
 * ```ts
 * import { neighborhood } from "./neighborhood.ts";
 * neighborhood({ radius: 0 }).indices({ rows: 2, cols: 3, tableSize: 4, seed: 0 });
 * // 0, 1, 2, 3, 0, 1
 * ```
 */
export function neighborhood(options: NeighborhoodOptions): Hash {
  const o = checkKeys("hashes.neighborhood options", options, ["radius", "sign"]);
  const radius = checkInt("radius", o.radius, 0, MAX_RADIUS);
  const sign = checkBool("sign", o.sign, false);
  return makeHash({
    family: "neighborhood",
    options: { radius, sign },
    sign,
    fill(s, out) {
      const offsetSeed = deriveSeed("offset", s.seed);
      const k = s.tableSize;
      if (radius === 0) {
        for (let p = 0; p < s.n; p++) out[p] = p % k;
        return;
      }
      for (let p = 0; p < s.n; p++) out[p] = neighborhoodSlot(p, offsetSeed, radius, k);
    },
  });
}
