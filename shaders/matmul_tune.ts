/**
 * A small autotuner for the matmul template: times a handful of register
 * tiles for one variant and shape on this adapter, keeps the fastest, and
 * caches the choice per adapter description, variant and shape rounded to
 * half octaves, so nearby shapes share it (in memory, and through a
 * {@linkcode TuneStore}: under Deno a JSON file, `lib/io/tile_cache.ts`).
 * Which tiles it tries, and what a product gets when nothing was measured
 * for it, is the adapter class's tile policy (`matmul_tile_policy.ts`).
 *
 * Layer: kernels; imports `lib/gpu` only.
 * @module
 */

import type { Gpu, Launch } from "../lib/gpu/device.ts";
import {
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
import { TILE_CANDIDATES, tileCandidates, tilePolicyFor } from "./matmul_tile_policy.ts";

/**
 * Version of the candidate list and of how they are timed, part of every
 * cache key: a cached choice made among other candidates, or by another
 * clock, is measured again. 15: keys round shapes to half octaves
 * ({@linkcode tuneBucket}); 14: timed on the device's timestamps.
 */
export const CANDIDATES_VERSION = 15;

/** One candidate's measured time. */
export interface TuneResult {
  /** The tile. */
  tile: Tile;
  /** Best of the timed runs, in milliseconds. */
  ms: number;
}

/**
 * Where the autotuner keeps its choices between processes. The kernels hold no file or environment access of their own, so
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
}

/** Choices in memory only: the store of a runtime nobody configured. */
const MEMORY_ONLY: TuneStore = {
  location: () => null,
  load: () => ({}),
  save() {},
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

/**
 * A dimension rounded to the nearest half octave (…, 45, 64, 91, 128, …,
 * 724, 1024, …): the shapes that share a tuned choice.
 */
export function tuneBucket(n: number): number {
  return n <= 1 ? n : Math.round(2 ** (Math.round(2 * Math.log2(n)) / 2));
}

/** A variant's fields without its tile, in a fixed order, undefined ones dropped. */
function variantFields(v: Omit<MatmulVariant, "tile">): [string, unknown][] {
  const value = (k: string) => v[k as keyof typeof v];
  return Object.keys(v).filter((k) => k !== "tile" && value(k) !== undefined).sort()
    .map((k) => [k, value(k)]);
}

/**
 * The cache key: adapter, variant (without tile, fields in a fixed order),
 * shape rounded by {@linkcode tuneBucket}, and {@linkcode CANDIDATES_VERSION}.
 */
export function tuneKey(gpu: Gpu, v: MatmulVariant, s: MatmulShape): string {
  const shape = [s.M, s.N, s.K].map(tuneBucket);
  return JSON.stringify([gpu.adapter.description, variantFields(v), ...shape, CANDIDATES_VERSION]);
}

/** What a cache key ({@linkcode tuneKey}) names, with the candidate version it was made under. */
export interface TuneKeyParts {
  /** Adapter description. */
  adapter: string;
  /** The variant, without its tile. */
  variant: Omit<MatmulVariant, "tile">;
  /** M, N, K, each rounded by {@linkcode tuneBucket}. */
  shape: [number, number, number];
  /** {@linkcode CANDIDATES_VERSION} when the choice was made. */
  version: number;
}

/** Reads a cache key back. */
export function parseTuneKey(key: string): TuneKeyParts {
  const [adapter, fields, M, N, K, version] = JSON.parse(key);
  const variant = Object.fromEntries(fields) as Omit<MatmulVariant, "tile">;
  return { adapter, variant, shape: [M, N, K], version };
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
 * How `tile: "auto"` and `"tune"` choose (`ArbLinearOptions.tile`): both take
 * a choice cached for this adapter, variant and nearby shape
 * ({@linkcode tuneKey}); without one, `"tune"` measures, and `"auto"`
 * measures where the adapter's tile policy tunes and otherwise takes the
 * policy's default tile (`matmul_tile_policy.ts`).
 */
export type TileMode = "auto" | "tune";

/**
 * The tile to use for a variant and shape on this adapter (see
 * {@linkcode TileMode}). A cached choice a shape cannot run (a window tile
 * that does not fit it) counts as none.
 */
export async function chooseTile(
  gpu: Gpu,
  v: MatmulVariant,
  s: MatmulShape,
  mode: TileMode = "auto",
): Promise<Tile> {
  loadStore();
  const key = tuneKey(gpu, v, s);
  const cached = memory.get(key);
  if (cached && !(cached.window && windowMisfit(v, s, cached, gpu.limits))) return cached;
  const policy = tilePolicyFor(gpu.adapter);
  if (mode === "auto" && !policy.tunesUnseen) return policy.defaultTile(v, s, gpu.limits);
  // Five rounds: with three, a slow spell on a shared VM once picked a
  // clearly slower tile than the best.
  const [best] = await tuneMatmul(gpu, v, s, tileCandidates(v, gpu.adapter, s), 5);
  memory.set(key, best.tile);
  saveStore();
  return best.tile;
}
