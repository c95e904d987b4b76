/**
 * Swap noise: a knob that adds randomness to any hash while keeping every
 * slot's count. A seeded fraction `q` of the live positions (those not in
 * the zero slot) is chosen, `xxh32U32(p, swapSeed) < ⌊q·2^32⌋`, and the slots
 * of the chosen positions are shuffled among them (Fisher–Yates, seeded).
 * So every slot holds as many positions as under the base hash, and the
 * occupancy entropy is identical at every `q`: only *which* positions share
 * moves. `q = 0` is the base hash; `q = 1` a uniformly random permutation of
 * its slots over the live positions. Sparsity and signs are the base's.
 * @module
 */

import { invalidOption } from "../errors.ts";
import { Rng } from "../util/random.ts";
import { deriveSeed } from "./seeds.ts";
import type { Hash, HashDescriptor, IndexSpec } from "./types.ts";
import { makeHash } from "./family.ts";
import { checkKeys } from "./validate.ts";
import { xxh32U32 } from "./xxhash32.ts";

/** Options of {@linkcode swapNoise}. */
export interface SwapOptions {
  /** The hash whose slots are swapped. */
  base: Hash;
  /** Fraction of live positions that exchange slots, in `[0, 1]`. */
  q: number;
}

/**
 * A base descriptor as one string, keys sorted, so equal bases give equal
 * descriptors (the `base` option of a `swap` descriptor).
 */
export function descriptorString(d: HashDescriptor): string {
  const keys = Object.keys(d.options).sort();
  const options: Record<string, number | string | boolean> = {};
  for (const k of keys) options[k] = d.options[k];
  return JSON.stringify({ family: d.family, options });
}

/**
 * Slots of `indices` with swap noise applied in place: the chosen live
 * positions' slots, shuffled among them.
 *
 * @param indices the base hash's slots (zero slot = `tableSize`)
 * @param tableSize `K`
 * @param q fraction of live positions chosen, in `[0, 1]`
 * @param seed the layer's user seed
 */
export function applySwapNoise(
  indices: Uint32Array,
  tableSize: number,
  q: number,
  seed: number,
): void {
  if (typeof q !== "number" || !(q >= 0 && q <= 1)) invalidOption("q", q, "a number in [0, 1]");
  const threshold = Math.floor(q * 4294967296);
  if (threshold === 0) return;
  const swapSeed = deriveSeed("swap", seed);
  let chosen = 0;
  const picked = new Uint32Array(indices.length);
  for (let p = 0; p < indices.length; p++) {
    if (indices[p] !== tableSize && xxh32U32(p, swapSeed) < threshold) picked[chosen++] = p;
  }
  const slots = new Uint32Array(chosen);
  for (let c = 0; c < chosen; c++) slots[c] = indices[picked[c]];
  new Rng(swapSeed).shuffle(slots);
  for (let c = 0; c < chosen; c++) indices[picked[c]] = slots[c];
}

/**
 * The base hash with swap noise `q`: equal slot counts, more random
 * sharing as `q` grows. Its descriptor is
 * `{ family: "swap", options: { q, base: "<base descriptor as JSON>" } }`.
 *
 * @param options `base` and `q`
 * @returns the hash
 *
 * @example
 * ```ts
 * import { blocks } from "./blocks.ts";
 * import { swapNoise } from "./swap.ts";
 * const h = swapNoise({ base: blocks({ width: 28 }), q: 0.5 });
 * h.indices({ rows: 784, cols: 1000, tableSize: 98_000, seed: 1 });
 * ```
 */
export function swapNoise(options: SwapOptions): Hash {
  const o = checkKeys("hashes.swap options", options, ["base", "q"]);
  const base = o.base as Hash;
  if (base === null || typeof base !== "object" || typeof base.indices !== "function") {
    invalidOption("base", base, "a hash (an object with indices and signs)");
  }
  const q = o.q as number;
  if (typeof q !== "number" || !(q >= 0 && q <= 1)) invalidOption("q", q, "a number in [0, 1]");
  return makeHash({
    family: "swap",
    options: { q, base: descriptorString(base) },
    // The base's own signs are kept (below), whatever rule they follow.
    sign: false,
    fill(s, out) {
      const { rows, cols, tableSize, sparsity, seed } = s;
      out.set(base.indices({ rows, cols, tableSize, sparsity, seed }));
      applySwapNoise(out, tableSize, q, seed);
    },
  }, {
    signs: (spec: IndexSpec): Int8Array | null => base.signs(spec),
    // Swapping slots keeps every output's inputs, so the base's fan-in holds.
    ...(base.fanIn ? { fanIn: (spec: IndexSpec) => base.fanIn!(spec) } : {}),
  });
}
