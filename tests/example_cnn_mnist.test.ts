/**
 * examples/cnn_mnist.ts at a tiny size: a conv ArbNet and its dense-hash
 * counterpart train on a few hundred MNIST images and beat chance.
 * @module
 */

import assert from "node:assert/strict";
import { loadMnist } from "../lib/data/mod.ts";
import { formatResult, trainCnn } from "../examples/cnn_mnist.ts";
import { gpuTest } from "./_util.ts";

gpuTest("examples/cnn_mnist.ts trains a small CNN ArbNet (tiny run)", async (gpu) => {
  const train = await loadMnist({ split: "train", limit: 400 });
  const test = await loadMnist({ split: "test", limit: 200 });
  for (const first of ["conv2d", "dense"] as const) {
    const r = await trainCnn(gpu, { first, train, test, channels: 4, batchSize: 20, lr: 0.05 });
    assert.equal(r.report.count, 200);
    assert.ok(r.report.accuracy > 0.4, formatResult(r));
    assert.match(formatResult(r), /test accuracy \d+\.\d\d%/);
  }
});
