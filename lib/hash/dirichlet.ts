/**
 * The `dirichlet(α)` family, which varies *balance*: draw slot
 * probabilities `π ~ Dir(α·1_K)` once per (seed, K), then send each position
 * independently to slot `k` with probability `π_k`. Small α crowds the
 * positions into a few slots; large α tends to `uniform`.
 *
 * Host side (once per layer, float64, `Rng` seeded with
 * `deriveSeed("gamma", seed)`): Gamma(α) draws by Marsaglia–Tsang, with the
 * boost `G(α) = G(α + 1)·U^{1/α}` for α < 1. The draws are kept in log space
 * and normalised by their maximum (`π_k ∝ exp(log G_k − max log G)`), so the
 * largest is exactly 1 before normalising: for tiny α, where almost every
 * `G_k` underflows to 0 in linear space, the result is a valid, highly
 * concentrated π, never all zeros or NaN. (For α < 1 the logs are compared
 * as `α·log G_k = α·log G(α+1) + log U`, finite even when `log U / α` is
 * not, so as α → 0 the draw tends to a point mass on the slot with the
 * largest `U`: the correct limit.) Then a Vose alias table turns π into, per
 * column `c`, a u32 threshold and an alias slot.
 *
 * Per position (u32 only, what the GPU does with the uploaded table):
 * `c = xxh32U32(p, aliasColumnSeed) % K`, keep `c` if
 * `xxh32U32(p, aliasCoinSeed) < threshold[c]`, else take `alias[c]`.
 * @module
 */

import { Rng } from "../util/random.ts";
import { makeHash } from "./family.ts";
import { deriveSeed } from "./seeds.ts";
import type { Hash, IndexSpec } from "./types.ts";
import { checkBool, checkKeys, checkSpec, U32_MAX } from "./validate.ts";
import { xxh32U32 } from "./xxhash32.ts";
import { invalidOption } from "../errors.ts";

/** Options of {@linkcode dirichlet}. */
export interface DirichletOptions {
  /** Concentration α, a finite number > 0 (tested from 1e-4 to 1e4). */
  alpha: number;
  /** Use the sign hash `ξ(p)`. Default `false`. */
  sign?: boolean;
}

/**
 * An alias table over `K` slots (Vose): column `c` keeps itself with
 * probability `threshold[c] / 2^32`, else goes to `alias[c]`.
 */
export interface AliasTable {
  /** The slot probabilities `π` it was built from (sum 1). */
  probabilities: Float64Array;
  /** Per column, `round(prob · 2^32)` clamped to `[0, 2^32 − 1]`; keep `c` iff coin < threshold. */
  threshold: Uint32Array;
  /** Per column, the slot taken when the coin fails (itself for full columns). */
  alias: Uint32Array;
}

/** A `dirichlet` hash, which also exposes its alias table for upload to the GPU. */
export interface DirichletHash extends Hash {
  /**
   * The alias table used for `spec` (it depends on `tableSize` and `seed`
   * only). Fresh arrays each call.
   */
  aliasTable(spec: IndexSpec): AliasTable;
}

// log of a Gamma(a) draw for a ≥ 1, Marsaglia & Tsang (2000).
function logGammaAtLeastOne(rng: Rng, a: number): number {
  const d = a - 1 / 3;
  const c = 1 / Math.sqrt(9 * d);
  const logD = Math.log(d);
  for (;;) {
    let x: number;
    let v: number;
    do {
      x = rng.normal();
      v = 1 + c * x;
    } while (v <= 0);
    v = v * v * v;
    const u = rng.next();
    const x2 = x * x;
    if (u < 1 - 0.0331 * x2 * x2) return logD + Math.log(v);
    if (u > 0 && Math.log(u) < 0.5 * x2 + d * (1 - v + Math.log(v))) return logD + Math.log(v);
  }
}

/**
 * Draws `π ~ Dir(α·1_K)` (see the module doc for the numerics).
 *
 * @param alpha concentration α, a finite number > 0
 * @param tableSize `K`, a positive integer
 * @param seed the user seed, a u32 (the draws use `Rng(deriveSeed("gamma", seed))`)
 * @returns `K` probabilities summing to 1 (up to rounding), at least one > 0
 */
export function dirichletProbabilities(
  alpha: number,
  tableSize: number,
  seed: number,
): Float64Array {
  checkAlpha(alpha);
  if (!Number.isInteger(tableSize) || tableSize < 1 || tableSize > U32_MAX) {
    invalidOption("tableSize", tableSize, `an integer in [1, ${U32_MAX}]`);
  }
  const rng = new Rng(deriveSeed("gamma", seed));
  const k = tableSize;
  // keys = scale · log G, scale = min(α, 1): see the module doc.
  const scale = Math.min(alpha, 1);
  const keys = new Float64Array(k);
  let max = -Infinity;
  for (let i = 0; i < k; i++) {
    let key: number;
    if (alpha >= 1) {
      key = logGammaAtLeastOne(rng, alpha);
    } else {
      let u = rng.next();
      while (u === 0) u = rng.next();
      key = alpha * logGammaAtLeastOne(rng, alpha + 1) + Math.log(u);
    }
    keys[i] = key;
    if (key > max) max = key;
  }
  let sum = 0;
  for (let i = 0; i < k; i++) {
    const e = Math.exp((keys[i] - max) / scale);
    keys[i] = e;
    sum += e;
  }
  for (let i = 0; i < k; i++) keys[i] /= sum;
  return keys;
}

/**
 * Builds a Vose alias table for sampling slot `k` with probability `π_k`.
 *
 * @param probabilities `π`, non-negative, summing to 1 (renormalised if not)
 * @returns thresholds and aliases (the GPU uploads these) and `π` itself
 */
export function buildAliasTable(probabilities: Float64Array): AliasTable {
  const k = probabilities.length;
  if (k < 1 || k > U32_MAX) invalidOption("probabilities", probabilities, "1 to 2^32 − 1 entries");
  let total = 0;
  for (let i = 0; i < k; i++) {
    const v = probabilities[i];
    if (!(v >= 0 && v < Infinity)) {
      invalidOption(`probabilities[${i}]`, v, "a finite number ≥ 0");
    }
    total += v;
  }
  if (!(total > 0)) invalidOption("probabilities", probabilities, "a positive sum");
  const q = new Float64Array(k);
  for (let i = 0; i < k; i++) q[i] = (probabilities[i] / total) * k;
  const prob = new Float64Array(k);
  const alias = new Uint32Array(k);
  const small = new Uint32Array(k);
  const large = new Uint32Array(k);
  let ns = 0;
  let nl = 0;
  for (let i = 0; i < k; i++) {
    if (q[i] < 1) small[ns++] = i;
    else large[nl++] = i;
  }
  while (ns > 0 && nl > 0) {
    const l = small[--ns];
    const g = large[--nl];
    prob[l] = q[l];
    alias[l] = g;
    // (q_g + q_l) − 1 loses less precision than q_g − (1 − q_l).
    q[g] = q[g] + q[l] - 1;
    if (q[g] < 1) small[ns++] = g;
    else large[nl++] = g;
  }
  // What is left is full up to rounding: keep itself with certainty.
  while (nl > 0) {
    const g = large[--nl];
    prob[g] = 1;
    alias[g] = g;
  }
  while (ns > 0) {
    const l = small[--ns];
    prob[l] = 1;
    alias[l] = l;
  }
  const threshold = new Uint32Array(k);
  for (let i = 0; i < k; i++) {
    threshold[i] = prob[i] >= 1 ? U32_MAX : Math.min(U32_MAX, Math.round(prob[i] * 4294967296));
  }
  const pi = new Float64Array(k);
  for (let i = 0; i < k; i++) pi[i] = probabilities[i] / total;
  return { probabilities: pi, threshold, alias };
}

/**
 * The slot of one position under an alias table.
 *
 * @param p the position, a u32
 * @param columnSeed `deriveSeed("aliasColumn", seed)`
 * @param coinSeed `deriveSeed("aliasCoin", seed)`
 * @param threshold the table's thresholds
 * @param alias the table's aliases
 * @returns a slot in `[0, K)`
 */
export function aliasSlot(
  p: number,
  columnSeed: number,
  coinSeed: number,
  threshold: Uint32Array,
  alias: Uint32Array,
): number {
  const c = xxh32U32(p, columnSeed) % threshold.length;
  return xxh32U32(p, coinSeed) < threshold[c] ? c : alias[c];
}

function checkAlpha(alpha: unknown): number {
  if (typeof alpha !== "number" || !(alpha > 0 && alpha < Infinity)) {
    invalidOption("alpha", alpha, "a finite number > 0, e.g. 1e-3 to 100");
  }
  return alpha;
}

/**
 * A Dirichlet hash: balance controlled by the concentration α.
 *
 * @param options `alpha` (required), `sign` (default false)
 * @returns the hash, with {@linkcode DirichletHash.aliasTable}
 *
 * @example
 * ```ts
 * import { dirichlet } from "./dirichlet.ts";
 * const h = dirichlet({ alpha: 0.1 });
 * const idx = h.indices({ rows: 784, cols: 1000, tableSize: 98_000, seed: 1 });
 * ```
 */
export function dirichlet(options: DirichletOptions): DirichletHash {
  const o = checkKeys("hashes.dirichlet options", options, ["alpha", "sign"]);
  const alpha = checkAlpha(o.alpha);
  const sign = checkBool("sign", o.sign, false);
  // indices() and aliasTable() for the same layer share one set of draws.
  let cached: { k: number; seed: number; table: AliasTable } | undefined;
  const tableFor = (k: number, seed: number): AliasTable => {
    if (cached === undefined || cached.k !== k || cached.seed !== seed) {
      cached = { k, seed, table: buildAliasTable(dirichletProbabilities(alpha, k, seed)) };
    }
    return cached.table;
  };
  return makeHash({
    family: "dirichlet",
    options: { alpha, sign },
    sign,
    fill(s, out) {
      const { threshold, alias } = tableFor(s.tableSize, s.seed);
      const columnSeed = deriveSeed("aliasColumn", s.seed);
      const coinSeed = deriveSeed("aliasCoin", s.seed);
      const k = s.tableSize;
      for (let p = 0; p < s.n; p++) {
        const c = xxh32U32(p, columnSeed) % k;
        out[p] = xxh32U32(p, coinSeed) < threshold[c] ? c : alias[c];
      }
    },
  }, {
    aliasTable(spec: IndexSpec): AliasTable {
      const s = checkSpec(spec);
      const t = tableFor(s.tableSize, s.seed);
      return {
        probabilities: t.probabilities.slice(),
        threshold: t.threshold.slice(),
        alias: t.alias.slice(),
      };
    },
  });
}
