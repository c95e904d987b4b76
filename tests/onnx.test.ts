/**
 * ONNX export: the exported model, run by a real ONNX runtime
 * (onnxruntime-node, a Node-API addon shipped in the npm package; needs
 * --allow-ffi), reproduces the GPU forward pass on MNIST test images.
 * @module
 */

import assert from "node:assert/strict";
// deno-lint-ignore no-import-prefix
import * as ort from "npm:onnxruntime-node@1.30.0";
import type { Gpu } from "../lib/gpu/device.ts";
import { ArbnetError } from "../lib/errors.ts";
import { type Hash, hashes } from "../lib/hash/mod.ts";
import { loadMnist } from "../lib/data/mod.ts";
import { ArbLinear, conv2dLayer, Linear, ReLU, RNN, Sequential, Tanh } from "../lib/nn/mod.ts";
import { SGD } from "../lib/optim/mod.ts";
import { buildMlp, trainStep } from "../lib/train/mod.ts";
import { encodeOnnx, exportOnnx } from "../lib/io/onnx.ts";
import { assertClose, forwardHost, gpuTest } from "./_util.ts";
import { pixelBlocks } from "../examples/custom_hash.ts";

const ROWS = 64;
const mnist = loadMnist({ split: "test", limit: ROWS });

const forward = forwardHost;

/** A 784-64-10 MLP trained a few steps, so tables and biases are no longer at their init. */
async function trained(gpu: Gpu, hash: Hash, sparsity: number) {
  const data = await mnist;
  const { net } = buildMlp(gpu, {
    layers: [784, 64, 10],
    hash,
    tableFraction: 1 / 8,
    sparsity,
    seed: 3,
  });
  const opt = new SGD(net.parameters(), { lr: 0.05, momentum: 0.9 });
  for (let s = 0; s < 3; s++) {
    const rows = 16;
    const at = s * rows;
    await trainStep(
      net,
      opt,
      data.x.slice(at * 784, (at + rows) * 784),
      data.y.slice(at, at + rows),
    );
  }
  return net;
}

async function runOnnx(
  model: Uint8Array | string,
  x: Float32Array,
  rows: number,
): Promise<{ name: string; dims: readonly number[]; data: Float32Array }> {
  const session = typeof model === "string"
    ? await ort.InferenceSession.create(model)
    : await ort.InferenceSession.create(model);
  try {
    const out = await session.run({ input: new ort.Tensor("float32", x, [rows, 784]) });
    const name = session.outputNames[0];
    const t = out[name];
    return { name, dims: t.dims, data: t.data as Float32Array };
  } finally {
    await session.release();
  }
}

const cases: [string, Hash, number][] = [
  ["uniform hash with signs and a zero slot", hashes.uniform(), 0.25],
  ["neighborhood hash without signs", hashes.neighborhood({ radius: 8 }), 0],
  ["dirichlet hash", hashes.dirichlet({ alpha: 0.5 }), 0.1],
  ["dense hash", hashes.dense(), 0],
  ["user family (examples/custom_hash.ts)", pixelBlocks({ block: 2, sign: true }), 0.1],
];

for (const [what, hash, sparsity] of cases) {
  gpuTest(`onnx: onnxruntime matches the GPU forward (${what})`, async (gpu) => {
    const data = await mnist;
    const net = await trained(gpu, hash, sparsity);
    const ours = await forward(gpu, net, data.x, 784);
    const theirs = await runOnnx(await encodeOnnx(net), data.x, ROWS);
    assert.equal(theirs.name, "logits");
    assert.deepEqual([...theirs.dims], [ROWS, 10]);
    assertClose(theirs.data, ours, { rtol: 1e-4, atol: 1e-5, what: "onnx logits" });
  });
}

gpuTest("onnx: softmax output and a fixed batch, written to a file", async (gpu) => {
  const data = await mnist;
  const net = await trained(gpu, hashes.uniform(), 0);
  const dir = await Deno.makeTempDir({ prefix: "arbnet-onnx-" });
  const path = `${dir}/mnist.onnx`;
  await exportOnnx(net, path, { softmax: true, batch: ROWS });
  const probs = await runOnnx(path, data.x, ROWS);
  assert.equal(probs.name, "probabilities");
  const logits = await forward(gpu, net, data.x, 784);
  const expected = new Float32Array(logits.length);
  for (let r = 0; r < ROWS; r++) {
    const row = logits.subarray(r * 10, r * 10 + 10);
    const max = Math.max(...row);
    const sum = row.reduce((s, v) => s + Math.exp(v - max), 0);
    for (let c = 0; c < 10; c++) expected[r * 10 + c] = Math.exp(row[c] - max) / sum;
  }
  assertClose(probs.data, expected, { rtol: 1e-4, atol: 1e-6, what: "onnx probabilities" });
  // A fixed batch is part of the model: another batch size is rejected.
  await assert.rejects(runOnnx(path, data.x.subarray(0, 784), 1));
  await Deno.remove(dir, { recursive: true });
});

gpuTest("onnx: a plain Linear stack without bias exports too", async (gpu) => {
  const data = await mnist;
  const net = new Sequential([
    new Linear(gpu, { inFeatures: 784, outFeatures: 20, seed: 4, bias: false }),
    new ReLU(),
    new Linear(gpu, { inFeatures: 20, outFeatures: 10, seed: 5 }),
  ]);
  const ours = await forward(gpu, net, data.x, 784);
  const theirs = await runOnnx(await encodeOnnx(net), data.x, ROWS);
  assertClose(theirs.data, ours, { rtol: 1e-4, atol: 1e-5, what: "onnx logits" });
});

/** Trains `net` a few steps on MNIST rows, so every parameter has moved from its init. */
async function trainFew(net: Sequential): Promise<void> {
  const data = await mnist;
  const opt = new SGD(net.parameters(), { lr: 0.05, momentum: 0.9 });
  for (let s = 0; s < 3; s++) {
    const at = s * 16;
    await trainStep(net, opt, data.x.slice(at * 784, (at + 16) * 784), data.y.slice(at, at + 16));
  }
}

gpuTest(
  "onnx: a CNN (conv2d hash, channel biases) runs the same in onnxruntime",
  async (gpu) => {
    const data = await mnist;
    const conv = conv2dLayer(gpu, {
      inChannels: 1,
      outChannels: 4,
      kernel: 5,
      stride: 2,
      height: 28,
      width: 28,
      seed: 2,
    });
    const net = new Sequential([
      conv,
      new ReLU(),
      new ArbLinear(gpu, {
        inFeatures: 4 * 12 * 12,
        outFeatures: 10,
        hash: hashes.uniform(),
        tableFraction: 1 / 4,
        seed: 3,
      }),
    ]);
    await trainFew(net);
    const ours = await forward(gpu, net, data.x, 784);
    const theirs = await runOnnx(await encodeOnnx(net), data.x, ROWS);
    assertClose(theirs.data, ours, { rtol: 1e-4, atol: 1e-5, what: "onnx CNN logits" });
  },
);

gpuTest("onnx: an RNN over MNIST rows, unrolled, runs the same in onnxruntime", async (gpu) => {
  const data = await mnist;
  const layer = (inFeatures: number, outFeatures: number, seed: number, bias = true) =>
    new ArbLinear(gpu, {
      inFeatures,
      outFeatures,
      hash: hashes.uniform(),
      tableFraction: 1 / 2,
      seed,
      bias,
    });
  const rnn = new RNN({ input: layer(28, 12, 1), recurrent: layer(12, 12, 2), steps: 28 });
  const net = new Sequential([rnn, new Tanh(), layer(12, 10, 3)]);
  await trainFew(net);
  const ours = await forward(gpu, net, data.x, 784);
  const theirs = await runOnnx(await encodeOnnx(net), data.x, ROWS);
  assertClose(theirs.data, ours, { rtol: 1e-4, atol: 1e-5, what: "onnx RNN logits" });
});

gpuTest("onnx: bad options are refused", async (gpu) => {
  const { net } = buildMlp(gpu, { layers: [8, 4], hash: hashes.uniform() });
  await assert.rejects(encodeOnnx(net, { batch: 0 }), ArbnetError);
});
