/**
 * The sign hash `ξ(p) ∈ {−1, +1}` (HashedNets): the top bit of
 * `xxh32U32(p, signSeed)`, with `signSeed = deriveSeed("sign", seed)`;
 * bit 0 gives +1, bit 1 gives −1. On the GPU: `1.0 - 2.0 * f32(h >> 31u)`.
 * The sign does not depend on the family or the table size, only on `p` and
 * the seed.
 * @module
 */

import { deriveSeed } from "./seeds.ts";
import { xxh32U32 } from "./xxhash32.ts";

/**
 * The sign of one position.
 *
 * @param p the position, a u32
 * @param signSeed `deriveSeed("sign", seed)`
 * @returns +1 or −1
 */
export function signOf(p: number, signSeed: number): 1 | -1 {
  return xxh32U32(p, signSeed) >>> 31 === 0 ? 1 : -1;
}

/**
 * The signs of positions `0 .. n − 1`.
 *
 * @param n number of positions
 * @param seed the user seed, a u32
 * @returns ±1 for every position
 */
export function signArray(n: number, seed: number): Int8Array {
  const signSeed = deriveSeed("sign", seed);
  const out = new Int8Array(n);
  for (let p = 0; p < n; p++) out[p] = 1 - 2 * (xxh32U32(p, signSeed) >>> 31);
  return out;
}
