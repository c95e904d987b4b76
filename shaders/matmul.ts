/**
 * Launcher of the one matmul template (`matmul.wgsl`): names the variants a
 * layer needs, composes their WGSL from `matmul_pieces.wgsl`, and binds them.
 * The CPU oracle is `matmul_ref.ts`; the tests are `tests/matmul.test.ts`.
 *
 * Over ~350 lines on purpose: the variant names, the WGSL composition and the windowed launcher
 * must agree binding by binding with `matmul_pieces.wgsl`.
 *
 * Layer: kernels; imports `lib/gpu` only.
 * @module
 */

import type { BufferWindow, Gpu, Launch, Program } from "../lib/gpu/device.ts";
import { constants, piece, unroll } from "./pieces.ts";
import {
  proceduralSlotBindings,
  type ProceduralSlotBuffers,
  type ProceduralSlots,
  proceduralSlotSource,
} from "./hash.ts";
import { WGSL } from "./wgsl.ts";

/** Register tile: each invocation computes `tm × tn` outputs; a workgroup is `wgX × wgY`. */
export interface Tile {
  /** Output rows per invocation. */
  tm: number;
  /** Output columns per invocation. */
  tn: number;
  /** Workgroup width (invocations along columns). */
  wgX: number;
  /** Workgroup height (invocations along rows). */
  wgY: number;
  /** Interleave invocations' rows and columns (coalesced) instead of contiguous blocks. */
  interleave?: boolean;
  /**
   * Stage blocks of A and B, this deep in k, in workgroup memory
   * (`matmul_shared.wgsl`, for GPUs); absent: registers only (`matmul.wgsl`).
   * `interleave` does not apply: the staged form has its own layout.
   */
  shared?: number;
  /**
   * Read A's rows from uniform-buffer windows (whole tiles of `tm` rows, one
   * dispatch per window) and B as vec4s (`matmul_window.wgsl`, for CPU
   * adapters; `wgY` must be 1 and `tn` a multiple of 4). Only for dense
   * products with A row-major, N a multiple of 4 (and K, for B transposed),
   * whose tile of rows fits a uniform binding: see {@linkcode windowMisfit}.
   */
  window?: boolean;
}

/** The portable default tile, used when no autotuned choice exists. */
export const DEFAULT_TILE: Tile = { tm: 8, tn: 8, wgX: 8, wgY: 2, interleave: true };

/**
 * Which pieces make a variant.
 * - `a`: `rows` reads A as M×K; `cols` reads A as the transpose of a K×M buffer.
 * - `weights`: B's source: a real matrix (`dense`) or the table gathered through slots (`hashed`).
 * - `b`: `rows` multiplies by the weight matrix, `cols` by its transpose.
 * - `store`: `plain` writes C; `bias`/`bias_relu` add a bias (and ReLU);
 *   `scatter` adds C into a table gradient through the slots; `permuted`
 *   writes ξ·C to the entries of the inverse index that the slot words
 *   (then rank words) name, for the deterministic table gradient.
 * - `slots`: where slot words come from (hashed weights and scatter only):
 *   a materialised buffer (`buffer`, the default) or recomputed from seeds
 *   by a hash family (`hash.wgsl`), which needs no per-position memory.
 */
export interface MatmulVariant {
  /** Layout of A. */
  a: "rows" | "cols";
  /** Source of B. */
  weights: "dense" | "hashed";
  /** Layout of B. */
  b: "rows" | "cols";
  /** Epilogue. */
  store: "plain" | "bias" | "bias_relu" | "scatter" | "permuted";
  /** Register tile; {@linkcode DEFAULT_TILE} when absent. */
  tile?: Tile;
  /** Source of the slot words; `buffer` when absent. */
  slots?: SlotSource;
}

/** Where a kernel's slot words come from: a buffer, or a hash family's procedural rule. */
export type SlotSource = "buffer" | ProceduralSlots;

/** Shape of one product: C is M×N, the inner dimension K. */
export interface MatmulShape {
  /** Rows of A and C. */
  M: number;
  /** Columns of B and C. */
  N: number;
  /** Inner dimension. */
  K: number;
  /** Zero slot of the table (scatter only: its gradient is skipped). */
  zeroSlot?: number;
}

/**
 * Buffers of one product. `b` is the weight matrix (dense) or the table
 * (hashed, with `slots`); `c` receives C or, for `scatter`, the table gradient.
 */
export interface MatmulBuffers extends Partial<ProceduralSlotBuffers> {
  /** Operand A. */
  a: GPUBuffer;
  /** Dense B, or the table of a hashed B. */
  b: GPUBuffer;
  /**
   * Slot words (hashed weights, or the scatter target map) when `slots` is
   * `buffer`; procedural slots read `hashParams` (and the alias buffers) instead.
   */
  slots?: GPUBuffer;
  /** Output (C or table gradient). */
  c: GPUBuffer;
  /** Bias (stores `bias`, `bias_relu`). */
  bias?: GPUBuffer;
}

/**
 * The WGSL source of a variant: constants, pieces, then the template. Window
 * tiles compile per window (`rows` of A, inner dimension `K`: the window is
 * a fixed-size array); `window` null gives their form that reads A from
 * storage (rows past the last window that fits A's buffer).
 */
export function matmulSource(v: MatmulVariant, window?: WindowShape | null): string {
  const t = v.tile ?? DEFAULT_TILE;
  const file = "matmul_pieces.wgsl";
  const shape = { TM: t.tm, TN: t.tn, WG_X: t.wgX, WG_Y: t.wgY };
  const hashed = usesSlotWords(v);
  if (t.window) {
    if (window === undefined) throw new Error("a window tile's source needs its window shape");
    if (v.weights === "hashed") throw new Error("window tiles read a dense B");
    return [
      `// matmul variant a=${v.a} weights=${v.weights} b=${v.b} store=${v.store} window\n`,
      constants({
        TM: t.tm,
        TN: t.tn,
        WG_X: t.wgX,
        ...(window ? { A_WINDOW: windowBindingBytes(window) / 16 } : {}),
      }),
      unroll(WGSL["matmul_window.wgsl"], t.tm, t.tn / 4),
      ...[
        // The permuted store reads its rank words itself, as vec4s.
        ...(hashed ? ["slot_codec"] : []),
        "dims",
        window ? "a_window" : v.b === "rows" ? "a_rows" : "a_rows_vec4",
        v.b === "rows" ? "b_rows_vec4" : "b_cols_block",
        ...vec4StorePieces(v),
      ].map((u) => piece(file, u)),
    ].join("\n");
  }
  const parts = [
    `// matmul variant a=${v.a} weights=${v.weights} b=${v.b} store=${v.store}\n`,
    t.shared ? constants({ ...shape, BK: t.shared }) : constants({
      ...shape,
      ROW_STEP: t.interleave ? t.wgY : 1,
      COL_STEP: t.interleave ? t.wgX : 1,
    }),
    unroll(WGSL[t.shared ? "matmul_shared.wgsl" : "matmul.wgsl"], t.tm, t.tn),
  ];
  const uses = [
    "dims",
    `a_${v.a}`,
    `weights_${v.weights}`,
    `b_${v.b}`,
    "store_tile",
    ...storePieces(v),
  ];
  if (v.weights === "hashed" && (v.store === "scatter" || v.store === "permuted")) {
    throw new Error("a hashed B cannot be scattered into a table in the same product");
  }
  const procedural = proceduralSlots(v);
  if (procedural && v.store === "permuted") {
    throw new Error("the permuted store reads rank words from a buffer, not procedural slots");
  }
  if (hashed) uses.unshift("slot_codec", ...(procedural ? [] : ["slots_buffer"]));
  const source = [...parts, ...uses.map((u) => piece(file, u))].join("\n");
  // Procedural slots go last (WGSL declarations may come in any order), so
  // variants reading a slot buffer keep their exact source and cache keys.
  return hashed && procedural
    ? `${source}\n// slots=${procedural}\n${proceduralSlotSource(procedural)}`
    : source;
}

/** The rows of A one window holds and its inner dimension: what a window kernel compiles for. */
export interface WindowShape {
  /** Rows of A per window (a multiple of the tile's `tm`). */
  rows: number;
  /** Inner dimension (row length of A). */
  K: number;
  /** Bytes bound before and after the rows, where windows start off the offset alignment ({@linkcode windowSlack}). */
  slack: number;
}

/**
 * Bytes a window binds beyond its rows: none where every window starts at a
 * multiple of the uniform offset alignment (a tile's rows span a multiple
 * of it), else one alignment, for windows bound from the aligned offset
 * below their first row (the shader skips the gap). That admits tiles of
 * any height, e.g. 10 rows for a batch of 50, which 16-row tiles would
 * cover as 64.
 */
export function windowSlack(
  tile: Tile,
  s: MatmulShape,
  limits: Pick<GPUSupportedLimits, "minUniformBufferOffsetAlignment">,
): number {
  const align = limits.minUniformBufferOffsetAlignment;
  return (tile.tm * s.K * 4) % align === 0 ? 0 : align;
}

/** Bytes one window binds: its rows and slack, in whole vec4s (the shader's array). */
export function windowBindingBytes(w: WindowShape): number {
  return Math.ceil((w.rows * w.K * 4 + w.slack) / 16) * 16;
}

/** The uniform-binding limits the window plan depends on (a subset of `GPUSupportedLimits`). */
export type WindowLimits = Pick<
  GPUSupportedLimits,
  "maxUniformBufferBindingSize" | "minUniformBufferOffsetAlignment"
>;

/**
 * How a window tile covers a product: `blocks` dispatches of `rows` rows of
 * A each, as many tiles per window as a uniform binding holds, spread evenly.
 * A's buffer should hold `rows · blocks` rows; where it holds fewer, the
 * last window reads from storage instead.
 */
export function windowPlan(
  tile: Tile,
  s: MatmulShape,
  limits: WindowLimits,
): { rows: number; blocks: number } {
  const room = limits.maxUniformBufferBindingSize - windowSlack(tile, s, limits);
  const perWindow = Math.max(1, Math.floor(room / (tile.tm * s.K * 4)));
  const tiles = Math.ceil(s.M / tile.tm);
  const blocks = Math.ceil(tiles / perWindow);
  return { rows: Math.ceil(tiles / blocks) * tile.tm, blocks };
}

/**
 * Rows of A a tile reads in full windows: the plan's whole windows and the
 * last one's slack for a window tile (allocate A this tall and no window
 * falls back to storage), else M.
 */
export function tileRows(tile: Tile, s: MatmulShape, limits: WindowLimits): number {
  if (!tile.window) return s.M;
  const plan = windowPlan(tile, s, limits);
  const slackRows = Math.ceil(windowSlack(tile, s, limits) / (s.K * 4));
  return Math.max(s.M, plan.rows * plan.blocks + slackRows);
}

/** The pieces of a variant's scalar epilogue (`store_c`, `store_done`, and the activation). */
function storePieces(v: MatmulVariant): string[] {
  if (v.store === "plain") return ["store_plain"];
  if (v.store === "bias") return ["store_bias", "act_none"];
  if (v.store === "bias_relu") return ["store_bias", "act_relu"];
  if (v.store === "scatter") return ["store_scatter"];
  return ["permute", "store_permuted"];
}

/**
 * The pieces of a variant's epilogue in the window tile, which holds vec4s
 * of C (`store_vec4`, `store_done`): plain and bias stores write whole
 * vec4s, the permuted store its four outputs behind one guard. Window
 * tiles do not scatter ({@linkcode windowMisfit}).
 */
function vec4StorePieces(v: MatmulVariant): string[] {
  if (v.store === "plain") return ["store_vec4", "epilogue_plain4"];
  if (v.store === "bias") return ["store_vec4", "epilogue_bias4", "act_none"];
  if (v.store === "bias_relu") return ["store_vec4", "epilogue_bias4", "act_relu"];
  if (v.store === "permuted") return ["permute", "store_permuted4"];
  throw new Error(`window tiles have no ${v.store} store`);
}

/**
 * Rows a buffer that window tiles read as A should hold for `rows` rows of
 * data: whole tiles of the tallest window tile (16 rows), so that where a
 * window holds one tile (K from 256 to 1024) the last window fits too,
 * instead of a slower dispatch reading A from storage. The extra rows are
 * never written (zeros); their outputs are never stored.
 */
export function windowRows(rows: number): number {
  return Math.ceil(rows / WINDOW_ROWS_MAX) * WINDOW_ROWS_MAX;
}

/** The tallest window tile's rows (see {@linkcode windowRows}). */
export const WINDOW_ROWS_MAX = 16;

/**
 * Why a window tile cannot run a variant on a shape on this device, or null
 * when it can: it needs a dense product with A row-major (B either way), a
 * plain, bias or permuted store, N a multiple of 4 (and K, for B
 * transposed), and a window of `tm` rows of A that fits a uniform binding
 * at offsets the device accepts.
 */
export function windowMisfit(
  v: MatmulVariant,
  s: MatmulShape,
  tile: Tile,
  limits: WindowLimits,
): string | null {
  if (v.a !== "rows" || v.weights !== "dense") {
    return "window tiles run dense products with A row-major only";
  }
  if (v.store === "scatter") return "window tiles do not scatter";
  if (proceduralSlots(v)) return "window tiles read no procedural slots";
  if (tile.wgY !== 1 || tile.tn % 4 !== 0) return "window tiles need wgY 1 and tn a multiple of 4";
  if (tile.tm > WINDOW_ROWS_MAX) return `window tiles are at most ${WINDOW_ROWS_MAX} rows tall`;
  if (s.N % 4 !== 0) return `N = ${s.N} is not a multiple of 4`;
  if (v.b === "cols" && s.K % 4 !== 0) return `K = ${s.K} is not a multiple of 4 (B transposed)`;
  const bytes = windowBindingBytes({ rows: tile.tm, K: s.K, slack: windowSlack(tile, s, limits) });
  if (bytes > limits.maxUniformBufferBindingSize) {
    return `a window of ${tile.tm} rows of K = ${s.K} binds ${bytes} bytes, over the uniform binding limit`;
  }
  return null;
}

/** Whether a variant reads slot words (binding 3): hashed weights, or a store through them. */
export function usesSlotWords(v: MatmulVariant): boolean {
  return v.weights === "hashed" || v.store === "scatter" || v.store === "permuted";
}

/** The hash family that computes a variant's slot words in the shader, or null when they come from a buffer. */
export function proceduralSlots(v: MatmulVariant): ProceduralSlots | null {
  return v.slots === undefined || v.slots === "buffer" ? null : v.slots;
}

/** Workgroups needed for a shape and tile (for a window tile: its storage form over all rows). */
export function matmulGrid(
  shape: MatmulShape,
  tile: Tile = DEFAULT_TILE,
): [number, number, number] {
  return [
    Math.ceil(shape.N / (tile.tn * tile.wgX)),
    Math.ceil(shape.M / (tile.tm * tile.wgY)),
    1,
  ];
}

/**
 * A variant's name in labels and errors, e.g. `matmul[rows,hashed,rows,bias]`;
 * the tuner compiles under the same name, since programs are shared by source.
 */
export function matmulLabel(v: MatmulVariant): string {
  const slots = proceduralSlots(v) ? `,${v.slots}` : "";
  return `matmul[${v.a},${v.weights},${v.b},${v.store}${slots}]`;
}

/**
 * Compiles (cached) and binds one matmul variant for a fixed shape. The
 * returned launch is recorded with `gpu.dispatch(launch)` as often as needed.
 */
export async function matmulLaunch(
  gpu: Gpu,
  v: MatmulVariant,
  shape: MatmulShape,
  buffers: MatmulBuffers,
): Promise<Launch> {
  const tile = v.tile ?? DEFAULT_TILE;
  if (storesBias(v) && !buffers.bias) throw new Error(`${matmulLabel(v)} needs a bias buffer`);
  if (tile.window) return await windowLaunch(gpu, v, tile, shape, buffers);
  const program = await gpu.program(matmulLabel(v), matmulSource(v));
  const dims = gpu.uniform(
    [shape.M, shape.N, shape.K, shape.zeroSlot ?? 0xffffffff],
    `${matmulLabel(v)} dims`,
  );
  const hashed = usesSlotWords(v);
  const procedural = proceduralSlots(v);
  if (hashed && !procedural && !buffers.slots) {
    throw new Error(`${matmulLabel(v)} needs a slots buffer`);
  }
  const entries: (GPUBuffer | null)[] = [
    dims,
    buffers.a,
    buffers.b,
    hashed && !procedural ? buffers.slots! : null,
    buffers.c,
    storesBias(v) ? buffers.bias! : null,
  ];
  if (hashed && procedural) {
    for (const [binding, buffer] of proceduralSlotBindings(procedural, buffers, matmulLabel(v))) {
      entries[binding] = buffer;
    }
  }
  return { ...gpu.bind(program, entries, matmulGrid(shape, tile)), owns: [dims] };
}

function storesBias(v: MatmulVariant): boolean {
  return v.store === "bias" || v.store === "bias_relu";
}

/**
 * A window tile's launch: one dispatch per window of rows ({@linkcode windowPlan}),
 * each binding its rows of A as a uniform buffer; a last window that A's
 * buffer does not hold reads those rows from storage instead.
 */
async function windowLaunch(
  gpu: Gpu,
  v: MatmulVariant,
  tile: Tile,
  s: MatmulShape,
  buffers: MatmulBuffers,
): Promise<Launch> {
  const misfit = windowMisfit(v, s, tile, gpu.limits);
  if (misfit) throw new Error(`${matmulLabel(v)}: ${misfit}`);
  if (usesSlotWords(v) && !buffers.slots) throw new Error(`${matmulLabel(v)} needs a slots buffer`);
  const label = `${matmulLabel(v)} window`;
  const dims = gpu.uniform([s.M, s.N, s.K, s.zeroSlot ?? 0xffffffff], `${label} dims`);
  const plan = windowPlan(tile, s, gpu.limits);
  const shape: WindowShape = { rows: plan.rows, K: s.K, slack: windowSlack(tile, s, gpu.limits) };
  const size = windowBindingBytes(shape);
  const align = gpu.limits.minUniformBufferOffsetAlignment;
  const columns = Math.ceil(s.N / (tile.tn * tile.wgX));
  const launches: Launch[] = [];
  // shift: floats from the bound offset to row0's first (0 in storage form).
  const bind = (
    program: Program,
    a: GPUBuffer | BufferWindow,
    row0: number,
    rows: number,
    shift = 0,
  ) => {
    const window = gpu.uniform([row0, shift], `${label} rows from ${row0}`);
    const bias = storesBias(v) ? buffers.bias! : null;
    const slots = usesSlotWords(v) ? buffers.slots! : null;
    const entries = [dims, a, buffers.b, slots, buffers.c, bias, null, null, window];
    const grid: [number, number, number] = [columns, Math.ceil(rows / tile.tm), 1];
    launches.push({ ...gpu.bind(program, entries, grid), owns: [window] });
  };
  let windowed: Program | undefined; // compiled once, and only if a window fits
  for (let blk = 0; blk < plan.blocks && blk * plan.rows < s.M; blk++) {
    const row0 = blk * plan.rows;
    const start = row0 * s.K * 4;
    const offset = start - start % align;
    if (offset + size <= buffers.a.size) {
      windowed ??= await gpu.program(label, matmulSource(v, shape));
      const a = { buffer: buffers.a, offset, size };
      // The last window launches only the tiles that hold rows of A: on
      // lavapipe a workgroup past M costs as much as a working one.
      bind(windowed, a, row0, Math.min(plan.rows, s.M - row0), (start - offset) / 4);
    } else {
      const program = await gpu.program(`${label} rest`, matmulSource(v, null));
      bind(program, buffers.a, row0, s.M - row0);
      break;
    }
  }
  const [first, ...more] = launches;
  return { ...first, more, owns: [dims, ...first.owns!] };
}

/** Floating-point operations of one product (2·M·N·K). */
export function matmulFlops(shape: MatmulShape): number {
  return 2 * shape.M * shape.N * shape.K;
}
