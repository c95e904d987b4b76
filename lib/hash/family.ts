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

/**
 * Builds a {@linkcode Hash} from a family's parts.
 *
 * @param parts the family's name, options and slot rule
 * @returns the hash
 */
export function makeHash(parts: FamilyParts): Hash {
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
