/**
 * Launchers of the loss kernels: `softmax_xent.wgsl` (loss, its gradient and
 * argmax per row) and `metrics_reduce.wgsl` (fold rows into running metrics).
 * CPU oracle: {@linkcode softmaxXentRef}; test: `tests/softmax_xent.test.ts`.
 * @module
 */

import type { Gpu, Launch } from "../lib/gpu/device.ts";
import { WGSL } from "./wgsl.ts";

/** Layout of the running-metrics buffer (4 floats). */
export const METRICS = { lossSum: 0, correct: 1, rows: 2, nonFinite: 3, length: 4 } as const;

/**
 * Binds softmax cross-entropy for `rows × classes` logits. `dlogits` receives
 * d(mean loss)/d(logits); `rowStats` (2 floats per row) receives (loss, correct).
 */
export async function softmaxXentLaunch(
  gpu: Gpu,
  rows: number,
  classes: number,
  buffers: { logits: GPUBuffer; labels: GPUBuffer; dlogits: GPUBuffer; rowStats: GPUBuffer },
): Promise<Launch> {
  const program = await gpu.program("softmax_xent", WGSL["softmax_xent.wgsl"]);
  const params = gpu.uniform([rows, classes, 1 / rows, 0], "softmax_xent params", 2);
  return gpu.bind(
    program,
    [params, buffers.logits, buffers.labels, buffers.dlogits, buffers.rowStats],
    [Math.ceil(rows / 64), 1, 1],
  );
}

/** Binds the reduction of `rows` per-row stats into the metrics buffer (see {@linkcode METRICS}). */
export async function metricsReduceLaunch(
  gpu: Gpu,
  rows: number,
  rowStats: GPUBuffer,
  metrics: GPUBuffer,
): Promise<Launch> {
  const program = await gpu.program("metrics_reduce", WGSL["metrics_reduce.wgsl"]);
  const params = gpu.uniform([rows], "metrics_reduce params");
  return gpu.bind(program, [params, rowStats, metrics], [1, 1, 1]);
}

/** CPU oracle: mean loss, gradient (already divided by rows), per-row correctness. */
export function softmaxXentRef(
  logits: Float32Array,
  labels: Uint32Array,
  rows: number,
  classes: number,
): { loss: Float64Array; dlogits: Float32Array; correct: Uint8Array } {
  const loss = new Float64Array(rows);
  const dlogits = new Float32Array(rows * classes);
  const correct = new Uint8Array(rows);
  for (let r = 0; r < rows; r++) {
    const row = logits.subarray(r * classes, (r + 1) * classes);
    let top = row[0];
    let arg = 0;
    for (let c = 1; c < classes; c++) if (row[c] > top) [top, arg] = [row[c], c];
    let sum = 0;
    for (let c = 0; c < classes; c++) sum += Math.exp(row[c] - top);
    const logSum = Math.log(sum);
    loss[r] = logSum + top - row[labels[r]];
    for (let c = 0; c < classes; c++) {
      dlogits[r * classes + c] = (Math.exp(row[c] - top - logSum) - (c === labels[r] ? 1 : 0)) /
        rows;
    }
    correct[r] = arg === labels[r] ? 1 : 0;
  }
  return { loss, dlogits, correct };
}
