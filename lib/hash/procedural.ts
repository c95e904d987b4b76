/**
 * What a shader needs to recompute a layer's slot words from its seed
 * (procedural hashing) instead of reading them from a buffer of one u32 per
 * position: a few u32 parameters, plus the alias table for `dirichlet`.
 *
 * The parameter words are laid out as `struct HashParams` in
 * `shaders/hash.wgsl`; the per-position rules there port `uniformSlot`,
 * `neighborhoodSlot`, `aliasSlot`, `isSparse` and `signOf`, so the words the
 * shader computes equal `hash.indices()` and `hash.signs()` bit for bit.
 * Families with per-position structure that is not a seeded hash (`dense`,
 * `conv2d`, `recurrent`) have no procedural form here. A user family has
 * one when it gives its slot rule in WGSL (`defineHashFamily({ wgsl })`):
 * its source takes the place of the built-in family pieces.
 * @module
 */

import { ArbnetError } from "../errors.ts";
import type { DirichletHash } from "./dirichlet.ts";
import { isBuiltinHash } from "./family.ts";
import { deriveSeeds } from "./seeds.ts";
import { sparsityThreshold } from "./sparsity.ts";
import type { Hash, IndexSpec } from "./types.ts";
import { userProcedural } from "./user.ts";
import { checkSpec } from "./validate.ts";
import { xxh32 } from "./xxhash32.ts";

/** The families a shader can evaluate from seeds alone. */
export type ProceduralFamily = "uniform" | "neighborhood" | "dirichlet";

/** Names of the {@linkcode ProceduralFamily} members. */
export const PROCEDURAL_FAMILIES: readonly ProceduralFamily[] = Object.freeze([
  "uniform",
  "neighborhood",
  "dirichlet",
]);

/** Words of `HashParams` (shaders/hash.wgsl), in field order. */
export const HASH_PARAM_WORDS = 11;

/**
 * The kernels' name for a user family's WGSL rule: the family and a digest
 * of the source, so two option sets that bake different constants into the
 * WGSL never share a compiled kernel or a tuned tile.
 */
export type CustomSlotsKey = `custom:${string}`;

/** A layer's hash in the form the procedural shaders read. */
export interface ProceduralHash {
  /** Which `slot_<family>` piece computes the slot, or the key of a user family's WGSL. */
  family: ProceduralFamily | CustomSlotsKey;
  /**
   * `HashParams` words: table size, sparsity threshold, sparsity seed, sign
   * seed, sign mask, slot seed, coin seed, window `2r + 1`, back
   * `(K − r mod K) mod K`, rows, cols (fields a family does not use are 0).
   */
  params: Uint32Array;
  /** The alias table of `dirichlet` (bindings 6 and 7), else null. */
  alias: { threshold: Uint32Array; alias: Uint32Array } | null;
  /** A user family's WGSL (`fn family_slot(p: u32) -> u32`), else null. */
  wgsl: string | null;
}

/**
 * Whether a hash family has a procedural form.
 *
 * @param family a family name, e.g. `hash.family`
 * @returns true for `uniform`, `neighborhood` and `dirichlet`
 */
export function isProceduralFamily(family: string): family is ProceduralFamily {
  return (PROCEDURAL_FAMILIES as readonly string[]).includes(family);
}

/**
 * Whether a hash can be recomputed in the shaders: a built-in `uniform`,
 * `neighborhood` or `dirichlet` hash, or a user family's hash with a WGSL
 * rule. Decided by who built the hash, not by its name.
 *
 * @param hash any hash
 * @returns true when {@linkcode proceduralHash} accepts it
 */
export function hasProceduralForm(hash: Hash): boolean {
  return (isProceduralFamily(hash.family) && isBuiltinHash(hash)) || userProcedural(hash) !== null;
}

/**
 * Packs a hash and its spec for the procedural shaders. Costs O(1), or O(K)
 * for `dirichlet` (its alias table), never O(rows · cols).
 *
 * @param hash a `uniform`, `neighborhood` or `dirichlet` hash, or a user family's with WGSL
 * @param spec the layer's shape, table size, sparsity and seed
 * @returns the parameter words and, for `dirichlet`, the alias table (for a user family, its WGSL)
 * @throws ArbnetError for other families or an invalid spec
 *
 * @example
 * ```ts
 * import { hashes } from "./mod.ts";
 * import { proceduralHash } from "./procedural.ts";
 * const p = proceduralHash(hashes.uniform(), { rows: 784, cols: 1000, tableSize: 98_000, seed: 1 });
 * p.params[0]; // 98000
 * ```
 */
export function proceduralHash(hash: Hash, spec: IndexSpec): ProceduralHash {
  const family = hash?.family;
  const user = hash ? userProcedural(hash) : null;
  if (!hash || !hasProceduralForm(hash)) {
    throw new ArbnetError(
      `the ${JSON.stringify(family)} hash has no procedural form (procedural hashing supports ` +
        `${PROCEDURAL_FAMILIES.join(", ")} and user families defined with a wgsl rule); ` +
        "materialise its slots instead",
    );
  }
  const s = checkSpec(spec);
  const seeds = deriveSeeds(s.seed);
  const k = s.tableSize;
  const params = new Uint32Array(HASH_PARAM_WORDS);
  params[0] = k;
  params[1] = sparsityThreshold(s.sparsity);
  params[2] = seeds.sparsity;
  params[3] = seeds.sign;
  params[4] = (user ? user.sign : hash.options.sign === true) ? 0x80000000 : 0;
  params[9] = s.rows;
  params[10] = s.cols;
  if (user) {
    params[5] = seeds.slot;
    const digest = xxh32(new TextEncoder().encode(user.wgsl), 0).toString(16).padStart(8, "0");
    return { family: `custom:${family}:${digest}`, params, alias: null, wgsl: user.wgsl };
  }
  let alias: ProceduralHash["alias"] = null;
  if (family === "uniform") {
    params[5] = seeds.slot;
  } else if (family === "neighborhood") {
    const radius = hash.options.radius;
    if (typeof radius !== "number" || !Number.isInteger(radius) || radius < 0) {
      throw new ArbnetError(`the neighborhood hash has no valid radius (${radius})`);
    }
    params[5] = seeds.offset;
    params[7] = 2 * radius + 1;
    params[8] = (k - (radius % k)) % k;
  } else {
    const table = (hash as DirichletHash).aliasTable?.(spec);
    if (!table) {
      throw new ArbnetError(
        "this dirichlet hash has no aliasTable(): build it with hashes.dirichlet() " +
          "or hashFromDescriptor()",
      );
    }
    params[5] = seeds.aliasColumn;
    params[6] = seeds.aliasCoin;
    alias = { threshold: table.threshold, alias: table.alias };
  }
  return { family: family as ProceduralFamily, params, alias, wgsl: null };
}
