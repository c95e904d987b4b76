import { assertClose, gpuTest, randomF32 } from "./_util.ts";
import {
  METRICS,
  metricsReduceLaunch,
  softmaxXentLaunch,
  softmaxXentRef,
} from "../shaders/softmax_xent.ts";
import { Rng } from "../lib/util/random.ts";
import assert from "node:assert/strict";

gpuTest("softmax cross-entropy, gradient and accuracy match the CPU reference", async (gpu) => {
  for (const [rows, classes] of [[1, 1], [1, 10], [37, 10], [50, 10], [129, 3]]) {
    const logits = randomF32(rows * classes, rows * 7 + classes, -20, 20);
    const rng = new Rng(rows);
    const labels = Uint32Array.from({ length: rows }, () => rng.int(classes));
    const bufs = {
      logits: gpu.upload(logits, "logits"),
      labels: gpu.upload(labels, "labels"),
      dlogits: gpu.buffer(rows * classes * 4, "dlogits"),
      rowStats: gpu.buffer(rows * 8, "rowStats"),
    };
    const metrics = gpu.buffer(16, "metrics");
    gpu.clear(metrics);
    gpu.dispatch(await softmaxXentLaunch(gpu, rows, classes, bufs));
    const reduce = await metricsReduceLaunch(gpu, rows, bufs.rowStats, metrics);
    gpu.dispatch(reduce);
    gpu.dispatch(reduce); // running metrics accumulate
    const want = softmaxXentRef(logits, labels, rows, classes);
    assertClose(await gpu.readF32(bufs.dlogits), want.dlogits, { rtol: 1e-4, atol: 1e-6 });
    const stats = await gpu.readF32(bufs.rowStats);
    assertClose(stats.filter((_, i) => i % 2 === 0), want.loss, { rtol: 1e-4, atol: 1e-5 });
    assert.deepEqual(Array.from(stats.filter((_, i) => i % 2 === 1)), Array.from(want.correct));
    const m = await gpu.readF32(metrics);
    const lossSum = want.loss.reduce((a, b) => a + b, 0);
    assertClose([m[METRICS.lossSum]], [2 * lossSum], { rtol: 1e-4, atol: 1e-4 });
    assert.equal(m[METRICS.correct], 2 * want.correct.reduce((a, b) => a + b, 0));
    assert.equal(m[METRICS.rows], 2 * rows);
    assert.equal(m[METRICS.nonFinite], 0);
    for (const b of [...Object.values(bufs), metrics]) gpu.release(b);
  }
});

gpuTest("a non-finite logit raises the metrics flag", async (gpu) => {
  const logits = new Float32Array([0, 1, NaN, 0, 2, 1]);
  const labels = new Uint32Array([1, 0]);
  const bufs = {
    logits: gpu.upload(logits, "logits"),
    labels: gpu.upload(labels, "labels"),
    dlogits: gpu.buffer(6 * 4, "dlogits"),
    rowStats: gpu.buffer(16, "rowStats"),
  };
  const metrics = gpu.buffer(16, "metrics");
  gpu.clear(metrics);
  gpu.dispatch(await softmaxXentLaunch(gpu, 2, 3, bufs));
  gpu.dispatch(await metricsReduceLaunch(gpu, 2, bufs.rowStats, metrics));
  assert.equal((await gpu.readF32(metrics))[METRICS.nonFinite], 1);
});
