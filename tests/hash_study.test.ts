/**
 * The two hashes of the converged study's noise axis: `blocks` is exactly
 * balanced and deterministic and shares weights among nearby pixels; `swap`
 * noise moves a fraction q of the live positions between slots without
 * changing any slot's count. Plus the seeded validation split.
 * @module
 */

import assert from "node:assert/strict";
import { type Dataset, holdOut, validateDataset } from "../lib/data/dataset.ts";
import {
  applySwapNoise,
  hashes,
  hashFromDescriptor,
  slotCounts,
  tileRanks,
} from "../lib/hash/mod.ts";

Deno.test("tileRanks: known answer on a 3×5 image with 2×2 tiles (ragged edges)", () => {
  // Tiles in raster order: (rows 0-1, cols 0-1), (0-1, 2-3), (0-1, 4), (2, 0-1), (2, 2-3), (2, 4).
  const expected = [
    [0, 1, 4, 5, 8],
    [2, 3, 6, 7, 9],
    [10, 11, 12, 13, 14],
  ].flat();
  assert.deepEqual([...tileRanks(1, 3, 5, 2, 2)], expected);
  // A second channel continues after the first.
  assert.deepEqual([...tileRanks(2, 3, 5, 2, 2)].slice(15), expected.map((r) => r + 15));
});

Deno.test("blocks: each slot is one 2×4 tile of pixels for one output unit at n/K = 8", () => {
  const h = hashes.blocks({ width: 28, tileRows: 2, tileCols: 4 });
  const [rows, cols, k] = [784, 12, 784 * 12 / 8];
  const idx = h.indices({ rows, cols, tableSize: k, seed: 5 });
  const members = new Map<number, [number, number, number][]>();
  for (let i = 0; i < rows; i++) {
    for (let j = 0; j < cols; j++) {
      const s = idx[i * cols + j];
      members.set(s, [...(members.get(s) ?? []), [Math.floor(i / 28), i % 28, j]]);
    }
  }
  assert.equal(members.size, k);
  for (const [slot, m] of members) {
    assert.equal(m.length, 8, `slot ${slot}`);
    assert.ok(m.every(([, , j]) => j === m[0][2]), `slot ${slot} spans output units`);
    const ys = m.map(([y]) => y), xs = m.map(([, x]) => x);
    assert.equal(Math.max(...ys) - Math.min(...ys), 1, `slot ${slot} is 2 pixels tall`);
    assert.equal(Math.max(...xs) - Math.min(...xs), 3, `slot ${slot} is 4 pixels wide`);
    assert.equal(Math.min(...ys) % 2, 0);
    assert.equal(Math.min(...xs) % 4, 0);
  }
  // Deterministic: the seed changes nothing.
  assert.deepEqual(idx, h.indices({ rows, cols, tableSize: k, seed: 99 }));
});

Deno.test("blocks: every slot holds ⌊n/K⌋ or ⌈n/K⌉ positions for any K", () => {
  const h = hashes.blocks({ width: 6, channels: 2, tileRows: 4, tileCols: 4 });
  for (const k of [1, 7, 100, 719, 720, 1000]) {
    const n = 72 * 10;
    const counts = slotCounts(h.indices({ rows: 72, cols: 10, tableSize: k, seed: 0 }), k);
    const live = [...counts].slice(0, k);
    const lo = Math.floor(n / k), hi = Math.ceil(n / k);
    if (k <= n) assert.ok(live.every((c) => c === lo || c === hi), `K = ${k}: ${live}`);
    assert.equal(live.reduce((a, b) => a + b, 0), n);
  }
});

Deno.test("blocks: refuses inputs that are not images of the given width", () => {
  assert.throws(
    () => hashes.blocks({ width: 28 }).indices({ rows: 1000, cols: 10, tableSize: 100, seed: 0 }),
    /1000 input features are not 1 channel\(s\) of images 28 pixels wide/,
  );
  assert.throws(() => hashes.blocks({ tileRows: 0 }), /tileRows/);
  assert.throws(() => hashes.blocks({ widht: 3 } as never), /widht/);
});

Deno.test("swap: slot counts are kept exactly and about q of the live positions move", () => {
  const base = hashes.blocks({ width: 28, tileRows: 2, tileCols: 4 });
  for (const sparsity of [0, 0.9]) {
    const spec = { rows: 784, cols: 50, tableSize: 784 * 50 / 8, sparsity, seed: 3 };
    const b = base.indices(spec);
    const live = b.filter((s) => s !== spec.tableSize).length;
    for (const q of [0, 0.1, 0.5, 1]) {
      const s = hashes.swap({ base, q }).indices(spec);
      assert.deepEqual(slotCounts(s, spec.tableSize), slotCounts(b, spec.tableSize), `q ${q}`);
      let moved = 0;
      for (let p = 0; p < s.length; p++) {
        if (s[p] !== b[p]) moved++;
        // Zero-slot positions never move, and no live position goes there.
        assert.equal(s[p] === spec.tableSize, b[p] === spec.tableSize);
      }
      // A chosen position can draw its own tile's slot again, rarely (8 of K).
      assert.ok(Math.abs(moved / live - q) < 0.03, `q ${q}, s ${sparsity}: moved ${moved / live}`);
    }
  }
});

Deno.test("swap: rebuilt from its descriptor, and the same for the same seed", () => {
  const h = hashes.swap({ base: hashes.blocks({ width: 28 }), q: 0.3 });
  const spec = { rows: 784, cols: 20, tableSize: 1960, seed: 11 };
  const again = hashFromDescriptor({ family: h.family, options: { ...h.options } });
  assert.deepEqual(again.indices(spec), h.indices(spec));
  assert.notDeepEqual(h.indices({ ...spec, seed: 12 }), h.indices(spec));
  assert.equal(h.signs(spec), null);
  const signed = hashes.swap({ base: hashes.uniform(), q: 0.5 });
  assert.deepEqual(signed.signs(spec), hashes.uniform().signs(spec));
  assert.throws(() => hashes.swap({ base: hashes.uniform(), q: 1.5 }), /q/);
  assert.throws(() => hashes.swap({ base: "{not json", q: 0.5 }), /JSON/);
  assert.throws(() => applySwapNoise(new Uint32Array(4), 4, -0.1, 0), /q/);
});

Deno.test("holdOut: a seeded split into disjoint parts that keep their order", () => {
  const n = 50;
  const ds = validateDataset({
    name: "toy",
    x: Float32Array.from({ length: n * 2 }, (_, i) => Math.floor(i / 2)),
    y: Uint32Array.from({ length: n }, (_, i) => i % 3),
    count: n,
    features: 2,
    classes: 3,
    shape: [1, 1, 2],
  });
  const { train, heldOut } = holdOut(ds, 12, 7);
  assert.equal(train.count, 38);
  assert.equal(heldOut.count, 12);
  validateDataset(train);
  validateDataset(heldOut);
  const ids = (d: Dataset) => Array.from({ length: d.count }, (_, i) => d.x[2 * i]);
  const all = [...ids(train), ...ids(heldOut)].sort((a, b) => a - b);
  assert.deepEqual(all, Array.from({ length: n }, (_, i) => i));
  for (const part of [train, heldOut]) {
    const order = ids(part);
    assert.deepEqual(order, [...order].sort((a, b) => a - b));
    order.forEach((id, i) => assert.equal(part.y[i], id % 3));
  }
  assert.deepEqual(ids(holdOut(ds, 12, 7).heldOut), ids(heldOut));
  assert.notDeepEqual(ids(holdOut(ds, 12, 8).heldOut), ids(heldOut));
  assert.throws(() => holdOut(ds, 50, 0), /held-out count/);
});
