/**
 * The Dirichlet family: its probabilities against the digamma oracle, its
 * alias table against those probabilities, its occupancy entropy against α,
 * and its numerics at the extremes of α.
 * @module
 */

import assert from "node:assert/strict";
import {
  buildAliasTable,
  dirichletProbabilities,
  expectedDirichletEntropy,
  hashes,
  occupancyEntropy,
  slotCounts,
} from "../lib/hash/mod.ts";

function entropyOf(p: Float64Array): number {
  let h = 0;
  for (const v of p) if (v > 0) h -= v * Math.log(v);
  return h;
}

function meanSd(xs: number[]): { mean: number; sd: number } {
  const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
  const sd = Math.sqrt(xs.reduce((a, b) => a + (b - mean) ** 2, 0) / (xs.length - 1));
  return { mean, sd };
}

Deno.test("dirichlet π: probabilities sum to 1, are finite, depend on the seed only through it", () => {
  for (const alpha of [1e-4, 1e-3, 0.5, 1, 3, 1e4]) {
    const p = dirichletProbabilities(alpha, 500, 3);
    let sum = 0;
    for (const v of p) {
      assert.ok(v >= 0 && v <= 1 && Number.isFinite(v), `alpha ${alpha}: ${v}`);
      sum += v;
    }
    assert.ok(Math.abs(sum - 1) < 1e-12, `alpha ${alpha}: sum ${sum}`);
    assert.deepEqual(dirichletProbabilities(alpha, 500, 3), p);
    assert.notDeepEqual(dirichletProbabilities(alpha, 500, 4), p);
  }
});

Deno.test("dirichlet π: entropy −Σπ ln π matches ψ(Kα+1) − ψ(α+1) within 4 standard errors", () => {
  // Mean over 24 seeds; the tolerance is 4 standard errors of that mean
  // (sample sd / √24) plus 1e-9 for α so large that every draw is the same.
  // At 4σ a correct sampler fails one of these 14 cases with probability < 1e-3.
  const seeds = 24;
  for (const k of [1000, 10_000]) {
    for (const alpha of [1e-4, 1e-3, 1e-2, 0.1, 0.5, 1, 10, 1e4]) {
      if (k === 10_000 && alpha > 1) continue;
      const hs: number[] = [];
      for (let seed = 0; seed < seeds; seed++) {
        hs.push(entropyOf(dirichletProbabilities(alpha, k, seed)));
      }
      const { mean, sd } = meanSd(hs);
      const want = expectedDirichletEntropy(alpha, k);
      const tol = (4 * sd) / Math.sqrt(seeds) + 1e-9;
      assert.ok(
        Math.abs(mean - want) <= tol,
        `K=${k} α=${alpha}: mean ${mean}, expected ${want}, tolerance ${tol}`,
      );
    }
  }
});

Deno.test("dirichlet π: tiny α concentrates without underflowing to all zeros", () => {
  for (const alpha of [1e-4, 1e-8, 1e-30, 1e-300, Number.MIN_VALUE]) {
    const p = dirichletProbabilities(alpha, 2000, 1);
    const max = Math.max(...p);
    assert.ok(max > 0.2, `α=${alpha}: largest π ${max}`);
    assert.ok(Math.abs(p.reduce((a, b) => a + b, 0) - 1) < 1e-12);
  }
  // The α → 0 limit is a point mass.
  const p = dirichletProbabilities(1e-300, 2000, 1);
  assert.equal(p.filter((v) => v > 0).length, 1);
  const idx = hashes.dirichlet({ alpha: 1e-300 }).indices({
    rows: 20,
    cols: 30,
    tableSize: 2000,
    seed: 1,
  });
  assert.equal(new Set(idx).size, 1, "every position in the one slot");
});

Deno.test("dirichlet π: huge α is near uniform", () => {
  const p = dirichletProbabilities(1e4, 1000, 2);
  for (const v of p) assert.ok(Math.abs(v * 1000 - 1) < 0.1, `${v}`);
});

Deno.test("alias table: thresholds and aliases encode π exactly (up to 2^-32 rounding)", () => {
  for (const alpha of [1e-3, 0.1, 1, 100]) {
    const pi = dirichletProbabilities(alpha, 777, 5);
    const { threshold, alias, probabilities } = buildAliasTable(pi);
    for (let c = 0; c < pi.length; c++) assert.ok(Math.abs(probabilities[c] - pi[c]) < 1e-15);
    const k = pi.length;
    const implied = new Float64Array(k);
    for (let c = 0; c < k; c++) {
      assert.ok(alias[c] < k);
      const keep = threshold[c] / 2 ** 32;
      implied[c] += keep / k;
      implied[alias[c]] += (1 - keep) / k;
    }
    for (let c = 0; c < k; c++) {
      assert.ok(
        Math.abs(implied[c] - pi[c]) < 1e-9,
        `α=${alpha} slot ${c}: ${implied[c]} vs ${pi[c]}`,
      );
    }
  }
});

Deno.test("alias table: degenerate inputs", () => {
  const one = buildAliasTable(new Float64Array([0, 0, 1, 0]));
  for (let c = 0; c < 4; c++) {
    const reaches2 = c === 2 ? one.threshold[c] === 0xffffffff && one.alias[c] === 2 : (
      one.threshold[c] === 0 && one.alias[c] === 2
    );
    assert.ok(reaches2, `column ${c}`);
  }
  const flat = buildAliasTable(new Float64Array([0.25, 0.25, 0.25, 0.25]));
  assert.deepEqual([...flat.threshold], [0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff]);
  assert.deepEqual([...flat.alias], [0, 1, 2, 3]);
});

Deno.test("dirichlet slots follow π (chi-square goodness of fit, p > 0.001)", () => {
  const k = 200;
  const spec = { rows: 400, cols: 500, tableSize: k, seed: 8 };
  const h = hashes.dirichlet({ alpha: 0.5 });
  const pi = h.aliasTable(spec).probabilities;
  const counts = slotCounts(h.indices(spec), k);
  const n = spec.rows * spec.cols;
  let x2 = 0;
  let df = -1;
  for (let c = 0; c < k; c++) {
    const e = n * pi[c];
    if (e < 5) continue; // too small for the chi-square approximation
    x2 += (counts[c] - e) ** 2 / e;
    df++;
  }
  // Wilson–Hilferty: z > 3.09 is the upper 0.001 tail.
  const z = (Math.cbrt(x2 / df) - (1 - 2 / (9 * df))) / Math.sqrt(2 / (9 * df));
  assert.ok(z < 3.09, `X²=${x2}, df=${df}, z=${z}`);
});

Deno.test("mean normalised occupancy entropy rises monotonically with α", () => {
  // 100×100 positions over K = 1000 slots (10 per slot), 5 seeds. The gap
  // between α = 10 and α = 100 is about 0.007 while the standard error of
  // the mean is about 0.0004, so the order is decided by α, not by noise.
  const alphas = [1e-3, 1e-2, 0.1, 1, 10, 100];
  const means = alphas.map((alpha) => {
    let sum = 0;
    for (let seed = 1; seed <= 5; seed++) {
      const idx = hashes.dirichlet({ alpha }).indices({
        rows: 100,
        cols: 100,
        tableSize: 1000,
        seed,
      });
      sum += occupancyEntropy(idx, 1000).normalized;
    }
    return sum / 5;
  });
  for (let i = 1; i < means.length; i++) {
    assert.ok(
      means[i] > means[i - 1],
      `α=${alphas[i]} mean ${means[i]} not above α=${alphas[i - 1]} mean ${means[i - 1]}`,
    );
  }
});
