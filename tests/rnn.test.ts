/**
 * The RNN module against a float64 CPU Elman cell, h_t = tanh(x_t·W_x +
 * h_{t−1}·W_h + b), unrolled over a small odd shape: the last state, the
 * loss, and every parameter's and the input's gradient by central
 * differences (W_h's summed over the steps it is tied across).
 */
import assert from "node:assert/strict";
import { assertClose, gpuTest, randomF32 } from "./_util.ts";
import { hashes } from "../lib/hash/mod.ts";
import type { Hash } from "../lib/hash/types.ts";
import type { Gpu } from "../lib/gpu/device.ts";
import {
  type Activation,
  allocActivation,
  ArbLinear,
  MetricsBuffer,
  packSlotWords,
  type Parameter,
  RNN,
  Sequential,
  softmaxCrossEntropy,
} from "../lib/nn/mod.ts";
import { ArbnetError } from "../lib/errors.ts";

const [B, T, F, H, C] = [3, 5, 3, 5, 3];

/** A layer's virtual matrix (in × out) in float64 from the current table values. */
function virtual(l: ArbLinear, table: Float64Array): Float64Array {
  const words = packSlotWords(l.indices, l.signs);
  return Float64Array.from(words, (w) => {
    const slot = w & 0x7fffffff;
    const v = slot < table.length ? table[slot] : 0;
    return w >>> 31 ? -v : v;
  });
}

/** rows·in × in·out + bias. */
function affine(x: Float64Array, rows: number, l: ArbLinear, v: Map<Parameter, Float64Array>) {
  const { inFeatures: nIn, outFeatures: nOut } = l.config;
  const w = virtual(l, v.get(l.table)!);
  const bias = l.bias ? v.get(l.bias)! : new Float64Array(nOut);
  const out = new Float64Array(rows * nOut);
  for (let r = 0; r < rows; r++) {
    for (let j = 0; j < nOut; j++) {
      let s = bias[j];
      for (let i = 0; i < nIn; i++) s += x[r * nIn + i] * w[i * nOut + j];
      out[r * nOut + j] = s;
    }
  }
  return out;
}

/** The CPU cell unrolled: the last state and the mean cross-entropy of the head's logits. */
function cpuRnn(
  rnn: RNN,
  head: ArbLinear,
  v: Map<Parameter, Float64Array>,
  x: Float64Array,
  y: Uint32Array,
): { h: Float64Array; loss: number } {
  let h = new Float64Array(B * H);
  for (let t = 0; t < T; t++) {
    const xt = new Float64Array(B * F);
    for (let b = 0; b < B; b++) {
      for (let f = 0; f < F; f++) xt[b * F + f] = x[(b * T + t) * F + f];
    }
    const u = affine(xt, B, rnn.input, v), a = affine(h, B, rnn.recurrent, v);
    h = u.map((ui, i) => Math.tanh(ui + a[i]));
  }
  const logits = affine(h, B, head, v);
  let loss = 0;
  for (let r = 0; r < B; r++) {
    const row = logits.subarray(r * C, (r + 1) * C);
    const top = Math.max(...row);
    loss += Math.log(row.reduce((s, z) => s + Math.exp(z - top), 0)) + top - row[y[r]];
  }
  return { h, loss: loss / B };
}

async function check(
  gpu: Gpu,
  hash: Hash,
  seed: number,
  opts: { deterministic: boolean | "auto"; materialize: boolean | "auto"; sparsity: number },
) {
  const layer = (inFeatures: number, outFeatures: number, s: number, bias = true) =>
    new ArbLinear(gpu, {
      inFeatures,
      outFeatures,
      hash,
      tableFraction: hash.family === "dense" ? undefined : 0.6,
      seed: s,
      bias,
      name: `l${s}`,
      ...(hash.family === "dense" ? {} : opts),
    });
  const rnn = new RNN({
    input: layer(F, H, seed),
    recurrent: layer(H, H, seed + 1, false),
    steps: T,
  });
  const head = layer(H, C, seed + 2);
  for (const [i, b] of [rnn.input.bias!, head.bias!].entries()) {
    b.write(randomF32(b.size, seed + 10 + i, -0.3, 0.3));
  }
  const net = new Sequential([rnn, head]);
  const x = randomF32(B * T * F, seed + 20, -1, 1);
  const y = Uint32Array.from({ length: B }, (_, i) => (i + seed) % C);
  // The input wants its gradient too: the frames' reordering runs backwards.
  const input: Activation = allocActivation(gpu, B, T * F, "x");
  gpu.write(input.buffer, x);
  const metrics = new MetricsBuffer(gpu);
  const out = await net.forward(input);
  const loss = await softmaxCrossEntropy(gpu, out, gpu.upload(y, "y"), metrics);
  loss.record();
  net.backward();
  const gpuLoss = (await metrics.read()).loss;
  const plan = await net.plan(input);
  const gpuH = await gpu.readF32(plan.outputs![0].activation.buffer, B * H);

  const v = new Map<Parameter, Float64Array>();
  for (const p of net.parameters()) v.set(p, Float64Array.from(await p.read()));
  const xs = Float64Array.from(x);
  const base = cpuRnn(rnn, head, v, xs, y);
  assertClose(gpuH, Float32Array.from(base.h), { rtol: 1e-5, atol: 1e-5, what: "last state" });
  assert.ok(Math.abs(base.loss - gpuLoss) < 1e-4, `loss ${gpuLoss} vs ${base.loss}`);

  const eps = 1e-5;
  const fdCheck = (what: string, values: Float64Array, grad: Float32Array) => {
    for (let k = 0; k < values.length; k++) {
      const keep = values[k];
      values[k] = keep + eps;
      const up = cpuRnn(rnn, head, v, xs, y).loss;
      values[k] = keep - eps;
      const down = cpuRnn(rnn, head, v, xs, y).loss;
      values[k] = keep;
      const fd = (up - down) / (2 * eps);
      assert.ok(
        Math.abs(grad[k] - fd) <= 2e-4 + 2e-3 * Math.abs(fd),
        `${hash.family} ${what}[${k}]: gpu ${grad[k]} vs finite difference ${fd}`,
      );
    }
  };
  assert.equal(net.parameters().length, 5, "W_x, b, W_h (once), the head's table and bias");
  assert.ok(rnn.recurrent.table.tied);
  for (const p of net.parameters()) fdCheck(p.name, v.get(p)!, await p.readGrad());
  fdCheck("x", xs, await gpu.readF32(input.grad!, B * T * F));
}

gpuTest(
  "RNN matches a CPU Elman cell: last state, loss, gradients (atomic scatter)",
  async (gpu) => {
    await check(gpu, hashes.uniform(), 1, {
      deterministic: false,
      materialize: false,
      sparsity: 0.2,
    });
  },
);

gpuTest("RNN matches a CPU Elman cell (deterministic, materialised weights)", async (gpu) => {
  await check(gpu, hashes.uniform(), 2, { deterministic: true, materialize: true, sparsity: 0 });
});

gpuTest("RNN matches a CPU Elman cell (dense layers)", async (gpu) => {
  await check(gpu, hashes.dense(), 3, { deterministic: "auto", materialize: "auto", sparsity: 0 });
});

gpuTest("RNN refuses layers whose shapes do not chain, and a bad step count", (gpu) => {
  const l = (i: number, o: number) =>
    new ArbLinear(gpu, { inFeatures: i, outFeatures: o, hash: hashes.dense() });
  assert.throws(() => new RNN({ input: l(3, 4), recurrent: l(5, 5), steps: 2 }), ArbnetError);
  assert.throws(() => new RNN({ input: l(3, 5), recurrent: l(5, 4), steps: 2 }), ArbnetError);
  assert.throws(() => new RNN({ input: l(3, 5), recurrent: l(5, 5), steps: 0 }), /steps/);
});
