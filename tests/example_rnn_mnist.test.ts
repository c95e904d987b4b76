/**
 * examples/rnn_mnist.ts at a tiny size (hidden 8, 300 training examples):
 * it builds, trains through the Trainer and evaluates, and learns something.
 */
import assert from "node:assert/strict";
import { trainRnnMnist } from "../examples/rnn_mnist.ts";

Deno.test({
  name: "examples/rnn_mnist.ts trains a tiny RNN ArbNet on MNIST rows",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const history = await trainRnnMnist({
      hidden: 8,
      hash: "uniform",
      tableFraction: 0.5,
      epochs: 2,
      trainLimit: 300,
      testLimit: 100,
      batchSize: 50,
      lr: 0.01,
      seed: 0,
    });
    assert.equal(history.length, 2);
    const [first, last] = [history[0], history[1]];
    for (const e of history) {
      assert.ok(Number.isFinite(e.trainLoss) && Number.isFinite(e.testLoss!), JSON.stringify(e));
    }
    assert.ok(
      last.trainLoss < first.trainLoss,
      `train loss ${first.trainLoss} → ${last.trainLoss}`,
    );
  },
});
