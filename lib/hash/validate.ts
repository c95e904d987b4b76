/**
 * Validation shared by every hash family: the {@linkcode IndexSpec} (shape,
 * table size, sparsity, seed) and the options objects of the factories, so
 * that every bad value is reported the same way, as an `ArbnetError` naming
 * the option.
 * @module
 */

import { ArbnetError, invalidOption } from "../errors.ts";
import type { IndexSpec } from "./types.ts";

/** `2^32`: positions and slot indices are u32, so counts must stay within this. */
export const U32_RANGE = 4294967296;
/** The largest u32, `2^32 − 1`. */
export const U32_MAX = 4294967295;

/** An {@linkcode IndexSpec} after validation, with defaults filled in. */
export interface CheckedSpec {
  /** Rows of the virtual matrix. */
  rows: number;
  /** Columns of the virtual matrix. */
  cols: number;
  /** Number of positions, `rows * cols` (at most `2^32`). */
  n: number;
  /** Trainable slots `K` (the zero slot is `K`). */
  tableSize: number;
  /** Fraction sent to the zero slot, in `[0, 1)`. */
  sparsity: number;
  /** The user seed, a u32. */
  seed: number;
}

const SPEC_KEYS = ["rows", "cols", "tableSize", "sparsity", "seed"];

/**
 * Rejects anything but a plain object whose keys are all in `known`, so a
 * typo such as `{ alhpa: 1 }` fails loudly instead of silently using a default.
 *
 * @param what how to name the object in messages, e.g. `"hashes.dirichlet options"`
 * @param value the options object (`undefined` is read as `{}`)
 * @param known the accepted keys
 * @returns the object, as a record
 */
export function checkKeys(
  what: string,
  value: unknown,
  known: readonly string[],
): Record<string, unknown> {
  if (value === undefined) return {};
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    invalidOption(what, value, "an object");
  }
  const rec = value as Record<string, unknown>;
  for (const key of Object.keys(rec)) {
    if (!known.includes(key)) {
      const list = known.length > 0 ? known.join(", ") : "none";
      throw new ArbnetError(
        `unknown option ${JSON.stringify(key)} in ${what} (known options: ${list})`,
      );
    }
  }
  return rec;
}

/**
 * An integer option in `[min, max]`.
 *
 * @param name the option's name, used in the error message
 * @param value the value to check
 * @param min smallest allowed
 * @param max largest allowed
 * @returns the value
 */
export function checkInt(name: string, value: unknown, min: number, max: number): number {
  if (typeof value !== "number" || !Number.isInteger(value) || value < min || value > max) {
    const range = max === Number.MAX_SAFE_INTEGER
      ? `an integer ≥ ${min}`
      : `an integer in [${min}, ${max}]`;
    invalidOption(name, value, range);
  }
  return value;
}

/**
 * A boolean option with a default.
 *
 * @param name the option's name
 * @param value the value (`undefined` gives `fallback`)
 * @param fallback the default
 * @returns the boolean
 */
export function checkBool(name: string, value: unknown, fallback: boolean): boolean {
  if (value === undefined) return fallback;
  if (typeof value !== "boolean") invalidOption(name, value, "true or false");
  return value;
}

/**
 * Validates an {@linkcode IndexSpec} and fills in its defaults.
 *
 * @param spec what the caller passed
 * @returns the checked spec
 */
export function checkSpec(spec: IndexSpec): CheckedSpec {
  if (spec === undefined) invalidOption("index spec", spec, "{ rows, cols, tableSize, seed }");
  const rec = checkKeys("index spec", spec, SPEC_KEYS);
  const rows = checkInt("rows", rec.rows, 1, Number.MAX_SAFE_INTEGER);
  const cols = checkInt("cols", rec.cols, 1, Number.MAX_SAFE_INTEGER);
  const n = rows * cols;
  if (n > U32_RANGE) {
    throw new ArbnetError(
      `invalid rows × cols: ${rows} × ${cols} = ${n} positions, more than 2^32 = ${U32_RANGE}; ` +
        `positions p = i * cols + j must fit in a u32, so use a smaller layer ` +
        `(fewer rows or cols, or split it into several layers)`,
    );
  }
  // The zero slot has index tableSize, which must itself be a u32.
  const tableSize = checkInt("tableSize", rec.tableSize, 1, U32_MAX);
  let sparsity = 0;
  if (rec.sparsity !== undefined) {
    const s = rec.sparsity;
    if (typeof s !== "number" || !(s >= 0 && s < 1)) {
      invalidOption("sparsity", s, "a number in [0, 1)");
    }
    sparsity = s;
  }
  const seed = checkInt("seed", rec.seed, 0, U32_MAX);
  return { rows, cols, n, tableSize, sparsity, seed };
}

/** Where position `p` sits in a `rows × cols` virtual matrix, for messages. */
export function describePosition(p: number, cols: number): string {
  return `position ${p} (row ${Math.floor(p / cols)}, column ${p % cols})`;
}

/**
 * Checks what a hash produced for a layer before anything trains on it:
 * `rows · cols` slots, each an integer in `[0, tableSize]` (slot
 * `tableSize` is the zero slot), and signs that are `null` or `rows · cols`
 * values of ±1. Runs once per layer; a user family that gets its rule
 * wrong is refused here instead of training on garbage.
 *
 * @param family the hash's family name, for the message
 * @param spec the layer's spec
 * @param indices what `hash.indices(spec)` returned
 * @param signs what `hash.signs(spec)` returned
 * @throws ArbnetError naming the family and the first bad position
 */
export function checkHashOutput(
  family: string,
  spec: IndexSpec,
  indices: unknown,
  signs: unknown,
): void {
  const s = checkSpec(spec);
  const who = `the ${JSON.stringify(family)} hash`;
  const shape = `a ${s.rows}×${s.cols} layer (rows · cols = ${s.n} positions)`;
  if (!(indices instanceof Uint32Array)) {
    throw new ArbnetError(
      `${who}: indices() returned ${
        describeValue(indices)
      }, expected a Uint32Array of ${s.n} slots`,
    );
  }
  if (indices.length !== s.n) {
    throw new ArbnetError(
      `${who}: indices() returned ${indices.length} slots for ${shape}; the first bad position ` +
        `is ${Math.min(indices.length, s.n)}`,
    );
  }
  const k = s.tableSize;
  for (let p = 0; p < indices.length; p++) {
    if (indices[p] > k) {
      throw new ArbnetError(
        `${who}: indices() put ${describePosition(p, s.cols)} in slot ${indices[p]}, outside ` +
          `[0, ${k}] (tableSize ${k}; slot ${k} is the zero slot)`,
      );
    }
  }
  if (signs === null) return;
  if (!(signs instanceof Int8Array)) {
    throw new ArbnetError(
      `${who}: signs() returned ${describeValue(signs)}, expected null or an Int8Array of ±1`,
    );
  }
  if (signs.length !== s.n) {
    throw new ArbnetError(
      `${who}: signs() returned ${signs.length} signs for ${shape}; the first bad position ` +
        `is ${Math.min(signs.length, s.n)}`,
    );
  }
  for (let p = 0; p < signs.length; p++) {
    if (signs[p] !== 1 && signs[p] !== -1) {
      throw new ArbnetError(
        `${who}: signs() gave ${describePosition(p, s.cols)} the sign ${
          signs[p]
        }, expected +1 or -1`,
      );
    }
  }
}

function describeValue(v: unknown): string {
  if (v === null || v === undefined) return String(v);
  if (typeof v === "object") return `a ${v.constructor?.name ?? "object"}`;
  return `a ${typeof v}`;
}
