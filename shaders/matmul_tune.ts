/**
 * A small autotuner for the matmul template: times a handful of register
 * tiles for one variant and shape on this adapter, keeps the fastest, and
 * caches the choice per adapter description (in memory, and through a
 * {@linkcode TuneStore}: under Deno a JSON file, lib/io/tile_cache.ts). CPU adapters (lavapipe) and GPUs
 * want very different tiles; measuring beats guessing. Choices it made on
 * adapters we ran ship in `matmul_known_tiles.ts`, so a fresh machine with
 * such an adapter compiles only the winners for those shapes.
 *
 * Over ~350 lines on purpose: the candidate lists, the measurement, the cache keys and the
 * shipped-choice lookup are one decision and change together (the stores live in
 * `lib/io/tile_cache.ts`, the data in `matmul_known_tiles.ts`).
 *
 * Layer: kernels; imports `lib/gpu` only.
 * @module
 */

import type { Gpu, Launch } from "../lib/gpu/device.ts";
import { KNOWN_TILES, KNOWN_TILES_VERSION } from "./matmul_known_tiles.ts";
import {
  DEFAULT_TILE,
  matmulFlops,
  matmulGrid,
  matmulLabel,
  matmulLaunch,
  type MatmulShape,
  matmulSource,
  type MatmulVariant,
  proceduralSlots,
  type Tile,
  tileRows,
  usesSlotWords,
  windowMisfit,
  windowRows,
} from "./matmul.ts";

/**
 * Tiles the tuner tries on CPU adapters (lavapipe, llvmpipe, SwiftShader:
 * `isFallbackAdapter`). Mesa 25.0's lavapipe loads every storage-buffer
 * value lane by lane with a bounds check, so outputs per load matter more
 * than registers: one row of invocations (8 lanes, one subgroup) with tall
 * tiles (10×16 and 13×12 beat 16×8 there); rows that divide the batch
 * (50 = 5·10) waste no lanes. Small tiles and workgroup memory measured
 * slower and are left out: every output is inlined code, and compiling a
 * large tile takes seconds on a CPU, nearly all of a cold tuning's time.
 * Dropped for that reason: the
 * tiles that never won among the 46 products a week of runs tuned (8×8 in
 * one row of 16 or 8 invocations, the 8×8 window) and the 16×12 window,
 * which won one (a 128-row forward, by less than the spread between runs).
 */
export const CPU_TILE_CANDIDATES: readonly Tile[] = [
  DEFAULT_TILE,
  { tm: 8, tn: 8, wgX: 8, wgY: 2 },
  { tm: 16, tn: 8, wgX: 8, wgY: 1, interleave: true },
  { tm: 10, tn: 16, wgX: 8, wgY: 1, interleave: true },
  { tm: 13, tn: 12, wgX: 8, wgY: 1, interleave: true },
  // One column of invocations: B's (the weights') loads are uniform per
  // workgroup. Mesa ≥ 25.1 loads uniform values once; there this tile wins
  // the gathered hashed forward (docs/performance.md).
  { tm: 4, tn: 16, wgX: 1, wgY: 16, interleave: true },
  // A's rows through uniform windows, B as vec4s (matmul_window.wgsl): dense
  // row-major products only, where the window fits (windowMisfit). 16 rows
  // (for K ≤ 1024) beat 8 on 48/128×{784,1000}×1000, and 16 columns beat
  // 12 and 8 at batch 128.
  { tm: 16, tn: 16, wgX: 8, wgY: 1, window: true },
  // 10 rows: a batch of 50 in five tiles, where 16-row windows cover 64 rows.
  // Its windows start off the 256-byte alignment (windowSlack). At batch 50
  // it beats the 13-row register tile on the forward products; the input
  // gradient (B transposed) still runs faster on register tiles there.
  { tm: 10, tn: 16, wgX: 8, wgY: 1, window: true },
];

/**
 * Tiles the tuner tries on GPUs: small register tiles in larger workgroups,
 * the one-column tile, and workgroup-memory tiles (`matmul_shared.wgsl`).
 * Not measured here (no GPU): the tuner is what makes the choice.
 */
export const GPU_TILE_CANDIDATES: readonly Tile[] = [
  DEFAULT_TILE,
  { tm: 8, tn: 8, wgX: 8, wgY: 2 },
  { tm: 4, tn: 8, wgX: 8, wgY: 4 },
  { tm: 8, tn: 4, wgX: 8, wgY: 4, interleave: true },
  { tm: 4, tn: 4, wgX: 16, wgY: 4 },
  { tm: 4, tn: 4, wgX: 8, wgY: 8, interleave: true },
  { tm: 16, tn: 8, wgX: 8, wgY: 1, interleave: true },
  { tm: 4, tn: 16, wgX: 1, wgY: 16, interleave: true },
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
  adapter: { isFallbackAdapter: boolean } | "all" = "all",
  shape?: MatmulShape,
): readonly Tile[] {
  const cpu = adapter !== "all" && adapter.isFallbackAdapter;
  const list = adapter === "all"
    ? TILE_CANDIDATES
    : cpu
    ? CPU_TILE_CANDIDATES
    : GPU_TILE_CANDIDATES;
  // Window tiles run some variants only (procedural and scatter variants
  // never); the shape is checked when tuning.
  const small = shape !== undefined && matmulFlops(shape) < SMALL_PRODUCT_FLOPS;
  const runs = (t: Tile) =>
    (!t.window || windowVariant(v)) && (!small || t.tm * t.tn <= SMALL_TILE_OUTPUTS);
  const procedural = proceduralSlots(v) !== null;
  // The CPU list has no tile this small: procedural layers take the small
  // register tiles of the full list there.
  if (procedural) {
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

/**
 * Version of the candidate list and of how they are timed, part of every
 * cache key: a cached choice made among other candidates, or by another
 * clock, is measured again. 14: timed on the device's timestamps, where the
 * wall clock had picked, for the b50 forward products, a 16×16 window tile
 * that the device clock times slower than the 10×16 one.
 */
export const CANDIDATES_VERSION = 14;

/** One candidate's measured time. */
export interface TuneResult {
  /** The tile. */
  tile: Tile;
  /** Best of the timed runs, in milliseconds. */
  ms: number;
}

/**
 * Where the autotuner keeps its choices between processes, and its one
 * setting. The kernels hold no file or environment access of their own, so
 * they run on any WebGPU runtime: a Deno process gets a JSON file
 * (`lib/io/tile_cache.ts`, installed when the library's entry point loads),
 * any other runtime keeps choices in memory unless it sets its own store.
 */
export interface TuneStore {
  /** Where choices persist, as shown to users; null when they live in memory only. */
  location(): string | null;
  /** The saved choices by cache key ({@linkcode tuneKey}); empty when none can be read. */
  load(): Record<string, Tile>;
  /** Persists every choice; on failure they live for this process only. */
  save(choices: Record<string, Tile>): void;
  /** Whether to ignore the shipped choices and tune every shape. */
  ignoreKnown(): boolean;
}

/** Choices in memory only, the shipped choices in use: the store of a runtime nobody configured. */
const MEMORY_ONLY: TuneStore = {
  location: () => null,
  load: () => ({}),
  save() {},
  ignoreKnown: () => false,
};

const memory = new Map<string, Tile>();
let store: TuneStore = MEMORY_ONLY;
let storeLoaded = false;

/**
 * Sets where tuned choices persist (see {@linkcode TuneStore}); its saved
 * choices are read at the next tuning.
 *
 * @param next the store
 */
export function setTuneStore(next: TuneStore): void {
  store = next;
  storeLoaded = false;
}

/** Where tuned choices persist (the store's location), or null when they live in memory only. */
export function tuneCachePath(): string | null {
  return store.location();
}

function loadStore(): void {
  if (storeLoaded) return;
  storeLoaded = true;
  for (const [k, v] of Object.entries(store.load())) if (!memory.has(k)) memory.set(k, v);
}

function saveStore(): void {
  store.save(Object.fromEntries(memory));
}

/** The cache key: adapter, variant (without tile) and shape. */
export function tuneKey(gpu: Gpu, v: MatmulVariant, s: MatmulShape): string {
  const { tile: _tile, ...variant } = v;
  return JSON.stringify([gpu.adapter.description, variant, s.M, s.N, s.K, CANDIDATES_VERSION]);
}

/** What a cache key ({@linkcode tuneKey}) names, with the candidate version it was made under. */
export interface TuneKeyParts {
  /** Adapter description. */
  adapter: string;
  /** The variant, without its tile. */
  variant: Omit<MatmulVariant, "tile">;
  /** M, N, K. */
  shape: [number, number, number];
  /** {@linkcode CANDIDATES_VERSION} when the choice was made. */
  version: number;
}

/** Reads a cache key back (`scripts/gen_known_tiles.ts` turns cache files into shipped choices). */
export function parseTuneKey(key: string): TuneKeyParts {
  const [adapter, variant, M, N, K, version] = JSON.parse(key);
  return { adapter, variant, shape: [M, N, K], version };
}

/**
 * The key of a shipped choice ({@linkcode KNOWN_TILES}): adapter, variant
 * with its fields in a fixed order (a cache file's JSON and a literal may
 * list them differently), and shape.
 */
export function knownTileKey(
  adapter: string,
  v: Omit<MatmulVariant, "tile">,
  shape: readonly [number, number, number],
): string {
  const value = (k: string) => v[k as keyof typeof v];
  const fields = Object.keys(v).filter((k) => k !== "tile" && value(k) !== undefined).sort();
  const variant = fields.map((k) => [k, value(k)]);
  return JSON.stringify([adapter, variant, ...shape]);
}

let known: Map<string, Tile> | null = null;

/**
 * The shipped choice for a variant and shape on this adapter, or null: none
 * shipped, shipped under another candidate list, or `ARBNET_TUNE_KNOWN=off`.
 */
export function knownTile(gpu: Gpu, v: MatmulVariant, s: MatmulShape): Tile | null {
  if (KNOWN_TILES_VERSION !== CANDIDATES_VERSION) return null;
  if (store.ignoreKnown()) return null;
  known ??= new Map(KNOWN_TILES.map((k) => [knownTileKey(k.adapter, k.variant, k.shape), k.tile]));
  return known.get(knownTileKey(gpu.adapter.description, v, [s.M, s.N, s.K])) ?? null;
}

/**
 * Times a candidate is recorded in a row per measure: enough that a short
 * kernel's time is not just its launch cost, few enough to keep tuning brief.
 */
const LAUNCHES_PER_MEASURE = 4;

/**
 * One round of measures, in milliseconds per launch: on the device's own
 * clock when it has timestamp queries, else by the wall clock around a wait.
 * The fallback is coarse: a wait under Deno 2.9 costs a fixed time
 * whatever the work (Deno polls, then sleeps), and its jitter blurs differences between tiles that the timestamps resolve.
 */
async function timeRound(gpu: Gpu, launches: readonly Launch[]): Promise<number[]> {
  const onDevice = await gpu.timeLaunches(launches, LAUNCHES_PER_MEASURE);
  if (onDevice) return onDevice;
  const ms: number[] = [];
  for (const launch of launches) {
    const t0 = performance.now();
    for (let n = 0; n < LAUNCHES_PER_MEASURE; n++) gpu.dispatch(launch);
    await gpu.sync();
    ms.push((performance.now() - t0) / LAUNCHES_PER_MEASURE);
  }
  return ms;
}

/**
 * Slot words spread over the table like a uniform hash's (a fixed
 * multiplicative sequence, signs alternating), so gathers and scatters are
 * timed with realistic locality and contention rather than all on slot 0.
 */
function scatteredSlots(n: number, tableSize: number): Uint32Array {
  const words = new Uint32Array(n);
  for (let p = 0; p < n; p++) {
    words[p] = (Math.imul(p, 0x9e3779b1) >>> 0) % tableSize | (p & 1 ? 0x80000000 : 0);
  }
  return words;
}

/**
 * Hash parameters for timing a procedural variant (the `HashParams` fields
 * of hash.wgsl in order): a table of `tableSize` slots, no sparsity, signs
 * on, a Neighborhood window of 1, a one-row matrix of `tableSize` columns
 * (what a user family's rule may read). The seeds are arbitrary: only the
 * work per weight matters here.
 */
function tuneHashParams(tableSize: number): number[] {
  return [
    tableSize,
    0,
    0x9e3779b1,
    0x85ebca77,
    0x80000000,
    0xc2b2ae3d,
    0x27d4eb2f,
    1,
    0,
    1,
    tableSize,
  ];
}

/** Rows of A that hold every fitting window candidate's whole windows, and at least windowRows(M). */
function paddedRows(gpu: Gpu, s: MatmulShape, candidates: readonly Tile[]): number {
  return Math.max(windowRows(s.M), ...candidates.map((t) => tileRows(t, s, gpu.limits)));
}

/**
 * Times every candidate tile on scratch buffers of the right sizes and
 * returns them fastest first. Takes a second or two per variant on a CPU
 * adapter; {@linkcode chooseTile} caches the winner.
 */
export async function tuneMatmul(
  gpu: Gpu,
  v: MatmulVariant,
  s: MatmulShape,
  candidates: readonly Tile[] = TILE_CANDIDATES,
  repeats = 3,
): Promise<TuneResult[]> {
  const hashed = usesSlotWords(v);
  const aLen = s.M * s.K, bLen = s.K * s.N, cLen = s.M * s.N;
  const slotsLen = Math.max(bLen, cLen);
  // Without a zero slot in the shape, a table of 1/8 of the positions.
  const zeroSlot = s.zeroSlot ?? Math.max(1, Math.ceil(slotsLen / 8));
  // The permuted store writes every output to its own entry: ranks spread
  // over all of C.
  const permuted = v.store === "permuted";
  const targets = permuted ? cLen : zeroSlot;
  const procedural = proceduralSlots(v);
  const scratch = [
    gpu.uniform([s.M, s.N, s.K, zeroSlot], "tune dims"),
    // Padded as the layers pad A (activations to windowRows, Xᵀ to whole
    // windows), so window tiles are timed as the layers will run them.
    gpu.buffer((v.a === "rows" ? paddedRows(gpu, s, candidates) * s.K : aLen) * 4, "tune a"),
    gpu.buffer((v.weights === "hashed" ? zeroSlot + 1 : bLen) * 4, "tune b"),
    !hashed
      ? null
      : procedural
      ? gpu.uniform(tuneHashParams(zeroSlot), "tune hash params")
      : gpu.upload(scatteredSlots(slotsLen, targets), "tune slots"),
    gpu.buffer((v.store === "scatter" || permuted ? targets + 1 : cLen) * 4, "tune c"),
    v.store === "bias" || v.store === "bias_relu" ? gpu.buffer(s.N * 4, "tune bias") : null,
  ];
  if (procedural === "dirichlet") {
    // Alias table that keeps every column (thresholds at the top): the
    // hashing work of the real thing, without building a Dirichlet draw.
    scratch.push(
      gpu.upload(new Uint32Array(zeroSlot).fill(0xffffffff), "tune alias threshold"),
      gpu.upload(Uint32Array.from({ length: zeroSlot }, (_, k) => k), "tune alias target"),
    );
  }
  const results: TuneResult[] = [];
  const launches: Launch[] = [];
  try {
    for (const tile of candidates) {
      const variant = { ...v, tile };
      let launch: Launch;
      if (tile.window) {
        if (windowMisfit(v, s, tile, gpu.limits)) continue;
        const [, a, b, slots, c, bias] = scratch as GPUBuffer[];
        launch = await matmulLaunch(gpu, variant, s, {
          a,
          b,
          c,
          bias: bias ?? undefined,
          slots: slots ?? undefined,
        });
      } else {
        const program = await gpu.program(matmulLabel(variant), matmulSource(variant));
        launch = gpu.bind(program, scratch, matmulGrid(s, tile));
      }
      gpu.dispatch(launch); // first run pays for compilation in the driver
      await gpu.sync();
      launches.push(launch);
      results.push({ tile, ms: Infinity });
    }
    // Rounds over all candidates rather than each candidate's repeats in a
    // row: a shared VM's speed drifts within seconds, and a slow spell then
    // costs every candidate one round instead of one candidate all of them.
    for (let r = 0; r < repeats; r++) {
      const ms = await timeRound(gpu, launches);
      for (const [i, t] of ms.entries()) results[i].ms = Math.min(results[i].ms, t);
    }
  } finally {
    for (const launch of launches) gpu.releaseLaunch(launch);
    for (const b of scratch) gpu.release(b);
  }
  return results.sort((a, b) => a.ms - b.ms);
}

/**
 * The tile to use for a variant and shape: {@linkcode DEFAULT_TILE} when not
 * `tune`, else a cached choice for this adapter, else a shipped one
 * ({@linkcode knownTile}), else the tuner's (then cached).
 */
export async function chooseTile(
  gpu: Gpu,
  v: MatmulVariant,
  s: MatmulShape,
  tune = true,
): Promise<Tile> {
  if (!tune) return DEFAULT_TILE;
  loadStore();
  const key = tuneKey(gpu, v, s);
  const cached = memory.get(key) ?? knownTile(gpu, v, s);
  if (cached) return cached;
  // Five rounds: with three, a slow spell on a shared VM once picked a
  // clearly slower tile than the best.
  const [best] = await tuneMatmul(gpu, v, s, tileCandidates(v, gpu.adapter, s), 5);
  memory.set(key, best.tile);
  saveStore();
  return best.tile;
}
