/**
 * Launcher of `bias_grad.wgsl` (db = column sums of dY). CPU oracle:
 * {@linkcode biasGradRef}; test: `tests/bias_grad.test.ts`.
 * @module
 */

import type { Gpu, Launch } from "../lib/gpu/device.ts";
import { WGSL } from "./wgsl.ts";

/** Binds the bias gradient of a `rows × cols` upstream gradient. */
export async function biasGradLaunch(
  gpu: Gpu,
  rows: number,
  cols: number,
  dy: GPUBuffer,
  db: GPUBuffer,
): Promise<Launch> {
  const program = await gpu.program("bias_grad", WGSL["bias_grad.wgsl"]);
  const params = gpu.uniform([rows, cols], "bias_grad params");
  return gpu.bind(program, [params, dy, db], [Math.ceil(cols / 64), 1, 1]);
}

/** Column sums of a row-major `rows × cols` matrix. */
export function biasGradRef(dy: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float64Array(cols);
  for (let m = 0; m < rows; m++) for (let n = 0; n < cols; n++) out[n] += dy[m * cols + n];
  return Float32Array.from(out);
}
