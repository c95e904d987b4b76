/**
 * The Batcher (coverage, reproducibility, partial batches, buffer reuse,
 * option errors) and the Dataset helpers (validateDataset, subset).
 * @module
 */

import assert from "node:assert/strict";
import { ArbnetError } from "../lib/errors.ts";
import { Batcher, type Dataset, subset, validateDataset } from "../lib/data/mod.ts";

/**
 * `count` examples of `features` values; example `i` holds `i + k/1000` at
 * position `k`, so a batch row identifies its example and checks the copy.
 */
function toy(count: number, features = 3, classes = 10): Dataset {
  const x = new Float32Array(count * features);
  for (let i = 0; i < count; i++) {
    for (let k = 0; k < features; k++) x[i * features + k] = i + k / 1000;
  }
  const y = new Uint32Array(count).map((_, i) => i % classes);
  return { name: "toy", x, y, count, features, classes, shape: [1, 1, features] };
}

/** The example ids of each batch, checking every row and label against its example. */
function collect(b: Batcher, epoch: number): number[][] {
  const ds = b.dataset;
  const out: number[][] = [];
  for (const batch of b.epoch(epoch)) {
    assert.equal(batch.index, out.length);
    assert.equal(batch.x.length, batch.size * ds.features);
    assert.equal(batch.y.length, batch.size);
    const ids: number[] = [];
    for (let j = 0; j < batch.size; j++) {
      const id = Math.round(batch.x[j * ds.features]);
      for (let k = 0; k < ds.features; k++) {
        assert.equal(batch.x[j * ds.features + k], ds.x[id * ds.features + k]);
      }
      assert.equal(batch.y[j], ds.y[id]);
      ids.push(id);
    }
    out.push(ids);
  }
  assert.equal(out.length, b.batchesPerEpoch);
  return out;
}

function assertPermutation(ids: number[], count: number) {
  assert.equal(ids.length, count);
  assert.deepEqual([...ids].sort((a, b) => a - b), Array.from({ length: count }, (_, i) => i));
}

function throwsArbnet(fn: () => unknown, fragment: string) {
  assert.throws(fn, (e: unknown) => e instanceof ArbnetError && e.message.includes(fragment));
}

Deno.test("batcher: every example exactly once per epoch, partial last batch", () => {
  const ds = toy(103);
  const b = new Batcher(ds, { batchSize: 10, shuffle: true, seed: 42 });
  assert.equal(b.batchesPerEpoch, 11);
  for (const e of [0, 1, 7]) {
    const batches = collect(b, e);
    assert.deepEqual(batches.map((x) => x.length), [...new Array(10).fill(10), 3]);
    assertPermutation(batches.flat(), 103);
    assert.deepEqual(batches.flat(), [...b.order(e)]);
  }
});

Deno.test("batcher: the order is a pure function of (seed, epoch)", () => {
  const ds = toy(200, 2);
  const a = new Batcher(ds, { batchSize: 16, shuffle: true, seed: 5 });
  const e3 = collect(a, 3).flat();
  collect(a, 0);
  collect(a, 9);
  // A fresh batcher (a resumed run) reproduces epoch 3 without replaying 0-2.
  const resumed = new Batcher(ds, { batchSize: 16, shuffle: true, seed: 5 });
  assert.deepEqual(collect(resumed, 3).flat(), e3);
  assert.deepEqual(collect(a, 3).flat(), e3);

  const e4 = collect(a, 4).flat();
  assert.notDeepEqual(e4, e3);
  const identity = Array.from({ length: 200 }, (_, i) => i);
  assert.notDeepEqual(e3, identity);
  const other = new Batcher(ds, { batchSize: 16, shuffle: true, seed: 6 });
  assert.notDeepEqual(collect(other, 3).flat(), e3);
  // Seeds beyond 32 bits must not alias their low half.
  const big = new Batcher(ds, { batchSize: 16, shuffle: true, seed: 5 + 2 ** 32 });
  assert.notDeepEqual([...big.order(3)], e3);
});

Deno.test("batcher: no shuffle visits examples in dataset order", () => {
  const b = new Batcher(toy(25), { batchSize: 7, shuffle: false });
  const batches = collect(b, 0);
  assert.deepEqual(batches.map((x) => x.length), [7, 7, 7, 4]);
  assert.deepEqual(batches.flat(), Array.from({ length: 25 }, (_, i) => i));
  assert.deepEqual(collect(b, 5), batches);
});

Deno.test("batcher: dropLast skips the partial batch; a batch larger than the data is one batch", () => {
  const drop = new Batcher(toy(25), { batchSize: 7, shuffle: true, seed: 1, dropLast: true });
  assert.equal(drop.batchesPerEpoch, 3);
  const ids = collect(drop, 2);
  assert.deepEqual(ids.map((x) => x.length), [7, 7, 7]);
  assert.equal(new Set(ids.flat()).size, 21);
  assert.deepEqual(ids.flat(), [...drop.order(2).subarray(0, 21)]);

  const exact = new Batcher(toy(21), { batchSize: 7, shuffle: false, dropLast: true });
  assert.deepEqual(collect(exact, 0).map((x) => x.length), [7, 7, 7]);

  const huge = new Batcher(toy(5), { batchSize: 1000, shuffle: true, seed: 3 });
  const one = collect(huge, 0);
  assert.equal(one.length, 1);
  assertPermutation(one[0], 5);
});

Deno.test("batcher: buffers are reused, and a superseded epoch iterator throws", () => {
  const b = new Batcher(toy(10), { batchSize: 4, shuffle: true, seed: 9 });
  const it = b.epoch(0);
  const first = it.next().value;
  const second = it.next().value;
  assert.equal(first.x, second.x, "full batches share one buffer");
  const last = it.next().value;
  assert.equal(last.size, 2);
  assert.equal(last.x.buffer, first.x.buffer, "the partial batch is a view of the same buffer");
  assert.equal(it.next().done, true);

  const stale = b.epoch(1);
  stale.next();
  b.epoch(2);
  throwsArbnet(() => stale.next(), "another epoch");
});

Deno.test("batcher: invalid options are ArbnetErrors", () => {
  const ds = toy(10);
  for (const batchSize of [0, -4, 2.5, NaN, Infinity]) {
    throwsArbnet(() => new Batcher(ds, { batchSize, shuffle: false }), "batchSize");
  }
  throwsArbnet(() => new Batcher(ds, { batchSize: 2, shuffle: true }), "seed");
  throwsArbnet(() => new Batcher(ds, { batchSize: 2, shuffle: true, seed: 0.5 }), "seed");
  throwsArbnet(
    () => new Batcher(ds, { batchSize: 11, shuffle: false, dropLast: true }),
    "batchSize",
  );
  const b = new Batcher(ds, { batchSize: 2, shuffle: false });
  throwsArbnet(() => b.epoch(-1), "epoch");
  throwsArbnet(() => b.order(1.5), "epoch");
  throwsArbnet(
    () => new Batcher({ ...ds, count: 11 }, { batchSize: 2, shuffle: false }),
    "x.length",
  );
});

Deno.test("dataset: validateDataset accepts a consistent dataset and rejects each flaw", () => {
  const ds = toy(4, 6, 3);
  assert.equal(validateDataset(ds), ds);
  validateDataset({ ...ds, shape: [2, 1, 3] });
  const bad: [Partial<Dataset>, string][] = [
    [{ count: 5 }, "x.length"],
    [{ count: 0 }, "count"],
    [{ features: 5 }, "features"],
    [{ shape: [1, 2, 2] }, "features"],
    [{ classes: 2 }, "y[2]"],
    [{ y: new Uint32Array(3) }, "y.length"],
    [{ x: new Float64Array(24) as unknown as Float32Array }, "Float32Array"],
    [{ x: new Float32Array(24).fill(NaN) }, "x[0]"],
    [{ x: new Float32Array(24).fill(Infinity, 13, 14) }, "example 2"],
  ];
  for (const [patch, fragment] of bad) {
    throwsArbnet(() => validateDataset({ ...ds, ...patch }), fragment);
  }
});

Deno.test("dataset: subset is a prefix view sharing memory", () => {
  const ds = toy(10, 3);
  const s = subset(ds, 4);
  assert.equal(s.count, 4);
  assert.equal(s.x.length, 12);
  assert.deepEqual([...s.y], [0, 1, 2, 3]);
  assert.equal(s.x.buffer, ds.x.buffer);
  validateDataset(s);
  assert.equal(subset(ds, 10).count, 10);
  for (const n of [0, 11, 2.5]) throwsArbnet(() => subset(ds, n), "subset count");
});
