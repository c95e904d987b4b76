/**
 * Finite-difference check of a 2-layer ArbNet through softmax cross-entropy:
 * the GPU's table and bias gradients against central differences of a
 * float64 CPU model built from the same slots, signs and table values.
 */
import assert from "node:assert/strict";
import { gpuTest, randomF32 } from "./_util.ts";
import { hashes } from "../lib/hash/mod.ts";
import {
  type Activation,
  ArbLinear,
  MetricsBuffer,
  packSlotWords,
  ReLU,
  Sequential,
  softmaxCrossEntropy,
  TRANSPOSE_WEIGHTS_MIN_ROWS,
} from "../lib/nn/mod.ts";
import type { Gpu } from "../lib/gpu/device.ts";
import type { Hash } from "../lib/hash/types.ts";
import type { Tile } from "../shaders/matmul.ts";

interface CpuLayer {
  words: Uint32Array;
  table: Float64Array;
  bias: Float64Array;
  nIn: number;
  nOut: number;
  relu: boolean;
}

/** Mean softmax cross-entropy of the CPU model, in float64. */
function cpuLoss(layers: CpuLayer[], x: Float32Array, y: Uint32Array): number {
  const rows = y.length;
  let act = Float64Array.from(x);
  for (const l of layers) {
    const out = new Float64Array(rows * l.nOut);
    for (let r = 0; r < rows; r++) {
      for (let j = 0; j < l.nOut; j++) {
        let s = l.bias[j];
        for (let i = 0; i < l.nIn; i++) {
          const w = l.words[i * l.nOut + j];
          const slot = w & 0x7fffffff;
          const v = slot < l.table.length ? l.table[slot] : 0;
          s += act[r * l.nIn + i] * (w >>> 31 ? -v : v);
        }
        out[r * l.nOut + j] = l.relu ? Math.max(s, 0) : s;
      }
    }
    act = out;
  }
  const classes = layers.at(-1)!.nOut;
  let loss = 0;
  for (let r = 0; r < rows; r++) {
    const row = act.subarray(r * classes, (r + 1) * classes);
    const top = Math.max(...row);
    const lse = Math.log(row.reduce((a, v) => a + Math.exp(v - top), 0)) + top;
    loss += lse - row[y[r]];
  }
  return loss / rows;
}

async function check(
  gpu: Gpu,
  hash: Hash,
  sparsity: number,
  seed: number,
  materialize: boolean | "auto" = "auto",
  { sizes = [7, 5, 3, 4], tile }: { sizes?: number[]; tile?: Tile } = {},
) {
  const [nIn, nHid, nOut, rows] = sizes;
  const layer = (inFeatures: number, outFeatures: number, layerSeed: number) =>
    new ArbLinear(gpu, {
      inFeatures,
      outFeatures,
      hash,
      tableFraction: hash.family === "dense" ? undefined : 0.6,
      sparsity,
      seed: layerSeed,
      materialize,
      tile,
    });
  const l0 = layer(nIn, nHid, seed);
  const l1 = layer(nHid, nOut, seed + 1);
  // Random biases so no hidden unit sits exactly on a ReLU kink by construction.
  l0.bias!.write(randomF32(nHid, seed + 7, -0.3, 0.3));
  l1.bias!.write(randomF32(nOut, seed + 8, -0.3, 0.3));
  const net = new Sequential([l0, new ReLU(), l1]);
  const x = randomF32(rows * nIn, seed + 9, 0, 1);
  const y = Uint32Array.from({ length: rows }, (_, i) => (i * 2 + seed) % nOut);

  const input: Activation = { buffer: gpu.upload(x, "x"), grad: null, rows, features: nIn };
  const labels = gpu.upload(y, "y");
  const metrics = new MetricsBuffer(gpu);
  const out = await net.forward(input);
  const loss = await softmaxCrossEntropy(gpu, out, labels, metrics);
  loss.record();
  net.backward();
  const gpuLoss = (await metrics.read()).loss;

  const cpu: CpuLayer[] = [];
  for (const [l, relu] of [[l0, true], [l1, false]] as const) {
    const spec = {
      rows: l.config.inFeatures,
      cols: l.config.outFeatures,
      tableSize: l.config.tableSize,
      sparsity: l.config.sparsity,
      seed: l.config.seed,
    };
    cpu.push({
      words: packSlotWords(l.indices, hash.signs(spec)),
      table: Float64Array.from(await l.table.read()),
      bias: Float64Array.from(await l.bias!.read()),
      nIn: l.config.inFeatures,
      nOut: l.config.outFeatures,
      relu,
    });
  }
  const base = cpuLoss(cpu, x, y);
  assert.ok(Math.abs(base - gpuLoss) < 1e-4 * Math.max(1, base), `loss ${gpuLoss} vs ${base}`);

  const eps = 1e-5;
  let checked = 0;
  for (const [li, l] of [l0, l1].entries()) {
    for (
      const [name, values, grad] of [
        ["table", cpu[li].table, await l.table.readGrad()],
        ["bias", cpu[li].bias, await l.bias!.readGrad()],
      ] as const
    ) {
      for (let k = 0; k < values.length; k++) {
        const keep = values[k];
        values[k] = keep + eps;
        const up = cpuLoss(cpu, x, y);
        values[k] = keep - eps;
        const down = cpuLoss(cpu, x, y);
        values[k] = keep;
        const fd = (up - down) / (2 * eps);
        const err = Math.abs(grad[k] - fd);
        assert.ok(
          err <= 2e-4 + 2e-3 * Math.abs(fd),
          `${hash.family} layer ${li} ${name}[${k}]: gpu ${grad[k]} vs finite difference ${fd}`,
        );
        checked++;
      }
    }
  }
  assert.ok(checked > 20);
}

gpuTest("2-layer ArbNet gradients match finite differences (uniform hash, signs)", async (gpu) => {
  await check(gpu, hashes.uniform(), 0, 3);
});

gpuTest("2-layer ArbNet gradients match finite differences (materialised weights)", async (gpu) => {
  await check(gpu, hashes.uniform(), 0.2, 13, true);
});

// Window tiles in every product: 8-row windows of K = 16 and 8 (the
// forwards; the table gradients on the transposed input, 5 rows padded to
// 8; the input gradient, K = 8 outputs) are 512 and 256 bytes: all align.
gpuTest("2-layer ArbNet gradients match finite differences (window tiles)", async (gpu) => {
  const tile: Tile = { tm: 8, tn: 4, wgX: 2, wgY: 1, window: true };
  await check(gpu, hashes.uniform(), 0, 13, true, { sizes: [16, 8, 8, 5], tile });
});

// A batch of TRANSPOSE_WEIGHTS_MIN_ROWS: on CPU adapters the second layer
// (12×8) writes its weights transposed and reads them by rows for the input
// gradient, which the first layer's table gradient then depends on.
gpuTest(
  "2-layer ArbNet gradients match finite differences (weights transposed for dX)",
  async (gpu) => {
    const sizes = [16, 12, 8, TRANSPOSE_WEIGHTS_MIN_ROWS];
    await check(gpu, hashes.uniform(), 0.2, 17, true, { sizes });
    await check(gpu, hashes.dense(), 0, 19, "auto", { sizes });
  },
);

gpuTest("2-layer ArbNet gradients match finite differences (sparse Dirichlet)", async (gpu) => {
  await check(gpu, hashes.dirichlet({ alpha: 0.5 }), 0.3, 5);
});

gpuTest("2-layer ArbNet gradients match finite differences (dense layers)", async (gpu) => {
  await check(gpu, hashes.dense(), 0, 11);
});
