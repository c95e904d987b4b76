/**
 * The one error type arbnet throws for bad input, so callers can tell a
 * misuse (wrong option, shape or file) from a bug.
 *
 * Lowest layer: imports nothing.
 * @module
 */

/** An error caused by input the caller can fix; the message says what and how. */
export class ArbnetError extends Error {
  /** Creates the error; `message` says what was wrong and, where possible, how to fix it. */
  constructor(message: string) {
    super(message);
    this.name = "ArbnetError";
  }
}

/**
 * Throws an {@linkcode ArbnetError} naming an option, its value and what is allowed.
 *
 * @example
 * ```ts
 * import { invalidOption } from "./errors.ts";
 * const alpha = -1;
 * if (!(alpha > 0)) invalidOption("alpha", alpha, "a finite number > 0");
 * ```
 */
export function invalidOption(name: string, value: unknown, allowed: string): never {
  throw new ArbnetError(`invalid ${name}: ${formatValue(value)} (expected ${allowed})`);
}

function formatValue(v: unknown): string {
  if (typeof v === "string") return JSON.stringify(v);
  if (typeof v === "number" || typeof v === "boolean" || v == null) return String(v);
  if (ArrayBuffer.isView(v)) return `${v.constructor.name}(${(v as Uint8Array).length})`;
  return Object.prototype.toString.call(v);
}
