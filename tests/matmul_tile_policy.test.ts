// The tile policy of each adapter class (shaders/matmul_tile_policy.ts),
// tested without a device: the candidates the tuner times and the default
// tiles, against the tuner's choices measured on lavapipe.
import assert from "node:assert/strict";
import {
  CPU_TILE_CANDIDATES,
  CPU_TILE_POLICY,
  GPU_TILE_CANDIDATES,
  GPU_TILE_POLICY,
  SMALL_PRODUCT_FLOPS,
  SMALL_TILE_OUTPUTS,
  TILE_CANDIDATES,
  tileCandidates,
  tilePolicyFor,
} from "../shaders/matmul_tile_policy.ts";
import {
  DEFAULT_TILE,
  matmulFlops,
  type MatmulShape,
  type MatmulVariant,
  type Tile,
  windowMisfit,
} from "../shaders/matmul.ts";
import { Rng } from "../lib/util/random.ts";

const TILES: Record<string, Tile> = {
  ONE_COLUMN: { tm: 4, tn: 16, wgX: 1, wgY: 16, interleave: true },
  SQUARE_8: { tm: 8, tn: 8, wgX: 8, wgY: 2 },
  TALL_16x8: { tm: 16, tn: 8, wgX: 8, wgY: 1, interleave: true },
  TALL_13x12: { tm: 13, tn: 12, wgX: 8, wgY: 1, interleave: true },
  WINDOW_16: { tm: 16, tn: 16, wgX: 8, wgY: 1, window: true },
  WINDOW_10: { tm: 10, tn: 16, wgX: 8, wgY: 1, window: true },
};

/** Lavapipe's window limits (64 KiB uniform bindings, 32-byte offsets). */
const LAVAPIPE = { maxUniformBufferBindingSize: 65536, minUniformBufferOffsetAlignment: 32 };

/**
 * The tuner's choices on Mesa 25.0 lavapipe ("llvmpipe (LLVM 15.0.6, 256
 * bits)", candidate list 14), for the default run's and the benchmarks'
 * products: what the library shipped as data until the CPU policy's rules
 * replaced it. [a, weights, b, store, [M, N, K], tile]
 */
const TUNED_ON_LAVAPIPE: [string, string, string, string, [number, number, number], string][] = [
  ["cols", "dense", "rows", "scatter", [784, 1000, 128], "TALL_16x8"],
  ["cols", "dense", "rows", "scatter", [784, 1000, 50], "TALL_16x8"],
  ["rows", "dense", "cols", "plain", [128, 1000, 10], "SQUARE_8"],
  ["rows", "dense", "cols", "plain", [128, 784, 1000], "TALL_13x12"],
  ["rows", "dense", "cols", "plain", [50, 1000, 10], "SQUARE_8"],
  ["rows", "dense", "cols", "plain", [50, 784, 1000], "TALL_13x12"],
  ["rows", "dense", "rows", "bias", [128, 10, 1000], "ONE_COLUMN"],
  ["rows", "dense", "rows", "bias", [128, 1000, 784], "WINDOW_16"],
  ["rows", "dense", "rows", "bias", [50, 10, 1000], "SQUARE_8"],
  ["rows", "dense", "rows", "bias", [50, 1000, 784], "WINDOW_10"],
  ["rows", "dense", "rows", "bias", [500, 10, 1000], "ONE_COLUMN"],
  ["rows", "dense", "rows", "bias_relu", [128, 1000, 1000], "WINDOW_16"],
  ["rows", "dense", "rows", "bias_relu", [128, 1000, 784], "WINDOW_16"],
  ["rows", "dense", "rows", "bias_relu", [50, 1000, 1000], "WINDOW_10"],
  ["rows", "dense", "rows", "bias_relu", [50, 1000, 784], "WINDOW_10"],
  ["rows", "dense", "rows", "bias_relu", [500, 1000, 784], "WINDOW_16"],
  ["rows", "dense", "rows", "permuted", [1000, 10, 128], "ONE_COLUMN"],
  ["rows", "dense", "rows", "permuted", [1000, 10, 52], "ONE_COLUMN"],
  ["rows", "dense", "rows", "permuted", [1000, 1000, 128], "WINDOW_16"],
  ["rows", "dense", "rows", "permuted", [1000, 1000, 52], "WINDOW_16"],
  ["rows", "dense", "rows", "permuted", [784, 1000, 128], "WINDOW_16"],
  ["rows", "dense", "rows", "permuted", [784, 1000, 52], "WINDOW_16"],
  ["rows", "dense", "rows", "plain", [1000, 10, 128], "ONE_COLUMN"],
  ["rows", "dense", "rows", "plain", [1000, 10, 52], "ONE_COLUMN"],
  ["rows", "dense", "rows", "plain", [1000, 1000, 128], "WINDOW_16"],
  ["rows", "dense", "rows", "plain", [1000, 1000, 52], "WINDOW_16"],
  ["rows", "dense", "rows", "plain", [128, 1000, 1000], "WINDOW_16"],
  ["rows", "dense", "rows", "plain", [128, 784, 1000], "WINDOW_16"],
  ["rows", "dense", "rows", "plain", [50, 1000, 1000], "WINDOW_10"],
  ["rows", "dense", "rows", "plain", [50, 784, 1000], "WINDOW_10"],
  ["rows", "dense", "rows", "plain", [784, 1000, 128], "WINDOW_16"],
  ["rows", "dense", "rows", "plain", [784, 1000, 52], "WINDOW_16"],
  ["rows", "hashed", "cols", "plain", [128, 784, 1000], "TALL_16x8"],
  ["rows", "hashed", "cols", "plain", [50, 784, 1000], "TALL_16x8"],
  ["rows", "hashed", "rows", "bias", [128, 1000, 784], "TALL_16x8"],
  ["rows", "hashed", "rows", "bias", [50, 1000, 784], "TALL_13x12"],
];

Deno.test("CPU tile policy: its default tiles are the tuner's choices on lavapipe but one small product's", () => {
  const differ: string[] = [];
  for (const [a, weights, b, store, [M, N, K], name] of TUNED_ON_LAVAPIPE) {
    const v = { a, weights, b, store } as MatmulVariant;
    const tile = CPU_TILE_POLICY.defaultTile(v, { M, N, K }, LAVAPIPE);
    if (JSON.stringify(tile) !== JSON.stringify(TILES[name])) {
      differ.push(`${store} ${M}x${N}x${K}`);
    }
  }
  // A 1-MFLOP output layer at batch 50, where the tuner took the 8x8 tile
  // over the one-column tile it chose at batches 128 and 500.
  assert.deepEqual(differ, ["bias 50x10x1000"]);
});

Deno.test("tile policies: the default is a candidate for its product, and a window tile only where it fits", () => {
  const rng = new Rng(7);
  const pick = <T>(xs: readonly T[]) => xs[rng.int(xs.length)];
  const dims = [1, 3, 10, 16, 50, 64, 100, 128, 500, 784, 1000, 1024, 2000, 4096];
  for (let i = 0; i < 2000; i++) {
    const v = {
      a: pick(["rows", "cols"]),
      weights: pick(["dense", "hashed"]),
      b: pick(["rows", "cols"]),
      store: pick(["plain", "bias", "bias_relu", "scatter", "permuted"]),
      ...(rng.next() < 0.2 ? { slots: pick(["uniform", "dirichlet"]) } : {}),
    } as MatmulVariant;
    const s: MatmulShape = { M: pick(dims), N: pick(dims), K: pick(dims) };
    for (const adapter of [{ isFallbackAdapter: true }, { isFallbackAdapter: false }]) {
      const tile = tilePolicyFor(adapter).defaultTile(v, s, LAVAPIPE);
      const what = `${JSON.stringify(v)} ${JSON.stringify(s)} ${JSON.stringify(tile)}`;
      const candidates = tileCandidates(v, adapter, s);
      assert.ok(candidates.some((t) => JSON.stringify(t) === JSON.stringify(tile)), what);
      if (tile.window) assert.equal(windowMisfit(v, s, tile, LAVAPIPE), null, what);
    }
  }
});

Deno.test("tile policies: CPU adapters take rules without tuning, GPUs tune from the portable default", () => {
  assert.equal(tilePolicyFor({ isFallbackAdapter: true }), CPU_TILE_POLICY);
  assert.equal(tilePolicyFor({ isFallbackAdapter: false }), GPU_TILE_POLICY);
  assert.equal(CPU_TILE_POLICY.tunesUnseen, false);
  assert.equal(GPU_TILE_POLICY.tunesUnseen, true);
  const forward: MatmulVariant = { a: "rows", weights: "dense", b: "rows", store: "bias" };
  assert.deepEqual(
    GPU_TILE_POLICY.defaultTile(forward, { M: 50, N: 1000, K: 784 }, LAVAPIPE),
    DEFAULT_TILE,
  );
  // K = 1500: 16 rows of A exceed a 64 KiB window and 10 rows fit; K = 5000: neither.
  assert.deepEqual(
    CPU_TILE_POLICY.defaultTile(forward, { M: 128, N: 1000, K: 1500 }, LAVAPIPE),
    TILES.WINDOW_10,
  );
  assert.ok(!CPU_TILE_POLICY.defaultTile(forward, { M: 128, N: 1000, K: 5000 }, LAVAPIPE).window);
});

Deno.test("tileCandidates: the list of the adapter's kind, large tiles dropped where they compile slowly", () => {
  const gather = { a: "rows", weights: "hashed", b: "rows", store: "bias" } as const;
  const scatter = { a: "cols", weights: "dense", b: "rows", store: "scatter" } as const;
  const forward = { a: "rows", weights: "dense", b: "rows", store: "bias" } as const;
  assert.deepEqual(tileCandidates(forward, { isFallbackAdapter: true }), CPU_TILE_CANDIDATES);
  // Window tiles read dense row-major weights only.
  assert.ok(CPU_TILE_CANDIDATES.some((t) => t.window));
  assert.deepEqual(
    tileCandidates(gather, { isFallbackAdapter: true }),
    CPU_TILE_CANDIDATES.filter((t) => !t.window),
  );
  assert.deepEqual(tileCandidates(gather, { isFallbackAdapter: false }), GPU_TILE_CANDIDATES);
  assert.ok(
    GPU_TILE_CANDIDATES.some((t) => t.shared) && !CPU_TILE_CANDIDATES.some((t) => t.shared),
  );
  const all = new Set(TILE_CANDIDATES.map((t) => JSON.stringify(t)));
  for (const t of [...CPU_TILE_CANDIDATES, ...GPU_TILE_CANDIDATES]) {
    assert.ok(all.has(JSON.stringify(t)), JSON.stringify(t));
  }
  assert.ok(tileCandidates(scatter, { isFallbackAdapter: true }).every((t) => t.tm * t.tn <= 128));
  const procedural = { ...gather, slots: "uniform" } as const;
  for (const isFallbackAdapter of [false, true]) {
    const tiles = tileCandidates(procedural, { isFallbackAdapter });
    assert.ok(tiles.length > 0 && tiles.every((t) => t.tm * t.tn <= 32), `${isFallbackAdapter}`);
  }
});

Deno.test("tileCandidates: products under SMALL_PRODUCT_FLOPS try small tiles only", () => {
  const forward = { a: "rows", weights: "dense", b: "rows", store: "bias" } as const;
  const output = { M: 50, N: 10, K: 1000 }; // 1 MFLOP: a 10-class output layer
  const hidden = { M: 50, N: 1000, K: 784 }; // 78 MFLOP
  assert.ok(matmulFlops(output) < SMALL_PRODUCT_FLOPS && matmulFlops(hidden) > SMALL_PRODUCT_FLOPS);
  for (const isFallbackAdapter of [false, true]) {
    const list = tileCandidates(forward, { isFallbackAdapter });
    const small = tileCandidates(forward, { isFallbackAdapter }, output);
    assert.deepEqual(small, list.filter((t) => t.tm * t.tn <= SMALL_TILE_OUTPUTS));
    assert.ok(small.length >= 2 && small.length < list.length, `${isFallbackAdapter}`);
    assert.deepEqual(tileCandidates(forward, { isFallbackAdapter }, hidden), list);
  }
});
