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
  type ArbLinearOptions,
  MetricsBuffer,
  packSlotWords,
  type Parameter,
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
  await checkUses(gpu, [[l0, true], [l1, false]], rows, seed);
}

/**
 * Checks every parameter's gradient of the network applying `uses` in order
 * (each layer, then a ReLU where its flag says), against central
 * differences of the float64 CPU model. A layer listed twice, or a table
 * two layers share, is one parameter of the CPU model too, so its finite
 * difference sums the uses.
 */
async function checkUses(
  gpu: Gpu,
  uses: (readonly [ArbLinear, boolean])[],
  rows: number,
  seed: number,
): Promise<void> {
  const layers = [...new Set(uses.map(([l]) => l))];
  // Random biases so no hidden unit sits exactly on a ReLU kink by construction.
  for (const [i, l] of layers.entries()) {
    l.bias?.write(randomF32(l.config.outFeatures, seed + 7 + i, -0.3, 0.3));
  }
  const net = new Sequential(uses.flatMap(([l, relu]) => relu ? [l, new ReLU()] : [l]));
  const nIn = uses[0][0].config.inFeatures;
  const nOut = uses.at(-1)![0].config.outFeatures;
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

  // One float64 copy per parameter, however many layers read it.
  const values = new Map<Parameter, Float64Array>();
  for (const p of net.parameters()) values.set(p, Float64Array.from(await p.read()));
  const cpu: CpuLayer[] = uses.map(([l, relu]) => ({
    words: packSlotWords(l.indices, l.signs),
    table: values.get(l.table)!,
    bias: l.bias ? values.get(l.bias)! : new Float64Array(l.config.outFeatures),
    nIn: l.config.inFeatures,
    nOut: l.config.outFeatures,
    relu,
  }));
  const base = cpuLoss(cpu, x, y);
  assert.ok(Math.abs(base - gpuLoss) < 1e-4 * Math.max(1, base), `loss ${gpuLoss} vs ${base}`);

  const eps = 1e-5;
  let checked = 0;
  for (const [i, p] of net.parameters().entries()) {
    const v = values.get(p)!;
    const grad = await p.readGrad();
    for (let k = 0; k < v.length; k++) {
      const keep = v[k];
      v[k] = keep + eps;
      const up = cpuLoss(cpu, x, y);
      v[k] = keep - eps;
      const down = cpuLoss(cpu, x, y);
      v[k] = keep;
      const fd = (up - down) / (2 * eps);
      const err = Math.abs(grad[k] - fd);
      assert.ok(
        err <= 2e-4 + 2e-3 * Math.abs(fd),
        `${uses[0][0].config.hash.family} parameter ${i} (${p.name})[${k}]: gpu ${
          grad[k]
        } vs finite difference ${fd}`,
      );
      checked++;
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

// Weight tying. Each table-gradient path sums the uses in its own way: the
// atomic scatter adds into the gradient, the deterministic (inverse index)
// and dense paths write one use's gradient aside and add it.
const TIED_WAYS = [
  { hash: hashes.uniform(), deterministic: false, materialize: false },
  { hash: hashes.uniform(), deterministic: true, materialize: true },
  { hash: hashes.dense(), deterministic: "auto", materialize: "auto" },
] as const;

function tiedLayer(
  gpu: Gpu,
  way: (typeof TIED_WAYS)[number],
  inFeatures: number,
  outFeatures: number,
  seed: number,
  more: Partial<ArbLinearOptions> = {},
): ArbLinear {
  return new ArbLinear(gpu, {
    inFeatures,
    outFeatures,
    hash: way.hash,
    tableFraction: way.hash.family === "dense" ? undefined : 0.6,
    sparsity: way.hash.family === "dense" ? 0 : 0.2,
    deterministic: way.deterministic,
    materialize: way.materialize,
    seed,
    name: `l${seed}`,
    ...more,
  });
}

gpuTest("a layer used twice in a Sequential: gradients match finite differences", async (gpu) => {
  for (const [i, way] of TIED_WAYS.entries()) {
    const first = tiedLayer(gpu, way, 7, 5, 30 + 3 * i);
    const twice = tiedLayer(gpu, way, 5, 5, 31 + 3 * i);
    const last = tiedLayer(gpu, way, 5, 3, 32 + 3 * i);
    const uses = [[first, true], [twice, true], [twice, true], [last, false]] as const;
    await checkUses(gpu, [...uses], 4, 40 + i);
    const net = new Sequential(uses.map(([l]) => l));
    assert.deepEqual(net.parameters(), [
      ...first.parameters(),
      ...twice.parameters(),
      ...last.parameters(),
    ]);
  }
});

gpuTest("layers sharing one table: gradients match finite differences", async (gpu) => {
  for (const [i, way] of TIED_WAYS.entries()) {
    // Two 5×5 layers on one table, then a network-wide table: every layer of
    // 7-6-5-3 hashing into the table of 30 slots its first layer made.
    const a = tiedLayer(gpu, way, 5, 5, 50 + 4 * i);
    const b = tiedLayer(gpu, way, 5, 5, 51 + 4 * i, { table: a.table });
    assert.ok(a.table.tied && b.table === a.table);
    await checkUses(gpu, [[a, true], [b, false]], 3, 60 + i);
    if (way.hash.family === "dense") continue; // a dense table fits one shape
    const l0 = tiedLayer(gpu, way, 7, 6, 52 + 4 * i, { tableSize: 30 });
    const l1 = tiedLayer(gpu, way, 6, 5, 53 + 4 * i, { table: l0.table });
    const l2 = tiedLayer(gpu, way, 5, 3, 54 + 4 * i, { table: l0.table, bias: false });
    await checkUses(gpu, [[l0, true], [l1, true], [l2, false]], 4, 70 + i);
    const net = new Sequential([l0, l1, l2]);
    assert.deepEqual(net.parameters(), [l0.table, l0.bias, l1.bias]);
  }
});
