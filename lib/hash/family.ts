/**
 * The scaffolding every family shares: validate the spec, let the family
 * fill in its slots, apply sparsity on top, and produce signs. Keeping this
 * in one place guarantees that sparsity and signs mean the same thing in
 * every family.
 * @module
 */

import type { Hash, IndexSpec } from "./types.ts";
import { applySparsity } from "./sparsity.ts";
import { signArray } from "./sign.ts";
import { type CheckedSpec, checkSpec } from "./validate.ts";

/** What a family supplies to {@linkcode makeHash}. */
export interface FamilyParts {
  /** Family name, as in the registry. */
  family: string;
  /** Complete, JSON-safe options (defaults filled in). */
  options: Record<string, number | string | boolean>;
  /** Whether `signs()` returns a sign hash (else `null`). */
  sign: boolean;
  /** Family-specific checks of a validated spec (shape, table size); throws `ArbnetError`. */
  check?: (spec: CheckedSpec) => void;
  /** Writes the slot of every position into `out` (length `spec.n`), before sparsity. */
  fill: (spec: CheckedSpec, out: Uint32Array) => void;
}

// The hashes the library's own factories built. Only these get a built-in's
// treatment (the dense fast path, the built-in procedural pieces): a user
// hash that merely calls itself "dense" is an ordinary hashed layer.
const builtIns = new WeakSet<Hash>();

/**
 * Whether a hash was built by one of the library's own family factories
 * (`hashes.*`), as opposed to a user family or a hand-made object that may
 * carry a built-in's name.
 *
 * @param hash any hash
 * @returns true for the built-in families' hashes only
 */
export function isBuiltinHash(hash: Hash): boolean {
  return builtIns.has(hash);
}

/**
 * Builds a {@linkcode Hash} from a built-in family's parts (user families go
 * through `defineHashFamily`, which shares {@linkcode assembleHash}).
 *
 * @param parts the family's name, options and slot rule
 * @param extra further members of the hash (e.g. dirichlet's `aliasTable`)
 * @returns the hash
 */
export function makeHash<E extends object = Record<never, never>>(
  parts: FamilyParts,
  extra?: E,
): Hash & E {
  const hash = Object.assign(assembleHash(parts), extra) as Hash & E;
  builtIns.add(hash);
  return hash;
}

/**
 * Builds a {@linkcode Hash} from a family's parts: the spec checked, the
 * family's slots, then sparsity and signs by the one rule of every family.
 *
 * @param parts the family's name, options and slot rule
 * @returns the hash
 */
export function assembleHash(parts: FamilyParts): Hash {
  const { check, fill, sign } = parts;
  const validate = (spec: IndexSpec): CheckedSpec => {
    const s = checkSpec(spec);
    check?.(s);
    return s;
  };
  return {
    family: parts.family,
    options: Object.freeze({ ...parts.options }),
    indices(spec: IndexSpec): Uint32Array {
      const s = validate(spec);
      const out = new Uint32Array(s.n);
      fill(s, out);
      applySparsity(out, s.tableSize, s.sparsity, s.seed);
      return out;
    },
    signs(spec: IndexSpec): Int8Array | null {
      const s = validate(spec);
      return sign ? signArray(s.n, s.seed) : null;
    },
  };
}
