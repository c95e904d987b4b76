/**
 * The check a procedural layer of a user family passes before it trains:
 * the family's WGSL rule, run in the shader, must give the same slot words
 * as its TypeScript rule on a sample of positions (the first and last ones
 * and a seeded spread in between). A WGSL port that drifts from the
 * TypeScript rule would otherwise train a different network from the one
 * checkpoints, `view-hash` and the entropy figures describe.
 *
 * Layer: nn; imports `lib/gpu`, the kernels, `lib/hash`.
 * @module
 */

import type { Gpu } from "../gpu/device.ts";
import { ArbnetError } from "../errors.ts";
import type { Hash, IndexSpec } from "../hash/types.ts";
import { userProcedural } from "../hash/user.ts";
import { checkSpec, describePosition } from "../hash/validate.ts";
import { xxh32U32 } from "../hash/xxhash32.ts";
import { type ProceduralSlotBuffers, sampledSlotWordsLaunch } from "../../shaders/hash.ts";

/** Positions compared at each end of the virtual matrix. */
export const CUSTOM_CHECK_ENDS = 512;
/** Positions compared in between, spread by a seeded hash. */
export const CUSTOM_CHECK_SPREAD = 3072;

/**
 * The positions the check compares: `0 .. ends−1`, `n−ends .. n−1` and
 * `spread` seeded positions in between (all of them when `n` is small).
 *
 * @param n positions of the layer
 * @param seed the layer's seed
 * @returns the positions, ascending where they are the ends
 */
export function customCheckPositions(n: number, seed: number): Uint32Array {
  const total = 2 * CUSTOM_CHECK_ENDS + CUSTOM_CHECK_SPREAD;
  if (n <= total) return Uint32Array.from({ length: n }, (_, p) => p);
  const out = new Uint32Array(total);
  for (let i = 0; i < CUSTOM_CHECK_ENDS; i++) {
    out[i] = i;
    out[CUSTOM_CHECK_ENDS + i] = n - CUSTOM_CHECK_ENDS + i;
  }
  for (let i = 0; i < CUSTOM_CHECK_SPREAD; i++) {
    out[2 * CUSTOM_CHECK_ENDS + i] = xxh32U32(i, seed >>> 0) % n;
  }
  return out;
}

/**
 * Compares a user family's procedural slot words (WGSL, on the device) with
 * its TypeScript rule on {@linkcode customCheckPositions}.
 *
 * @param gpu the device
 * @param hash a user family's hash with a WGSL rule
 * @param spec the layer's spec
 * @param key the kernels' name for the rule (`proceduralHash(hash, spec).family`)
 * @param buffers the layer's procedural buffers (its `HashParams`)
 * @throws ArbnetError naming the family and the first disagreeing position
 */
export async function checkCustomSlots(
  gpu: Gpu,
  hash: Hash,
  spec: IndexSpec,
  key: `custom:${string}`,
  buffers: ProceduralSlotBuffers,
): Promise<void> {
  const rule = userProcedural(hash);
  if (!rule) throw new ArbnetError(`the ${JSON.stringify(hash.family)} hash has no WGSL rule`);
  const s = checkSpec(spec);
  const positions = customCheckPositions(s.n, s.seed);
  const want = rule.slotWords(positions, spec);
  const who = `the ${JSON.stringify(hash.family)} hash`;
  const at = gpu.upload(positions, `${key} check positions`);
  const out = gpu.buffer(positions.length * 4, `${key} check words`);
  try {
    let launch;
    try {
      launch = await sampledSlotWordsLaunch(gpu, key, positions.length, {
        ...buffers,
        positions: at,
        out,
      });
    } catch (e) {
      throw new ArbnetError(`${who}: its WGSL rule does not compile: ${(e as Error).message}`);
    }
    gpu.dispatch(launch);
    const got = await gpu.readU32(out, positions.length);
    gpu.releaseLaunch(launch);
    compareWords(who, s.cols, s.n, positions, got, want);
  } finally {
    gpu.release(at);
    gpu.release(out);
  }
}

function compareWords(
  who: string,
  cols: number,
  n: number,
  positions: Uint32Array,
  got: Uint32Array,
  want: Uint32Array,
): void {
  for (let i = 0; i < positions.length; i++) {
    if (got[i] !== want[i]) {
      const p = positions[i];
      throw new ArbnetError(
        `${who}: its WGSL rule and its TypeScript rule disagree at ${
          describePosition(p, cols)
        }: WGSL gives ${describeWord(got[i])}, TypeScript ${describeWord(want[i])} ` +
          `(checked ${positions.length} positions of ${n} before training)`,
      );
    }
  }
}

function describeWord(word: number): string {
  const slot = word & 0x7fffffff;
  return word >>> 31 ? `slot ${slot} with sign -1` : `slot ${slot}`;
}
