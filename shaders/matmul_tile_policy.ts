/**
 * The matmul tile policy of each adapter class: which register tiles the
 * autotuner (`matmul_tune.ts`) times, whether `tile: "auto"` measures a
 * product it has no choice for, and the tile a product gets when nothing
 * was measured for it. One home for the tile choices that differ between
 * CPU adapters (lavapipe, llvmpipe, SwiftShader: `isFallbackAdapter`) and
 * GPUs, tested without a device (`tests/matmul_tile_policy.test.ts`).
 *
 * On a CPU adapter tuning is mostly compiling every candidate, a minute or
 * more from cold caches, so the CPU policy does not tune by default: its
 * default tiles are rules that reproduce the tuner's choices on Mesa's
 * lavapipe for the products we measured (`docs/performance.md`). A GPU
 * compiles fast and was never measured here, so its policy tunes.
 *
 * Layer: kernels; imports the matmul launcher's types and shape checks.
 * @module
 */

import {
  DEFAULT_TILE,
  matmulFlops,
  type MatmulShape,
  type MatmulVariant,
  proceduralSlots,
  type Tile,
  type WindowLimits,
  windowMisfit,
} from "./matmul.ts";

/** One column of invocations: B's (the weights') loads are uniform per workgroup. */
const ONE_COLUMN: Tile = { tm: 4, tn: 16, wgX: 1, wgY: 16, interleave: true };
/** 8×8 outputs in a 8×2 workgroup, rows and columns in contiguous blocks. */
const SQUARE_8: Tile = { tm: 8, tn: 8, wgX: 8, wgY: 2 };
/** Tall register tiles in one row of 8 invocations (one lavapipe subgroup). */
const TALL_16x8: Tile = { tm: 16, tn: 8, wgX: 8, wgY: 1, interleave: true };
const TALL_10x16: Tile = { tm: 10, tn: 16, wgX: 8, wgY: 1, interleave: true };
const TALL_13x12: Tile = { tm: 13, tn: 12, wgX: 8, wgY: 1, interleave: true };
/** A's rows through uniform windows of 16 or 10 rows, B as vec4s (`matmul_window.wgsl`). */
const WINDOW_16: Tile = { tm: 16, tn: 16, wgX: 8, wgY: 1, window: true };
const WINDOW_10: Tile = { tm: 10, tn: 16, wgX: 8, wgY: 1, window: true };

/**
 * Tiles the tuner tries on CPU adapters. Mesa 25.0's lavapipe loads every
 * storage-buffer value lane by lane with a bounds check, so outputs per
 * load matter more than registers: one row of invocations (8 lanes, one
 * subgroup) with tall tiles (10×16 and 13×12 beat 16×8 there); rows that
 * divide the batch (50 = 5·10) waste no lanes. Small tiles and workgroup
 * memory measured slower and are left out: every output is inlined code,
 * and compiling a large tile takes seconds on a CPU, nearly all of a cold
 * tuning's time. Dropped for that reason: the tiles that never won among
 * the 46 products a week of runs tuned (8×8 in one row of 16 or 8
 * invocations, the 8×8 window) and the 16×12 window, which won one (a
 * 128-row forward, by less than the spread between runs).
 */
export const CPU_TILE_CANDIDATES: readonly Tile[] = [
  DEFAULT_TILE,
  SQUARE_8,
  TALL_16x8,
  TALL_10x16,
  TALL_13x12,
  // B's (the weights') loads are uniform per workgroup. Mesa ≥ 25.1 loads
  // uniform values once; there this tile wins the gathered hashed forward
  // (docs/performance.md).
  ONE_COLUMN,
  // Dense row-major products only, where the window fits (windowMisfit).
  // 16 rows (for K ≤ 1024) beat 8 on 48/128×{784,1000}×1000, and 16
  // columns beat 12 and 8 at batch 128.
  WINDOW_16,
  // A batch of 50 in five tiles, where 16-row windows cover 64 rows. Its
  // windows start off the 256-byte alignment (windowSlack). At batch 50 it
  // beats the 13-row register tile on the forward products; the input
  // gradient (B transposed) still runs faster on register tiles there.
  WINDOW_10,
];

/**
 * Tiles the tuner tries on GPUs: small register tiles in larger workgroups,
 * the one-column tile, and workgroup-memory tiles (`matmul_shared.wgsl`).
 * Not measured here (no GPU): the tuner is what makes the choice.
 */
export const GPU_TILE_CANDIDATES: readonly Tile[] = [
  DEFAULT_TILE,
  SQUARE_8,
  { tm: 4, tn: 8, wgX: 8, wgY: 4 },
  { tm: 8, tn: 4, wgX: 8, wgY: 4, interleave: true },
  { tm: 4, tn: 4, wgX: 16, wgY: 4 },
  { tm: 4, tn: 4, wgX: 8, wgY: 8, interleave: true },
  TALL_16x8,
  ONE_COLUMN,
  { tm: 4, tn: 4, wgX: 16, wgY: 16, shared: 16 },
  { tm: 8, tn: 8, wgX: 8, wgY: 8, shared: 8 },
];

/** Every tile either list holds (what the tests check against the CPU oracle). */
export const TILE_CANDIDATES: readonly Tile[] = [
  ...CPU_TILE_CANDIDATES,
  ...GPU_TILE_CANDIDATES.filter((g) =>
    !CPU_TILE_CANDIDATES.some((c) => JSON.stringify(c) === JSON.stringify(g))
  ),
];

/**
 * Products below this many floating-point operations try only tiles of at
 * most {@linkcode SMALL_TILE_OUTPUTS} outputs per invocation: they take well
 * under a millisecond whatever the tile (a layer of 10 outputs, the
 * gradients of its 10 columns), but tuning them compiled every large tile
 * once more for their store, a large share of a cold start on lavapipe,
 * where small tiles compile in about a second.
 */
export const SMALL_PRODUCT_FLOPS = 16e6;

/** Outputs per invocation (tm·tn) of the tiles small products try. */
export const SMALL_TILE_OUTPUTS = 64;

/** What a tile policy is picked by (a subset of `GPUAdapterInfo`). */
export interface AdapterClass {
  /** True for CPU adapters (lavapipe, llvmpipe, SwiftShader). */
  isFallbackAdapter: boolean;
}

/** How an adapter class chooses matmul tiles. */
export interface TilePolicy {
  /** Name for logs and docs. */
  readonly name: string;
  /** The tiles the tuner may time, before {@linkcode tileCandidates} filters them per product. */
  readonly candidates: readonly Tile[];
  /**
   * Whether `tile: "auto"` measures a product no choice was cached for
   * (false: it takes {@linkcode TilePolicy.defaultTile}; `tile: "tune"` measures anyway).
   */
  readonly tunesUnseen: boolean;
  /**
   * The tile for a product nothing was measured for; one of
   * {@linkcode tileCandidates} for it, and a window tile only where it fits.
   */
  defaultTile(v: MatmulVariant, s: MatmulShape, limits: WindowLimits): Tile;
}

/** Rows a tile of `tm` rows leaves empty in its last row block. */
function wastedRows(rows: number, tm: number): number {
  return Math.ceil(rows / tm) * tm - rows;
}

/** Of `tiles`, the one whose row blocks leave the fewest rows empty (the first on ties). */
function fewestWastedRows(rows: number, tiles: readonly Tile[]): Tile {
  return tiles.reduce((best, t) => wastedRows(rows, t.tm) < wastedRows(rows, best.tm) ? t : best);
}

/**
 * The window tile for M rows: 16-row windows unless they would leave more
 * than an eighth of the rows empty and 10-row windows leave fewer (a batch
 * of 50: 14 of 64 rows against none); null where neither fits.
 */
function windowTile(v: MatmulVariant, s: MatmulShape, limits: WindowLimits): Tile | null {
  const tall = wastedRows(s.M, 16) > s.M / 8 && wastedRows(s.M, 10) < wastedRows(s.M, 16);
  for (const tile of tall ? [WINDOW_10, WINDOW_16] : [WINDOW_16, WINDOW_10]) {
    if (windowMisfit(v, s, tile, limits) === null) return tile;
  }
  return null;
}

/**
 * CPU adapters: rules read off the tuner's choices on lavapipe for the
 * default network's and the benchmarks' products (36 of them at batches
 * 50, 128 and 500; the rules give 35 of its choices, and for the 36th, a
 * 1-MFLOP output layer, the tile it chose at the other batches).
 */
export const CPU_TILE_POLICY: TilePolicy = Object.freeze({
  name: "cpu",
  candidates: CPU_TILE_CANDIDATES,
  tunesUnseen: false,
  defaultTile(v: MatmulVariant, s: MatmulShape, limits: WindowLimits): Tile {
    // Procedural slots: unmeasured; the tuner's first small candidate.
    if (proceduralSlots(v) !== null) return tileCandidates(v, CPU_CLASS, s)[0];
    const small = matmulFlops(s) < SMALL_PRODUCT_FLOPS;
    // The atomic table gradient Xᵀ·dY.
    if (v.store === "scatter") return small ? SQUARE_8 : TALL_16x8;
    // dY·Wᵀ: W read by columns.
    if (v.b === "cols") return small ? SQUARE_8 : v.weights === "hashed" ? TALL_16x8 : TALL_13x12;
    if (small) return ONE_COLUMN;
    const window = v.weights === "dense" && v.a === "rows" ? windowTile(v, s, limits) : null;
    return window ?? fewestWastedRows(s.M, [TALL_16x8, TALL_13x12]);
  },
});

/** GPUs: tuned per product (never measured here); the portable default until then. */
export const GPU_TILE_POLICY: TilePolicy = Object.freeze({
  name: "gpu",
  candidates: GPU_TILE_CANDIDATES,
  tunesUnseen: true,
  defaultTile(v: MatmulVariant, s: MatmulShape): Tile {
    return proceduralSlots(v) !== null ? tileCandidates(v, GPU_CLASS, s)[0] : DEFAULT_TILE;
  },
});

const CPU_CLASS: AdapterClass = { isFallbackAdapter: true };
const GPU_CLASS: AdapterClass = { isFallbackAdapter: false };

/** The tile policy of an adapter's class. */
export function tilePolicyFor(adapter: AdapterClass): TilePolicy {
  return adapter.isFallbackAdapter ? CPU_TILE_POLICY : GPU_TILE_POLICY;
}

/**
 * The candidates worth compiling for a variant on an adapter (and shape,
 * when given). Compile time grows with a tile's size: procedural slots put
 * a few hashes in every weight load and the scatter a compare-exchange loop
 * in every store, and lavapipe then takes up to a minute for the largest
 * tiles; products under {@linkcode SMALL_PRODUCT_FLOPS} are not worth the
 * large tiles' compile time at all.
 */
export function tileCandidates(
  v: MatmulVariant,
  adapter: AdapterClass | "all" = "all",
  shape?: MatmulShape,
): readonly Tile[] {
  const cpu = adapter !== "all" && adapter.isFallbackAdapter;
  const list = adapter === "all" ? TILE_CANDIDATES : tilePolicyFor(adapter).candidates;
  // Window tiles run some variants only (procedural and scatter variants
  // never); the shape is checked when tuning.
  const small = shape !== undefined && matmulFlops(shape) < SMALL_PRODUCT_FLOPS;
  const runs = (t: Tile) =>
    (!t.window || windowVariant(v)) && (!small || t.tm * t.tn <= SMALL_TILE_OUTPUTS);
  // The CPU list has no tile this small: procedural layers take the small
  // register tiles of the full list there.
  if (proceduralSlots(v) !== null) {
    return (cpu ? TILE_CANDIDATES : list).filter((t) =>
      runs(t) && t.tm * t.tn <= 32 && !(cpu && t.shared)
    );
  }
  if (v.store === "scatter") return list.filter((t) => runs(t) && t.tm * t.tn <= 128);
  return list.filter(runs);
}

/** Whether window tiles can run `v` at all: its misfit on a shape and limits any window fits. */
function windowVariant(v: MatmulVariant): boolean {
  const fits = { maxUniformBufferBindingSize: Infinity, minUniformBufferOffsetAlignment: 1 };
  const tile = { tm: 1, tn: 4, wgX: 1, wgY: 1, window: true };
  return windowMisfit(v, { M: 1, N: 4, K: 4 }, tile, fits) === null;
}
