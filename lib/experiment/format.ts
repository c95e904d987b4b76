/**
 * How the reports print numbers: fixed decimals, and p values to three
 * decimals or, below 0.001, in exponent form; "n/a" for what is not a
 * finite number (a test that could not run).
 *
 * Owns: number formatting of the reports. Imports nothing.
 * @module
 */

/** `x` to `digits` decimals, or "n/a". */
export function fixed(x: number, digits: number): string {
  return Number.isFinite(x) ? x.toFixed(digits) : "n/a";
}

/** A p value: 0.042, 1.3e-5, or "n/a". */
export function pValue(x: number): string {
  if (!Number.isFinite(x)) return "n/a";
  return x >= 0.001 ? x.toFixed(3) : x.toExponential(1);
}
