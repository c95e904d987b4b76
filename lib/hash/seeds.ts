/**
 * The one rule that turns a user seed into the per-purpose seeds of the
 * hash families, so that two purposes (say the slot and the sign of a
 * position) never reuse the same random bits, and so the WGSL port can derive
 * exactly the same seeds from the same constants.
 *
 * Rule: `purposeSeed = xxh32U32(SEED_PURPOSES[purpose], userSeed)`. The
 * constants are four ASCII letters read as a big-endian u32 (e.g. `"SLOT"` =
 * `0x534C4F54`), chosen to be memorable and distinct; they are part of the
 * checkpoint format: changing one changes every layer's sharing pattern.
 * @module
 */

import { xxh32U32 } from "./xxhash32.ts";

/** Purpose constants, hashed with the user seed to give each purpose its own seed. */
export const SEED_PURPOSES: Readonly<{
  /** `"SLOT"`: the slot of `uniform`. */
  slot: number;
  /** `"SIGN"`: the sign hash `ξ(p)`, any family. */
  sign: number;
  /** `"SPRS"`: which positions go to the zero slot, any family. */
  sparsity: number;
  /** `"ACOL"`: the alias-table column of `dirichlet`. */
  aliasColumn: number;
  /** `"ACOI"`: the alias-table coin of `dirichlet`. */
  aliasCoin: number;
  /** `"OFFS"`: the offset `δ(p)` of `neighborhood`. */
  offset: number;
  /** `"GAMM"`: the host-side `Rng` for the Gamma draws of `dirichlet` (never on the GPU). */
  gamma: number;
  /** `"SWAP"`: which positions `swap` noise moves, and their shuffle (host only). */
  swap: number;
}> = Object.freeze({
  slot: 0x534c4f54,
  sign: 0x5349474e,
  sparsity: 0x53505253,
  aliasColumn: 0x41434f4c,
  aliasCoin: 0x41434f49,
  offset: 0x4f464653,
  gamma: 0x47414d4d,
  swap: 0x53574150,
});

/** A purpose name, a key of {@linkcode SEED_PURPOSES}. */
export type SeedPurpose = keyof typeof SEED_PURPOSES;

/** The derived seeds of one user seed, one per purpose (all u32). */
export type DerivedSeeds = { readonly [K in SeedPurpose]: number };

/**
 * The seed of one purpose: `xxh32U32(SEED_PURPOSES[purpose], seed)`.
 *
 * @param purpose which random stream
 * @param seed the user seed, a u32
 * @returns a u32 seed
 */
export function deriveSeed(purpose: SeedPurpose, seed: number): number {
  return xxh32U32(SEED_PURPOSES[purpose], seed >>> 0);
}

/**
 * Every purpose's seed for one user seed.
 *
 * @param seed the user seed, a u32
 * @returns one u32 per purpose
 */
export function deriveSeeds(seed: number): DerivedSeeds {
  return {
    slot: deriveSeed("slot", seed),
    sign: deriveSeed("sign", seed),
    sparsity: deriveSeed("sparsity", seed),
    aliasColumn: deriveSeed("aliasColumn", seed),
    aliasCoin: deriveSeed("aliasCoin", seed),
    offset: deriveSeed("offset", seed),
    gamma: deriveSeed("gamma", seed),
    swap: deriveSeed("swap", seed),
  };
}
