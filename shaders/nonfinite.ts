/**
 * Launcher of `nonfinite.wgsl`, which records per watched tensor the first
 * step at which it held a NaN or an infinity (the trainer's divergence
 * watch). CPU oracle: {@linkcode nonFiniteRef}; tests:
 * `tests/reliability_nonfinite.test.ts`.
 * @module
 */

import type { Gpu, Launch } from "../lib/gpu/device.ts";
import { elementwiseGrid } from "./elementwise.ts";
import { piece } from "./pieces.ts";

/** Elements (f32s or vec4s) each invocation checks (`PER` in the shader). */
const PER_INVOCATION = 16;

/** The element types the shader is compiled for: vec4s where `n` allows. */
function elementTypes(width: 1 | 4): string {
  return width === 4
    ? "alias T = vec4<f32>;\nalias U = vec4<u32>;\n"
    : "alias T = f32;\nalias U = u32;\n";
}

/** A flag word that was never lowered: the tensor has been finite throughout. */
export const NEVER = 0xffffffff;

/**
 * Binds the watch of `n` floats of `values` into flag `slot` of `flags`
 * (word 0 of `flags` holds the current step; word `1 + slot` the result).
 */
export async function nonFiniteLaunch(
  gpu: Gpu,
  n: number,
  slot: number,
  values: GPUBuffer,
  flags: GPUBuffer,
): Promise<Launch> {
  const width = n % 4 === 0 ? 4 : 1;
  const program = await gpu.program(
    `nonfinite${width === 4 ? "[vec4]" : ""}`,
    elementTypes(width) + piece("nonfinite.wgsl", "nonfinite_test") +
      piece("nonfinite.wgsl", "watch_kernel"),
  );
  const count = n / width;
  const params = gpu.uniform([count, slot], `nonfinite[${slot}] params`);
  return gpu.bind(
    program,
    [params, values, flags],
    elementwiseGrid(count, gpu.limits.maxComputeWorkgroupsPerDimension, PER_INVOCATION),
  );
}

/** CPU oracle: the flag word after watching `values` at `step`, starting from `flag`. */
export function nonFiniteRef(values: Float32Array, step: number, flag = NEVER): number {
  for (const v of values) if (!Number.isFinite(v)) return Math.min(flag, step);
  return flag;
}
