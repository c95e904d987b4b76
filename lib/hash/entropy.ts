/**
 * Occupancy entropy, the paper's measure of *balance*: how evenly a hash
 * spreads positions over the trainable slots. With `c_k` the number of
 * positions sent to slot `k < K` (the zero slot `K` is not counted) and
 * `n = Σ c_k`: `q_k = c_k / n`, `H = −Σ q_k ln q_k` nats,
 * `H_norm = H / ln K ∈ [0, 1]`.
 *
 * Conventions: if no position reaches a trainable slot (`n = 0`, e.g. a tiny
 * and very sparse layer) both are 0. If `K = 1` then `ln K = 0`; a single
 * slot holding everything is the only possible, hence the most balanced,
 * occupancy, so `normalized = 1` (when `n > 0`).
 *
 * Also the Dirichlet oracle `E[H(π)] = ψ(Kα + 1) − ψ(α + 1)` for
 * `π ~ Dir(α·1_K)`, with a digamma `ψ`.
 * @module
 */

import { invalidOption } from "../errors.ts";
import { U32_MAX } from "./validate.ts";

/** An entropy in nats and normalised by `ln K`. */
export interface Entropy {
  /** `H = −Σ q_k ln q_k`, in nats. */
  nats: number;
  /** `H / ln K`, in `[0, 1]`. */
  normalized: number;
}

/** One layer's slots, for {@linkcode networkEntropy}: its indices, or its slot counts. */
export interface LayerSlots {
  /** The layer's `indices()` output (ignored when `counts` is given). */
  indices?: Uint32Array;
  /** Its slot counts (`K + 1`, the zero slot last), e.g. from `proceduralSlotCounts`. */
  counts?: Uint32Array;
  /** The layer's `K`. */
  tableSize: number;
}

/**
 * How many positions each slot receives.
 *
 * @param indices slots, each in `[0, tableSize]`
 * @param tableSize `K`
 * @returns `K + 1` counts; the last is the zero slot
 */
export function slotCounts(indices: Uint32Array, tableSize: number): Uint32Array {
  if (!Number.isInteger(tableSize) || tableSize < 1 || tableSize > U32_MAX) {
    invalidOption("tableSize", tableSize, `an integer in [1, ${U32_MAX}]`);
  }
  if (!(indices instanceof Uint32Array)) invalidOption("indices", indices, "a Uint32Array");
  const counts = new Uint32Array(tableSize + 1);
  for (let p = 0; p < indices.length; p++) {
    const k = indices[p];
    if (k > tableSize) {
      invalidOption(`indices[${p}]`, k, `a slot in [0, ${tableSize}] (tableSize = ${tableSize})`);
    }
    counts[k]++;
  }
  return counts;
}

// Adds the trainable counts' histogram (count → number of slots) into `hist`.
function addHistogram(counts: Uint32Array, k: number, hist: Map<number, number>): number {
  let n = 0;
  for (let i = 0; i < k; i++) {
    const c = counts[i];
    if (c === 0) continue;
    n += c;
    hist.set(c, (hist.get(c) ?? 0) + 1);
  }
  return n;
}

// Grouping slots by count makes each group's term (m·c/n)·ln(n/c): exact for
// round-robin (one group with m·c = n gives exactly ln K), and few logs.
function fromHistogram(hist: Map<number, number>, n: number, totalSlots: number): Entropy {
  if (n === 0) return { nats: 0, normalized: 0 };
  let nats = 0;
  for (const [c, m] of hist) nats += ((m * c) / n) * Math.log(n / c);
  if (totalSlots === 1) return { nats, normalized: 1 };
  return { nats, normalized: Math.min(1, nats / Math.log(totalSlots)) };
}

/**
 * Occupancy entropy of one layer's slots (see the module doc).
 *
 * @param indices slots from `indices()`, each in `[0, tableSize]`
 * @param tableSize `K`
 * @returns `{ nats, normalized }`
 *
 * @example
 * ```ts
 * import { occupancyEntropy } from "./entropy.ts";
 * occupancyEntropy(new Uint32Array([0, 1, 2, 3]), 4); // { nats: ln 4, normalized: 1 }
 * ```
 */
export function occupancyEntropy(indices: Uint32Array, tableSize: number): Entropy {
  return countsEntropy(slotCounts(indices, tableSize), tableSize);
}

/**
 * Occupancy entropy from slot counts (`K + 1` of them, the last the zero
 * slot, as {@linkcode slotCounts} returns): for layers that never build their
 * indices (procedural ones, see `proceduralSlotCounts`).
 *
 * @param counts positions per slot, the zero slot last
 * @param tableSize `K`
 * @returns `{ nats, normalized }`
 */
export function countsEntropy(counts: Uint32Array, tableSize: number): Entropy {
  if (!(counts instanceof Uint32Array) || counts.length !== tableSize + 1) {
    invalidOption("counts", counts, `a Uint32Array of tableSize + 1 = ${tableSize + 1} counts`);
  }
  const hist = new Map<number, number>();
  const n = addHistogram(counts, tableSize, hist);
  return fromHistogram(hist, n, tableSize);
}

/**
 * Occupancy entropy of a whole network: the layers' tables are treated as
 * disjoint sets of slots (a weight in layer 1 is never shared with layer 2),
 * their counts pooled into one distribution over all `ΣK_l` trainable slots
 * (`q = c / Σ n_l`), and `normalized = H / ln(ΣK_l)`. So a network is
 * perfectly balanced only if every slot of every layer holds the same number
 * of positions, and big layers weigh in proportion to their positions.
 *
 * @param layers each layer's slots and `K`
 * @returns `{ nats, normalized }` of the pooled occupancy
 */
export function networkEntropy(layers: readonly LayerSlots[]): Entropy {
  if (!Array.isArray(layers) || layers.length === 0) {
    invalidOption("layers", layers, "a non-empty array of { indices, tableSize }");
  }
  const hist = new Map<number, number>();
  let n = 0;
  let total = 0;
  for (const layer of layers) {
    const counts = layer.counts ?? slotCounts(layer.indices!, layer.tableSize);
    n += addHistogram(counts, layer.tableSize, hist);
    total += layer.tableSize;
  }
  return fromHistogram(hist, n, total);
}

/**
 * The digamma function `ψ(x) = d/dx ln Γ(x)` for `x > 0` (recurrence up to
 * `x ≥ 10`, then seven terms of the asymptotic series; absolute error about 1e-15
 * near 1, relative 1e-15 elsewhere).
 *
 * @param x a positive number
 * @returns `ψ(x)`
 */
export function digamma(x: number): number {
  if (!(x > 0 && x < Infinity)) invalidOption("x", x, "a finite number > 0");
  let acc = 0;
  while (x < 10) {
    acc -= 1 / x;
    x += 1;
  }
  const r = 1 / (x * x);
  // Σ B_2n / (2n·x^2n) for n = 1..7 (B_2 = 1/6, B_4 = −1/30, …), in Horner form.
  const series = r *
    (1 / 12 -
      r * (1 / 120 - r * (1 / 252 - r * (1 / 240 - r * (1 / 132 - r * (691 / 32760 - r / 12))))));
  return acc + Math.log(x) - 0.5 / x - series;
}

/**
 * The expected entropy (nats) of `π ~ Dir(α·1_K)`: `ψ(Kα + 1) − ψ(α + 1)`.
 *
 * @param alpha concentration α > 0
 * @param tableSize `K`, a positive integer
 * @returns `E[−Σ π_k ln π_k]`
 */
export function expectedDirichletEntropy(alpha: number, tableSize: number): number {
  if (!(alpha > 0 && alpha < Infinity)) invalidOption("alpha", alpha, "a finite number > 0");
  if (!Number.isInteger(tableSize) || tableSize < 1) {
    invalidOption("tableSize", tableSize, "a positive integer");
  }
  return digamma(tableSize * alpha + 1) - digamma(alpha + 1);
}
