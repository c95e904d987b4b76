/**
 * Shared test helpers: one GPU device per test file, seeded random arrays,
 * and a tolerance comparison that reports the worst element.
 * @module
 */

import { type Gpu, requestDevice } from "../lib/gpu/device.ts";
import type { Activation, Module } from "../lib/nn/mod.ts";
import { Rng } from "../lib/util/random.ts";
import { ArbnetError } from "../lib/errors.ts";
import assert from "node:assert/strict";
// Tests that tune tiles keep the choices on disk, as the library does under Deno.
import "../lib/io/tile_cache.ts";

let shared: Promise<Gpu> | null = null;

/** The test file's device (created on first use, reused after). */
export function testGpu(): Promise<Gpu> {
  if (!shared) {
    shared = requestDevice({ label: "arbnet tests" });
    const gpu = shared;
    globalThis.addEventListener("unload", () => gpu.then((g) => g.destroy()));
  }
  return shared;
}

/**
 * `Deno.test` for GPU tests: the device outlives single tests, so resource
 * sanitizers are off. `ignore` shows a test the adapter cannot run as ignored.
 */
export function gpuTest(
  name: string,
  fn: (gpu: Gpu) => void | Promise<void>,
  { ignore = false }: { ignore?: boolean } = {},
): void {
  Deno.test({
    name,
    ignore,
    sanitizeOps: false,
    sanitizeResources: false,
    fn: async () => await fn(await testGpu()),
  });
}

/** Uniform floats in [lo, hi) from a seed. */
export function randomF32(n: number, seed: number, lo = -1, hi = 1): Float32Array {
  const rng = new Rng(seed);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = lo + (hi - lo) * rng.next();
  return out;
}

/** Random slot words (slot in [0, slots], sign bit random when `signed`). */
export function randomSlotWords(
  n: number,
  slots: number,
  seed: number,
  signed = true,
): Uint32Array {
  const rng = new Rng(seed);
  const out = new Uint32Array(n);
  for (let i = 0; i < n; i++) {
    out[i] = (rng.int(slots + 1) | (signed && rng.next() < 0.5 ? 0x80000000 : 0)) >>> 0;
  }
  return out;
}

/**
 * Asserts |a − e| ≤ atol + rtol·|e| elementwise; the message names the worst
 * index, so a failure says where the kernel went wrong.
 */
export function assertClose(
  actual: ArrayLike<number>,
  expected: ArrayLike<number>,
  { rtol = 1e-5, atol = 1e-5, what = "values" } = {},
): void {
  if (actual.length !== expected.length) {
    throw new Error(`${what}: length ${actual.length} != expected ${expected.length}`);
  }
  let worst = -1;
  let worstExcess = 0;
  for (let i = 0; i < actual.length; i++) {
    const err = Math.abs(actual[i] - expected[i]);
    const excess = err - (atol + rtol * Math.abs(expected[i]));
    if (!(excess <= 0) && (worst < 0 || !(excess <= worstExcess))) {
      worst = i;
      worstExcess = excess;
    }
  }
  if (worst >= 0) {
    throw new Error(
      `${what}: element ${worst} is ${actual[worst]}, expected ${expected[worst]} ` +
        `(rtol ${rtol}, atol ${atol})`,
    );
  }
}

/** Runs `fn` with a fresh temporary folder, removed afterwards. */
export async function withTempDir(fn: (dir: string) => Promise<void>, prefix = "arbnet_") {
  const dir = await Deno.makeTempDir({ prefix });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** Awaits `p`, requiring an ArbnetError whose message contains every fragment. */
export async function rejectsWith(p: Promise<unknown>, ...fragments: string[]): Promise<void> {
  let err: unknown;
  try {
    await p;
  } catch (e) {
    err = e;
  }
  assert.ok(err !== undefined, `expected an ArbnetError mentioning ${fragments.join(", ")}`);
  assert.ok(err instanceof ArbnetError, `expected ArbnetError, got ${err}`);
  for (const f of fragments) {
    assert.ok(err.message.includes(f), `message ${JSON.stringify(err.message)} lacks ${f}`);
  }
}

/** Runs `net` forward on a host batch of `features`-wide rows and reads its output back. */
export async function forwardHost(
  gpu: Gpu,
  net: Module,
  x: Float32Array,
  features: number,
): Promise<Float32Array> {
  const rows = x.length / features;
  const input: Activation = { buffer: gpu.buffer(x.byteLength, "x"), grad: null, rows, features };
  gpu.write(input.buffer, x);
  const out = await net.forward(input);
  const y = await gpu.readF32(out.buffer, out.rows * out.features);
  gpu.release(input.buffer);
  return y;
}
