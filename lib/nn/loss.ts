/**
 * Softmax cross-entropy as a bound loss: consumes logits, writes their
 * gradient, and folds per-row loss and accuracy into a running metrics
 * buffer on the GPU (read back only when asked).
 *
 * Layer: nn.
 * @module
 */

import type { Gpu, Launch } from "../gpu/device.ts";
import { ArbnetError } from "../errors.ts";
import { METRICS, metricsReduceLaunch, softmaxXentLaunch } from "../../shaders/softmax_xent.ts";
import type { Activation } from "./module.ts";

/** Running totals since the last reset. */
export interface Metrics {
  /** Mean loss per row. */
  loss: number;
  /** Fraction of rows whose argmax equals the label. */
  accuracy: number;
  /** Rows counted. */
  rows: number;
  /** True if any batch's loss was NaN or infinite. */
  nonFinite: boolean;
}

/** The running-metrics buffer shared by every loss plan of a trainer. */
export class MetricsBuffer {
  /** Four floats: loss sum, correct, rows, non-finite flag. */
  readonly buffer: GPUBuffer;
  readonly #gpu: Gpu;

  /** Allocates a zeroed metrics buffer. */
  constructor(gpu: Gpu) {
    this.#gpu = gpu;
    this.buffer = gpu.buffer(METRICS.length * 4, "metrics");
    this.reset();
  }

  /** Records zeroing the totals. */
  reset(): void {
    this.#gpu.clear(this.buffer);
  }

  /** Reads the totals (waits for recorded work). */
  async read(): Promise<Metrics> {
    const m = await this.#gpu.readF32(this.buffer, METRICS.length);
    const rows = m[METRICS.rows];
    return {
      loss: rows > 0 ? m[METRICS.lossSum] / rows : NaN,
      accuracy: rows > 0 ? m[METRICS.correct] / rows : NaN,
      rows,
      nonFinite: m[METRICS.nonFinite] !== 0 || !Number.isFinite(m[METRICS.lossSum]),
    };
  }
}

/** Softmax cross-entropy bound to one logits activation and a labels buffer. */
export class SoftmaxCrossEntropy {
  readonly #xent: Launch;
  readonly #reduce: Launch;
  readonly #gpu: Gpu;

  private constructor(gpu: Gpu, xent: Launch, reduce: Launch) {
    this.#gpu = gpu;
    this.#xent = xent;
    this.#reduce = reduce;
  }

  /** Binds the loss for `logits` (whose `grad` receives d(mean loss)/d(logits)). */
  static async bind(
    gpu: Gpu,
    logits: Activation,
    labels: GPUBuffer,
    metrics: MetricsBuffer,
  ): Promise<SoftmaxCrossEntropy> {
    if (!logits.grad) throw new ArbnetError("the logits need a gradient buffer");
    const rowStats = gpu.buffer(logits.rows * 8, "xent.rowstats");
    const xent = await softmaxXentLaunch(gpu, logits.rows, logits.features, {
      logits: logits.buffer,
      labels,
      dlogits: logits.grad,
      rowStats,
    });
    const reduce = await metricsReduceLaunch(gpu, logits.rows, rowStats, metrics.buffer);
    return new SoftmaxCrossEntropy(gpu, xent, reduce);
  }

  /** Records loss, gradient and metrics for the current logits. */
  record(): void {
    this.#gpu.dispatch(this.#xent);
    this.#gpu.dispatch(this.#reduce);
  }
}

/** Binds softmax cross-entropy to `logits` and `labels` (see {@linkcode SoftmaxCrossEntropy}). */
export function softmaxCrossEntropy(
  gpu: Gpu,
  logits: Activation,
  labels: GPUBuffer,
  metrics: MetricsBuffer,
): Promise<SoftmaxCrossEntropy> {
  return SoftmaxCrossEntropy.bind(gpu, logits, labels, metrics);
}
