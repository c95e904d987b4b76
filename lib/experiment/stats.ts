/**
 * The statistics the report needs: mean, median and sample standard deviation,
 * Spearman rank correlation with ties, and its two-sided p-value (exact by
 * permutation for small n, else Student's t with n − 2 df through the
 * regularized incomplete beta function).
 *
 * Owns: numerics only. Imports nothing.
 * @module
 */

/** Arithmetic mean; NaN for an empty list. */
export function mean(xs: readonly number[]): number {
  if (xs.length === 0) return NaN;
  let s = 0;
  for (const x of xs) s += x;
  return s / xs.length;
}

/** Sample standard deviation (n − 1 denominator); NaN for fewer than 2 values. */
export function std(xs: readonly number[]): number {
  if (xs.length < 2) return NaN;
  const m = mean(xs);
  let s = 0;
  for (const x of xs) s += (x - m) ** 2;
  return Math.sqrt(s / (xs.length - 1));
}

/**
 * Upper median (the middle value, or the upper of the two middle ones), as
 * the benchmarks report step times; NaN for an empty list.
 */
export function median(xs: readonly number[]): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((p, q) => p - q);
  return s[Math.floor(s.length / 2)];
}

/** 1-based ranks, tied values sharing the mean of the ranks they span. */
export function ranks(xs: readonly number[]): number[] {
  const order = xs.map((_, i) => i).sort((a, b) => xs[a] - xs[b]);
  const r = new Array<number>(xs.length);
  for (let i = 0; i < order.length;) {
    let j = i;
    while (j + 1 < order.length && xs[order[j + 1]] === xs[order[i]]) j++;
    const avg = (i + j) / 2 + 1;
    for (let k = i; k <= j; k++) r[order[k]] = avg;
    i = j + 1;
  }
  return r;
}

/** Pearson correlation; NaN when either side is constant or n < 2. */
export function pearson(x: readonly number[], y: readonly number[]): number {
  const n = x.length;
  if (n !== y.length) throw new RangeError(`pearson: lengths differ (${n} vs ${y.length})`);
  if (n < 2) return NaN;
  const mx = mean(x);
  const my = mean(y);
  let sxy = 0;
  let sxx = 0;
  let syy = 0;
  for (let i = 0; i < n; i++) {
    const dx = x[i] - mx;
    const dy = y[i] - my;
    sxy += dx * dy;
    sxx += dx * dx;
    syy += dy * dy;
  }
  if (sxx === 0 || syy === 0) return NaN;
  return Math.max(-1, Math.min(1, sxy / Math.sqrt(sxx * syy)));
}

/** Largest n for which {@linkcode spearman} enumerates all n! permutations (8! = 40,320). */
export const EXACT_MAX_N = 8;

/** A Spearman test. */
export type SpearmanResult = {
  /** Rank correlation in [−1, 1]; NaN when x or y is constant. */
  rho: number;
  /** Pairs used. */
  n: number;
  /** Two-sided p-value for H0 "no monotone association"; NaN when it cannot be computed. */
  p: number;
  /** How `p` was computed. */
  method: "exact" | "t" | "none";
};

/**
 * Spearman's ρ: Pearson's correlation of the ranks, with ties given mean
 * ranks (the form that stays correct under ties, unlike `1 − 6Σd²/(n(n²−1))`).
 * The two-sided p-value is exact for n ≤ {@linkcode EXACT_MAX_N} (share of
 * the n! permutations of y with |ρ| at least as large; ties included), and
 * otherwise from `t = ρ·√((n−2)/(1−ρ²))` with n − 2 degrees of freedom.
 *
 * @example
 * ```ts
 * import { spearman } from "./stats.ts";
 * spearman([1, 2, 3, 4], [10, 20, 30, 40]).rho; // 1
 * ```
 */
export function spearman(x: readonly number[], y: readonly number[]): SpearmanResult {
  const n = x.length;
  if (n !== y.length) throw new RangeError(`spearman: lengths differ (${n} vs ${y.length})`);
  const rx = ranks(x);
  const ry = ranks(y);
  const rho = pearson(rx, ry);
  if (!Number.isFinite(rho) || n < 3) return { rho, n, p: NaN, method: "none" };
  if (n <= EXACT_MAX_N) return { rho, n, p: exactP(rx, ry, rho), method: "exact" };
  return { rho, n, p: spearmanTP(rho, n), method: "t" };
}

/** Two-sided t-approximation p-value of a Spearman (or Pearson) ρ over n pairs. */
export function spearmanTP(rho: number, n: number): number {
  const df = n - 2;
  if (df < 1 || !Number.isFinite(rho)) return NaN;
  if (Math.abs(rho) >= 1) return 0;
  const t = rho * Math.sqrt(df / (1 - rho * rho));
  return studentTTwoSidedP(t, df);
}

function exactP(rx: number[], ry: number[], rho: number): number {
  // The denominator of Pearson is invariant under permuting y, so compare Σ rx·ry instead.
  const n = rx.length;
  const mx = mean(rx);
  const my = mean(ry);
  const cx = rx.map((v) => v - mx);
  const cy = ry.map((v) => v - my);
  let sxx = 0;
  let syy = 0;
  for (let i = 0; i < n; i++) {
    sxx += cx[i] * cx[i];
    syy += cy[i] * cy[i];
  }
  const target = Math.abs(rho) * Math.sqrt(sxx * syy) - 1e-9;
  const perm = cy.slice();
  let hits = 0;
  let total = 0;
  const visit = () => {
    let s = 0;
    for (let i = 0; i < n; i++) s += cx[i] * perm[i];
    total++;
    if (Math.abs(s) >= target) hits++;
  };
  // Heap's algorithm, iterative.
  const c = new Array<number>(n).fill(0);
  visit();
  for (let i = 1; i < n;) {
    if (c[i] < i) {
      const j = i % 2 === 0 ? 0 : c[i];
      const t = perm[j];
      perm[j] = perm[i];
      perm[i] = t;
      visit();
      c[i]++;
      i = 1;
    } else {
      c[i] = 0;
      i++;
    }
  }
  return hits / total;
}

/** Two-sided tail `P(|T| ≥ |t|)` of Student's t with `df` degrees of freedom. */
export function studentTTwoSidedP(t: number, df: number): number {
  if (!(df > 0) || Number.isNaN(t)) return NaN;
  if (!Number.isFinite(t)) return 0;
  return regularizedIncompleteBeta(df / (df + t * t), df / 2, 0.5);
}

/** ln Γ(x) for x > 0 (Lanczos, g = 7, 9 terms: ~15 significant digits). */
export function logGamma(x: number): number {
  if (x < 0.5) {
    // Reflection keeps the series in its accurate range.
    return Math.log(Math.PI / Math.abs(Math.sin(Math.PI * x))) - logGamma(1 - x);
  }
  const g = 7;
  const c = [
    0.99999999999980993,
    676.5203681218851,
    -1259.1392167224028,
    771.32342877765313,
    -176.61502916214059,
    12.507343278686905,
    -0.13857109526572012,
    9.9843695780195716e-6,
    1.5056327351493116e-7,
  ];
  const z = x - 1;
  let a = c[0];
  const tt = z + g + 0.5;
  for (let i = 1; i < 9; i++) a += c[i] / (z + i);
  return 0.5 * Math.log(2 * Math.PI) + (z + 0.5) * Math.log(tt) - tt + Math.log(a);
}

/**
 * The regularized incomplete beta function `I_x(a, b)` for `x ∈ [0, 1]`,
 * `a, b > 0`: the continued fraction of Numerical Recipes §6.4 evaluated
 * with the modified Lentz method, on whichever of `I_x(a, b)` and
 * `1 − I_{1−x}(b, a)` converges fast.
 *
 * @example
 * ```ts
 * import { regularizedIncompleteBeta } from "./stats.ts";
 * regularizedIncompleteBeta(0.5, 2, 2); // 0.5
 * ```
 */
export function regularizedIncompleteBeta(x: number, a: number, b: number): number {
  if (!(a > 0 && b > 0) || Number.isNaN(x)) return NaN;
  if (x <= 0) return 0;
  if (x >= 1) return 1;
  const lnFront = logGamma(a + b) - logGamma(a) - logGamma(b) + a * Math.log(x) +
    b * Math.log1p(-x);
  const front = Math.exp(lnFront);
  if (x < (a + 1) / (a + b + 2)) return (front * betaContinuedFraction(x, a, b)) / a;
  return 1 - (front * betaContinuedFraction(1 - x, b, a)) / b;
}

function betaContinuedFraction(x: number, a: number, b: number): number {
  const TINY = 1e-300;
  const EPS = 1e-15;
  const qab = a + b;
  const qap = a + 1;
  const qam = a - 1;
  let c = 1;
  let d = 1 - (qab * x) / qap;
  if (Math.abs(d) < TINY) d = TINY;
  d = 1 / d;
  let h = d;
  for (let m = 1; m <= 10_000; m++) {
    const m2 = 2 * m;
    let aa = (m * (b - m) * x) / ((qam + m2) * (a + m2));
    d = 1 + aa * d;
    if (Math.abs(d) < TINY) d = TINY;
    c = 1 + aa / c;
    if (Math.abs(c) < TINY) c = TINY;
    d = 1 / d;
    h *= d * c;
    aa = (-(a + m) * (qab + m) * x) / ((a + m2) * (qap + m2));
    d = 1 + aa * d;
    if (Math.abs(d) < TINY) d = TINY;
    c = 1 + aa / c;
    if (Math.abs(c) < TINY) c = TINY;
    d = 1 / d;
    const del = d * c;
    h *= del;
    if (Math.abs(del - 1) < EPS) return h;
  }
  return h; // not reached for the a, b the t-test uses; better a close value than a throw
}

/** Upper tail `P(T ≥ t)` of Student's t with `df` degrees of freedom. */
export function studentTUpperP(t: number, df: number): number {
  const two = studentTTwoSidedP(t, df);
  return t >= 0 ? two / 2 : 1 - two / 2;
}

/**
 * The quantile of Student's t: the `t` with `P(T ≤ t) = prob` (bisection on
 * the tail, to about 1e-10), e.g. `studentTQuantile(0.975, 4)` ≈ 2.776.
 */
export function studentTQuantile(prob: number, df: number): number {
  if (!(prob > 0 && prob < 1) || !(df > 0)) return NaN;
  if (prob === 0.5) return 0;
  if (prob < 0.5) return -studentTQuantile(1 - prob, df);
  let lo = 0;
  let hi = 1;
  while (studentTUpperP(hi, df) > 1 - prob) hi *= 2;
  for (let i = 0; i < 200 && hi - lo > 1e-12 * hi; i++) {
    const mid = (lo + hi) / 2;
    if (studentTUpperP(mid, df) > 1 - prob) lo = mid;
    else hi = mid;
  }
  return (lo + hi) / 2;
}

/** A one-sample t test of paired differences, with its CI and an equivalence test. */
export type PairedTest = {
  /** Pairs. */
  n: number;
  /** Mean difference. */
  mean: number;
  /** Sample standard deviation of the differences. */
  sd: number;
  /** Two-sided p of "mean difference = 0" (Student's t, n − 1 df). */
  p: number;
  /** Confidence interval of the mean difference at `level`. */
  ci: [number, number];
  /** Its level, e.g. 0.95. */
  level: number;
  /**
   * Two one-sided tests of `|mean| ≥ margin`: the larger one-sided p. Small
   * means the difference is within `±margin` (equivalence).
   */
  tostP: number;
  /** The equivalence margin. */
  margin: number;
};

/**
 * The paired t test of differences `d` (e.g. accuracy of condition B minus
 * A, seed by seed): mean, `level` CI, two-sided p, and the TOST p for an
 * equivalence margin. Needs n ≥ 2; identical differences give p 0 (or 1
 * when they are all 0) and a zero-width CI.
 */
export function pairedTest(d: readonly number[], margin: number, level = 0.95): PairedTest {
  const n = d.length;
  const m = mean(d);
  const sd = std(d);
  if (n < 2) return { n, mean: m, sd, p: NaN, ci: [NaN, NaN], level, tostP: NaN, margin };
  const df = n - 1;
  const se = sd / Math.sqrt(n);
  if (se === 0) {
    const within = Math.abs(m) < margin;
    return { n, mean: m, sd, p: m === 0 ? 1 : 0, ci: [m, m], level, tostP: within ? 0 : 1, margin };
  }
  const q = studentTQuantile(1 - (1 - level) / 2, df);
  const tostP = Math.max(
    studentTUpperP((m + margin) / se, df),
    1 - studentTUpperP((m - margin) / se, df),
  );
  return {
    n,
    mean: m,
    sd,
    p: studentTTwoSidedP(m / se, df),
    ci: [m - q * se, m + q * se],
    level,
    tostP,
    margin,
  };
}

/**
 * Holm's step-down adjustment of p-values (family-wise error control):
 * sorted ascending, `p_(i) · (m − i)`, made monotone and capped at 1;
 * returned in the input order. NaN entries are left out of the family and stay NaN.
 */
export function holm(ps: readonly number[]): number[] {
  const idx = ps.map((p, i) => ({ p, i })).filter((e) => !Number.isNaN(e.p))
    .sort((a, b) => a.p - b.p);
  const m = idx.length;
  const out = ps.map(() => NaN);
  let running = 0;
  idx.forEach((e, rank) => {
    running = Math.max(running, Math.min(1, e.p * (m - rank)));
    out[e.i] = running;
  });
  return out;
}
