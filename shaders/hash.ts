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

/**
 * A hash family whose slot words the shaders recompute from seeds: a
 * built-in, or `custom:<key>`, a user family's WGSL given to
 * {@linkcode defineCustomSlots}.
 */
export type ProceduralSlots = "uniform" | "neighborhood" | "dirichlet" | `custom:${string}`;

const FAMILIES: readonly ProceduralSlots[] = ["uniform", "neighborhood", "dirichlet"];

// User families' `family_slot` sources, by key. The key names the source
// (lib/hash/procedural.ts digests it into the key), so entries never change.
const customSources = new Map<string, string>();

/**
 * Makes a user family's WGSL (defining `fn family_slot(p: u32) -> u32`)
 * known to the kernels under `key`, as `proceduralHash` returned them.
 */
export function defineCustomSlots(key: `custom:${string}`, wgsl: string): void {
  const known = customSources.get(key);
  if (known !== undefined && known !== wgsl) {
    throw new Error(`custom slots ${key} are already defined by another source`);
  }
  customSources.set(key, wgsl);
}

function familySource(family: ProceduralSlots): string {
  const custom = customSources.get(family);
  if (custom !== undefined) return custom;
  if (!FAMILIES.includes(family)) {
    throw new Error(
      `no procedural slot_word for ${family} (have ${
        [...FAMILIES, ...customSources.keys()].join(", ")
      })`,
    );
  }
  return piece("hash.wgsl", `slot_${family}`);
}

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
  const file = "hash.wgsl";
  return [piece(file, "xxh32"), piece(file, "hash_params"), familySource(family)].join("\n") +
    "\n" + piece(file, "hash_word");
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
  return await wordsLaunch(gpu, "write_slot_words", family, n, buffers);
}

/**
 * Binds the check kernel that writes `slot_word(positions[i])` into
 * `out[i]` for every `i < n` (a sample of a layer's procedural words).
 */
export async function sampledSlotWordsLaunch(
  gpu: Gpu,
  family: ProceduralSlots,
  n: number,
  buffers: ProceduralSlotBuffers & { out: GPUBuffer; positions: GPUBuffer },
): Promise<Launch> {
  return await wordsLaunch(gpu, "write_sampled_slot_words", family, n, buffers, buffers.positions);
}

async function wordsLaunch(
  gpu: Gpu,
  kernel: string,
  family: ProceduralSlots,
  n: number,
  buffers: ProceduralSlotBuffers & { out: GPUBuffer },
  positions: GPUBuffer | null = null,
): Promise<Launch> {
  const label = `${kernel}[${family}]`;
  const source = [
    proceduralSlotSource(family),
    piece("hash.wgsl", "words_out"),
    piece("hash.wgsl", kernel),
  ]
    .join("\n");
  const program = await gpu.program(label, source);
  const count = gpu.uniform([n], `${label} count`);
  const groups = Math.ceil(n / WG);
  const x = Math.min(groups, gpu.limits.maxComputeWorkgroupsPerDimension);
  const bound = proceduralSlotBindings(family, buffers, label);
  const entries: (GPUBuffer | null)[] = [
    count,
    null,
    null,
    null,
    buffers.out,
    positions,
    null,
    null,
  ];
  for (const [binding, buffer] of bound) entries[binding] = buffer;
  return gpu.bind(program, entries, [x, Math.ceil(groups / x), 1]);
}
