/**
 * The `dense` family: `h(p) = p`, one slot per position, so a plain dense
 * layer is an ArbNet too (`tableSize` must be `rows * cols`). No sign hash.
 * Sparsity, if asked for, still applies (a randomly pruned dense layer).
 * @module
 */

import { ArbnetError } from "../errors.ts";
import { isBuiltinHash, makeHash } from "./family.ts";
import type { Hash } from "./types.ts";
import { checkKeys } from "./validate.ts";

/** Options of {@linkcode dense}: none. */
export type DenseOptions = Record<string, never>;

/**
 * A dense layer as an ArbNet: every position has its own slot.
 *
 * @param options none are accepted (`{}` or nothing)
 * @returns the hash; `indices()` throws unless `tableSize === rows * cols`
 *
 * @example
 * ```ts
 * import { dense } from "./dense.ts";
 * dense().indices({ rows: 2, cols: 3, tableSize: 6, seed: 0 }); // 0, 1, 2, 3, 4, 5
 * ```
 */
export function dense(options?: DenseOptions): Hash {
  checkKeys("hashes.dense options", options, []);
  return makeHash({
    family: "dense",
    options: {},
    sign: false,
    check(s) {
      if (s.tableSize !== s.n) {
        throw new ArbnetError(
          `invalid tableSize: ${s.tableSize} (the dense hash needs one slot per position: ` +
            `tableSize = rows * cols = ${s.rows} * ${s.cols} = ${s.n})`,
        );
      }
    },
    fill(s, out) {
      for (let p = 0; p < s.n; p++) out[p] = p;
    },
  });
}

/**
 * Whether a hash is the built-in identity hash (from `hashes.dense()` or a
 * `"dense"` descriptor), whose table *is* the weight matrix. Decided by who
 * built the hash, never by its name alone.
 *
 * @param hash any hash
 * @returns true for the built-in dense hash only
 */
export function isDenseHash(hash: Hash): boolean {
  return hash.family === "dense" && isBuiltinHash(hash);
}
