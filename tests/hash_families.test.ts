/**
 * The hash families' slots and signs: each re-derived here from its
 * documented rule through the general `xxh32` (so the per-position rules the
 * WGSL port copies are pinned), plus ranges, determinism, sparsity and
 * rebuilding from descriptors.
 * @module
 */

import assert from "node:assert/strict";
import {
  aliasSlot,
  conv2dShape,
  deriveSeed,
  type Hash,
  hashes,
  hashFamilyNames,
  hashFromDescriptor,
  type IndexSpec,
  isSparse,
  le32,
  neighborhoodSlot,
  recurrentShape,
  SEED_PURPOSES,
  signOf,
  sparsityThreshold,
  uniformSlot,
  xxh32,
} from "../lib/hash/mod.ts";

// The documented seed rule, computed through the general byte-string hash.
function seedOf(purpose: keyof typeof SEED_PURPOSES, seed: number): number {
  return xxh32(le32(SEED_PURPOSES[purpose]), seed);
}
const hashOf = (p: number, seed: number) => xxh32(le32(p), seed);

const SPEC: IndexSpec = { rows: 37, cols: 53, tableSize: 101, seed: 9 };

function allFamilies(): [string, Hash, IndexSpec][] {
  const conv = {
    inChannels: 2,
    outChannels: 3,
    kernel: 3,
    stride: 2,
    padding: 1,
    height: 7,
    width: 5,
  };
  const rec = { hidden: 4, steps: 3 };
  return [
    ["dense", hashes.dense(), { ...SPEC, tableSize: SPEC.rows * SPEC.cols }],
    ["uniform", hashes.uniform(), SPEC],
    ["uniform-nosign", hashes.uniform({ sign: false }), SPEC],
    ["dirichlet", hashes.dirichlet({ alpha: 0.3 }), SPEC],
    ["dirichlet-sign", hashes.dirichlet({ alpha: 5, sign: true }), SPEC],
    ["neighborhood", hashes.neighborhood({ radius: 7 }), SPEC],
    ["neighborhood-sign", hashes.neighborhood({ radius: 300, sign: true }), SPEC],
    ["conv2d", hashes.conv2d(conv), { ...conv2dShape(conv), seed: 3 }],
    ["recurrent", hashes.recurrent(rec), { ...recurrentShape(rec), seed: 3 }],
  ];
}

Deno.test("hashFamilyNames lists every family", () => {
  assert.deepEqual(
    [...hashFamilyNames].sort(),
    ["blocks", "conv2d", "dense", "dirichlet", "neighborhood", "recurrent", "swap", "uniform"],
  );
});

Deno.test("dense: h(p) = p, no signs", () => {
  const idx = hashes.dense().indices({ rows: 3, cols: 4, tableSize: 12, seed: 5 });
  assert.deepEqual([...idx], [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
  assert.equal(hashes.dense().signs({ rows: 3, cols: 4, tableSize: 12, seed: 5 }), null);
});

Deno.test("uniform: slot = xxh32(p, slotSeed) % K, sign from the top bit of a second hash", () => {
  const h = hashes.uniform();
  const idx = h.indices(SPEC);
  const signs = h.signs(SPEC)!;
  const slotSeed = seedOf("slot", SPEC.seed);
  const signSeed = seedOf("sign", SPEC.seed);
  assert.equal(slotSeed, deriveSeed("slot", SPEC.seed));
  for (let p = 0; p < idx.length; p++) {
    assert.equal(idx[p], hashOf(p, slotSeed) % SPEC.tableSize);
    assert.equal(idx[p], uniformSlot(p, slotSeed, SPEC.tableSize));
    assert.equal(signs[p], hashOf(p, signSeed) >= 2 ** 31 ? -1 : 1);
    assert.equal(signs[p], signOf(p, signSeed));
  }
  assert.equal(hashes.uniform({ sign: false }).signs(SPEC), null);
});

Deno.test("neighborhood: (p mod K + δ) mod K with δ = hash % (2r+1) − r, for r below and above K", () => {
  for (const radius of [1, 7, 50, 100, 101, 250, 1000, 2 ** 31 - 1]) {
    const idx = hashes.neighborhood({ radius }).indices(SPEC);
    const offsetSeed = seedOf("offset", SPEC.seed);
    const k = SPEC.tableSize;
    for (let p = 0; p < idx.length; p++) {
      const delta = (hashOf(p, offsetSeed) % (2 * radius + 1)) - radius;
      const want = (((p % k) + delta) % k + k) % k;
      assert.equal(idx[p], want, `radius ${radius}, p ${p}`);
      assert.equal(neighborhoodSlot(p, offsetSeed, radius, k), want);
    }
  }
});

Deno.test("neighborhood: radius 0 gives exactly p mod K", () => {
  for (const tableSize of [1, 7, 101, 1961, 5000]) {
    const idx = hashes.neighborhood({ radius: 0 }).indices({ ...SPEC, tableSize });
    const offsetSeed = seedOf("offset", SPEC.seed);
    for (let p = 0; p < idx.length; p++) {
      assert.equal(idx[p], p % tableSize);
      assert.equal(neighborhoodSlot(p, offsetSeed, 0, tableSize), p % tableSize);
    }
  }
});

Deno.test("neighborhood: offsets stay within ±radius of p mod K (cyclically)", () => {
  const k = 1000;
  const radius = 3;
  const idx = hashes.neighborhood({ radius }).indices({
    rows: 50,
    cols: 100,
    tableSize: k,
    seed: 4,
  });
  const seen = new Set<number>();
  for (let p = 0; p < idx.length; p++) {
    const d = (idx[p] - (p % k) + k + radius) % k;
    assert.ok(d <= 2 * radius);
    seen.add(d);
  }
  assert.equal(seen.size, 2 * radius + 1, "every offset in [−r, r] occurs");
});

Deno.test("dirichlet: slot = column if coin < threshold[column] else alias[column]", () => {
  const h = hashes.dirichlet({ alpha: 0.2 });
  const idx = h.indices(SPEC);
  const { threshold, alias } = h.aliasTable(SPEC);
  const columnSeed = seedOf("aliasColumn", SPEC.seed);
  const coinSeed = seedOf("aliasCoin", SPEC.seed);
  for (let p = 0; p < idx.length; p++) {
    const c = hashOf(p, columnSeed) % SPEC.tableSize;
    assert.equal(idx[p], hashOf(p, coinSeed) < threshold[c] ? c : alias[c]);
    assert.equal(idx[p], aliasSlot(p, columnSeed, coinSeed, threshold, alias));
  }
  assert.equal(h.signs(SPEC), null);
});

Deno.test("every family: indices in [0, tableSize], signs ±1 or null, right length", () => {
  for (const [name, h, spec] of allFamilies()) {
    for (const sparsity of [0, 0.3]) {
      const s = { ...spec, sparsity };
      const idx = h.indices(s);
      assert.equal(idx.length, s.rows * s.cols, name);
      for (const k of idx) assert.ok(k <= s.tableSize, `${name}: slot ${k} > ${s.tableSize}`);
      const signs = h.signs(s);
      if (signs !== null) {
        assert.equal(signs.length, idx.length);
        for (const v of signs) assert.ok(v === 1 || v === -1, `${name}: sign ${v}`);
      }
    }
  }
});

Deno.test("every family: same seed gives identical indices and signs; a new seed changes the random ones", () => {
  for (const [name, h, spec] of allFamilies()) {
    const a = h.indices({ ...spec, sparsity: 0.25 });
    const b = h.indices({ ...spec, sparsity: 0.25 });
    assert.deepEqual(a, b, name);
    assert.deepEqual(h.signs(spec), h.signs(spec), name);
    const c = h.indices({ ...spec, sparsity: 0.25, seed: spec.seed + 1 });
    assert.notDeepEqual(a, c, `${name}: sparsity pattern should change with the seed`);
    const random = ["uniform", "dirichlet", "neighborhood"].some((f) => name.startsWith(f));
    if (random) {
      assert.notDeepEqual(h.indices(spec), h.indices({ ...spec, seed: spec.seed + 1 }), name);
    }
    const signs = h.signs(spec);
    if (signs !== null) assert.notDeepEqual(signs, h.signs({ ...spec, seed: spec.seed + 1 }), name);
  }
});

Deno.test("sparsity: zero slot iff xxh32(p, sparsitySeed) < floor(s·2^32), the same positions for every family", () => {
  const s = 0.37;
  const threshold = sparsityThreshold(s);
  assert.equal(threshold, Math.floor(s * 2 ** 32));
  const sparsitySeed = seedOf("sparsity", SPEC.seed);
  const want: boolean[] = [];
  for (let p = 0; p < SPEC.rows * SPEC.cols; p++) {
    want.push(hashOf(p, sparsitySeed) < threshold);
    assert.equal(isSparse(p, sparsitySeed, threshold), want[p]);
  }
  for (const [name, h, spec] of allFamilies()) {
    if (spec.rows !== SPEC.rows || spec.cols !== SPEC.cols || spec.seed !== SPEC.seed) continue;
    const idx = h.indices({ ...spec, sparsity: s });
    const dense = h.indices(spec);
    for (let p = 0; p < idx.length; p++) {
      assert.equal(idx[p], want[p] ? spec.tableSize : dense[p], `${name}, p ${p}`);
    }
  }
});

Deno.test("sparsity on conv2d/recurrent is added to their own zero slots", () => {
  for (const [name, h, spec] of allFamilies()) {
    if (name !== "conv2d" && name !== "recurrent") continue;
    const base = h.indices(spec);
    const sparse = h.indices({ ...spec, sparsity: 0.5 });
    const sparsitySeed = seedOf("sparsity", spec.seed);
    const threshold = sparsityThreshold(0.5);
    for (let p = 0; p < base.length; p++) {
      const zero = hashOf(p, sparsitySeed) < threshold;
      assert.equal(sparse[p], zero ? spec.tableSize : base[p], name);
    }
  }
});

Deno.test("sparse fraction is within 3σ of s", () => {
  const spec = { rows: 300, cols: 400, tableSize: 1000, seed: 21 };
  const n = spec.rows * spec.cols;
  for (const s of [0.01, 0.1, 0.5, 0.9, 0.99]) {
    for (const seed of [1, 2]) {
      const idx = hashes.uniform().indices({ ...spec, sparsity: s, seed });
      let zeros = 0;
      for (const k of idx) if (k === spec.tableSize) zeros++;
      const sigma = Math.sqrt((s * (1 - s)) / n);
      assert.ok(Math.abs(zeros / n - s) <= 3 * sigma, `s=${s}: got ${zeros / n}, σ=${sigma}`);
    }
  }
  const none = hashes.uniform().indices({ ...spec, sparsity: 0 });
  assert.ok(none.every((k) => k < spec.tableSize), "sparsity 0 uses no zero slot");
});

Deno.test("options are complete and JSON-safe; hashFromDescriptor rebuilds an identical hash", () => {
  for (const [name, h, spec] of allFamilies()) {
    const json = JSON.parse(JSON.stringify({ family: h.family, options: h.options }));
    const rebuilt = hashFromDescriptor(json);
    assert.equal(rebuilt.family, h.family);
    assert.deepEqual(rebuilt.options, h.options);
    const s = { ...spec, sparsity: 0.1 };
    assert.deepEqual(rebuilt.indices(s), h.indices(s), name);
    assert.deepEqual(rebuilt.signs(s), h.signs(s), name);
  }
  assert.deepEqual(hashes.uniform().options, { sign: true });
  assert.deepEqual(hashes.dirichlet({ alpha: 2 }).options, { alpha: 2, sign: false });
  assert.deepEqual(hashes.neighborhood({ radius: 3 }).options, { radius: 3, sign: false });
  assert.deepEqual(hashes.dense().options, {});
  assert.deepEqual(
    hashes.conv2d({ inChannels: 1, outChannels: 2, kernel: 3, height: 5, width: 5 }).options,
    { inChannels: 1, outChannels: 2, kernel: 3, stride: 1, padding: 0, height: 5, width: 5 },
  );
  assert.deepEqual(hashes.recurrent({ hidden: 3, steps: 2 }).options, { hidden: 3, steps: 2 });
});

Deno.test("indices() for a 784×1000 layer takes well under a second", () => {
  const spec = { rows: 784, cols: 1000, tableSize: 98_000, seed: 1 };
  for (
    const h of [
      hashes.uniform(),
      hashes.neighborhood({ radius: 5 }),
      hashes.dirichlet({ alpha: 0.1 }),
    ]
  ) {
    const t0 = performance.now();
    h.indices(spec);
    const ms = performance.now() - t0;
    assert.ok(ms < 1000, `${h.family}: ${ms.toFixed(0)} ms`);
  }
});
