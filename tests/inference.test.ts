/**
 * Inference and state: `predict` agrees with the trainer's evaluation, the
 * per-class report counts right, and a state dict (or a checkpoint of a
 * CNN) restores a network to bit-identical outputs, refusing bad input
 * without touching the network.
 * @module
 */

import assert from "node:assert/strict";
import type { Gpu } from "../lib/gpu/device.ts";
import { hashes } from "../lib/hash/mod.ts";
import { ArbLinear, conv2dLayer, ReLU, Sequential } from "../lib/nn/mod.ts";
import { SGD } from "../lib/optim/mod.ts";
import { buildMlp, Trainer } from "../lib/train/mod.ts";
import { classReport, evaluateClasses, predict, softmaxRows } from "../lib/train/predict.ts";
import { loadStateDict, stateDict } from "../lib/io/state_dict.ts";
import { buildFromCheckpoint, saveCheckpoint } from "../lib/io/checkpoint.ts";
import type { Dataset } from "../lib/data/dataset.ts";
import { Rng } from "../lib/util/random.ts";
import { assertClose, gpuTest, randomF32, rejectsWith, withTempDir } from "./_util.ts";

const FEATURES = 24, CLASSES = 5;

function dataset(count: number, seed: number): Dataset {
  const rng = new Rng(seed);
  return {
    name: `random-${seed}`,
    x: randomF32(count * FEATURES, seed, 0, 1),
    y: Uint32Array.from({ length: count }, () => rng.int(CLASSES)),
    count,
    features: FEATURES,
    classes: CLASSES,
    shape: [1, 1, FEATURES],
  };
}

function setup(gpu: Gpu, seed = 3) {
  const { net } = buildMlp(gpu, {
    layers: [FEATURES, 16, CLASSES],
    hash: hashes.uniform(),
    tableFraction: 1 / 2,
    seed,
  });
  const opt = new SGD(net.parameters(), { lr: 0.2, momentum: 0.9 });
  const trainer = new Trainer(net, opt, { features: FEATURES, classes: CLASSES });
  return { net, opt, trainer };
}

async function train(trainer: Trainer, ds: Dataset, steps: number, batch = 8) {
  for (let s = 0; s < steps; s++) {
    const at = (s * batch) % (ds.count - batch);
    await trainer.step(
      ds.x.subarray(at * FEATURES, (at + batch) * FEATURES),
      ds.y.subarray(at, at + batch),
    );
  }
}

gpuTest("predict and evaluateClasses agree with the trainer's evaluation", async (gpu) => {
  const { net, trainer } = setup(gpu);
  // Random labels: only the training examples can be learned (37 of them).
  const test = dataset(37, 2);
  await train(trainer, test, 40);
  const m = await trainer.evaluate(test, 10); // 10, 10, 10, 7 rows
  const r = await evaluateClasses(net, test, { batchSize: 16 });
  assertClose([r.loss], [m.loss], { rtol: 1e-5, what: "loss" });
  assert.equal(r.accuracy, m.accuracy);
  assert.ok(r.accuracy > 0.3, `the model learned something: ${r.accuracy}`);
  assert.equal(r.count, 37);
  assert.equal(r.confusion.reduce((a, b) => a + b, 0), 37);
  // One pass or chunks of 5: the same logits.
  const all = await predict(net, test.x);
  assert.equal(all.length, 37 * CLASSES);
  assertClose(await predict(net, test.x, { batchSize: 5 }), all, { what: "chunked logits" });
  const probs = await predict(net, test.x, { output: "probabilities" });
  assertClose(probs, softmaxRows(all.slice(), CLASSES), { what: "probabilities" });
  for (let i = 0; i < 37; i++) {
    const row = probs.subarray(i * CLASSES, (i + 1) * CLASSES);
    assertClose([row.reduce((a, b) => a + b, 0)], [1], { what: `row ${i} sums to 1` });
  }
  // Predicting between training steps leaves training alone.
  await train(trainer, test, 2);
  assert.notDeepEqual(await predict(net, test.x), all, "predict reads the current weights");
});

gpuTest("predict refuses inputs it cannot take", async (gpu) => {
  const { net } = setup(gpu);
  await rejectsWith(predict(net, new Float32Array(FEATURES + 1)), "whole number", "24 features");
  await rejectsWith(predict(net, new Float32Array(0)), "whole number");
  const x = new Float32Array(2 * FEATURES);
  x[30] = NaN;
  await rejectsWith(predict(net, x), "input 30 (row 1, feature 6) is NaN");
  await rejectsWith(
    predict(net, new Float32Array(FEATURES), { output: "odds" as "logits" }),
    "output",
  );
});

Deno.test("classReport: confusion matrix, precision, recall and loss by hand", () => {
  // Labels 0 0 1 2; predictions 0 1 1 1 (argmax, the first of a tie).
  const logits = new Float32Array([
    [2, 1, 0],
    [0, 3, 1],
    [0, 1, 1],
    [0, 5, 5],
  ].flat());
  const r = classReport(logits, new Uint32Array([0, 0, 1, 2]), 3);
  assert.deepEqual([...r.confusion], [1, 1, 0, 0, 1, 0, 0, 1, 0]);
  assert.equal(r.accuracy, 0.5);
  assert.deepEqual(r.perClass.map((c) => [c.support, c.predicted]), [[2, 1], [1, 3], [1, 0]]);
  assert.deepEqual(r.perClass.map((c) => c.recall), [0.5, 1, 0]);
  assert.deepEqual(r.perClass.slice(0, 2).map((c) => c.precision), [1, 1 / 3]);
  assert.ok(Number.isNaN(r.perClass[2].precision), "no prediction of class 2");
  assertClose(r.perClass.map((c) => c.f1).slice(0, 2), [2 / 3, 0.5]);
  const xent = (row: number[], y: number) =>
    Math.log(row.reduce((a, v) => a + Math.exp(v), 0)) - row[y];
  const want = (xent([2, 1, 0], 0) + xent([0, 3, 1], 0) + xent([0, 1, 1], 1) + xent([0, 5, 5], 2)) /
    4;
  assertClose([r.loss], [want], { rtol: 1e-6 });
});

gpuTest("a state dict round trip gives identical outputs and optimizer state", async (gpu) => {
  const { net, opt, trainer } = setup(gpu);
  const ds = dataset(64, 4), probe = dataset(9, 5);
  await train(trainer, ds, 5);
  const saved = await stateDict(net, opt);
  assert.deepEqual(Object.keys(saved.parameters), [
    "layers.0.table",
    "layers.0.bias",
    "layers.2.table",
    "layers.2.bias",
  ]);
  assert.equal(saved.optimizer?.kind, "sgd");
  assert.equal(saved.optimizer?.steps, 5);
  const before = await predict(net, probe.x);
  await train(trainer, ds, 3);
  assert.notDeepEqual(await predict(net, probe.x), before);
  loadStateDict(net, saved, opt);
  assert.deepEqual(await predict(net, probe.x), before, "bit-identical after loading");
  assert.deepEqual(await stateDict(net, opt), saved);

  // Into a fresh network of the same shape (other initial weights).
  const other = setup(gpu, 3);
  await train(other.trainer, ds, 1);
  loadStateDict(other.net, saved, other.opt);
  assert.deepEqual(await predict(other.net, probe.x), before);
  // Both continue identically (same optimizer state, steps and learning rate).
  await train(trainer, ds, 2);
  await train(other.trainer, ds, 2);
  assert.deepEqual(await stateDict(other.net, other.opt), await stateDict(net, opt));
});

gpuTest("loadStateDict refuses a bad state dict and changes nothing", async (gpu) => {
  const { net, opt } = setup(gpu);
  const probe = dataset(4, 6);
  const good = await stateDict(net, opt);
  const before = await predict(net, probe.x);
  const poke = (edit: (p: Record<string, Float32Array>) => void) => {
    const parameters = Object.fromEntries(
      Object.entries(good.parameters).map(([k, v]) => [k, v.map((x) => x + 1)]),
    );
    edit(parameters);
    return { parameters };
  };
  const refuses = (state: Parameters<typeof loadStateDict>[1], ...fragments: string[]) =>
    rejectsWith(Promise.resolve().then(() => loadStateDict(net, state)), ...fragments);
  await refuses(poke((p) => delete p["layers.2.bias"]), "has no tensor layers.2.bias");
  await refuses(poke((p) => p["layers.0.bias"] = new Float32Array(3)), "layers.0.bias", "16");
  await refuses(poke((p) => p["layers.2.table"][7] = Infinity), "index 7", "finite");
  await refuses(poke((p) => p["layers.9.table"] = new Float32Array(1)), "no place for: layers.9");
  await rejectsWith(
    Promise.resolve().then(() => loadStateDict(net, poke(() => {}), opt)),
    "no optimizer state",
  );
  assert.deepEqual(await predict(net, probe.x), before, "the network is unchanged");
});

gpuTest("a CNN's checkpoint rebuilds it with bit-identical outputs", async (gpu) => {
  const g = {
    inChannels: 1,
    outChannels: 3,
    kernel: 3,
    stride: 2,
    padding: 1,
    height: 6,
    width: 4,
  };
  const conv = conv2dLayer(gpu, { ...g, seed: 2 });
  const hidden = 3 * 3 * 2;
  const net = new Sequential([
    conv,
    new ReLU(),
    new ArbLinear(gpu, { inFeatures: hidden, outFeatures: 4, hash: hashes.dense(), seed: 3 }),
  ]);
  const [, bias] = conv.layers;
  bias.parameters()[0].write(new Float32Array([0.1, -0.2, 0.3]));
  const x = randomF32(5 * 24, 7, 0, 1);
  const before = await predict(net, x);
  assert.deepEqual(
    Object.keys((await stateDict(net)).parameters),
    ["layers.0.table", "layers.1.bias", "layers.3.table", "layers.3.bias"],
  );
  await withTempDir(async (dir) => {
    const path = `${dir}/cnn.safetensors`;
    await saveCheckpoint(path, { net });
    const rebuilt = await buildFromCheckpoint(gpu, path);
    assert.deepEqual(rebuilt.info.layers.map((l) => l.kind), [
      "arblinear",
      "channelbias",
      "relu",
      "arblinear",
    ]);
    assert.deepEqual(await predict(rebuilt.net, x), before);
  });
});
