import { assertClose, gpuTest, randomF32, randomSlotWords } from "./_util.ts";
import {
  elementwiseGrid,
  elementwiseLaunch,
  type ElementwiseName,
  elementwiseWidth,
  rnnStepLaunch,
  segmentSumLaunch,
  transposeLaunch,
} from "../shaders/elementwise.ts";
import {
  accumulateRef,
  adamRef,
  gatherWeightsRef,
  permuteRef,
  reluBackwardRef,
  reluForwardRef,
  rnnStepForwardRef,
  segmentSumRef,
  sgdRef,
  tanhBackwardRef,
  tanhForwardRef,
  timeMajorRef,
  transposeRef,
} from "../shaders/elementwise_ref.ts";
import { inverseIndex } from "../lib/nn/inverse_index.ts";
import { Rng } from "../lib/util/random.ts";
import assert from "node:assert/strict";
import type { Gpu } from "../lib/gpu/device.ts";
import { NEVER, nonFiniteRef } from "../shaders/nonfinite.ts";

// Multiples of 4 (4, 256, 1028) run the vectorizable ops on vec4s, the others on scalars.
// Past 256·ELEMENTWISE_PASSES (one workgroup) in scalars and in vec4s, ending mid-pass.
const SIZES = [1, 4, 37, 256, 257, 1001, 1028, 3075, 8204];

async function run(
  gpu: Gpu,
  name: ElementwiseName,
  inputs: Record<string, Float32Array>,
  values: Record<string, number> = {},
  watch?: { flags: GPUBuffer; slot: number },
): Promise<Record<string, Float32Array>> {
  const n = Object.values(inputs)[0].length;
  const bufs: Record<string, GPUBuffer> = {};
  for (const [k, v] of Object.entries(inputs)) bufs[k] = gpu.upload(v, k);
  const { launch } = await elementwiseLaunch(gpu, name, n, bufs, values, watch);
  gpu.dispatch(launch);
  const out: Record<string, Float32Array> = {};
  for (const [k, b] of Object.entries(bufs)) {
    out[k] = await gpu.readF32(b, n);
    gpu.release(b);
  }
  return out;
}

gpuTest("relu forward and backward match the CPU reference", async (gpu) => {
  for (const n of SIZES) {
    const x = randomF32(n, n);
    const y = (await run(gpu, "relu_forward", { x, y: new Float32Array(n) })).y;
    assert.deepEqual(y, reluForwardRef(x));
    const dy = randomF32(n, n + 1);
    const dx = (await run(gpu, "relu_backward", { y, dy, dx: new Float32Array(n) })).dx;
    assert.deepEqual(dx, reluBackwardRef(y, dy));
  }
});

gpuTest(
  "tanh forward and backward match the CPU reference, and the gradient finite differences",
  async (gpu) => {
    for (const n of SIZES) {
      // Past the ±15 clamp and far past where exp(2x) overflows float32.
      const x = randomF32(n, n, -4, 4);
      if (n > 3) x.set([0, 20, -100, 1e30]);
      const y = (await run(gpu, "tanh_forward", { x, y: new Float32Array(n) })).y;
      assertClose(y, tanhForwardRef(x), { rtol: 0, atol: 2e-6, what: "tanh" });
      const dy = randomF32(n, n + 1);
      const dx = (await run(gpu, "tanh_backward", { y, dy, dx: new Float32Array(n) })).dx;
      assertClose(dx, tanhBackwardRef(y, dy), { rtol: 1e-6, atol: 1e-7, what: "tanh backward" });
      // d tanh/dx from the forward output against a central difference of tanh.
      for (let i = 0; i < Math.min(n, 50); i++) {
        const fd = (Math.tanh(x[i] + 1e-4) - Math.tanh(x[i] - 1e-4)) / 2e-4;
        assert.ok(Math.abs(dx[i] - dy[i] * fd) < 1e-4, `tanh'(${x[i]}): ${dx[i] / dy[i]} vs ${fd}`);
      }
    }
  },
);

gpuTest("accumulate adds in place", async (gpu) => {
  for (const n of SIZES) {
    const x = randomF32(n, n), y = randomF32(n, n + 2);
    const got = (await run(gpu, "accumulate", { x, y })).y;
    assert.deepEqual(got, accumulateRef(x, y));
  }
});

gpuTest("rnn steps and time_major match the CPU reference", async (gpu) => {
  // (batch, steps, features): odd sizes run on scalars, even ones on vec4s.
  for (const [batch, steps, features] of [[3, 5, 3], [4, 3, 8], [1, 1, 1]]) {
    const n = batch * steps * features;
    const x = randomF32(n, n);
    const order = { batch, steps, features };
    const y = new Float32Array(n);
    const tm = (await run(gpu, "time_major", { x, y }, order)).y;
    assert.deepEqual(tm, timeMajorRef(x, batch, steps, features));
    const back = await run(gpu, "time_major", { x: tm, y: new Float32Array(n) }, {
      batch: steps,
      steps: batch,
      features,
    });
    assert.deepEqual(back.y, x, "time_major with batch and steps swapped inverts it");

    // One step's block of `batch·features` values at step `steps − 1` of u.
    const block = batch * features, offset = (steps - 1) * block;
    const [a, u] = [randomF32(block, n + 1, -3, 3), randomF32(n, n + 2, -3, 3)];
    const ab = gpu.upload(a, "a"),
      ub = gpu.upload(u, "u"),
      hb = gpu.upload(new Float32Array(block), "h");
    gpu.dispatch(
      await rnnStepLaunch(gpu, "rnn_step_forward", block, offset, { a: ab, u: ub, h: hb }),
    );
    const h = await gpu.readF32(hb, block);
    assertClose(h, rnnStepForwardRef(a, u, offset), { rtol: 0, atol: 2e-6, what: "rnn step" });
    const dh = randomF32(block, n + 3);
    const dhb = gpu.upload(dh, "dh"), dab = gpu.upload(new Float32Array(block), "da");
    const dub = gpu.upload(new Float32Array(n), "du");
    gpu.dispatch(
      await rnnStepLaunch(gpu, "rnn_step_backward", block, offset, {
        h: hb,
        dh: dhb,
        da: dab,
        du: dub,
      }),
    );
    const dz = tanhBackwardRef(h, dh);
    assert.deepEqual(await gpu.readF32(dab, block), dz);
    const du = await gpu.readF32(dub, n);
    assert.deepEqual(du.subarray(offset), dz);
    assert.ok(du.subarray(0, offset).every((v) => v === 0), "other steps' blocks untouched");
    for (const b of [ab, ub, hb, dhb, dab, dub]) gpu.release(b);
  }
});

gpuTest("sgd (plain, momentum, nesterov, weight decay) matches the CPU reference", async (gpu) => {
  for (const n of SIZES) {
    for (
      const p of [
        { lr: 0.1, momentum: 0, weight_decay: 0, nesterov: 0 },
        { lr: 0.01, momentum: 0.9, weight_decay: 0, nesterov: 0 },
        { lr: 0.01, momentum: 0.9, weight_decay: 1e-3, nesterov: 1 },
      ]
    ) {
      const grad = randomF32(n, 1), weight = randomF32(n, 2), velocity = randomF32(n, 3);
      const got = await run(gpu, "sgd", { grad, weight, velocity }, p);
      sgdRef(grad, weight, velocity, p);
      assertClose(got.weight, weight, { rtol: 1e-6, atol: 1e-7, what: "weight" });
      assertClose(got.velocity, velocity, { rtol: 1e-6, atol: 1e-7, what: "velocity" });
    }
  }
});

gpuTest("adam matches the CPU reference", async (gpu) => {
  for (const n of SIZES) {
    const t = 3;
    const p = {
      lr: 1e-3,
      beta1: 0.9,
      beta2: 0.999,
      eps: 1e-8,
      weight_decay: 1e-4,
      correction1: 1 - 0.9 ** t,
      correction2: 1 - 0.999 ** t,
    };
    const grad = randomF32(n, 4), weight = randomF32(n, 5);
    const m1 = randomF32(n, 6, -0.1, 0.1), m2 = randomF32(n, 7, 0, 0.01);
    const got = await run(gpu, "adam", { grad, weight, m1, m2 }, p);
    adamRef(grad, weight, m1, m2, p);
    assertClose(got.weight, weight, { rtol: 1e-5, atol: 1e-6, what: "weight" });
    assertClose(got.m1, m1, { rtol: 1e-5, atol: 1e-7, what: "m1" });
    assertClose(got.m2, m2, { rtol: 1e-5, atol: 1e-9, what: "m2" });
  }
});

gpuTest(
  "sgd and adam with the watch fused: the same bits, and the flag lowered to the step exactly when a written value is NaN or ±Inf",
  async (gpu) => {
    const sgd = { lr: 0.01, momentum: 0.9, weight_decay: 1e-3, nesterov: 0 };
    const adam = {
      lr: 1e-3,
      beta1: 0.9,
      beta2: 0.999,
      eps: 1e-8,
      weight_decay: 0,
      correction1: 0.1,
      correction2: 0.001,
    };
    for (const n of SIZES) {
      // Finite, a NaN gradient at the end, an infinite weight in the middle.
      const cases = [0, 1, 2].map((c) => {
        const grad = randomF32(n, 10 + c), weight = randomF32(n, 20 + c);
        if (c === 1) grad[n - 1] = NaN;
        if (c === 2) weight[n >> 1] = -Infinity;
        return { grad, weight };
      });
      for (const [c, { grad, weight }] of cases.entries()) {
        for (const name of ["sgd", "adam"] as const) {
          const inputs = (): Record<string, Float32Array> =>
            name === "sgd"
              ? { grad, weight, velocity: randomF32(n, 3) }
              : { grad, weight, m1: randomF32(n, 6, -0.1, 0.1), m2: randomF32(n, 7, 0, 0.01) };
          const values = name === "sgd" ? sgd : adam;
          const plain = await run(gpu, name, inputs(), values);
          // Slot 1 of three flags: a wrong slot or a missed value fails.
          const flags = gpu.upload(Uint32Array.of(5, NEVER, NEVER, NEVER), "flags");
          const watched = await run(gpu, name, inputs(), values, { flags, slot: 1 });
          assert.deepEqual(watched, plain, `${name}, n = ${n}, case ${c}`);
          const expected = [5, NEVER, nonFiniteRef(plain.weight, 5), NEVER];
          assert.deepEqual([...await gpu.readU32(flags, 4)], expected, `${name} flags, n = ${n}`);
          assert.equal(expected[2] === 5, c > 0);
          gpu.release(flags);
        }
      }
    }
  },
);

Deno.test("vectorizable ops run on vec4s exactly when the count is a multiple of 4", () => {
  assert.equal(elementwiseWidth("sgd", 256), 4);
  assert.equal(elementwiseWidth("relu_backward", 1028), 4);
  assert.equal(elementwiseWidth("adam", 257), 1);
  assert.equal(elementwiseWidth("segment_sum", 256), 1); // a per-slot loop, not element-wise
  assert.equal(elementwiseWidth("gather_weights", 1028), 4);
});

Deno.test("elementwise grid spills into y beyond the per-dimension limit", () => {
  assert.deepEqual(elementwiseGrid(256 * 10), [10, 1, 1]);
  assert.deepEqual(elementwiseGrid(256 * 70000 + 1, 65535), [65535, 2, 1]);
  assert.deepEqual(elementwiseGrid(1024 * 10, 65535, 4), [10, 1, 1]);
  assert.deepEqual(elementwiseGrid(1024 * 10 + 1, 65535, 4), [11, 1, 1]);
});

gpuTest("segment_sum (deterministic table gradient) matches the CPU reference", async (gpu) => {
  // Slots of 0 to ~30 entries, ranges starting and ending at every offset mod 4;
  // slot counts of every residue mod 4 (an invocation sums four slots); and
  // a skewed hash (u⁴: a few slots hold most entries, runs of empty ones).
  const cases = [[1, 1], [37 * 113, 50], [1000, 7], [5000, 4999], [301, 97], [3001, 204, 4]];
  for (const [positions, slots, skew = 1] of cases) {
    const rng = new Rng(positions);
    const indices = Uint32Array.from(
      { length: positions },
      () => Math.min(slots, Math.floor(rng.next() ** skew * (slots + 1))),
    );
    const signs = Int8Array.from({ length: positions }, () => (rng.next() < 0.5 ? -1 : 1));
    const inv = inverseIndex(indices, signs, slots);
    const g = randomF32(positions, slots);
    // What matmul's permuted store leaves (tests/matmul.test.ts checks that half).
    const entries = permuteRef(g, inv.positions);
    const bufs = {
      // Whole vec4s, as ArbLinear allocates them.
      entries: gpu.upload(padToVec4(entries), "entries"),
      offsets: gpu.upload(inv.offsets, "offsets"),
      grad: gpu.buffer(slots * 4, "grad"),
    };
    gpu.dispatch(await segmentSumLaunch(gpu, bufs, slots));
    const got = await gpu.readF32(bufs.grad, slots);
    assert.deepEqual(got, segmentSumRef(entries, inv.offsets));
    // and it is the table gradient: Σ over positions of the slot, signed
    const want = new Float64Array(slots);
    for (let p = 0; p < positions; p++) {
      if (indices[p] < slots) want[indices[p]] += signs[p] * g[p];
    }
    assertClose(got, want, { rtol: 1e-5, atol: 1e-5 });
    for (const b of Object.values(bufs)) gpu.release(b);
  }
});

function padToVec4(v: Float32Array): Float32Array {
  const out = new Float32Array(Math.max(4, Math.ceil(v.length / 4) * 4));
  out.set(v);
  return out;
}

Deno.test("inverse index: ranks name each position's entry, zero-slot positions the sink", () => {
  const indices = Uint32Array.from([2, 0, 3, 2, 0, 1]); // table of 3: slot 3 is the zero slot
  const signs = Int8Array.from([1, -1, 1, -1, 1, 1]);
  const inv = inverseIndex(indices, signs, 3);
  assert.deepEqual([...inv.offsets], [0, 2, 3, 5]);
  assert.deepEqual(
    [...inv.positions],
    [1 | 0x80000000, 4, 5, 0, 3 | 0x80000000].map((w) => w >>> 0),
  );
  assert.deepEqual(
    [...inv.ranks],
    [3, 0 | 0x80000000, 5, 4 | 0x80000000, 1, 2].map((w) => w >>> 0),
  );
});

gpuTest(
  "gather_weights writes ξ(p)·table[h(p)] for every position, zero slot included",
  async (gpu) => {
    // 4 and 1028 positions run on vec4s (four lanes per invocation).
    for (const [positions, slots] of [[1, 1], [37 * 113, 50], [1001, 7], [4, 3], [1028, 9]]) {
      const words = randomSlotWords(positions, slots, positions);
      const table = randomF32(slots + 1, slots).fill(0, slots);
      const bufs = {
        slots: gpu.upload(words, "slots"),
        table: gpu.upload(table, "table"),
        weights: gpu.buffer(positions * 4, "weights"),
      };
      const { launch } = await elementwiseLaunch(gpu, "gather_weights", positions, bufs);
      gpu.dispatch(launch);
      assert.deepEqual(await gpu.readF32(bufs.weights, positions), gatherWeightsRef(words, table));
      for (const b of Object.values(bufs)) gpu.release(b);
    }
  },
);

gpuTest("transpose writes Xᵀ with padded rows, the padding left zero", async (gpu) => {
  // The 4×4-block form where features and stride are multiples of 4, else
  // one element per invocation.
  const shapes = [
    [1, 1, 1],
    [50, 37, 52],
    [7, 113, 7],
    [3, 5, 8],
    [50, 36, 52],
    [3, 8, 4],
    [5, 4, 16],
    [13, 1000, 16],
  ];
  for (const [rows, features, stride] of shapes) {
    const x = randomF32(rows * features, rows + features);
    const blocks = features % 4 === 0 && stride % 4 === 0;
    // The block form writes the gap past `rows` itself: start it from NaN.
    const xt = new Float32Array(features * stride).fill(blocks ? NaN : 0);
    const bufs = { x: gpu.upload(x, "x"), xt: gpu.upload(xt, "xt") };
    gpu.dispatch(await transposeLaunch(gpu, bufs.x, bufs.xt, rows, features, stride));
    const got = await gpu.readF32(bufs.xt, features * stride);
    assert.deepEqual(got, transposeRef(x, rows, features, stride), `${rows}×${features}`);
    for (const b of Object.values(bufs)) gpu.release(b);
  }
});
