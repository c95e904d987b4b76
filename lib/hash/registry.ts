/**
 * The family registry: the `hashes` namespace of factories and the inverse,
 * rebuilding a hash from its JSON-safe descriptor (checkpoints, logs, CLI).
 * @module
 */

import { ArbnetError, invalidOption } from "../errors.ts";
import { blocks, type BlocksOptions } from "./blocks.ts";
import { conv2d, type Conv2dOptions } from "./conv2d.ts";
import { dense, type DenseOptions } from "./dense.ts";
import { dirichlet, type DirichletHash, type DirichletOptions } from "./dirichlet.ts";
import { neighborhood, type NeighborhoodOptions } from "./neighborhood.ts";
import { recurrent, type RecurrentOptions } from "./recurrent.ts";
import type { Hash, HashDescriptor } from "./types.ts";
import { swapNoise } from "./swap.ts";
import { uniform, type UniformOptions } from "./uniform.ts";

/** The factories of every hash family, as `hashes.<family>(options)`. */
export interface HashFamilies {
  /** `h(p) = p`; `tableSize` must be `rows · cols`. */
  dense(options?: DenseOptions): Hash;
  /** Uniform random slots, with a sign hash by default (HashedNets). */
  uniform(options?: UniformOptions): Hash;
  /** Slots drawn from `π ~ Dir(α·1_K)`: balance set by `alpha`. */
  dirichlet(options: DirichletOptions): DirichletHash;
  /** Round-robin plus a random offset in `[−radius, radius]`: noise set by `radius`. */
  neighborhood(options: NeighborhoodOptions): Hash;
  /** A 2-D convolution as an ArbNet. */
  conv2d(options: Conv2dOptions): Hash;
  /** An RNN's hidden-to-hidden weights unrolled over `steps`. */
  recurrent(options: RecurrentOptions): Hash;
  /** Pixel blocks: nearby pixels share a slot per output unit; balanced and deterministic. */
  blocks(options?: BlocksOptions): Hash;
  /**
   * Swap noise on a base hash: a fraction `q` of live positions exchange slots, every
   * slot's count kept. `base` is a hash, a descriptor, or a descriptor as JSON text.
   */
  swap(options: SwapFamilyOptions): Hash;
}

/** Options of `hashes.swap`: the base hash in any of the forms a descriptor can carry. */
export interface SwapFamilyOptions {
  /** The hash whose slots are swapped: a hash, a descriptor, or a descriptor as JSON text. */
  base: Hash | HashDescriptor | string;
  /** Fraction of live positions that exchange slots, in `[0, 1]`. */
  q: number;
}

function swapFamily(options: SwapFamilyOptions): Hash {
  if (options === null || typeof options !== "object") {
    invalidOption("hashes.swap options", options, "{ base, q }");
  }
  let base = options.base;
  if (typeof base === "string") {
    try {
      base = JSON.parse(base) as HashDescriptor;
    } catch {
      invalidOption("hashes.swap base", base, "a hash descriptor as JSON text");
    }
  }
  const hash = typeof (base as Hash)?.indices === "function"
    ? base as Hash
    : hashFromDescriptor(base as HashDescriptor);
  return swapNoise({ ...options, base: hash });
}

/**
 * Every hash family's factory. Each validates its options (unknown keys
 * included) and throws `ArbnetError` naming the bad option.
 *
 * @example
 * ```ts
 * import { hashes } from "./registry.ts";
 * const h = hashes.dirichlet({ alpha: 0.1 });
 * h.indices({ rows: 784, cols: 1000, tableSize: 98_000, sparsity: 0, seed: 1 });
 * ```
 */
export const hashes: Readonly<HashFamilies> = Object.freeze({
  dense,
  uniform,
  dirichlet,
  neighborhood,
  conv2d,
  recurrent,
  blocks,
  swap: swapFamily,
});

/** The names of the known hash families, in `hashes` order. */
export const hashFamilyNames: readonly string[] = Object.freeze(Object.keys(hashes));

/**
 * Rebuilds a hash from its descriptor (`{ family, options }`, as found on
 * every {@linkcode Hash}); `hashFromDescriptor(h)` behaves exactly like `h`.
 *
 * @param descriptor the family name and its options
 * @returns the hash
 */
export function hashFromDescriptor(descriptor: HashDescriptor): Hash {
  if (descriptor === null || typeof descriptor !== "object") {
    invalidOption("hash descriptor", descriptor, "an object { family, options }");
  }
  const { family, options } = descriptor;
  if (typeof family !== "string" || !Object.hasOwn(hashes, family)) {
    throw new ArbnetError(
      `unknown hash family ${JSON.stringify(family)} (known families: ${
        hashFamilyNames.join(", ")
      })`,
    );
  }
  const factory = hashes[family as keyof HashFamilies] as (o: unknown) => Hash;
  return factory(options ?? {});
}
