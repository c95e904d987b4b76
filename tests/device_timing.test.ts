/**
 * Gpu.timeLaunches and Gpu.capture: the device clock the autotuner and
 * bench/profile_step.ts time kernels with. What is checked is what the
 * timing does to the work (every launch runs `repeats` times, in order,
 * after the work recorded before it), not how long it takes: times on a
 * shared machine are for benchmarks.
 */
import assert from "node:assert/strict";
import { Gpu, type Launch } from "../lib/gpu/device.ts";
import { ArbnetError } from "../lib/errors.ts";
import { gpuTest, testGpu } from "./_util.ts";

// Lavapipe and most GPUs offer timestamp queries; where the adapter does
// not, the tests that need them show as ignored rather than passing empty.
const timestamps = (await testGpu()).timestamps;

/** A GPU test that needs timestamp queries. */
function timedTest(name: string, fn: (gpu: Gpu) => Promise<void>): void {
  gpuTest(name, fn, { ignore: !timestamps });
}

/** A launch that adds `step` to each of the 64 words of `buf`. */
async function addLaunch(gpu: Gpu, buf: GPUBuffer, step: number): Promise<Launch> {
  const program = await gpu.program(
    `add ${step}`,
    `@group(0) @binding(0) var<storage, read_write> b: array<f32>;
@compute @workgroup_size(64) fn main(@builtin(global_invocation_id) g: vec3u) {
  b[g.x] = b[g.x] + ${step.toFixed(1)};
}`,
  );
  return gpu.bind(program, [buf], [1, 1, 1]);
}

/** A launch that doubles each of the 64 words of `buf`: order-sensitive with an add. */
async function doubleLaunch(gpu: Gpu, buf: GPUBuffer): Promise<Launch> {
  const program = await gpu.program(
    "double",
    `@group(0) @binding(0) var<storage, read_write> b: array<f32>;
@compute @workgroup_size(64) fn main(@builtin(global_invocation_id) g: vec3u) {
  b[g.x] = 2.0 * b[g.x];
}`,
  );
  return gpu.bind(program, [buf], [1, 1, 1]);
}

timedTest(
  "timeLaunches: runs each launch once untimed, then `repeats` times, in order, after earlier work",
  async (gpu) => {
    const a = gpu.buffer(256, "a"), b = gpu.buffer(256, "b");
    gpu.clear(a);
    gpu.clear(b);
    const addA = await addLaunch(gpu, a, 1), addB = await addLaunch(gpu, b, 2);
    const doubleB = await doubleLaunch(gpu, b);
    gpu.dispatch(addB); // recorded before: must run first, so b = (0 + 2) · 2^(1 + 3) = 32
    const ms = await gpu.timeLaunches([addA, doubleB], 3);
    assert.ok(ms !== null);
    assert.equal(ms.length, 2);
    for (const t of ms) assert.ok(Number.isFinite(t) && t >= 0, `time ${t}`);
    // Each once untimed (the device speeding up), then 3 times timed.
    assert.deepEqual([...await gpu.readF32(a)], new Array(64).fill(4));
    assert.deepEqual([...await gpu.readF32(b)], new Array(64).fill(32));
    // A launch's `more` is timed with it, as one product split into blocks,
    // and runs with it untimed first: 4 + (1 + 2)·2 = 10.
    const chained: Launch = { ...addA, more: [addA] };
    await gpu.timeLaunches([chained], 2);
    assert.deepEqual([...await gpu.readF32(a)], new Array(64).fill(10));
    assert.deepEqual(await gpu.timeLaunches([]), []);
    gpu.release(a);
    gpu.release(b);
  },
);

timedTest(
  "timeLaunches: bad repeats and too many launches are refused before any work",
  async (gpu) => {
    const a = gpu.buffer(256, "a");
    gpu.clear(a);
    const add = await addLaunch(gpu, a, 1);
    for (const repeats of [0, -1, 1.5, NaN]) {
      await assert.rejects(gpu.timeLaunches([add], repeats), ArbnetError);
    }
    await assert.rejects(
      gpu.timeLaunches(new Array(2049).fill(add)),
      (e) => e instanceof ArbnetError && /at most 2048/.test(e.message),
    );
    assert.deepEqual([...await gpu.readF32(a)], new Array(64).fill(0));
    gpu.release(a);
  },
);

Deno.test("timeLaunches: null on a device without timestamp queries", async () => {
  const adapter = await navigator.gpu.requestAdapter();
  assert.ok(adapter);
  const gpu = new Gpu(await adapter.requestDevice(), {
    description: "no timestamps",
    vendor: "",
    architecture: "",
    isFallbackAdapter: true,
  });
  try {
    assert.equal(gpu.timestamps, false);
    const a = gpu.buffer(256, "a");
    assert.equal(await gpu.timeLaunches([await addLaunch(gpu, a, 1)]), null);
  } finally {
    gpu.destroy();
  }
});

gpuTest(
  "capture: collects a step's launches unrun, in order, and dispatches again after",
  async (gpu) => {
    const a = gpu.buffer(256, "a");
    gpu.clear(a);
    const add = await addLaunch(gpu, a, 1), double = await doubleLaunch(gpu, a);
    const before = gpu.stats.dispatches;
    const launches = await gpu.capture(async () => {
      gpu.dispatch(add);
      await Promise.resolve();
      gpu.dispatch(double);
    });
    assert.deepEqual(launches, [add, double]);
    assert.equal(gpu.stats.dispatches, before);
    assert.deepEqual([...await gpu.readF32(a)], new Array(64).fill(0));
    await assert.rejects(
      gpu.capture(() => gpu.capture(() => {})),
      (e) => e instanceof ArbnetError && /already capturing/.test(e.message),
    );
    // Capture ends even when the work throws.
    await assert.rejects(
      gpu.capture(() => {
        throw new Error("boom");
      }),
      /boom/,
    );
    gpu.dispatch(add);
    assert.deepEqual([...await gpu.readF32(a)], new Array(64).fill(1));
    gpu.release(a);
  },
);
