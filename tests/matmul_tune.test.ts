import assert from "node:assert/strict";
import { gpuTest } from "./_util.ts";
import {
  CANDIDATES_VERSION,
  chooseTile,
  parseTuneKey,
  tuneBucket,
  tuneKey,
  tuneMatmul,
} from "../shaders/matmul_tune.ts";
import {
  CPU_TILE_CANDIDATES,
  TILE_CANDIDATES,
  tileCandidates,
  tilePolicyFor,
} from "../shaders/matmul_tile_policy.ts";
import { DEFAULT_TILE, type MatmulVariant, type Tile } from "../shaders/matmul.ts";

const V: MatmulVariant = { a: "rows", weights: "hashed", b: "rows", store: "bias" };
const S = { M: 5, N: 37, K: 11, zeroSlot: 9 };

gpuTest("the tuner times every candidate and returns them fastest first", async (gpu) => {
  const results = await tuneMatmul(gpu, V, S, TILE_CANDIDATES.slice(0, 3), 1);
  assert.equal(results.length, 3);
  for (let i = 1; i < results.length; i++) assert.ok(results[i - 1].ms <= results[i].ms);
  assert.ok(results.every((r) => r.ms > 0 && Number.isFinite(r.ms)));
});

gpuTest("parseTuneKey reads back what tuneKey wrote, the shape rounded", (gpu) => {
  const v: MatmulVariant = { ...V, tile: DEFAULT_TILE };
  assert.deepEqual(parseTuneKey(tuneKey(gpu, v, { M: 50, N: 1000, K: 784 })), {
    adapter: gpu.adapter.description,
    variant: V,
    shape: [45, 1024, 724],
    version: CANDIDATES_VERSION,
  });
});

Deno.test("tuneBucket rounds to the nearest half octave", () => {
  const cases: [number, number][] = [
    [1, 1],
    [2, 2],
    [3, 3],
    [10, 11],
    [50, 45],
    [55, 64],
    [64, 64],
    [128, 128],
    [500, 512],
    [784, 724],
    [900, 1024],
    [1000, 1024],
    [1024, 1024],
  ];
  for (const [n, bucket] of cases) assert.equal(tuneBucket(n), bucket, `${n}`);
  // Monotone: a larger dimension never falls in a smaller bucket.
  for (let n = 1; n < 5000; n++) assert.ok(tuneBucket(n + 1) >= tuneBucket(n), `${n}`);
});

gpuTest(
  "tuneKey: nearby shapes share a key; field order and undefined fields do not matter",
  (gpu) => {
    const key = tuneKey(gpu, V, { M: 128, N: 1000, K: 784 });
    assert.equal(tuneKey(gpu, V, { M: 128, N: 900, K: 800 }), key);
    assert.notEqual(tuneKey(gpu, V, { M: 50, N: 1000, K: 784 }), key);
    const reordered = Object.fromEntries(Object.entries(V).reverse()) as MatmulVariant;
    assert.equal(tuneKey(gpu, reordered, { M: 128, N: 1000, K: 784 }), key);
    assert.equal(tuneKey(gpu, { ...V, slots: undefined }, { M: 128, N: 1000, K: 784 }), key);
    assert.notEqual(tuneKey(gpu, { ...V, store: "bias_relu" }, { M: 128, N: 1000, K: 784 }), key);
  },
);

gpuTest("chooseTile caches its choice per adapter, variant and shape in a file", async (gpu) => {
  const dir = await Deno.makeTempDir();
  const file = `${dir}/tiles.json`;
  Deno.env.set("ARBNET_TUNE_CACHE", file);
  try {
    const tile = await chooseTile(gpu, V, S, "tune");
    assert.ok(TILE_CANDIDATES.some((t) => JSON.stringify(t) === JSON.stringify(tile)));
    const saved = JSON.parse(await Deno.readTextFile(file));
    assert.deepEqual(saved[tuneKey(gpu, V, S)], tile);
    // A cached choice is returned without timing anything again, in either
    // mode and for a nearby shape.
    const before = gpu.stats.pipelinesCompiled;
    assert.deepEqual(await chooseTile(gpu, V, S, "tune"), tile);
    assert.deepEqual(await chooseTile(gpu, V, S, "auto"), tile);
    assert.deepEqual(await chooseTile(gpu, V, { ...S, N: 38 }, "tune"), tile);
    assert.equal(gpu.stats.pipelinesCompiled, before);
  } finally {
    Deno.env.delete("ARBNET_TUNE_CACHE");
  }
});

gpuTest("chooseTile tunes procedural-slot variants too (small tiles only)", async (gpu) => {
  const dir = await Deno.makeTempDir();
  Deno.env.set("ARBNET_TUNE_CACHE", `${dir}/tiles.json`);
  try {
    // dirichlet binds its alias table too.
    for (const slots of ["uniform", "dirichlet"] as const) {
      const v: MatmulVariant = { ...V, slots };
      const tile = await chooseTile(gpu, v, S, "tune");
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

gpuTest(
  "chooseTile auto: the adapter class's default where nothing is cached, measured only where the policy tunes",
  async (gpu) => {
    const dir = await Deno.makeTempDir();
    Deno.env.set("ARBNET_TUNE_CACHE", `${dir}/tiles.json`);
    try {
      const forward: MatmulVariant = { a: "rows", weights: "dense", b: "rows", store: "bias" };
      const shape = { M: 20, N: 48, K: 64 };
      const policy = tilePolicyFor(gpu.adapter);
      const before = gpu.stats.pipelinesCompiled;
      const tile = await chooseTile(gpu, forward, shape, "auto");
      if (policy.tunesUnseen) {
        assert.ok(tileCandidates(forward, gpu.adapter, shape).some((t) => same(t, tile)));
      } else {
        assert.deepEqual(tile, policy.defaultTile(forward, shape, gpu.limits));
        assert.equal(gpu.stats.pipelinesCompiled, before, "nothing compiled or timed");
        assert.equal(await exists(`${dir}/tiles.json`), false, "nothing cached");
      }
    } finally {
      Deno.env.delete("ARBNET_TUNE_CACHE");
      await Deno.remove(dir, { recursive: true });
    }
  },
);

gpuTest("chooseTile: a cached window tile that does not fit the shape is not used", async (gpu) => {
  const dir = await Deno.makeTempDir();
  const file = `${dir}/tiles.json`;
  Deno.env.set("ARBNET_TUNE_CACHE", file);
  try {
    const forward: MatmulVariant = { a: "rows", weights: "dense", b: "rows", store: "bias" };
    const window = CPU_TILE_CANDIDATES.find((t) => t.window)!;
    // N = 66 shares N = 64's key, but window tiles read B's rows as vec4s.
    const fits = { M: 32, N: 64, K: 64 }, misfit = { M: 32, N: 66, K: 64 };
    assert.equal(tuneKey(gpu, forward, fits), tuneKey(gpu, forward, misfit));
    await Deno.writeTextFile(file, JSON.stringify({ [tuneKey(gpu, forward, fits)]: window }));
    // A fresh process's view of the file: the store is read at the next choice.
    const { setTuneStore } = await import("../shaders/matmul_tune.ts");
    const { fileTuneStore } = await import("../lib/io/tile_cache.ts");
    setTuneStore(fileTuneStore);
    assert.deepEqual(await chooseTile(gpu, forward, fits, "auto"), window);
    const other = await chooseTile(gpu, forward, misfit, "auto");
    assert.ok(!other.window, JSON.stringify(other));
  } finally {
    Deno.env.delete("ARBNET_TUNE_CACHE");
    await Deno.remove(dir, { recursive: true });
  }
});

function same(a: Tile, b: Tile): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch {
    return false;
  }
}
