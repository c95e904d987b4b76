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
 * Training produced a NaN or an infinity. `fit` throws it with where and
 * when the non-finite values first appeared, so a diverging run stops at once
 * instead of training (and checkpointing) a broken model.
 */
export class NonFiniteError extends ArbnetError {
  /** Epoch (0-based) during which it was detected. */
  readonly epoch: number;
  /** First step (1-based, within the epoch) of the range in which it appeared. */
  readonly fromStep: number;
  /** Last step (1-based, within the epoch) of that range: where it was detected. */
  readonly toStep: number;
  /** The step (1-based, within the epoch) where the first non-finite value was recorded, if known. */
  readonly step: number | null;
  /** What held it first, e.g. `"the output of layer 1 (layer1: ArbLinear 16→4)"`, if known. */
  readonly where: string | null;

  /** Creates the error; `message` is the full explanation. */
  constructor(
    message: string,
    at: {
      epoch: number;
      fromStep: number;
      toStep: number;
      step: number | null;
      where: string | null;
    },
  ) {
    super(message);
    this.name = "NonFiniteError";
    this.epoch = at.epoch;
    this.fromStep = at.fromStep;
    this.toStep = at.toStep;
    this.step = at.step;
    this.where = at.where;
  }
}

/**
 * The GPU device was lost (driver reset, device removed, `destroy()`): its
 * buffers, including the model, are gone. Recover by requesting a new device
 * and resuming from the last checkpoint.
 */
export class DeviceLostError extends ArbnetError {
  /** `GPUDeviceLostInfo.reason`: `"destroyed"` or `"unknown"`. */
  readonly reason: string;

  /** Creates the error; `message` says what happened and how to resume. */
  constructor(message: string, reason: string) {
    super(message);
    this.name = "DeviceLostError";
    this.reason = reason;
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
