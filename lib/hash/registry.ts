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

/** The names of the built-in hash families, in `hashes` order (user families are not here). */
export const hashFamilyNames: readonly string[] = Object.freeze(Object.keys(hashes));

/** A hash family's factory: options in (validated by the factory), a hash out. */
export type HashFactory = (options?: never) => Hash;

// Families registered by users, by name. Built-ins live in the frozen
// `hashes` and can neither be replaced nor shadowed.
const userFamilies = new Map<string, (options: unknown) => Hash>();

/** Family names: a letter, then letters, digits, `_` or `-` (they appear in CLI flags and files). */
const FAMILY_NAME = /^[A-Za-z][A-Za-z0-9_-]{0,63}$/;

/**
 * Refuses a name a user family cannot take: malformed, or a built-in's
 * (a user family called "dense" would otherwise be mistaken for the
 * identity hash in checkpoints and logs).
 *
 * @param name the proposed family name
 * @throws ArbnetError saying why
 */
export function checkUserFamilyName(name: unknown): string {
  if (typeof name !== "string" || !FAMILY_NAME.test(name)) {
    invalidOption(
      "hash family name",
      name,
      'a letter followed by up to 63 letters, digits, _ or -, e.g. "pixelBlocks"',
    );
  }
  if (Object.hasOwn(hashes, name)) {
    throw new ArbnetError(
      `the hash family name ${JSON.stringify(name)} belongs to a built-in family ` +
        `(${hashFamilyNames.join(", ")}); give your family another name`,
    );
  }
  return name;
}

/**
 * Registers a user hash family under `name`, so that
 * {@linkcode hashFromDescriptor} (and with it checkpoints, the training
 * CLI's `--hash`, `view-hash` and experiment specs) can rebuild its hashes
 * from `{ family: name, options }`. Build the factory with
 * `defineHashFamily`, which applies sparsity and signs as the built-ins do;
 * any factory whose hashes carry `family === name` works. Registering the
 * same factory again is a no-op; another factory under a taken name is
 * refused unless `replace` is set.
 *
 * @param name the family's name, as its hashes report it; not a built-in's
 * @param factory builds a hash from the family's options
 * @param options `replace: true` to swap the factory of a registered name
 * @throws ArbnetError for a built-in's name, a malformed name or a taken one
 *
 * @example
 * ```ts
 * import { defineHashFamily, registerHashFamily } from "./mod.ts";
 * const rows = defineHashFamily({
 *   name: "byRow",
 *   defaults: {},
 *   slot: (p, s) => Math.floor(p / s.cols) % s.tableSize,
 * });
 * registerHashFamily("byRow", rows);
 * ```
 */
export function registerHashFamily(
  name: string,
  factory: HashFactory,
  options: { replace?: boolean } = {},
): void {
  checkUserFamilyName(name);
  if (typeof factory !== "function") {
    invalidOption("hash family factory", factory, "a function (options) => Hash");
  }
  const known = userFamilies.get(name);
  if (known && known !== factory && options.replace !== true) {
    throw new ArbnetError(
      `a different hash family is already registered as ${JSON.stringify(name)}; pick another ` +
        "name, or pass { replace: true }",
    );
  }
  userFamilies.set(name, factory as (options: unknown) => Hash);
}

/**
 * Removes a user family from the registry (built-ins cannot be removed).
 *
 * @param name the family's name
 * @returns whether it was registered
 */
export function unregisterHashFamily(name: string): boolean {
  return userFamilies.delete(name);
}

/**
 * Every family {@linkcode hashFromDescriptor} knows now: the built-ins, in
 * `hashes` order, then the registered user families in registration order.
 *
 * @returns the family names
 */
export function registeredHashFamilies(): string[] {
  return [...hashFamilyNames, ...userFamilies.keys()];
}

/**
 * Rebuilds a hash from its descriptor (`{ family, options }`, as found on
 * every {@linkcode Hash}); `hashFromDescriptor(h)` behaves exactly like `h`.
 * Knows the built-ins and every family registered with
 * {@linkcode registerHashFamily}.
 *
 * @param descriptor the family name and its options
 * @returns the hash
 */
export function hashFromDescriptor(descriptor: HashDescriptor): Hash {
  if (descriptor === null || typeof descriptor !== "object") {
    invalidOption("hash descriptor", descriptor, "an object { family, options }");
  }
  const { family, options } = descriptor;
  if (typeof family === "string" && Object.hasOwn(hashes, family)) {
    const factory = hashes[family as keyof HashFamilies] as (o: unknown) => Hash;
    return factory(options ?? {});
  }
  const user = typeof family === "string" ? userFamilies.get(family) : undefined;
  if (!user) {
    throw new ArbnetError(
      `unknown hash family ${JSON.stringify(family)} (known families: ${
        registeredHashFamilies().join(", ")
      }); a user family must be registered with registerHashFamily before its hashes are ` +
        "rebuilt (the training CLI: --hash-module FILE)",
    );
  }
  const hash = user(options ?? {});
  if (!hash || typeof hash.indices !== "function" || hash.family !== family) {
    throw new ArbnetError(
      `the factory registered as hash family ${JSON.stringify(family)} returned ` +
        `${hash?.family === undefined ? "no hash" : `a ${JSON.stringify(hash.family)} hash`}; ` +
        `its hashes must report family ${JSON.stringify(family)}`,
    );
  }
  return hash;
}
