/**
 * CNNs as ArbNets: a conv2d layer (ArbLinear with the conv2d hash, then a
 * per-channel bias) against a direct CPU convolution, outputs and all three
 * gradients, on odd shapes with padding and stride; the fan-in of its
 * initial kernel; and the per-channel bias gradient of a small CNN through
 * softmax cross-entropy against finite differences.
 */
import assert from "node:assert/strict";
import { assertClose, gpuTest, randomF32 } from "./_util.ts";
import {
  type Conv2dOptions,
  conv2dOutputSize,
  conv2dShape,
  hashes,
  recurrentShape,
} from "../lib/hash/mod.ts";
import type { Hash } from "../lib/hash/types.ts";
import {
  type Activation,
  ArbLinear,
  type ChannelBias,
  conv2dLayer,
  MetricsBuffer,
  packSlotWords,
  ReLU,
  Sequential,
  softmaxCrossEntropy,
} from "../lib/nn/mod.ts";
import { ArbnetError } from "../lib/errors.ts";
import {
  channelBiasGradLaunch,
  channelBiasGradRef,
  channelBiasLaunch,
  channelBiasRef,
} from "../shaders/channel_bias.ts";

type Geometry = Required<Conv2dOptions>;

/**
 * Calls `tap(out, w, inp)` for every product of a direct cross-correlation
 * of `batch` images (zero padding, PyTorch weight layout [o][c][dy][dx]):
 * output element `out` adds `weight[w] · input[inp]`.
 */
function eachTap(g: Geometry, batch: number, tap: (out: number, w: number, inp: number) => void) {
  const { height: oh, width: ow } = conv2dOutputSize(g);
  const k = g.kernel;
  for (let b = 0; b < batch; b++) {
    for (let o = 0; o < g.outChannels; o++) {
      for (let i = 0; i < oh; i++) {
        for (let j = 0; j < ow; j++) {
          const out = ((b * g.outChannels + o) * oh + i) * ow + j;
          for (let c = 0; c < g.inChannels; c++) {
            for (let dy = 0; dy < k; dy++) {
              const y = i * g.stride - g.padding + dy;
              if (y < 0 || y >= g.height) continue;
              for (let dx = 0; dx < k; dx++) {
                const x = j * g.stride - g.padding + dx;
                if (x < 0 || x >= g.width) continue;
                tap(
                  out,
                  ((o * g.inChannels + c) * k + dy) * k + dx,
                  ((b * g.inChannels + c) * g.height + y) * g.width + x,
                );
              }
            }
          }
        }
      }
    }
  }
}

/** Direct convolution plus per-channel bias, in float64. */
function convRef(
  x: ArrayLike<number>,
  w: ArrayLike<number>,
  bias: ArrayLike<number>,
  g: Geometry,
  batch: number,
): Float64Array {
  const { height, width } = conv2dOutputSize(g);
  const pixels = height * width;
  const y = Float64Array.from(
    { length: batch * g.outChannels * pixels },
    (_, i) => bias[Math.floor(i / pixels) % g.outChannels],
  );
  eachTap(g, batch, (out, wi, inp) => y[out] += w[wi] * x[inp]);
  return y;
}

const GEOMETRIES: Geometry[] = [
  { inChannels: 2, outChannels: 3, kernel: 3, stride: 2, padding: 1, height: 7, width: 5 },
  { inChannels: 1, outChannels: 4, kernel: 5, stride: 2, padding: 0, height: 11, width: 9 },
  { inChannels: 3, outChannels: 2, kernel: 2, stride: 3, padding: 2, height: 6, width: 8 },
];

for (const g of GEOMETRIES) {
  gpuTest(`conv2dLayer is a convolution with a per-channel bias (${JSON.stringify(g)})`, async (
    gpu,
  ) => {
    const batch = 3;
    const shape = conv2dShape(g);
    const conv = conv2dLayer(gpu, { ...g, seed: 1 });
    const [linear, bias] = conv.layers as [ArbLinear, ChannelBias];
    assert.equal(linear.bias, null, "no per-pixel bias");
    assert.equal(bias.bias.size, g.outChannels);
    const w = await linear.table.read();
    const b = randomF32(g.outChannels, 2);
    bias.bias.write(b);
    const x = randomF32(batch * shape.rows, 3);
    // An input gradient buffer, as a conv layer deeper in a network has.
    const input: Activation = {
      buffer: gpu.upload(x, "x"),
      grad: gpu.buffer(batch * shape.rows * 4, "dx"),
      rows: batch,
      features: shape.rows,
    };
    const plan = await conv.plan(input);
    plan.forward();
    const y = await gpu.readF32(plan.output.buffer, batch * shape.cols);
    assertClose(y, convRef(x, w, b, g, batch), { rtol: 1e-5, atol: 1e-5, what: "outputs" });

    const dy = randomF32(batch * shape.cols, 4);
    gpu.write(plan.output.grad!, dy);
    plan.backward();
    const dw = new Float64Array(shape.tableSize);
    const dx = new Float64Array(batch * shape.rows);
    eachTap(g, batch, (out, wi, inp) => {
      dw[wi] += dy[out] * x[inp];
      dx[inp] += dy[out] * w[wi];
    });
    const tol = { rtol: 1e-4, atol: 1e-5 };
    assertClose(await linear.table.readGrad(), dw, { ...tol, what: "kernel gradient" });
    assertClose(await gpu.readF32(input.grad!, batch * shape.rows), dx, {
      ...tol,
      what: "input gradient",
    });
    const { height, width } = conv2dOutputSize(g);
    const db = channelBiasGradRef(dy, {
      rows: batch,
      channels: g.outChannels,
      pixels: height * width,
    });
    assertClose(await bias.bias.readGrad(), db, { ...tol, what: "bias gradient" });
  });
}

gpuTest("channel bias kernels match their CPU oracles (odd shapes, many rows)", async (gpu) => {
  for (const [rows, channels, pixels] of [[1, 1, 1], [3, 5, 7], [130, 2, 33], [2, 70, 1]]) {
    const s = { rows, channels, pixels };
    const n = rows * channels * pixels;
    const x = randomF32(n, n), bias = randomF32(channels, channels);
    const xb = gpu.upload(x, "x"), bb = gpu.upload(bias, "b"), yb = gpu.buffer(n * 4, "y");
    const db = gpu.buffer(channels * 4, "db");
    gpu.dispatch(await channelBiasLaunch(gpu, s, { x: xb, bias: bb, y: yb }));
    gpu.dispatch(await channelBiasGradLaunch(gpu, s, { dy: xb, db }));
    const what = JSON.stringify(s);
    assertClose(await gpu.readF32(yb, n), channelBiasRef(x, bias, s), { what });
    assertClose(await gpu.readF32(db, channels), channelBiasGradRef(x, s), {
      rtol: 1e-5,
      atol: 1e-4,
      what,
    });
    for (const b of [xb, bb, yb, db]) gpu.release(b);
  }
});

/** Sample mean and standard deviation. */
function moments(a: Float32Array): { mean: number; std: number } {
  const mean = a.reduce((s, v) => s + v, 0) / a.length;
  const varSum = a.reduce((s, v) => s + (v - mean) ** 2, 0);
  return { mean, std: Math.sqrt(varSum / a.length) };
}

gpuTest("a conv2d layer's kernel is initialised for its receptive field", async (gpu) => {
  // 3·5² = 75 inputs per output; the virtual matrix has 3·20·20 = 1200 rows.
  const g = { inChannels: 3, outChannels: 40, kernel: 5, height: 20, width: 20 };
  for (const sparsity of [0, 0.5]) {
    const s = conv2dShape(g);
    const layer = new ArbLinear(gpu, {
      inFeatures: s.rows,
      outFeatures: s.cols,
      tableSize: s.tableSize,
      hash: hashes.conv2d(g),
      sparsity,
      seed: 4,
    });
    const t = await layer.table.read();
    const fanIn = 75 * (1 - sparsity);
    const { mean, std } = moments(t);
    // He-uniform U(±√(6/fanIn)) has std √(2/fanIn); 3000 samples give ~1.3% error.
    assert.ok(Math.abs(std / Math.sqrt(2 / fanIn) - 1) < 0.05, `std ${std}, fan-in ${fanIn}`);
    assert.ok(Math.abs(mean) < 0.1 * std, `mean ${mean}`);
    const bound = Math.sqrt(6 / fanIn);
    assert.ok(t.every((v) => Math.abs(v) <= bound), "inside the He bound");
  }
  // Families without a fanIn keep the row count (the dense hash: 1200 inputs).
  const dense = new ArbLinear(gpu, { inFeatures: 1200, outFeatures: 3, hash: hashes.dense() });
  const { std } = moments(await dense.table.read());
  assert.ok(Math.abs(std / Math.sqrt(2 / 1200) - 1) < 0.05, `dense std ${std}`);
});

gpuTest("recurrent and swap-noise layers are initialised for their real fan-in", async (gpu) => {
  // An unrolled RNN's hidden-to-hidden matrix: each output reads `hidden` units, not its
  // hidden·(steps + 1) rows.
  const r = recurrentShape({ hidden: 60, steps: 4 });
  const rnn = new ArbLinear(gpu, {
    inFeatures: r.rows,
    outFeatures: r.cols,
    tableSize: r.tableSize,
    hash: hashes.recurrent({ hidden: 60, steps: 4 }),
    seed: 2,
  });
  const rs = moments(await rnn.table.read()).std;
  assert.ok(Math.abs(rs / Math.sqrt(2 / 60) - 1) < 0.05, `recurrent std ${rs}`);
  // Swap noise keeps every output's inputs, so a convolution's fan-in holds under it.
  const g = { inChannels: 3, outChannels: 40, kernel: 5, height: 20, width: 20 };
  const s = conv2dShape(g);
  const swapped = new ArbLinear(gpu, {
    inFeatures: s.rows,
    outFeatures: s.cols,
    tableSize: s.tableSize,
    hash: hashes.swap({ base: hashes.conv2d(g), q: 1 }),
    seed: 4,
  });
  const ss = moments(await swapped.table.read()).std;
  assert.ok(Math.abs(ss / Math.sqrt(2 / 75) - 1) < 0.05, `swapped conv std ${ss}`);
});

gpuTest("a hash's fanIn outside (0, rows] is refused naming the family", (gpu) => {
  for (const bad of [0, -1, NaN, 1000]) {
    const h: Hash = { ...hashes.uniform(), family: "mine", fanIn: () => bad };
    assert.throws(
      () => new ArbLinear(gpu, { inFeatures: 10, outFeatures: 3, hash: h }),
      (e) => e instanceof ArbnetError && e.message.includes("mine hash's fanIn"),
    );
  }
});

/** Mean softmax cross-entropy of conv → channel bias → ReLU → linear, in float64. */
function cnnLoss(
  p: {
    w: Float64Array;
    cb: Float64Array;
    words: Uint32Array;
    table: Float64Array;
    b: Float64Array;
  },
  g: Geometry,
  x: Float32Array,
  y: Uint32Array,
): number {
  const rows = y.length;
  const h = convRef(x, p.w, p.cb, g, rows).map((v) => Math.max(v, 0));
  const hid = h.length / rows, classes = p.b.length;
  let loss = 0;
  for (let r = 0; r < rows; r++) {
    const z = Array.from(p.b);
    for (let i = 0; i < hid; i++) {
      for (let j = 0; j < classes; j++) {
        const word = p.words[i * classes + j];
        const slot = word & 0x7fffffff;
        const v = slot < p.table.length ? p.table[slot] : 0;
        z[j] += h[r * hid + i] * (word >>> 31 ? -v : v);
      }
    }
    const top = Math.max(...z);
    loss += Math.log(z.reduce((s, v) => s + Math.exp(v - top), 0)) + top - z[y[r]];
  }
  return loss / rows;
}

gpuTest("a small CNN's per-channel bias and kernel gradients match finite differences", async (
  gpu,
) => {
  const g: Geometry = {
    inChannels: 2,
    outChannels: 3,
    kernel: 3,
    stride: 2,
    padding: 1,
    height: 5,
    width: 6,
  };
  const rows = 4, classes = 3;
  const conv = conv2dLayer(gpu, { ...g, seed: 5 });
  const [linear, bias] = conv.layers as [ArbLinear, ChannelBias];
  bias.bias.write(randomF32(g.outChannels, 6, -0.3, 0.3));
  const head = new ArbLinear(gpu, {
    inFeatures: conv2dShape(g).cols,
    outFeatures: classes,
    hash: hashes.uniform(),
    tableFraction: 0.5,
    seed: 7,
  });
  head.bias!.write(randomF32(classes, 8, -0.3, 0.3));
  const net = new Sequential([conv, new ReLU(), head]);
  const x = randomF32(rows * conv2dShape(g).rows, 9, 0, 1);
  const y = Uint32Array.from({ length: rows }, (_, i) => i % classes);
  const input: Activation = {
    buffer: gpu.upload(x, "x"),
    grad: null,
    rows,
    features: x.length / rows,
  };
  const metrics = new MetricsBuffer(gpu);
  const out = await net.forward(input);
  (await softmaxCrossEntropy(gpu, out, gpu.upload(y, "y"), metrics)).record();
  net.backward();
  const gpuLoss = (await metrics.read()).loss;

  const spec = {
    rows: head.config.inFeatures,
    cols: classes,
    tableSize: head.config.tableSize,
    seed: head.config.seed,
  };
  const p = {
    w: Float64Array.from(await linear.table.read()),
    cb: Float64Array.from(await bias.bias.read()),
    words: packSlotWords(head.indices, hashes.uniform().signs(spec)),
    table: Float64Array.from(await head.table.read()),
    b: Float64Array.from(await head.bias!.read()),
  };
  const base = cnnLoss(p, g, x, y);
  assert.ok(Math.abs(base - gpuLoss) < 1e-4 * Math.max(1, base), `loss ${gpuLoss} vs ${base}`);
  const eps = 1e-5;
  for (
    const [name, values, grad] of [
      ["channel bias", p.cb, await bias.bias.readGrad()],
      ["kernel", p.w, await linear.table.readGrad()],
    ] as const
  ) {
    let nonzero = 0;
    for (let k = 0; k < values.length; k++) {
      const keep = values[k];
      values[k] = keep + eps;
      const up = cnnLoss(p, g, x, y);
      values[k] = keep - eps;
      const down = cnnLoss(p, g, x, y);
      values[k] = keep;
      const fd = (up - down) / (2 * eps);
      if (Math.abs(fd) > 1e-3) nonzero++;
      assert.ok(
        Math.abs(grad[k] - fd) <= 2e-4 + 2e-3 * Math.abs(fd),
        `${name}[${k}]: gpu ${grad[k]} vs finite difference ${fd}`,
      );
    }
    assert.ok(nonzero > values.length / 2, `${name}: most gradients must be non-zero`);
  }
});
