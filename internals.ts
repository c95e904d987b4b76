/**
 * Building blocks below arbnet's public API, for writing your own modules,
 * kernels and benchmarks: the GPU handle's launch and buffer types, a
 * module's plan, the metrics buffer, the default matmul tile, the
 * Dirichlet alias table, and where the autotuner keeps its choices
 * (`setTuneStore`: a runtime other than Deno may persist them its own way). Imported as `@arbnet/arbnet/internals`; these may
 * change between minor versions, where the main entry point (`mod.ts`)
 * follows semantic versioning.
 *
 * @example A module's plan, the unit every layer binds for one batch size
 * ```ts
 * import type { Plan, PlanOptions } from "@arbnet/arbnet/internals";
 * const options: PlanOptions = { forwardOnly: true };
 * const describe = (p: Plan) => p.output;
 * ```
 * @module
 */

export type { BufferWindow, GpuStats, Launch, Program } from "./lib/gpu/device.ts";
export type { AliasTable } from "./lib/hash/mod.ts";
export {
  allocActivation,
  expectFeatures,
  MetricsBuffer,
  type Plan,
  type PlanOptions,
} from "./lib/nn/mod.ts";
export { DEFAULT_TILE } from "./shaders/matmul.ts";
export { setTuneStore, type TuneStore } from "./shaders/matmul_tune.ts";
export { fileTuneStore } from "./lib/io/mod.ts";
