import assert from "node:assert/strict";
import {
  logGamma,
  mean,
  median,
  ranks,
  regularizedIncompleteBeta,
  spearman,
  spearmanTP,
  std,
  studentTTwoSidedP,
} from "../lib/experiment/mod.ts";

function close(actual: number, expected: number, tol: number, what = "") {
  assert.ok(
    Math.abs(actual - expected) <= tol,
    `${what} ${actual} is not within ${tol} of ${expected}`,
  );
}

Deno.test("mean and sample std", () => {
  assert.equal(mean([1, 2, 3, 4]), 2.5);
  close(std([2, 4, 4, 4, 5, 5, 7, 9]), Math.sqrt(32 / 7), 1e-12);
  assert.ok(Number.isNaN(std([1])));
  assert.ok(Number.isNaN(mean([])));
});

Deno.test("median: the middle value, the upper one of an even count, unsorted input kept", () => {
  const xs = [5, 1, 4, 2, 3];
  assert.equal(median(xs), 3);
  assert.deepEqual(xs, [5, 1, 4, 2, 3]);
  assert.equal(median([4, 1, 3, 2]), 3);
  assert.ok(Number.isNaN(median([])));
});

Deno.test("ranks give ties the mean of their ranks", () => {
  assert.deepEqual(ranks([10, 20, 20, 30]), [1, 2.5, 2.5, 4]);
  assert.deepEqual(ranks([3, 1, 2]), [3, 1, 2]);
  assert.deepEqual(ranks([5, 5, 5]), [2, 2, 2]);
});

Deno.test("spearman: monotone → ±1 whatever the shape", () => {
  const x = Array.from({ length: 10 }, (_, i) => i + 1);
  assert.equal(spearman(x, x.map((v) => v ** 3)).rho, 1);
  assert.equal(spearman(x, x.map((v) => Math.exp(-v))).rho, -1);
  assert.equal(spearman(x, x.map((v) => v ** 3)).p, 0);
  assert.equal(spearman(x, x.map((v) => v ** 3)).method, "t");
});

Deno.test("spearman: ties and a textbook value", () => {
  // y ranks [1, 2.5, 2.5, 4, 5]: Σxy = 9.5, Σx² = 10, Σy² = 9.5, so ρ = √0.95.
  close(spearman([1, 2, 3, 4, 5], [1, 2, 2, 3, 5]).rho, Math.sqrt(0.95), 1e-12);
  // IQ vs hours of TV (the Wikipedia "Spearman's rank correlation" example):
  // ρ = −29/165, p = 0.627188 from the t distribution.
  const iq = [106, 100, 86, 101, 99, 103, 97, 113, 112, 110];
  const tv = [7, 27, 2, 50, 28, 29, 20, 12, 6, 17];
  const r = spearman(iq, tv);
  close(r.rho, -29 / 165, 1e-12);
  close(r.p, 0.627188, 1e-6);
  assert.equal(r.method, "t");
  // Constant side: no correlation defined.
  const c = spearman([1, 2, 3, 4], [7, 7, 7, 7]);
  assert.ok(Number.isNaN(c.rho) && Number.isNaN(c.p));
  assert.equal(c.method, "none");
});

Deno.test("spearman: exact permutation p for small n", () => {
  // Only the identity and the reversal reach |ρ| = 1: p = 2/n!.
  close(spearman([1, 2, 3, 4], [1, 2, 3, 4]).p, 2 / 24, 1e-12);
  close(spearman([1, 2, 3, 4, 5], [5, 4, 3, 2, 1]).p, 2 / 120, 1e-12);
  assert.equal(spearman([1, 2, 3, 4, 5], [1, 2, 3, 4, 5]).method, "exact");
  // ρ = 0 is reached or beaten by every permutation.
  assert.equal(spearman([1, 1, 2, 2], [1, 2, 1, 2]).p, 1);
  // n = 8 exact vs t approximation: close for moderate ρ.
  const x = [1, 2, 3, 4, 5, 6, 7, 8];
  const y = [2, 1, 4, 3, 6, 5, 8, 7];
  const r = spearman(x, y);
  assert.equal(r.method, "exact");
  close(r.rho, 1 - (6 * 8) / (8 * 63), 1e-12);
  assert.ok(r.p > 0 && r.p < 0.01);
  close(r.p, spearmanTP(r.rho, 8), 0.01);
});

Deno.test("logGamma against factorials and Γ(1/2) = √π", () => {
  close(logGamma(1), 0, 1e-13);
  close(logGamma(10), Math.log(362880), 1e-12);
  close(logGamma(0.5), Math.log(Math.sqrt(Math.PI)), 1e-13);
  close(logGamma(0.1), Math.log(9.513507698668732), 1e-12);
});

Deno.test("regularized incomplete beta against closed forms", () => {
  const I = regularizedIncompleteBeta;
  close(I(0.3, 1, 1), 0.3, 1e-14, "I(1,1)");
  close(I(0.3, 2.5, 1), 0.3 ** 2.5, 1e-13, "I(a,1)");
  close(I(0.3, 1, 4.5), 1 - 0.7 ** 4.5, 1e-13, "I(1,b)");
  close(I(0.5, 7.3, 7.3), 0.5, 1e-13, "symmetric");
  // Integer a, b: a binomial tail, Σ_{j=2}^{4} C(4,j) 0.4^j 0.6^(4−j) = 0.5248.
  close(I(0.4, 2, 3), 0.5248, 1e-13, "binomial");
  close(I(0.9, 50, 2) + I(0.1, 2, 50), 1, 1e-13, "I_x(a,b) = 1 − I_{1−x}(b,a)");
  assert.equal(I(0, 2, 3), 0);
  assert.equal(I(1, 2, 3), 1);
  assert.ok(Number.isNaN(I(0.5, 0, 1)));
});

Deno.test("Student t two-sided tails against known values", () => {
  // df = 1 is Cauchy: P(|T| ≥ t) = 1 − (2/π)·atan(t).
  close(studentTTwoSidedP(1, 1), 0.5, 1e-13);
  close(studentTTwoSidedP(3, 1), 1 - (2 / Math.PI) * Math.atan(3), 1e-13);
  // df = 2: P(|T| ≥ t) = 1 − t/√(t² + 2).
  close(studentTTwoSidedP(1, 2), 1 - 1 / Math.sqrt(3), 1e-13);
  // Two-sided 5% critical values from t tables.
  close(studentTTwoSidedP(12.706204736, 1), 0.05, 1e-9);
  close(studentTTwoSidedP(2.228138852, 10), 0.05, 1e-9);
  close(studentTTwoSidedP(2.042272456, 30), 0.05, 1e-9);
  close(studentTTwoSidedP(-2.042272456, 30), 0.05, 1e-9);
  close(studentTTwoSidedP(1.959963985, 1e7), 0.05, 1e-6);
  // 1% critical value, df = 5.
  close(studentTTwoSidedP(4.032142984, 5), 0.01, 1e-9);
  assert.equal(studentTTwoSidedP(0, 7), 1);
  assert.equal(studentTTwoSidedP(Infinity, 7), 0);
});
