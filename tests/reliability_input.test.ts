/**
 * Bad input through the library API gets an `ArbnetError` that says what is
 * wrong and how to fix it, before any GPU work that would produce a wrong
 * result: shapes between layers and data, tensor types and lengths, table
 * sizes, hash options, batch sizes, labels, datasets given to evaluate/fit.
 * Each case is a row of the table in docs/reliability.md.
 * @module
 */

import assert from "node:assert/strict";
import { gpuTest, randomF32 } from "./_util.ts";
import { rejectsArbnet, throwsArbnet, toyDataset } from "./_reliability.ts";
import { hashes } from "../lib/hash/mod.ts";
import { ArbLinear, ReLU, Sequential } from "../lib/nn/mod.ts";
import { SGD } from "../lib/optim/mod.ts";
import { buildMlp, fit, Trainer, trainStep } from "../lib/train/mod.ts";
import type { Gpu } from "../lib/gpu/device.ts";
import type { Dataset } from "../lib/data/mod.ts";

// deno-lint-ignore no-explicit-any
const loose = (x: unknown): any => x;

function tiny(gpu: Gpu, seed = 1) {
  const { net, layers } = buildMlp(gpu, {
    layers: [20, 16, 4],
    hash: hashes.uniform(),
    tableFraction: 0.5,
    seed,
  });
  const opt = new SGD(net.parameters(), { lr: 0.05, momentum: 0.9 });
  return { net, layers, opt, trainer: new Trainer(net, opt, { features: 20, classes: 4 }) };
}

const X = randomF32(8 * 20, 3, 0, 1);
const Y = Uint32Array.from({ length: 8 }, (_, i) => i % 4);

gpuTest("reliability: shapes between layers and data", async (gpu) => {
  const { net, opt } = tiny(gpu);
  throwsArbnet(
    "data features ≠ first layer",
    () => new Trainer(net, opt, { features: 784, classes: 4 }),
    "the data has 784 features",
    "ArbLinear layer0 (20×16, uniform hash), takes 20",
  );
  throwsArbnet(
    "classes ≠ last layer",
    () => new Trainer(net, opt, { features: 20, classes: 10 }),
    "ArbLinear layer1 (16×4, uniform hash), outputs 4",
    "make its outFeatures 10",
  );
  throwsArbnet(
    "trainer features 0",
    () => new Trainer(net, opt, loose({ features: 0, classes: 4 })),
    "invalid features: 0",
  );
  const broken = new Sequential([
    new ArbLinear(gpu, { inFeatures: 20, outFeatures: 16, hash: hashes.uniform(), name: "a" }),
    new ReLU(),
    new ArbLinear(gpu, { inFeatures: 15, outFeatures: 4, hash: hashes.uniform(), name: "b" }),
  ]);
  const t = new Trainer(broken, new SGD(broken.parameters(), { lr: 0.1 }), {
    features: 20,
    classes: 4,
  });
  await rejectsArbnet(
    "layer n outFeatures ≠ layer n+1 inFeatures",
    () => t.step(X, Y),
    "ArbLinear b (15×4, uniform hash) expects 15 input features, got 16",
  );
});

gpuTest("reliability: Trainer.step and trainStep refuse bad tensors", async (gpu) => {
  const { net, opt, trainer } = tiny(gpu, 2);
  await rejectsArbnet(
    "inputs Float64Array",
    () => trainer.step(loose(Float64Array.from(X)), Y),
    "inputs must be a Float32Array, got Float64Array",
  );
  await rejectsArbnet(
    "labels Int32Array",
    () => trainer.step(X, loose(Int32Array.from(Y))),
    "labels must be a Uint32Array, got Int32Array",
  );
  await rejectsArbnet(
    "labels plain array",
    () => trainer.step(X, loose([0, 1])),
    "labels must be a Uint32Array, got Array",
  );
  await rejectsArbnet(
    "inputs too short",
    () => trainer.step(X.subarray(20), Y),
    "inputs have 140 values; 8 labels × 20 features needs 160",
  );
  await rejectsArbnet(
    "empty batch",
    () => trainer.step(new Float32Array(0), new Uint32Array(0)),
    "a batch needs at least one example",
  );
  await rejectsArbnet(
    "label ≥ classes",
    () => trainer.step(X, Uint32Array.of(0, 1, 2, 3, 4, 0, 1, 2)),
    "label 4 at row 4 is outside [0, 4)",
  );
  const nan = X.slice();
  nan[45] = NaN;
  await rejectsArbnet(
    "NaN input",
    () => trainer.step(nan, Y),
    "input 45 (row 2, feature 5) is NaN; inputs must be finite",
  );
  await rejectsArbnet(
    "trainStep inputs not a multiple of labels",
    () => trainStep(net, opt, X.subarray(1), Y, 4),
    "inputs have 159 values, not a multiple of the 8 labels",
  );
  await rejectsArbnet(
    "trainStep empty batch",
    () => trainStep(net, opt, new Float32Array(0), new Uint32Array(0), 4),
    "a batch needs at least one example",
  );
  assert.equal(trainer.stepsTaken, 0, "no refused batch counts as a step");
  // Still usable after all that.
  await trainer.step(X, Y);
  assert.equal((await trainer.readMetrics()).rows, 8);
});

gpuTest(
  "reliability: Parameter.write refuses wrong type, length and non-finite values",
  async (gpu) => {
    const { layers } = tiny(gpu, 3);
    const table = layers[0].table;
    const before = await table.read();
    throwsArbnet(
      "Parameter.write Float64Array",
      () => table.write(loose(new Float64Array(table.size))),
      `parameter layer0.table takes a Float32Array of ${table.size} values, got Float64Array`,
    );
    throwsArbnet(
      "Parameter.write wrong length",
      () => table.write(new Float32Array(table.size + 1)),
      `parameter layer0.table has ${table.size} values, got ${table.size + 1}`,
    );
    const bad = new Float32Array(table.size);
    bad[7] = Infinity;
    throwsArbnet(
      "Parameter.write Infinity",
      () => table.write(bad),
      "parameter layer0.table: value 7 is Infinity; parameters must be finite",
    );
    assert.deepEqual(await table.read(), before, "a refused write changes nothing");
  },
);

gpuTest("reliability: ArbLinear refuses meaningless sizes and options", (gpu) => {
  const h = hashes.uniform();
  const make = (o: Record<string, unknown>) => () =>
    new ArbLinear(gpu, loose({ inFeatures: 10, outFeatures: 20, hash: h, ...o }));
  throwsArbnet("tableSize 0", make({ tableSize: 0 }), "invalid tableSize: 0");
  throwsArbnet(
    "tableSize > virtual matrix",
    make({ tableSize: 201 }),
    "invalid tableSize: 201 (expected at most inFeatures × outFeatures = 200: a larger table " +
      "leaves slots unused)",
  );
  new ArbLinear(gpu, { inFeatures: 10, outFeatures: 20, hash: h, tableSize: 200 }); // the limit
  throwsArbnet("tableSize 2.5", make({ tableSize: 2.5 }), "invalid tableSize: 2.5");
  throwsArbnet("tableFraction 0", make({ tableFraction: 0 }), "invalid tableFraction: 0");
  throwsArbnet("tableFraction 2", make({ tableFraction: 2 }), "(expected a number in (0, 1])");
  throwsArbnet("sparsity 1", make({ sparsity: 1 }), "invalid sparsity: 1");
  throwsArbnet("sparsity NaN", make({ sparsity: NaN }), "invalid sparsity: NaN");
  throwsArbnet("inFeatures 0", make({ inFeatures: 0 }), "invalid inFeatures: 0");
  throwsArbnet("outFeatures 1.5", make({ outFeatures: 1.5 }), "invalid outFeatures: 1.5");
  throwsArbnet("seed 1.5", make({ seed: 1.5 }), "invalid seed: 1.5");
  throwsArbnet("no hash", make({ hash: undefined }), "invalid hash");
  throwsArbnet("name empty", make({ name: "" }), "invalid name");
  // A misspelt tile mode would otherwise start a tuning run of a minute or more.
  throwsArbnet(
    'tile "tuned"',
    make({ tile: "tuned" }),
    'invalid tile: "tuned" (expected "auto", "tune"',
  );
  throwsArbnet('tile "default"', make({ tile: "default" }), 'invalid tile: "default"');
  throwsArbnet("tile without wgY", make({ tile: { tm: 4, tn: 4, wgX: 8 } }), "invalid tile");
  throwsArbnet(
    "dense with a table",
    make({ hash: hashes.dense(), tableSize: 100 }),
    "the dense hash needs tableSize = inFeatures × outFeatures = 200, got 100",
  );
  throwsArbnet(
    "procedural conv2d",
    () =>
      new ArbLinear(gpu, {
        inFeatures: 9,
        outFeatures: 4,
        tableSize: 4,
        procedural: true,
        hash: hashes.conv2d({ inChannels: 1, outChannels: 1, kernel: 2, height: 3, width: 3 }),
      }),
    "invalid procedural: true for the conv2d hash",
  );
  throwsArbnet(
    "procedural + deterministic",
    make({ procedural: true, deterministic: true }),
    "invalid deterministic: true",
  );
  throwsArbnet("deterministic 1", make({ deterministic: 1 }), "invalid deterministic: 1");
  throwsArbnet(
    "procedural + materialize",
    make({ procedural: true, materialize: true }),
    "invalid materialize: true",
  );
  throwsArbnet("materialize 1", make({ materialize: 1 }), "invalid materialize: 1");
  return Promise.resolve();
});

Deno.test("reliability: hash options out of range name the option", () => {
  throwsArbnet("dirichlet alpha 0", () => hashes.dirichlet({ alpha: 0 }), "invalid alpha: 0");
  throwsArbnet(
    "dirichlet alpha Infinity",
    () => hashes.dirichlet({ alpha: Infinity }),
    "invalid alpha: Infinity",
  );
  throwsArbnet(
    "neighborhood radius -1",
    () => hashes.neighborhood({ radius: -1 }),
    "invalid radius: -1 (expected an integer in [0, 2147483647])",
  );
  throwsArbnet(
    "neighborhood radius 1.5",
    () => hashes.neighborhood({ radius: 1.5 }),
    "invalid radius: 1.5",
  );
  throwsArbnet(
    "uniform typo",
    () => hashes.uniform(loose({ sing: true })),
    'unknown option "sing" in hashes.uniform options (known options: sign)',
  );
});

gpuTest("reliability: datasets given to evaluate and fit are vetted first", async (gpu) => {
  const { trainer } = tiny(gpu, 4);
  const good = toyDataset(30, 20, 4);
  await rejectsArbnet(
    "evaluate: wrong features",
    () => trainer.evaluate(toyDataset(30, 21, 4)),
    "dataset toy-1 has 21 features, the trainer expects 20",
  );
  await rejectsArbnet(
    "evaluate: label ≥ trainer classes",
    () => trainer.evaluate(toyDataset(30, 20, 10)),
    "dataset toy-1: label 4 of example 4 is outside [0, 4) (the network has 4 outputs)",
  );
  const relabelled: Dataset = { ...good, y: good.y.slice() };
  (relabelled.y as Uint32Array)[3] = 9;
  await rejectsArbnet(
    "evaluate: label ≥ dataset classes",
    () => trainer.evaluate(relabelled),
    'invalid dataset "toy-1": y[3]: 9 (expected a label in [0, 4))',
  );
  await rejectsArbnet(
    "evaluate: labels Float32Array",
    () => trainer.evaluate({ ...good, y: loose(new Float32Array(30)) }),
    'invalid dataset "toy-1": y: Float32Array(30) (expected a Uint32Array)',
  );
  const nan = { ...good, x: good.x.slice() };
  nan.x[25] = NaN;
  await rejectsArbnet(
    "evaluate: NaN feature",
    () => trainer.evaluate(nan),
    'invalid dataset "toy-1": x[25] (example 1): NaN (expected a finite number)',
  );
  await rejectsArbnet(
    "evaluate: batch size 0",
    () => trainer.evaluate(good, 0),
    "invalid batchSize: 0 (expected an integer ≥ 1)",
  );
  const base = { train: good, epochs: 1, batchSize: 10, seed: 1, lr: 0.05 };
  await rejectsArbnet(
    "fit: batch size 0",
    () => fit(trainer, { ...base, batchSize: 0 }),
    "invalid batchSize: 0",
  );
  await rejectsArbnet(
    "fit: epochs 0",
    () => fit(trainer, { ...base, epochs: 0 }),
    "invalid epochs: 0",
  );
  await rejectsArbnet(
    "fit: progressEvery 0",
    () => fit(trainer, { ...base, progressEvery: 0 }),
    "invalid progressEvery: 0",
  );
  await rejectsArbnet("fit: lr NaN", () => fit(trainer, { ...base, lr: NaN }), "invalid lr: NaN");
  await rejectsArbnet(
    "fit: test set with a label ≥ classes",
    () => fit(trainer, { ...base, test: toyDataset(30, 20, 5, 2) }),
    "dataset toy-2: label 4 of example 4 is outside [0, 4)",
  );
  assert.equal(trainer.stepsTaken, 0, "a bad test set is refused before any training");
});
