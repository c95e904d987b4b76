/**
 * Checkpoints: save → load gives bit-equal predictions, training resumed
 * from a checkpoint continues exactly, and damaged or mismatched files are
 * refused with a clear error while the network stays untouched.
 * @module
 */

import assert from "node:assert/strict";
import type { Gpu } from "../lib/gpu/device.ts";
import { ArbnetError } from "../lib/errors.ts";
import { type Hash, hashes } from "../lib/hash/mod.ts";
import {
  type Activation,
  ArbLinear,
  type Module,
  ReLU,
  RNN,
  Sequential,
  Tanh,
} from "../lib/nn/mod.ts";
import { Adam, type Optimizer, SGD } from "../lib/optim/mod.ts";
import { buildMlp, trainStep } from "../lib/train/mod.ts";
import {
  buildFromCheckpoint,
  type LayerRecord,
  loadCheckpoint,
  readCheckpointInfo,
  saveCheckpoint,
} from "../lib/io/checkpoint.ts";
import { forwardHost, gpuTest, randomF32 } from "./_util.ts";
import { Rng } from "../lib/util/random.ts";

const FEATURES = 48;
const HIDDEN = 32;
const CLASSES = 10;
const BATCH = 16;

function build(
  gpu: Gpu,
  o: { hash?: Hash; hidden?: number; seed?: number; sparsity?: number; deterministic?: boolean } =
    {},
) {
  return buildMlp(gpu, {
    layers: [FEATURES, o.hidden ?? HIDDEN, CLASSES],
    hash: o.hash ?? hashes.uniform(),
    tableFraction: 1 / 4,
    sparsity: o.sparsity ?? 0.1,
    seed: o.seed ?? 5,
    deterministic: o.deterministic,
  });
}

function batches(count: number, seed: number): { x: Float32Array; y: Uint32Array }[] {
  const rng = new Rng(seed);
  return Array.from({ length: count }, (_, i) => ({
    x: randomF32(BATCH * FEATURES, seed * 1000 + i, 0, 1),
    y: Uint32Array.from({ length: BATCH }, () => rng.int(CLASSES)),
  }));
}

async function forward(gpu: Gpu, net: Module, x: Float32Array): Promise<Float32Array> {
  const rows = x.length / FEATURES;
  const input: Activation = {
    buffer: gpu.buffer(x.byteLength, "test.x"),
    grad: null,
    rows,
    features: FEATURES,
  };
  gpu.write(input.buffer, x);
  const out = await net.forward(input);
  const y = await gpu.readF32(out.buffer, rows * CLASSES);
  gpu.release(input.buffer);
  return y;
}

async function params(net: Module): Promise<Float32Array[]> {
  return await Promise.all(net.parameters().map((p) => p.read()));
}

async function tmpPath(): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "arbnet-ckpt-" });
  return `${dir}/model.safetensors`;
}

async function removeTmp(path: string): Promise<void> {
  await Deno.remove(path.slice(0, path.lastIndexOf("/")), { recursive: true });
}

async function rejects(p: Promise<unknown>, pattern: RegExp): Promise<void> {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(e instanceof ArbnetError, `expected ArbnetError, got ${e}`);
    assert.match((e as Error).message, pattern);
    return true;
  });
}

gpuTest("checkpoint: save → load gives bit-equal predictions", async (gpu) => {
  const path = await tmpPath();
  const a = build(gpu);
  const opt = new SGD(a.net.parameters(), { lr: 0.1, momentum: 0.9 });
  for (const b of batches(3, 1)) await trainStep(a.net, opt, b.x, b.y);
  await saveCheckpoint(path, { net: a.net, opt, extra: { epoch: 2, step: 3 } });
  const entries = [...Deno.readDirSync(path.slice(0, path.lastIndexOf("/")))].map((e) => e.name);
  assert.deepEqual(entries, ["model.safetensors"], "no temporary file is left behind");

  const b = build(gpu);
  const x = randomF32(40 * FEATURES, 9, 0, 1);
  assert.notDeepEqual(await forward(gpu, b.net, x), await forward(gpu, a.net, x));
  const info = await loadCheckpoint(path, { net: b.net });
  assert.deepEqual(info.progress, { epoch: 2, step: 3 });
  assert.deepEqual(await params(b.net), await params(a.net));
  assert.deepEqual(await forward(gpu, b.net, x), await forward(gpu, a.net, x));

  // A network rebuilt from the file alone predicts the same.
  const rebuilt = await buildFromCheckpoint(gpu, path);
  assert.equal(rebuilt.layers.length, 2);
  assert.deepEqual(rebuilt.layers.map((l) => l.config), a.layers.map((l) => l.config));
  assert.deepEqual(await forward(gpu, rebuilt.net, x), await forward(gpu, a.net, x));
  await removeTmp(path);
});

gpuTest("checkpoint: metadata holds configs, optimizer and progress, not indices", async (gpu) => {
  const path = await tmpPath();
  const { net, layers } = build(gpu);
  const opt = new Adam(net.parameters(), { lr: 0.01 });
  for (const b of batches(2, 2)) await trainStep(net, opt, b.x, b.y);
  await saveCheckpoint(path, {
    net,
    opt,
    optimizerOptions: { beta1: 0.9 },
    extra: { epoch: 0, step: 2 },
  });
  const info = await readCheckpointInfo(path);
  assert.equal(info.version, 1);
  assert.deepEqual(info.layers.map((l) => l.kind), ["arblinear", "relu", "arblinear"]);
  assert.deepEqual(info.layers[0], { kind: "arblinear", config: layers[0].config });
  assert.equal(info.optimizer?.kind, "adam");
  assert.equal(info.optimizer?.steps, 2);
  assert.equal(info.optimizer?.learningRate, 0.01);
  assert.deepEqual(info.optimizer?.options, { beta1: 0.9 });
  assert.match(info.checksum, /^sha256:[0-9a-f]{64}$/);
  const names = info.tensors.map((t) => t.name);
  assert.deepEqual(names, [
    "layers.0.table",
    "layers.0.bias",
    "layers.2.table",
    "layers.2.bias",
    "optimizer.0.m1",
    "optimizer.1.m2",
    "optimizer.2.m1",
    "optimizer.3.m2",
    "optimizer.4.m1",
    "optimizer.5.m2",
    "optimizer.6.m1",
    "optimizer.7.m2",
  ]);
  // Tables without the zero slot; no index tensor.
  assert.deepEqual(info.tensors[0].shape, [layers[0].config.tableSize]);
  await removeTmp(path);
});

/**
 * Trains `n` steps, checkpoints, trains `m` more; then restores the checkpoint
 * into a fresh network and optimizer and trains the same `m` steps. Returns
 * both runs' per-step losses and final parameters.
 */
async function resumeRun(
  gpu: Gpu,
  hash: Hash,
  makeOpt: (net: Module) => Optimizer,
  n: number,
  m: number,
  deterministic = false,
) {
  const path = await tmpPath();
  const data = batches(n + m, 7);
  // The dense hash without a zero slot is the only layout with no scatter-add.
  const sparsity = hash.family === "dense" ? 0 : 0.1;
  const a = build(gpu, { hash, sparsity, deterministic });
  const optA = makeOpt(a.net);
  for (const b of data.slice(0, n)) await trainStep(a.net, optA, b.x, b.y);
  await saveCheckpoint(path, { net: a.net, opt: optA, extra: { step: n } });
  const lossesA: number[] = [];
  for (const b of data.slice(n)) lossesA.push(await trainStep(a.net, optA, b.x, b.y));

  const b = build(gpu, { hash, sparsity, deterministic });
  assert.equal(b.layers[0].isDense, hash.family === "dense");
  const optB = makeOpt(b.net);
  await loadCheckpoint(path, { net: b.net, opt: optB });
  assert.equal(optB.steps, n);
  const lossesB: number[] = [];
  for (const d of data.slice(n)) lossesB.push(await trainStep(b.net, optB, d.x, d.y));
  await removeTmp(path);
  return { lossesA, lossesB, paramsA: await params(a.net), paramsB: await params(b.net) };
}

gpuTest(
  "checkpoint: resume is bit-exact without atomics (dense hash, SGD momentum)",
  async (gpu) => {
    const r = await resumeRun(
      gpu,
      hashes.dense(),
      (net) => new SGD(net.parameters(), { lr: 0.05, momentum: 0.9, nesterov: true }),
      3,
      4,
    );
    assert.deepEqual(r.lossesB, r.lossesA);
    assert.deepEqual(r.paramsB, r.paramsA);
  },
);

gpuTest(
  "checkpoint: resume is bit-identical in deterministic mode (uniform, Adam)",
  async (gpu) => {
    const r = await resumeRun(
      gpu,
      hashes.uniform(),
      (net) => new Adam(net.parameters(), { lr: 0.01 }),
      3,
      4,
      true,
    );
    assert.deepEqual(r.lossesB, r.lossesA);
    assert.deepEqual(r.paramsB, r.paramsA);
  },
);

gpuTest("checkpoint: resume continues the run (uniform hash, Adam, atomic)", async (gpu) => {
  const r = await resumeRun(
    gpu,
    hashes.uniform(),
    (net) => new Adam(net.parameters(), { lr: 0.01 }),
    3,
    4,
  );
  // Atomic summation order can differ in the last bits, nothing more.
  for (let i = 0; i < r.lossesA.length; i++) {
    const tol = 1e-5 * Math.abs(r.lossesA[i]);
    assert.ok(
      Math.abs(r.lossesB[i] - r.lossesA[i]) <= tol,
      `step ${i}: resumed loss ${r.lossesB[i]} vs uninterrupted ${r.lossesA[i]}`,
    );
  }
  for (let p = 0; p < r.paramsA.length; p++) {
    for (let k = 0; k < r.paramsA[p].length; k++) {
      const e = r.paramsA[p][k];
      assert.ok(Math.abs(r.paramsB[p][k] - e) <= 1e-5 + 1e-4 * Math.abs(e), `param ${p}[${k}]`);
    }
  }
});

gpuTest("checkpoint: damaged files are refused", async (gpu) => {
  const path = await tmpPath();
  const { net } = build(gpu);
  await saveCheckpoint(path, { net });
  const good = await Deno.readFile(path);
  const before = await params(net);

  await Deno.writeFile(path, good.subarray(0, good.length - 100));
  await rejects(loadCheckpoint(path, { net }), /outside|cover|truncated/);
  await Deno.writeFile(path, good.subarray(0, 20));
  await rejects(loadCheckpoint(path, { net }), /truncated/);
  await rejects(readCheckpointInfo(path), /truncated/);

  const flipped = good.slice();
  flipped[flipped.length - 5] ^= 0x10;
  await Deno.writeFile(path, flipped);
  await rejects(loadCheckpoint(path, { net }), /corrupt: the data checksum/);

  const badHeader = good.slice();
  badHeader[9] = 0x7b; // breaks the JSON right after its opening brace
  badHeader[10] = 0x7b;
  await Deno.writeFile(path, badHeader);
  await rejects(loadCheckpoint(path, { net }), /not valid JSON/);

  // A flip that keeps the header valid JSON (a layer's seed 5 → 7) is caught by its checksum.
  const header = new TextDecoder().decode(good.subarray(0, 4096));
  const at = header.indexOf('seed\\":5');
  assert.ok(at > 0);
  const reseeded = good.slice();
  reseeded[at + 'seed\\":'.length] = "7".charCodeAt(0);
  await Deno.writeFile(path, reseeded);
  await rejects(loadCheckpoint(path, { net }), /corrupt: its header checksum/);
  await rejects(readCheckpointInfo(path), /corrupt: its header checksum/);

  await Deno.writeFile(path, new TextEncoder().encode("hello, this is not a checkpoint at all"));
  await rejects(loadCheckpoint(path, { net }), /not a safetensors file|truncated/);

  await rejects(loadCheckpoint(`${path}.missing`, { net }), /cannot read checkpoint/);
  assert.deepEqual(await params(net), before, "a failed load changes nothing");
  await removeTmp(path);
});

gpuTest("checkpoint: a different architecture is refused, naming the difference", async (gpu) => {
  const path = await tmpPath();
  const { net } = build(gpu);
  const opt = new SGD(net.parameters(), { lr: 0.1, momentum: 0.9 });
  await saveCheckpoint(path, { net, opt });

  const wide = build(gpu, { hidden: HIDDEN + 8 });
  await rejects(loadCheckpoint(path, { net: wide.net }), /layer 0 .* outFeatures 32 .* but 40/);
  const reseeded = build(gpu, { seed: 6 });
  await rejects(loadCheckpoint(path, { net: reseeded.net }), /layer 0 .* seed 5 .* but 6/);
  const other = build(gpu, { hash: hashes.neighborhood({ radius: 2 }) });
  await rejects(loadCheckpoint(path, { net: other.net }), /uniform hash .* but neighborhood/);
  const unsigned = build(gpu, { hash: hashes.uniform({ sign: false }) });
  await rejects(loadCheckpoint(path, { net: unsigned.net }), /hash options/);
  const deeper = buildMlp(gpu, {
    layers: [FEATURES, HIDDEN, HIDDEN, CLASSES],
    hash: hashes.uniform(),
    tableFraction: 1 / 4,
    sparsity: 0.1,
    seed: 5,
  });
  await rejects(loadCheckpoint(path, { net: deeper.net }), /holds 3 layers .* has 5/);

  const same = build(gpu);
  const adam = new Adam(same.net.parameters());
  await rejects(loadCheckpoint(path, { net: same.net, opt: adam }), /sgd optimizer state/);
  await saveCheckpoint(path, { net });
  const sgd = new SGD(same.net.parameters(), { lr: 0.1 });
  await rejects(loadCheckpoint(path, { net: same.net, opt: sgd }), /no optimizer state/);
  await removeTmp(path);
});

gpuTest("checkpoint: saving replaces the previous file atomically", async (gpu) => {
  const path = await tmpPath();
  const { net } = build(gpu);
  await saveCheckpoint(path, { net, extra: { epoch: 0 } });
  await saveCheckpoint(path, { net, extra: { epoch: 1 } });
  assert.deepEqual((await readCheckpointInfo(path)).progress, { epoch: 1 });
  // A write that cannot complete leaves the last good checkpoint in place.
  await rejects(
    saveCheckpoint(`${path}.d/nested/x.safetensors`, { net }),
    /cannot write checkpoint/,
  );
  assert.deepEqual((await readCheckpointInfo(path)).progress, { epoch: 1 });
  await removeTmp(path);
});

gpuTest("checkpoint: weight tying survives a save and a rebuild", async (gpu) => {
  // A table shared by two layers, and one module used twice.
  const a = new ArbLinear(gpu, {
    inFeatures: 12,
    outFeatures: 12,
    hash: hashes.uniform(),
    tableSize: 40,
    seed: 1,
  });
  const b = new ArbLinear(gpu, {
    inFeatures: 12,
    outFeatures: 12,
    hash: hashes.uniform(),
    table: a.table,
    seed: 2,
  });
  const out = new ArbLinear(gpu, { inFeatures: 12, outFeatures: 3, hash: hashes.dense(), seed: 3 });
  const relu = new ReLU();
  const net = new Sequential([a, relu, b, relu, b, relu, out]);
  const opt = new SGD(net.parameters(), { lr: 0.1, momentum: 0.9 });
  const x = randomF32(5 * 12, 7);
  const y = Uint32Array.from([0, 1, 2, 0, 1]);
  await trainStep(net, opt, x, y, 3);
  const path = await Deno.makeTempFile({ suffix: ".safetensors" });
  try {
    await saveCheckpoint(path, { net, opt });
    const info = await readCheckpointInfo(path);
    const tie = info.layers.map((l) =>
      l.kind === "arblinear" ? [l.sameAs ?? null, l.tableOf ?? null] : null
    );
    assert.deepEqual(tie, [[null, null], null, [null, 0], null, [2, null], null, [null, null]]);
    const rebuilt = await buildFromCheckpoint(gpu, path);
    const layers = (rebuilt.net as Sequential).layers as ArbLinear[];
    assert.equal(layers[2].table, layers[0].table, "the shared table is shared again");
    assert.equal(layers[4], layers[2], "the reused module is one module again");
    assert.equal(rebuilt.net.parameters().length, net.parameters().length);
    assert.deepEqual(
      await forwardHost(gpu, rebuilt.net, x, 12),
      await forwardHost(gpu, net, x, 12),
    );
  } finally {
    await Deno.remove(path);
  }
});

gpuTest(
  "checkpoint: an RNN with a Tanh head survives a save, a resume and a rebuild",
  async (gpu) => {
    const [T, F, H] = [4, 3, 6];
    const make = (seed: number) => {
      const layer = (inFeatures: number, outFeatures: number, s: number, bias = true) =>
        new ArbLinear(gpu, {
          inFeatures,
          outFeatures,
          hash: hashes.uniform(),
          tableFraction: 1 / 2,
          seed: seed + s,
          bias,
        });
      const rnn = new RNN({
        input: layer(F, H, 0),
        recurrent: layer(H, H, 1, false),
        steps: T,
      });
      return new Sequential([rnn, new Tanh(), layer(H, 3, 2)]);
    };
    const net = make(10);
    const opt = new Adam(net.parameters(), { lr: 0.01 });
    const x = randomF32(5 * T * F, 3);
    const y = Uint32Array.from([0, 1, 2, 0, 1]);
    await trainStep(net, opt, x, y, 3);
    const path = await tmpPath();
    try {
      await saveCheckpoint(path, { net, opt, extra: { epoch: 0 } });
      const info = await readCheckpointInfo(path);
      assert.deepEqual(info.layers.map((l) => l.kind), ["rnn", "tanh", "arblinear"]);
      const rnnRecord = info.layers[0] as Extract<LayerRecord, { kind: "rnn" }>;
      assert.equal(rnnRecord.steps, T);
      assert.equal(rnnRecord.recurrent.bias, false);

      // Rebuilt from the file alone: the same predictions, the RNN's layers named in order.
      const rebuilt = await buildFromCheckpoint(gpu, path);
      assert.deepEqual(rebuilt.layers.map((l) => l.name), ["layer0", "layer1", "layer2"]);
      const expected = await forwardHost(gpu, net, x, T * F);
      assert.deepEqual(await forwardHost(gpu, rebuilt.net, x, T * F), expected);

      // Resumed into a fresh network and optimizer: the next step matches the original's.
      const again = make(10);
      const opt2 = new Adam(again.parameters(), { lr: 0.01 });
      assert.notDeepEqual(await params(again), await params(net));
      await loadCheckpoint(path, { net: again, opt: opt2 });
      await trainStep(net, opt, x, y, 3);
      await trainStep(again, opt2, x, y, 3);
      assert.deepEqual(await params(again), await params(net));

      // A different step count is refused, naming it.
      const other = new Sequential([
        new RNN({
          input: new ArbLinear(gpu, { inFeatures: F, outFeatures: H, hash: hashes.dense() }),
          recurrent: new ArbLinear(gpu, { inFeatures: H, outFeatures: H, hash: hashes.dense() }),
          steps: T + 1,
        }),
        new Tanh(),
        new ArbLinear(gpu, { inFeatures: H, outFeatures: 3, hash: hashes.dense() }),
      ]);
      await rejects(loadCheckpoint(path, { net: other }), /layer 0 \(rnn\) has 4 steps/);
    } finally {
      await removeTmp(path);
    }
  },
);

gpuTest(
  "checkpoint: an RNN layer on another layer's table is refused before writing",
  async (gpu) => {
    const wx = new ArbLinear(gpu, {
      inFeatures: 4,
      outFeatures: 4,
      hash: hashes.uniform(),
      tableSize: 8,
    });
    const wh = new ArbLinear(gpu, {
      inFeatures: 4,
      outFeatures: 4,
      hash: hashes.uniform(),
      table: wx.table,
      bias: false,
    });
    const net = new Sequential([new RNN({ input: wx, recurrent: wh, steps: 2 })]);
    const path = await tmpPath();
    try {
      await rejects(saveCheckpoint(path, { net }), /share one table/);
      await assert.rejects(Deno.stat(path), Deno.errors.NotFound);
      // The RNN's own input layer used again as a layer of the network.
      const own = new ArbLinear(gpu, { inFeatures: 4, outFeatures: 4, hash: hashes.uniform() });
      const wh2 = new ArbLinear(gpu, { inFeatures: 4, outFeatures: 4, hash: hashes.uniform() });
      const reused = new Sequential([new RNN({ input: own, recurrent: wh2, steps: 2 }), own]);
      await rejects(
        saveCheckpoint(path, { net: reused }),
        /layer 0's input \(.*\) and layer 1 \(.*\): they share one table/,
      );
      await assert.rejects(Deno.stat(path), Deno.errors.NotFound);
    } finally {
      await removeTmp(path);
    }
  },
);
