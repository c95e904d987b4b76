/**
 * Adapter policies and the pure planning of {@linkcode ArbLinear}'s
 * kernels: one home for every choice that differs between CPU adapters
 * (lavapipe, llvmpipe, SwiftShader: `isFallbackAdapter`) and the others.
 * Which products run, in which layouts and stores, whether the virtual
 * weights are written out, whether X and W are transposed first and
 * whether the table gradient uses atomics are decided here from plain
 * numbers, so they are tested without a device
 * (`tests/plan_policy.test.ts`); the layer only allocates buffers for the
 * plan and binds its launches. Register tiles are chosen by the kernels'
 * tile policy of the same adapter classes (`shaders/matmul_tile_policy.ts`).
 *
 * Layer: nn; imports the kernels' shapes and `lib/errors.ts`, no device.
 * @module
 */

import { invalidOption } from "../errors.ts";
import {
  type MatmulShape,
  type MatmulVariant,
  type SlotSource,
  windowRows,
} from "../../shaders/matmul.ts";
import type { AdapterClass } from "../../shaders/matmul_tile_policy.ts";

/**
 * Smallest batch for which `materialize: "auto"` writes the virtual weights
 * out on a CPU adapter: the extra pass over all weights must be repaid by
 * the row blocks that would each gather them again. Below 32 rows it was
 * not measured, and at one row it would double the weight reads
 * (figures: `docs/performance.md`).
 */
export const MATERIALIZE_MIN_ROWS = 32;

/**
 * Smallest batch for which a layer on a CPU adapter writes its weights out
 * transposed before the input gradient, so that dY·Wᵀ reads Wᵀ by rows
 * (window tiles, as the forward) instead of W by columns. Below 32 rows the
 * fixed cost of the transpose outweighs a product that shrinks with the
 * batch (figures: `docs/performance.md`). Applies to dense and materialised
 * layers whose feature counts are multiples of 4.
 */
export const TRANSPOSE_WEIGHTS_MIN_ROWS = 32;

/** The per-adapter-class defaults of {@linkcode planArbLinear}. */
export interface AdapterPolicy {
  /** Name for errors and logs. */
  readonly name: string;
  /**
   * `deterministic: "auto"` sums table gradients through the inverse index
   * (no atomics) for hashed layers with stored slots.
   */
  readonly deterministicTableGrad: boolean;
  /** `materialize: "auto"` writes the virtual weights out from this many rows (Infinity: never). */
  readonly materializeMinRows: number;
  /** Dense and materialised weights are transposed before dY·Wᵀ from this many rows (Infinity: never). */
  readonly transposeWeightsMinRows: number;
  /**
   * The table gradient Xᵀ·dY reads a transposed copy of X by rows (its
   * batch padded to a multiple of 4 with zeros, so 16-row windows align),
   * which admits window tiles, unless its store scatters with atomics.
   */
  readonly transposeInput: boolean;
}

/**
 * CPU adapters: lavapipe loads every storage-buffer lane with a branch, so
 * layouts that let window tiles read rows win (transposed X and W, written
 * out weights), and atomics, which it serialises, lose to the inverse index
 * (figures: `docs/performance.md`).
 */
export const CPU_ADAPTER_POLICY: AdapterPolicy = Object.freeze({
  name: "cpu",
  deterministicTableGrad: true,
  materializeMinRows: MATERIALIZE_MIN_ROWS,
  transposeWeightsMinRows: TRANSPOSE_WEIGHTS_MIN_ROWS,
  transposeInput: true,
});

/** Other adapters: gathers inside the tiles, atomics, no extra transposes. */
export const GPU_ADAPTER_POLICY: AdapterPolicy = Object.freeze({
  name: "gpu",
  deterministicTableGrad: false,
  materializeMinRows: Infinity,
  transposeWeightsMinRows: Infinity,
  transposeInput: false,
});

/** The policy of an adapter's class. */
export function adapterPolicy(adapter: AdapterClass): AdapterPolicy {
  return adapter.isFallbackAdapter ? CPU_ADAPTER_POLICY : GPU_ADAPTER_POLICY;
}

/**
 * Rows an activation buffer holds for a batch of `rows`: whole blocks of
 * the tallest window tile ({@linkcode windowRows}), so no block needs a
 * slower dispatch. On every adapter, since a fixed window tile (option
 * `tile`) may run on any; the rows past `rows` stay zero.
 */
export function activationRows(rows: number): number {
  return windowRows(rows);
}

/** What a layer is, as far as its plans are concerned. */
export interface LayerKind {
  /** The identity hash with no zero slot: the table is the weight matrix. */
  dense: boolean;
  /** Slots recomputed in the shaders (option `procedural`). */
  procedural: boolean;
}

/** The layer-wide modes {@linkcode resolveLayerModes} settles once, at construction. */
export interface LayerModes {
  /** Table gradients through the inverse index (needs the index built and uploaded). */
  inverseIndex: boolean;
  /** Option `materialize` checked; `"auto"` is decided per batch by {@linkcode planArbLinear}. */
  materialize: boolean | "auto";
}

/**
 * Checks options `deterministic` and `materialize` of a layer and settles
 * what is fixed for its lifetime under `policy`. Throws
 * {@linkcode ArbnetError} for values that are not allowed.
 */
export function resolveLayerModes(
  options: { deterministic?: unknown; materialize?: unknown },
  kind: LayerKind,
  policy: AdapterPolicy,
): LayerModes {
  const det = options.deterministic ?? "auto";
  if (det !== true && det !== false && det !== "auto") {
    invalidOption("deterministic", det, `a boolean or "auto"`);
  }
  const wantsDet = det === true ||
    (det === "auto" && policy.deterministicTableGrad && !kind.procedural);
  if (wantsDet && !kind.dense && kind.procedural) {
    invalidOption(
      "deterministic",
      true,
      "false for a procedural layer (its inverse index would be as large as the slots)",
    );
  }
  const materialize = options.materialize ?? "auto";
  if (materialize !== true && materialize !== false && materialize !== "auto") {
    invalidOption("materialize", materialize, `a boolean or "auto"`);
  }
  if (materialize === true && kind.procedural) {
    invalidOption(
      "materialize",
      true,
      "false for a procedural layer (it would store the 4·in·out bytes procedural avoids)",
    );
  }
  return { inverseIndex: wantsDet && !kind.dense, materialize };
}

/** One matmul of a plan, its tile still to choose. */
export interface PlannedProduct {
  /** Layouts, weights and store; the tile is the layer's (fixed, default or tuned). */
  variant: MatmulVariant;
  /** M, N, K (and the zero slot for scatter). */
  shape: MatmulShape;
}

/** What one plan (batch size) of a layer needs, from {@linkcode planArbLinear}. */
export interface ArbLinearPlanInput extends LayerKind, LayerModes {
  /** Batch rows. */
  rows: number;
  /** Input features. */
  inFeatures: number;
  /** Output features. */
  outFeatures: number;
  /** Trainable slots (the zero slot's index). */
  tableSize: number;
  /** The procedural family's slot source, for procedural layers. */
  slots?: SlotSource;
  /** A ReLU fused into the forward epilogue. */
  relu: boolean;
  /** The input has a gradient (dX is computed). */
  inputGrad: boolean;
}

/** The kernels of one plan of an ArbLinear, from {@linkcode planArbLinear}. */
export interface ArbLinearPlan {
  /** One pass writes the virtual weights out; the forward and dX products read them dense. */
  materialize: boolean;
  /** Y = X·V (+ bias, ReLU). */
  forward: PlannedProduct;
  /**
   * Xᵀ·dY into the table gradient: written straight (`plain`, dense hash),
   * signed into inverse-index order (`permuted`) or added by atomics (`scatter`).
   */
  tableGrad: PlannedProduct;
  /** X is transposed (to `xStride` rows) before the table gradient, which reads it by rows. */
  transposeInput: boolean;
  /** Rows of the transposed X: the batch padded to a multiple of 4, or the batch. */
  xStride: number;
  /** W (or the written-out V) is transposed before dX, which reads it by rows. */
  transposeWeights: boolean;
  /** dX = dY·Vᵀ, or null without an input gradient. */
  inputGrad: PlannedProduct | null;
}

/**
 * The kernels of one plan of an ArbLinear under `policy`: pure, no device.
 * Register tiles are left to the layer (its `tile` option and `shaders/matmul_tile_policy.ts`).
 */
export function planArbLinear(p: ArbLinearPlanInput, policy: AdapterPolicy): ArbLinearPlan {
  const product = (
    v: Omit<MatmulVariant, "tile" | "slots">,
    shape: MatmulShape,
  ): PlannedProduct => ({ variant: p.slots ? { ...v, slots: p.slots } : { ...v }, shape });
  const materialize = !p.dense && !p.procedural &&
    (p.materialize === "auto" ? p.rows >= policy.materializeMinRows : p.materialize);
  const readWeights = materialize || p.dense ? "dense" : "hashed";
  const forward = product(
    { a: "rows", weights: readWeights, b: "rows", store: p.relu ? "bias_relu" : "bias" },
    { M: p.rows, N: p.outFeatures, K: p.inFeatures },
  );
  const gradStore = p.dense ? "plain" : p.inverseIndex ? "permuted" : "scatter";
  const transposeInput = policy.transposeInput && gradStore !== "scatter";
  const xStride = transposeInput ? Math.ceil(p.rows / 4) * 4 : p.rows;
  const tableGrad = product(
    { a: transposeInput ? "rows" : "cols", weights: "dense", b: "rows", store: gradStore },
    { M: p.inFeatures, N: p.outFeatures, K: xStride, zeroSlot: p.tableSize },
  );
  const transposeWeights = p.inputGrad && p.rows >= policy.transposeWeightsMinRows &&
    (p.dense || materialize) && p.inFeatures % 4 === 0 && p.outFeatures % 4 === 0;
  const inputGrad = p.inputGrad
    ? product(
      {
        a: "rows",
        weights: transposeWeights ? "dense" : readWeights,
        b: transposeWeights ? "rows" : "cols",
        store: "plain",
      },
      { M: p.rows, N: p.inFeatures, K: p.outFeatures },
    )
    : null;
  return { materialize, forward, tableGrad, transposeInput, xStride, transposeWeights, inputGrad };
}
