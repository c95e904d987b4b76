/**
 * The soak run of `bench/soak.ts`, short: 300 steps of 784-256-10 through
 * `fit` (metrics reads, the divergence watch and a test evaluation every
 * epoch included) create no GPU buffer, bind group or pipeline after the
 * warm-up epoch, and keep GPU memory and the JS heap where they were.
 * @module
 */

import assert from "node:assert/strict";
import { gpuTest } from "./_util.ts";
import { gpuGrowth, soak } from "../bench/soak.ts";

gpuTest("soak: 300 training steps create no GPU object and leak nothing", async (gpu) => {
  const r = await soak(gpu, { steps: 300, examples: 1500, batch: 50, hidden: 256 });
  assert.deepEqual(gpuGrowth(r), {
    liveBuffers: 0,
    liveBytes: 0,
    buffersCreated: 0,
    bindGroupsCreated: 0,
    pipelinesCompiled: 0,
  });
  // One submission per step, plus the metrics reads and the evaluations.
  const submits = r.end.gpu.submits - r.start.gpu.submits;
  assert.ok(submits >= 300 && submits < 400, `${submits} submits for 300 steps`);
  assert.ok(Number.isFinite(r.lastLoss));
  // Without a forced collection the heap wanders by a few MiB; a leak of
  // even one small array per step (300 × 40 KB inputs) would exceed this.
  const heap = r.end.heapUsed - r.start.heapUsed;
  assert.ok(heap < 8 * 2 ** 20, `heap grew by ${heap} bytes`);
});
