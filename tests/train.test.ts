import assert from "node:assert/strict";
import { gpuTest, randomF32 } from "./_util.ts";
import { hashes } from "../lib/hash/mod.ts";
import { ArbLinear, ReLU, Sequential } from "../lib/nn/mod.ts";
import { Adam, SGD } from "../lib/optim/mod.ts";
import { buildMlp, Trainer, trainStep } from "../lib/train/mod.ts";
import { ArbnetError } from "../lib/errors.ts";
import type { Gpu } from "../lib/gpu/device.ts";

function tinyNet(gpu: Gpu, seed = 1) {
  return buildMlp(gpu, { layers: [20, 16, 4], hash: hashes.uniform(), tableFraction: 0.5, seed });
}

const X = randomF32(8 * 20, 42, 0, 1);
const Y = Uint32Array.from({ length: 8 }, (_, i) => i % 4);

gpuTest("trainStep (the contract) drives a fixed batch's loss down", async (gpu) => {
  const { net } = tinyNet(gpu);
  const opt = new SGD(net.parameters(), { lr: 0.1, momentum: 0.9 });
  const first = await trainStep(net, opt, X, Y, 4);
  let last = first;
  for (let i = 0; i < 60; i++) last = await trainStep(net, opt, X, Y, 4);
  assert.ok(Number.isFinite(first) && first > 0.5, `first loss ${first}`);
  assert.ok(last < 0.3 * first, `loss went from ${first} to ${last}`);
});

gpuTest("Adam also trains the fixed batch", async (gpu) => {
  const { net } = tinyNet(gpu, 2);
  const opt = new Adam(net.parameters(), { lr: 0.01 });
  const first = await trainStep(net, opt, X, Y, 4);
  let last = first;
  for (let i = 0; i < 60; i++) last = await trainStep(net, opt, X, Y, 4);
  assert.ok(last < 0.3 * first, `loss went from ${first} to ${last}`);
  assert.equal(opt.steps, 61);
});

gpuTest("training steps allocate no GPU objects and submit once each", async (gpu) => {
  const { net } = tinyNet(gpu, 3);
  const trainer = new Trainer(net, new SGD(net.parameters(), { lr: 0.05, momentum: 0.9 }), {
    features: 20,
    classes: 4,
  });
  await trainer.step(X, Y);
  await trainer.step(X, Y);
  await gpu.sync();
  const before = gpu.stats;
  for (let i = 0; i < 20; i++) await trainer.step(X, Y);
  await gpu.sync();
  const after = gpu.stats;
  assert.equal(after.buffersCreated, before.buffersCreated);
  assert.equal(after.bindGroupsCreated, before.bindGroupsCreated);
  assert.equal(after.pipelinesCompiled, before.pipelinesCompiled);
  assert.equal(after.submits - before.submits, 20);
});

gpuTest("bad batches give clear errors", async (gpu) => {
  const { net } = tinyNet(gpu, 4);
  const trainer = new Trainer(net, new SGD(net.parameters(), { lr: 0.05 }), {
    features: 20,
    classes: 4,
  });
  await assert.rejects(() => trainer.step(X.subarray(1), Y), ArbnetError);
  await assert.rejects(() => trainer.step(X, Uint32Array.from(Y, () => 4)), /outside \[0, 4\)/);
  await assert.rejects(
    () => trainer.step(Float64Array.from(X) as unknown as Float32Array, Y),
    /Float32Array/,
  );
  await assert.rejects(() => trainer.step(new Float32Array(0), new Uint32Array(0)), /at least one/);
});

gpuTest("layer shape mismatches are reported when the network is planned", async (gpu) => {
  const net = new Sequential([
    new ArbLinear(gpu, { inFeatures: 20, outFeatures: 16, hash: hashes.uniform() }),
    new ReLU(),
    new ArbLinear(gpu, { inFeatures: 15, outFeatures: 4, hash: hashes.uniform() }),
  ]);
  const trainer = new Trainer(net, new SGD(net.parameters(), { lr: 0.05 }), {
    features: 20,
    classes: 4,
  });
  await assert.rejects(() => trainer.step(X, Y), /expects 15 input features, got 16/);
});

gpuTest("ArbLinear validates its options", (gpu) => {
  const h = hashes.uniform();
  assert.throws(() => new ArbLinear(gpu, { inFeatures: 0, outFeatures: 4, hash: h }), /inFeatures/);
  assert.throws(
    () => new ArbLinear(gpu, { inFeatures: 3, outFeatures: 4, hash: h, sparsity: 1 }),
    /sparsity/,
  );
  assert.throws(
    () => new ArbLinear(gpu, { inFeatures: 3, outFeatures: 4, hash: h, tableFraction: 2 }),
    /tableFraction/,
  );
  assert.throws(
    () => new ArbLinear(gpu, { inFeatures: 3, outFeatures: 4, hash: hashes.dense(), tableSize: 5 }),
    /dense hash needs tableSize/,
  );
  return Promise.resolve();
});

gpuTest("evaluate reports loss and accuracy over a dataset", async (gpu) => {
  const { net } = tinyNet(gpu, 5);
  const trainer = new Trainer(net, new SGD(net.parameters(), { lr: 0.1, momentum: 0.9 }), {
    features: 20,
    classes: 4,
  });
  for (let i = 0; i < 80; i++) await trainer.step(X, Y);
  const ds = {
    name: "fixed",
    x: X,
    y: Y,
    count: 8,
    features: 20,
    classes: 4,
    shape: [1, 4, 5] as const,
  };
  const m = await trainer.evaluate(ds, 3); // 3 + 3 + 2 rows: a partial last batch
  assert.equal(m.rows, 8);
  assert.equal(m.accuracy, 1);
  assert.ok(m.loss < 0.2);
});

Deno.test("coprime table sizes break round-robin row aliasing", async () => {
  const { coprimeAtLeast } = await import("../lib/train/model.ts");
  assert.equal(coprimeAtLeast(98_000, 1000), 98_001);
  assert.equal(coprimeAtLeast(1_250, 10), 1_251);
  assert.equal(coprimeAtLeast(7, 10), 7);
  // With K = 98,000 = 98 × 1000, round-robin makes pixels i and i + 98 share every slot.
  const h = hashes.neighborhood({ radius: 0 });
  const aliased = h.indices({ rows: 784, cols: 1000, tableSize: 98_000, seed: 1 });
  const coprime = h.indices({ rows: 784, cols: 1000, tableSize: 98_001, seed: 1 });
  const sameRow = (idx: Uint32Array) =>
    idx.subarray(0, 1000).every((v, j) => v === idx[98_000 + j]);
  assert.ok(sameRow(aliased));
  assert.ok(!sameRow(coprime));
});
