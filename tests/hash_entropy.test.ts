/**
 * Occupancy entropy: exact small cases, conventions, the network-wide
 * version, digamma, the design's worked figures (docs/arbnet.md), and the claim that a
 * neighbourhood hash with a large radius is as random as `uniform`.
 * @module
 */

import assert from "node:assert/strict";
import {
  digamma,
  expectedDirichletEntropy,
  hashes,
  networkEntropy,
  occupancyEntropy,
  slotCounts,
} from "../lib/hash/mod.ts";

const EULER_GAMMA = 0.5772156649015329;
const close = (a: number, b: number, tol: number, msg?: string) =>
  assert.ok(Math.abs(a - b) <= tol, `${msg ?? ""} ${a} vs ${b} (tolerance ${tol})`);

Deno.test("occupancyEntropy: exact small cases, zero slot excluded", () => {
  const u = (xs: number[]) => new Uint32Array(xs);
  assert.deepEqual(occupancyEntropy(u([0, 1, 2, 3]), 4), { nats: Math.log(4), normalized: 1 });
  const skew = occupancyEntropy(u([0, 0, 0, 1]), 2);
  close(skew.nats, -(0.75 * Math.log(0.75) + 0.25 * Math.log(0.25)), 1e-15);
  close(skew.normalized, skew.nats / Math.log(2), 1e-15);
  // Zero-slot entries (index 2 here) are not counted; empty slots count in ln K.
  const withZero = occupancyEntropy(u([0, 2, 2, 2, 1, 2]), 2);
  assert.deepEqual(withZero, { nats: Math.log(2), normalized: 1 });
  const unused = occupancyEntropy(u([0, 1, 0, 1]), 4);
  close(unused.normalized, 0.5, 1e-15);
  assert.deepEqual(occupancyEntropy(u([3, 3, 3]), 4), { nats: 0, normalized: 0 });
});

Deno.test("occupancyEntropy conventions: K = 1 is balanced, no trainable position is 0", () => {
  assert.deepEqual(occupancyEntropy(new Uint32Array([0, 0, 0]), 1), { nats: 0, normalized: 1 });
  assert.deepEqual(occupancyEntropy(new Uint32Array([1, 1]), 1), { nats: 0, normalized: 0 });
  assert.deepEqual(occupancyEntropy(new Uint32Array(0), 5), { nats: 0, normalized: 0 });
});

Deno.test("slotCounts counts every slot, zero slot last", () => {
  assert.deepEqual([...slotCounts(new Uint32Array([0, 2, 2, 3, 1, 3]), 3)], [1, 1, 2, 2]);
});

Deno.test("networkEntropy pools the layers' slots as disjoint", () => {
  const a = hashes.dirichlet({ alpha: 0.3 }).indices({
    rows: 30,
    cols: 40,
    tableSize: 50,
    seed: 1,
    sparsity: 0.2,
  });
  const b = hashes.uniform().indices({ rows: 20, cols: 10, tableSize: 30, seed: 2, sparsity: 0.1 });
  // The same thing by hand: one big table, layer b's slots shifted past a's.
  const joined = new Uint32Array(a.length + b.length);
  for (let p = 0; p < a.length; p++) joined[p] = a[p] === 50 ? 80 : a[p];
  for (let p = 0; p < b.length; p++) joined[a.length + p] = b[p] === 30 ? 80 : b[p] + 50;
  const want = occupancyEntropy(joined, 80);
  const got = networkEntropy([{ indices: a, tableSize: 50 }, { indices: b, tableSize: 30 }]);
  close(got.nats, want.nats, 1e-12);
  close(got.normalized, want.normalized, 1e-12);
  // Two round-robin layers with equal load per slot: perfectly balanced overall.
  const rr = hashes.neighborhood({ radius: 0 });
  const l1 = rr.indices({ rows: 10, cols: 12, tableSize: 40, seed: 0 });
  const l2 = rr.indices({ rows: 6, cols: 5, tableSize: 10, seed: 0 });
  assert.equal(networkEntropy([{ indices: l1, tableSize: 40 }]).normalized, 1);
  close(
    networkEntropy([{ indices: l1, tableSize: 40 }, { indices: l2, tableSize: 10 }]).normalized,
    1,
    1e-15,
  );
  // Unequal load per slot (3 vs 1 positions per slot): not balanced, though each layer is.
  const l3 = rr.indices({ rows: 2, cols: 5, tableSize: 10, seed: 0 });
  assert.ok(
    networkEntropy([{ indices: l1, tableSize: 40 }, { indices: l3, tableSize: 10 }]).normalized <
      0.99,
  );
});

Deno.test("digamma: known values and the recurrence", () => {
  close(digamma(1), -EULER_GAMMA, 1e-14);
  close(digamma(0.5), -EULER_GAMMA - 2 * Math.LN2, 1e-14);
  let harmonic = 0;
  for (let n = 1; n <= 100; n++) {
    harmonic += 1 / n;
    if (n === 10 || n === 100) close(digamma(n + 1), harmonic - EULER_GAMMA, 1e-13);
  }
  for (const x of [1e-4, 1e-3, 0.37, 3.7, 9.99, 10, 123.4, 1e7]) {
    close(digamma(x + 1), digamma(x) + 1 / x, 1e-12 * (1 + Math.abs(digamma(x))), `x=${x}`);
  }
  close(expectedDirichletEntropy(1, 2), 0.5, 1e-14); // ψ(3) − ψ(2) = 1/2
});

// The design's worked figures (docs/arbnet.md) for a 784×1000 layer with K = 98,000. The figures
// are quoted to 2 or 3 decimals, so each tolerance is half a unit of the last
// quoted digit plus, for the random hashes, at least 4× the seed-to-seed sd
// measured for this size (about 0.006 at α = 0.001, 1e-4 at α = 1, 3e-5 at
// α = 100 and for uniform).
const LAYER = { rows: 784, cols: 1000, tableSize: 98_000 };

Deno.test("worked figures (784×1000, K = 98,000): round-robin is exactly 1", () => {
  const idx = hashes.neighborhood({ radius: 0 }).indices({ ...LAYER, seed: 1 });
  assert.deepEqual(occupancyEntropy(idx, LAYER.tableSize), {
    nats: Math.log(98_000),
    normalized: 1,
  });
});

Deno.test("worked figures: α = 0.001 ≈ 0.45, α = 1 ≈ 0.96, α = 100 ≈ 0.994, uniform ≈ 0.994", () => {
  const cases: [string, number, number, number][] = [
    ["dirichlet α=0.001", 0.001, 0.45, 0.005 + 0.025],
    ["dirichlet α=1", 1, 0.96, 0.005 + 0.001],
    ["dirichlet α=100", 100, 0.994, 0.0005 + 0.0002],
  ];
  for (const [name, alpha, want, tol] of cases) {
    let sum = 0;
    for (const seed of [1, 2]) {
      const idx = hashes.dirichlet({ alpha }).indices({ ...LAYER, seed });
      sum += occupancyEntropy(idx, LAYER.tableSize).normalized;
    }
    close(sum / 2, want, tol, name);
  }
  const uni = occupancyEntropy(hashes.uniform().indices({ ...LAYER, seed: 1 }), LAYER.tableSize);
  close(uni.normalized, 0.994, 0.0005 + 0.0002, "uniform");
  // With 8 positions per slot, the occupancy entropy of α = 0.001 (about 98
  // occupied slots) is that of π itself: check against the digamma oracle too.
  close(expectedDirichletEntropy(0.001, 98_000) / Math.log(98_000), 0.45, 0.005);
});

/** Wilson–Hilferty normal approximation of a chi-square statistic. */
function chiSquareZ(x2: number, df: number): number {
  return (Math.cbrt(x2 / df) - (1 - 2 / (9 * df))) / Math.sqrt(2 / (9 * df));
}

/** Goodness of fit of slot counts to equal occupancy. */
function uniformityZ(counts: Uint32Array, k: number): number {
  let n = 0;
  for (let c = 0; c < k; c++) n += counts[c];
  const e = n / k;
  let x2 = 0;
  for (let c = 0; c < k; c++) x2 += (counts[c] - e) ** 2 / e;
  return chiSquareZ(x2, k - 1);
}

Deno.test("neighborhood with radius ≥ K/2 is indistinguishable from uniform in occupancy (χ², two-sided 0.001)", () => {
  // Under a uniform random hash the slot counts are multinomial with equal
  // cells, so X² ~ χ²(K − 1); |z| < 3.29 is the two-sided 0.001 acceptance
  // region. Too even (round-robin) is as much a departure as too uneven.
  const k = 1000;
  const spec = { rows: 200, cols: 500, tableSize: k };
  const Z = 3.29;
  for (const seed of [1, 2, 3]) {
    const uni = slotCounts(hashes.uniform().indices({ ...spec, seed }), k);
    assert.ok(Math.abs(uniformityZ(uni, k)) < Z, `uniform itself, seed ${seed}`);
    for (const radius of [k / 2, k, 5 * k + 3]) {
      const nb = slotCounts(hashes.neighborhood({ radius }).indices({ ...spec, seed }), k);
      const z = uniformityZ(nb, k);
      assert.ok(Math.abs(z) < Z, `radius ${radius}, seed ${seed}: z = ${z}`);
      // Two-sample homogeneity against uniform's counts: X² ~ χ²(K − 1).
      let x2 = 0;
      for (let c = 0; c < k; c++) {
        const s = nb[c] + uni[c];
        if (s > 0) x2 += (nb[c] - uni[c]) ** 2 / s;
      }
      const z2 = chiSquareZ(x2, k - 1);
      assert.ok(Math.abs(z2) < Z, `radius ${radius} vs uniform, seed ${seed}: z = ${z2}`);
    }
  }
  // The test has power: small radii are far more even than random.
  for (const radius of [0, 1, 2]) {
    const nb = slotCounts(hashes.neighborhood({ radius }).indices({ ...spec, seed: 1 }), k);
    assert.ok(uniformityZ(nb, k) < -Z, `radius ${radius} should be detectably non-random`);
  }
});
