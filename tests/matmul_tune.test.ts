import assert from "node:assert/strict";
import { gpuTest } from "./_util.ts";
import {
  CANDIDATES_VERSION,
  chooseTile,
  CPU_TILE_CANDIDATES,
  GPU_TILE_CANDIDATES,
  knownTile,
  knownTileKey,
  parseTuneKey,
  SMALL_PRODUCT_FLOPS,
  SMALL_TILE_OUTPUTS,
  TILE_CANDIDATES,
  tileCandidates,
  tuneKey,
  tuneMatmul,
} from "../shaders/matmul_tune.ts";
import {
  DEFAULT_TILE,
  matmulFlops,
  type MatmulShape,
  type MatmulVariant,
  windowMisfit,
} from "../shaders/matmul.ts";
import { KNOWN_TILES, KNOWN_TILES_VERSION } from "../shaders/matmul_known_tiles.ts";

const V: MatmulVariant = { a: "rows", weights: "hashed", b: "rows", store: "bias" };
const S = { M: 5, N: 37, K: 11, zeroSlot: 9 };

gpuTest("the tuner times every candidate and returns them fastest first", async (gpu) => {
  const results = await tuneMatmul(gpu, V, S, TILE_CANDIDATES.slice(0, 3), 1);
  assert.equal(results.length, 3);
  for (let i = 1; i < results.length; i++) assert.ok(results[i - 1].ms <= results[i].ms);
  assert.ok(results.every((r) => r.ms > 0 && Number.isFinite(r.ms)));
});

gpuTest("parseTuneKey reads back what tuneKey wrote", (gpu) => {
  const v: MatmulVariant = { ...V, tile: DEFAULT_TILE };
  assert.deepEqual(parseTuneKey(tuneKey(gpu, v, { M: 7, N: 12, K: 5 })), {
    adapter: gpu.adapter.description,
    variant: V,
    shape: [7, 12, 5],
    version: CANDIDATES_VERSION,
  });
});

gpuTest("chooseTile caches its choice per adapter, variant and shape in a file", async (gpu) => {
  const dir = await Deno.makeTempDir();
  const file = `${dir}/tiles.json`;
  Deno.env.set("ARBNET_TUNE_CACHE", file);
  try {
    const tile = await chooseTile(gpu, V, S);
    assert.ok(TILE_CANDIDATES.some((t) => JSON.stringify(t) === JSON.stringify(tile)));
    const saved = JSON.parse(await Deno.readTextFile(file));
    assert.deepEqual(saved[tuneKey(gpu, V, S)], tile);
    // A cached choice is returned without timing anything again.
    const before = gpu.stats.pipelinesCompiled;
    assert.deepEqual(await chooseTile(gpu, V, S), tile);
    assert.equal(gpu.stats.pipelinesCompiled, before);
  } finally {
    Deno.env.delete("ARBNET_TUNE_CACHE");
  }
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

gpuTest("chooseTile tunes procedural-slot variants too (small tiles only)", async (gpu) => {
  const dir = await Deno.makeTempDir();
  Deno.env.set("ARBNET_TUNE_CACHE", `${dir}/tiles.json`);
  try {
    // dirichlet binds its alias table too.
    for (const slots of ["uniform", "dirichlet"] as const) {
      const v: MatmulVariant = { ...V, slots };
      const tile = await chooseTile(gpu, v, S);
      const candidates = tileCandidates(v, gpu.adapter);
      assert.ok(candidates.some((t) => JSON.stringify(t) === JSON.stringify(tile)), slots);
    }
  } finally {
    Deno.env.delete("ARBNET_TUNE_CACHE");
    await Deno.remove(dir, { recursive: true });
  }
});

gpuTest(
  "the tuner times window tiles where the shape admits them and skips them elsewhere",
  async (gpu) => {
    const forward: MatmulVariant = { a: "rows", weights: "dense", b: "rows", store: "bias_relu" };
    const windows = CPU_TILE_CANDIDATES.filter((t) => t.window);
    const candidates = [DEFAULT_TILE, ...windows];
    const live = gpu.stats.liveBuffers;
    const fits = await tuneMatmul(gpu, forward, { M: 12, N: 16, K: 64 }, candidates, 1);
    assert.equal(gpu.stats.liveBuffers, live, "the tuner frees its launches' uniforms");
    assert.equal(fits.length, candidates.length);
    assert.ok(fits.every((r) => r.ms > 0 && Number.isFinite(r.ms)));
    // N = 18: window tiles read B's rows as vec4s.
    const misfit = await tuneMatmul(gpu, forward, { M: 12, N: 18, K: 64 }, candidates, 1);
    assert.deepEqual(misfit.map((r) => r.tile), [DEFAULT_TILE]);
  },
);

// The shipped choices (matmul_known_tiles.ts) are dead weight once the
// candidate list moves on: a version bump must regenerate them.
Deno.test("the shipped tile choices were made among the current candidates", () => {
  assert.equal(KNOWN_TILES_VERSION, CANDIDATES_VERSION, "regenerate: deno task known-tiles");
  const keys = new Set<string>();
  for (const k of KNOWN_TILES) {
    const what = JSON.stringify(k);
    const [M, N, K] = k.shape;
    const shape: MatmulShape = { M, N, K };
    const v: MatmulVariant = { ...k.variant };
    const lavapipe = /^llvmpipe /.test(k.adapter);
    const candidates = tileCandidates(v, { isFallbackAdapter: lavapipe }, shape);
    assert.ok(candidates.some((t) => JSON.stringify(t) === JSON.stringify(k.tile)), what);
    // A window tile fits lavapipe's uniform bindings (64 KiB, 32-byte offsets).
    const limits = { maxUniformBufferBindingSize: 65536, minUniformBufferOffsetAlignment: 32 };
    if (k.tile.window && lavapipe) {
      assert.equal(windowMisfit(v, shape, k.tile, limits), null, what);
    }
    const key = knownTileKey(k.adapter, k.variant, k.shape);
    assert.ok(!keys.has(key), `listed twice: ${what}`);
    keys.add(key);
  }
});

gpuTest(
  "chooseTile takes a shipped choice where its cache has none, unless told not to",
  async (gpu) => {
    const dir = await Deno.makeTempDir();
    Deno.env.set("ARBNET_TUNE_CACHE", `${dir}/tiles.json`);
    const k = KNOWN_TILES.find((k) => k.adapter === gpu.adapter.description);
    try {
      // A shape shipped for no adapter is tuned.
      assert.equal(knownTile(gpu, V, S), null);
      if (!k) return; // not an adapter we shipped choices for
      const [M, N, K] = k.shape;
      const v: MatmulVariant = { ...k.variant };
      const before = gpu.stats.pipelinesCompiled;
      assert.deepEqual(await chooseTile(gpu, v, { M, N, K }), k.tile);
      assert.equal(gpu.stats.pipelinesCompiled, before, "nothing compiled or timed");
      // Field order does not matter: a variant from a cache file lists them otherwise.
      const reordered = Object.fromEntries(Object.entries(v).reverse()) as MatmulVariant;
      assert.deepEqual(knownTile(gpu, reordered, { M, N, K }), k.tile);
      // Nor does a field present but undefined (a variant spread from options).
      assert.deepEqual(knownTile(gpu, { ...v, slots: undefined }, { M, N, K }), k.tile);
      Deno.env.set("ARBNET_TUNE_KNOWN", "off");
      assert.equal(knownTile(gpu, v, { M, N, K }), null);
    } finally {
      Deno.env.delete("ARBNET_TUNE_CACHE");
      Deno.env.delete("ARBNET_TUNE_KNOWN");
      await Deno.remove(dir, { recursive: true });
    }
  },
);
