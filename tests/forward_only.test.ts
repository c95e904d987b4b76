/**
 * Forward-only plans (PlanOptions.forwardOnly, what a Trainer's evaluation
 * batches use): the same outputs as a full plan, bit for bit, no gradient
 * buffers, a backward() that refuses; and evaluate() reporting the loss and
 * accuracy of the network's logits.
 */
import assert from "node:assert/strict";
import { gpuTest, randomF32 } from "./_util.ts";
import { hashes } from "../lib/hash/mod.ts";
import { type Activation, ArbLinear, ReLU, Sequential } from "../lib/nn/mod.ts";
import { SGD } from "../lib/optim/mod.ts";
import { Trainer } from "../lib/train/mod.ts";
import { softmaxXentRef } from "../shaders/softmax_xent.ts";
import type { Gpu } from "../lib/gpu/device.ts";

/** 24-13-20-5 with a fused ReLU, then one that is not fused (after another ReLU). */
function net(gpu: Gpu, materialize: boolean) {
  const layer = (inFeatures: number, outFeatures: number, seed: number) =>
    new ArbLinear(gpu, {
      inFeatures,
      outFeatures,
      hash: hashes.uniform(),
      tableFraction: 1 / 3,
      seed,
      materialize,
    });
  return new Sequential([
    layer(24, 13, 1),
    new ReLU(),
    new ReLU(),
    layer(13, 20, 2),
    new ReLU(),
    layer(20, 5, 3),
  ]);
}

function input(gpu: Gpu, x: Float32Array, rows: number): Activation {
  return { buffer: gpu.upload(x, "x"), grad: null, rows, features: x.length / rows };
}

for (const materialize of [false, true]) {
  gpuTest(
    `a forward-only plan computes the full plan's outputs without gradients (materialize ${materialize})`,
    async (gpu) => {
      const rows = 37;
      const model = net(gpu, materialize);
      const x = randomF32(rows * 24, 4);
      const full = await model.plan(input(gpu, x, rows));
      const only = await model.plan(input(gpu, x, rows), { forwardOnly: true });
      full.forward();
      only.forward();
      const expected = await gpu.readF32(full.output.buffer, rows * 5);
      const got = await gpu.readF32(only.output.buffer, rows * 5);
      assert.deepEqual(got, expected);
      assert.ok(full.outputs!.every((o) => o.activation.grad !== null));
      assert.equal(only.outputs!.length, full.outputs!.length);
      for (const o of only.outputs!) assert.equal(o.activation.grad, null);
      assert.throws(() => only.backward(), /backward\(\) on a plan bound forward-only/);
    },
  );
}

gpuTest("evaluate reports the loss and accuracy of the network's logits", async (gpu) => {
  const rows = 29, classes = 5;
  const model = net(gpu, true);
  const trainer = new Trainer(model, new SGD(model.parameters(), { lr: 0.1 }), {
    features: 24,
    classes,
  });
  const x = randomF32(rows * 24, 5);
  const y = Uint32Array.from({ length: rows }, (_, i) => (i * 7) % classes);
  // Train a little first, so evaluation reads tables a step has changed.
  await trainer.step(x.subarray(0, 12 * 24), y.subarray(0, 12));
  const plan = await model.plan(input(gpu, x, rows));
  plan.forward();
  const ref = softmaxXentRef(
    await gpu.readF32(plan.output.buffer, rows * classes),
    y,
    rows,
    classes,
  );
  const m = await trainer.evaluate(
    { name: "toy", x, y, count: rows, features: 24, classes, shape: [1, 1, 24] },
    10, // three batches, the last of 9 rows
  );
  assert.equal(m.rows, rows);
  const loss = ref.loss.reduce((a, b) => a + b, 0) / rows;
  assert.ok(Math.abs(m.loss - loss) <= 1e-5 * Math.max(1, loss), `loss ${m.loss} vs ${loss}`);
  assert.equal(m.accuracy, ref.correct.reduce((a, b) => a + b, 0) / rows);
  // Training still runs after evaluation (its batches have full plans).
  await trainer.step(x.subarray(0, 12 * 24), y.subarray(0, 12));
});
