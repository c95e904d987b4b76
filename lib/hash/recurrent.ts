/**
 * The `recurrent` family: an RNN's hidden-to-hidden map unrolled over `T`
 * steps as one virtual matrix, showing that RNNs are ArbNets (the same
 * slots reused at every step).
 *
 * Layout, with `h = hidden`: `rows = cols = h·(T + 1)`, split into
 * `(T + 1) × (T + 1)` blocks of `h × h`; block `(t, t + 1)` holds `W_hh` for
 * `t = 0 .. T − 1` (so exactly `T` copies), every other block is the zero
 * slot. Entry `(t·h + a, (t + 1)·h + b)`, i.e. `W_hh[a, b]`, uses slot
 * `a·h + b`; `tableSize = h²`. State block `t` of a row vector `z` is the
 * hidden state `h_t`: starting from `z_0 = [h_0, 0, …, 0]`,
 * `z_{n+1} = tanh(z_n · V)` puts `h_n = tanh(h_{n−1}·W_hh)` in block `n`
 * (all other blocks are `tanh(0) = 0`), so after `T` applications block `T`
 * holds the RNN's state after `T` steps. A single application to
 * `[h_0, …, h_{T−1}, ·]` computes every step's pre-activation at once
 * (teacher forcing). No sign hash; sparsity, if given, applies on top.
 * @module
 */

import { ArbnetError, invalidOption } from "../errors.ts";
import { makeHash } from "./family.ts";
import type { Hash } from "./types.ts";
import { checkInt, checkKeys, U32_RANGE } from "./validate.ts";

/** Options of {@linkcode recurrent}. */
export interface RecurrentOptions {
  /** Hidden size `h`, a positive integer. */
  hidden: number;
  /** Unrolled steps `T`, a positive integer. */
  steps: number;
}

/** The virtual-matrix shape of an unrolled RNN. */
export interface RecurrentGeometry {
  /** `hidden · (steps + 1)`. */
  rows: number;
  /** `hidden · (steps + 1)`. */
  cols: number;
  /** `hidden²`. */
  tableSize: number;
}

function resolve(options: RecurrentOptions): RecurrentOptions & RecurrentGeometry {
  const o = checkKeys("hashes.recurrent options", options, ["hidden", "steps"]);
  const hidden = checkInt("hidden", o.hidden, 1, Number.MAX_SAFE_INTEGER);
  const steps = checkInt("steps", o.steps, 1, Number.MAX_SAFE_INTEGER);
  const side = hidden * (steps + 1);
  if (!(side * side <= U32_RANGE)) {
    throw new ArbnetError(
      `invalid hidden/steps: hidden·(steps + 1) = ${hidden}·${steps + 1} = ${side}, but it must ` +
        `be ≤ 65536 so that the side² positions of the unrolled matrix fit in a u32; ` +
        `use fewer steps or a smaller hidden size`,
    );
  }
  const tableSize = hidden * hidden;
  return { hidden, steps, rows: side, cols: side, tableSize };
}

/**
 * The virtual-matrix shape and table size of an unrolled RNN.
 *
 * @param options `hidden` and `steps`
 * @returns `{ rows, cols, tableSize }`
 */
export function recurrentShape(options: RecurrentOptions): RecurrentGeometry {
  const r = resolve(options);
  return { rows: r.rows, cols: r.cols, tableSize: r.tableSize };
}

/**
 * The slot of one position (the per-position rule, for procedural evaluation).
 *
 * @param p the position, a u32 below `rows · cols`
 * @param options `hidden` and `steps`
 * @returns `a·hidden + b` inside a `W_hh` block, else `tableSize`
 */
export function recurrentSlot(p: number, options: RecurrentOptions): number {
  const r = resolve(options);
  const h = r.hidden;
  const i = Math.floor(p / r.cols);
  const j = p % r.cols;
  const ti = Math.floor(i / h);
  const tj = Math.floor(j / h);
  return tj === ti + 1 ? (i % h) * h + (j % h) : r.tableSize;
}

/**
 * An RNN's hidden-to-hidden weights unrolled over `steps` (see the module doc).
 *
 * @param options `hidden` and `steps`
 * @returns the hash; `indices()` requires the shape from {@linkcode recurrentShape}
 *
 * @example
 * ```ts
 * import { recurrent, recurrentShape } from "./recurrent.ts";
 * const { rows, cols, tableSize } = recurrentShape({ hidden: 8, steps: 5 });
 * recurrent({ hidden: 8, steps: 5 }).indices({ rows, cols, tableSize, seed: 0 });
 * ```
 */
export function recurrent(options: RecurrentOptions): Hash {
  const g = resolve(options);
  return makeHash({
    family: "recurrent",
    options: { hidden: g.hidden, steps: g.steps },
    sign: false,
    check(s) {
      const want = `for hashes.recurrent({ hidden: ${g.hidden}, steps: ${g.steps} })`;
      if (s.rows !== g.rows) {
        invalidOption("rows", s.rows, `${g.rows} = hidden·(steps + 1) ${want}`);
      }
      if (s.cols !== g.cols) {
        invalidOption("cols", s.cols, `${g.cols} = hidden·(steps + 1) ${want}`);
      }
      if (s.tableSize !== g.tableSize) {
        invalidOption("tableSize", s.tableSize, `${g.tableSize} = hidden² ${want}`);
      }
    },
    fill(s, out) {
      const h = g.hidden;
      const cols = g.cols;
      out.fill(s.tableSize);
      for (let t = 0; t < g.steps; t++) {
        for (let a = 0; a < h; a++) {
          const base = (t * h + a) * cols + (t + 1) * h;
          for (let b = 0; b < h; b++) out[base + b] = a * h + b;
        }
      }
    },
    // One hidden-to-hidden product: each output reads the `hidden` units of the previous
    // state, not the `hidden·(steps + 1)` rows of the unrolled matrix.
  }, { fanIn: () => g.hidden });
}
