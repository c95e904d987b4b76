/**
 * Launcher of `nonfinite.wgsl`, which records per watched tensor the first
 * step at which it held a NaN or an infinity (the trainer's divergence
 * watch). CPU oracle: {@linkcode nonFiniteRef}; tests:
 * `tests/reliability_nonfinite.test.ts`.
 * @module
 */

import type { Gpu, Launch } from "../lib/gpu/device.ts";
import { elementwiseGrid } from "./elementwise.ts";
import { WGSL } from "./wgsl.ts";

/** Elements each invocation checks (`PER` in the shader). */
const PER_INVOCATION = 16;

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
  const program = await gpu.program("nonfinite", WGSL["nonfinite.wgsl"]);
  const params = gpu.uniform([n, slot], `nonfinite[${slot}] params`);
  return gpu.bind(
    program,
    [params, values, flags],
    elementwiseGrid(Math.ceil(n / PER_INVOCATION), gpu.limits.maxComputeWorkgroupsPerDimension),
  );
}

/** CPU oracle: the flag word after watching `values` at `step`, starting from `flag`. */
export function nonFiniteRef(values: Float32Array, step: number, flag = NEVER): number {
  for (const v of values) if (!Number.isFinite(v)) return Math.min(flag, step);
  return flag;
}
