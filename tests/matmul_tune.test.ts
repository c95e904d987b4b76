import assert from "node:assert/strict";
import { gpuTest } from "./_util.ts";
import { chooseTile, TILE_CANDIDATES, tuneKey, tuneMatmul } from "../shaders/matmul_tune.ts";
import type { MatmulVariant } from "../shaders/matmul.ts";

const V: MatmulVariant = { a: "rows", weights: "hashed", b: "rows", store: "bias" };
const S = { M: 5, N: 37, K: 11, zeroSlot: 9 };

gpuTest("the tuner times every candidate and returns them fastest first", async (gpu) => {
  const results = await tuneMatmul(gpu, V, S, TILE_CANDIDATES.slice(0, 3), 1);
  assert.equal(results.length, 3);
  for (let i = 1; i < results.length; i++) assert.ok(results[i - 1].ms <= results[i].ms);
  assert.ok(results.every((r) => r.ms > 0 && Number.isFinite(r.ms)));
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
