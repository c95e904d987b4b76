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

Deno.test({
  name:
    "examples/rnn_mnist.ts --checkpoint: a run killed after epoch 1 and run again ends as one run",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const dir = await Deno.makeTempDir({ prefix: "arbnet-rnn-" });
    const options = {
      hidden: 8,
      hash: "uniform" as const,
      tableFraction: 0.5,
      trainLimit: 200,
      testLimit: 100,
      batchSize: 50,
      lr: 0.01,
      seed: 3,
    };
    try {
      const whole = await trainRnnMnist({ ...options, epochs: 2 });
      const checkpoint = `${dir}/rnn.safetensors`;
      // Killed after epoch 1 (its checkpoint saved), then run again with the same flags.
      await assert.rejects(
        trainRnnMnist({
          ...options,
          epochs: 2,
          checkpoint,
          onEpoch: () => {
            throw new Error("killed");
          },
        }),
        /killed/,
      );
      const rest = await trainRnnMnist({ ...options, epochs: 2, checkpoint });
      assert.deepEqual(rest.map((e) => e.epoch), [1]);
      // Equal up to rounding: atomic table gradients (GPUs) sum in any order.
      const close = (a: number, b: number) => Math.abs(a - b) <= 1e-4 * Math.max(1, Math.abs(b));
      assert.ok(
        close(rest[0].trainLoss, whole[1].trainLoss),
        `${rest[0].trainLoss} vs ${whole[1].trainLoss}`,
      );
      assert.ok(
        close(rest[0].testLoss!, whole[1].testLoss!),
        `${rest[0].testLoss} vs ${whole[1].testLoss}`,
      );
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
