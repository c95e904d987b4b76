/**
 * Procedural slot words (`hash.wgsl`): the WGSL that defines `slot_word(p)`
 * from a layer's seeds, for the matmul template to use in place of a slot
 * buffer, and a kernel that writes `slot_word(p)` for every position so the
 * tests can compare it with the CPU's `hash.indices()` and `hash.signs()`.
 * The host packs the parameters with `lib/hash/procedural.ts`.
 *
 * Layer: kernels; imports `lib/gpu` only.
 * @module
 */

import type { Gpu, Launch } from "../lib/gpu/device.ts";
import { piece } from "./pieces.ts";

/** A hash family whose slot words the shaders recompute from seeds. */
export type ProceduralSlots = "uniform" | "neighborhood" | "dirichlet";

const FAMILIES: readonly ProceduralSlots[] = ["uniform", "neighborhood", "dirichlet"];

/** Buffers a procedural `slot_word` reads. */
export interface ProceduralSlotBuffers {
  /** `HashParams` uniform (binding 3), e.g. `gpu.uniform(proceduralHash(…).params)`. */
  hashParams: GPUBuffer;
  /** Alias thresholds, one u32 per slot (binding 6, `dirichlet` only). */
  aliasThreshold?: GPUBuffer;
  /** Alias targets, one u32 per slot (binding 7, `dirichlet` only). */
  aliasTarget?: GPUBuffer;
}

/**
 * The WGSL defining `fn slot_word(p: u32) -> u32` for a family, with its
 * bindings (3, and 6 and 7 for `dirichlet`).
 */
export function proceduralSlotSource(family: ProceduralSlots): string {
  if (!FAMILIES.includes(family)) {
    throw new Error(`no procedural slot_word for ${family} (have ${FAMILIES.join(", ")})`);
  }
  const file = "hash.wgsl";
  return ["xxh32", "hash_params", `slot_${family}`, "hash_word"].map((p) => piece(file, p))
    .join("\n");
}

/**
 * Bindings 3, 6 and 7 of a kernel using procedural slots, as `gpu.bind`
 * entries (index = binding), checked for presence.
 */
export function proceduralSlotBindings(
  family: ProceduralSlots,
  buffers: Partial<ProceduralSlotBuffers>,
  label: string,
): Map<number, GPUBuffer> {
  if (!buffers.hashParams) throw new Error(`${label} needs a hashParams buffer`);
  const out = new Map([[3, buffers.hashParams]]);
  if (family === "dirichlet") {
    if (!buffers.aliasThreshold || !buffers.aliasTarget) {
      throw new Error(`${label} needs aliasThreshold and aliasTarget buffers`);
    }
    out.set(6, buffers.aliasThreshold);
    out.set(7, buffers.aliasTarget);
  }
  return out;
}

const WG = 64;

/**
 * Binds the test kernel that writes `slot_word(p)` into `out[p]` for every
 * `p < n` (the procedural words, for comparison with the CPU's).
 */
export async function slotWordsLaunch(
  gpu: Gpu,
  family: ProceduralSlots,
  n: number,
  buffers: ProceduralSlotBuffers & { out: GPUBuffer },
): Promise<Launch> {
  const label = `slot_words[${family}]`;
  const source = proceduralSlotSource(family) + "\n" + piece("hash.wgsl", "write_slot_words");
  const program = await gpu.program(label, source);
  const count = gpu.uniform([n], `${label} count`);
  const groups = Math.ceil(n / WG);
  const x = Math.min(groups, gpu.limits.maxComputeWorkgroupsPerDimension);
  const bound = proceduralSlotBindings(family, buffers, label);
  const entries: (GPUBuffer | null)[] = [count, null, null, null, buffers.out, null, null, null];
  for (const [binding, buffer] of bound) entries[binding] = buffer;
  return gpu.bind(program, entries, [x, Math.ceil(groups / x), 1]);
}
