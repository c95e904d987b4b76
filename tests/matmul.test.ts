import { assertClose, gpuTest, randomF32, randomSlotWords } from "./_util.ts";
import assert from "node:assert/strict";
import {
  matmulLaunch,
  type MatmulShape,
  type MatmulVariant,
  type Tile,
  windowMisfit,
  windowRows,
  windowSlack,
} from "../shaders/matmul.ts";
import { matmulRef } from "../shaders/matmul_ref.ts";
import { Rng } from "../lib/util/random.ts";
import { tileCandidates } from "../shaders/matmul_tile_policy.ts";
import type { Gpu } from "../lib/gpu/device.ts";

// Awkward shapes: 1×1, primes, batch 1, nothing a multiple of any tile.
const SHAPES: MatmulShape[] = [
  { M: 1, N: 1, K: 1 },
  { M: 1, N: 113, K: 37 },
  { M: 37, N: 113, K: 29 },
  { M: 5, N: 3, K: 101 },
  { M: 50, N: 97, K: 64 },
];

const TILES: Tile[] = [
  { tm: 4, tn: 4, wgX: 16, wgY: 4 },
  { tm: 4, tn: 2, wgX: 8, wgY: 4, interleave: true },
  { tm: 1, tn: 1, wgX: 8, wgY: 8 },
  { tm: 2, tn: 2, wgX: 4, wgY: 4, shared: 4 }, // workgroup-memory template
  {
    tm: 2,
    tn: 8,
    wgX: 8,
    wgY: 2,
  },
];

/**
 * Runs one product on the GPU and on the CPU oracle. `padRows` rows of NaN
 * follow A's rows in its buffer (as activations are padded for window
 * tiles): any of them that reached C would show.
 */
async function runGpu(
  gpu: Gpu,
  v: MatmulVariant,
  s: MatmulShape,
  tableSize: number,
  seed: number,
  padRows = 0,
) {
  const aLen = s.M * s.K;
  const outLen = v.store === "scatter"
    ? tableSize + 1
    : v.store === "permuted"
    ? s.M * s.N + 1
    : s.M * s.N;
  const weights = v.store === "scatter"
    ? randomF32(s.K * s.N, seed + 2) // B is a dense upstream gradient
    : v.weights === "dense"
    ? randomF32(s.K * s.N, seed + 2)
    : randomF32(tableSize + 1, seed + 2).fill(0, tableSize);
  const slots = v.store === "permuted" ? randomRankWords(s.M * s.N, seed + 3) : randomSlotWords(
    s.K * s.N > 0 ? Math.max(s.M * s.N, s.K * s.N) : 1,
    tableSize,
    seed + 3,
  );
  const inputs = {
    a: randomF32(aLen, seed + 1),
    b: weights,
    slots,
    bias: randomF32(s.N, seed + 4),
    grad: new Float32Array(tableSize + 1),
  };
  const padded = new Float32Array((s.M + padRows) * s.K).fill(NaN);
  padded.set(inputs.a);
  const bufs = {
    a: gpu.upload(padded, "a"),
    b: gpu.upload(inputs.b, "b"),
    slots: gpu.upload(slots, "slots"),
    bias: gpu.upload(inputs.bias, "bias"),
    c: gpu.buffer(outLen * 4, "c"),
  };
  const launch = await matmulLaunch(gpu, v, { ...s, zeroSlot: tableSize }, bufs);
  gpu.clear(bufs.c);
  gpu.dispatch(launch);
  const got = await gpu.readF32(bufs.c, outLen);
  const want = matmulRef(v, { ...s, zeroSlot: tableSize }, inputs);
  for (const b of Object.values(bufs)) gpu.release(b);
  // The permuted store's sink entry (last) is written in no fixed order.
  if (v.store === "permuted") return { got: got.slice(0, -1), want: want.slice(0, -1) };
  return { got, want };
}

/**
 * Rank words for the permuted store: a random permutation of the n entries
 * with random signs, about a tenth of the positions sent to the sink (n).
 */
function randomRankWords(n: number, seed: number): Uint32Array {
  const rng = new Rng(seed);
  const order = Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    [order[i], order[j]] = [order[j], order[i]];
  }
  return Uint32Array.from(order, (e) => {
    const entry = rng.next() < 0.1 ? n : e;
    return (rng.next() < 0.5 ? entry | 0x80000000 : entry) >>> 0;
  });
}

const VARIANTS: MatmulVariant[] = [
  { a: "rows", weights: "dense", b: "rows", store: "plain" },
  { a: "rows", weights: "dense", b: "cols", store: "plain" },
  { a: "cols", weights: "dense", b: "rows", store: "plain" },
  { a: "rows", weights: "hashed", b: "rows", store: "bias" },
  { a: "rows", weights: "hashed", b: "rows", store: "bias_relu" },
  { a: "rows", weights: "hashed", b: "cols", store: "plain" },
  { a: "cols", weights: "dense", b: "rows", store: "scatter" },
  { a: "cols", weights: "dense", b: "rows", store: "permuted" },
];

for (const v of VARIANTS) {
  gpuTest(`matmul ${v.a}/${v.weights}/${v.b}/${v.store} matches the CPU reference`, async (gpu) => {
    let seed = 10;
    for (const s of SHAPES) {
      for (const tile of TILES) {
        for (const tableSize of [1, 7, 50]) {
          const { got, want } = await runGpu(gpu, { ...v, tile }, s, tableSize, seed++);
          assertClose(got, want, {
            rtol: 1e-4,
            atol: 1e-4 * Math.sqrt(s.K),
            what: `${JSON.stringify(s)} tile ${JSON.stringify(tile)} K=${tableSize}`,
          });
        }
      }
    }
  });
}

// Every tile the autotuner may pick, on a shape that fits none of them. The
// tile only changes the template's indexing, the same in every variant, so
// one gather variant and the two table-gradient stores suffice; the
// large tiles take lavapipe seconds each to compile.
gpuTest("matmul: every autotuner candidate tile matches the CPU reference", async (gpu) => {
  const s: MatmulShape = { M: 37, N: 113, K: 29 };
  const variants: MatmulVariant[] = [
    { a: "rows", weights: "hashed", b: "cols", store: "plain" },
    { a: "cols", weights: "dense", b: "rows", store: "scatter" },
    { a: "cols", weights: "dense", b: "rows", store: "permuted" },
  ];
  let seed = 500;
  for (const v of variants) {
    for (const tile of tileCandidates(v)) {
      const { got, want } = await runGpu(gpu, { ...v, tile }, s, 7, seed++);
      assertClose(got, want, {
        rtol: 1e-4,
        atol: 1e-4 * Math.sqrt(s.K),
        what: `${v.a}/${v.weights}/${v.b}/${v.store} tile ${JSON.stringify(tile)}`,
      });
    }
  }
});

// Window tiles (matmul_window.wgsl): windows of rows read as uniforms, the
// rows past the last window that A's (unpadded) buffer holds from storage.
// Shapes: one window of one tile; windows of two tiles and a rest (K = 1024:
// a tile of 8 rows is half a 64 KiB binding); a rest only (M < tm). K such
// that a tile's window aligns to 256 bytes.
gpuTest("matmul: window tiles match the CPU reference, with and without a rest", async (gpu) => {
  const tiles: Tile[] = [
    { tm: 8, tn: 8, wgX: 8, wgY: 1, window: true },
    { tm: 4, tn: 4, wgX: 4, wgY: 1, window: true },
  ];
  const shapes: MatmulShape[] = [
    { M: 16, N: 20, K: 64 },
    { M: 37, N: 116, K: 1024 },
    { M: 3, N: 8, K: 128 },
  ];
  let seed = 900;
  // Every shape with the ReLU epilogue; the other stores (only the epilogue
  // piece differs) on the shape with blocks and a rest. A window kernel
  // compiles per K, so the list stays short.
  for (const store of ["bias_relu", "plain", "bias", "permuted", "cols"] as const) {
    // "cols": the input gradient's product, B transposed, stored plain.
    const v: MatmulVariant = store === "cols"
      ? { a: "rows", weights: "dense", b: "cols", store: "plain" }
      : { a: "rows", weights: "dense", b: "rows", store };
    for (const tile of tiles) {
      for (const s of store === "bias_relu" ? shapes : [shapes[1]]) {
        const { got, want } = await runGpu(gpu, { ...v, tile }, s, 7, seed++);
        assertClose(got, want, {
          rtol: 1e-4,
          atol: 1e-4 * Math.sqrt(s.K),
          what: `${store} ${JSON.stringify(s)} tile ${JSON.stringify(tile)}`,
        });
      }
    }
  }
});

// With A's buffer padded (windowRows), the last window holds rows past M;
// the padding (NaN here) must never reach C. The first case has one window
// of three tiles (workgroup rows).
gpuTest(
  "matmul: a window tile reads a padded last block and stores only real rows",
  async (gpu) => {
    const v: MatmulVariant = { a: "rows", weights: "dense", b: "rows", store: "bias_relu" };
    const cases: [Tile, MatmulShape][] = [
      [{ tm: 16, tn: 12, wgX: 2, wgY: 1, window: true }, { M: 37, N: 36, K: 64 }],
      [{ tm: 8, tn: 4, wgX: 4, wgY: 1, window: true }, { M: 3, N: 20, K: 96 }],
    ];
    let seed = 950;
    for (const [tile, s] of cases) {
      const padRows = windowRows(s.M) - s.M;
      const { got, want } = await runGpu(gpu, { ...v, tile }, s, 7, seed++, padRows);
      assertClose(got, want, {
        rtol: 1e-4,
        atol: 1e-4 * Math.sqrt(s.K),
        what: `${JSON.stringify(s)} padded by ${padRows} rows, tile ${JSON.stringify(tile)}`,
      });
    }
  },
);

// Tiles whose rows do not span a multiple of the 256-byte offset alignment
// (10 rows of K = 1000 or 998): each window is bound from the aligned offset
// below its first row and shifted, so every window but the first starts
// mid-binding. Padded A (every window bound, the last one's slack in the
// NaN padding) and unpadded (the last window from storage); K = 998 takes
// the scalar loads of A.
gpuTest(
  "matmul: window tiles bound off the offset alignment match the CPU reference",
  async (gpu) => {
    const tile: Tile = { tm: 10, tn: 4, wgX: 4, wgY: 1, window: true };
    const rows = (store: "bias_relu" | "plain" | "permuted"): MatmulVariant => ({
      a: "rows",
      weights: "dense",
      b: "rows",
      store,
    });
    const cases: [MatmulVariant, MatmulShape, boolean][] = [
      [rows("bias_relu"), { M: 50, N: 36, K: 1000 }, true],
      [rows("bias_relu"), { M: 47, N: 36, K: 1000 }, false],
      [{ a: "rows", weights: "dense", b: "cols", store: "plain" }, { M: 50, N: 36, K: 1000 }, true],
      [rows("permuted"), { M: 50, N: 36, K: 1000 }, true],
      [rows("plain"), { M: 23, N: 20, K: 998 }, true],
    ];
    let seed = 970;
    for (const [v, s, padded] of cases) {
      assert.notEqual(windowSlack(tile, s, gpu.limits), 0);
      const padRows = padded ? windowRows(s.M) - s.M : 0;
      const { got, want } = await runGpu(gpu, { ...v, tile }, s, 7, seed++, padRows);
      assertClose(got, want, {
        rtol: 1e-4,
        atol: 1e-4 * Math.sqrt(s.K),
        what: `${v.b} ${v.store} ${JSON.stringify(s)} padded by ${padRows} rows`,
      });
    }
  },
);

gpuTest("matmul: a window tile refuses what it cannot run, saying why", async (gpu) => {
  const tile: Tile = { tm: 8, tn: 8, wgX: 8, wgY: 1, window: true };
  const dense: MatmulVariant = { a: "rows", weights: "dense", b: "rows", store: "plain" };
  const cases: [MatmulVariant, MatmulShape, RegExp][] = [
    [{ ...dense, weights: "hashed" }, { M: 8, N: 8, K: 64 }, /dense products/],
    [{ ...dense, a: "cols" }, { M: 8, N: 8, K: 64 }, /A row-major/],
    [{ ...dense, store: "scatter" }, { M: 8, N: 8, K: 64 }, /do not scatter/],
    [{ ...dense, b: "cols" }, { M: 8, N: 8, K: 66 }, /K = 66 is not a multiple of 4/],
    [dense, { M: 8, N: 10, K: 64 }, /N = 10 is not a multiple of 4/],
    [dense, { M: 8, N: 8, K: 4096 }, /over the uniform binding limit/],
  ];
  for (const [v, s, message] of cases) {
    assert.equal(typeof windowMisfit(v, s, tile, gpu.limits), "string");
    await assert.rejects(runGpu(gpu, { ...v, tile }, s, 7, 1), message);
  }
  assert.equal(windowMisfit(dense, { M: 50, N: 1000, K: 784 }, tile, gpu.limits), null);
});
