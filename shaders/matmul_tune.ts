/**
 * A small autotuner for the matmul template: times a handful of register
 * tiles for one variant and shape on this adapter, keeps the fastest, and
 * caches the choice per adapter description (in memory, and in a JSON file
 * when the process may read and write it). CPU adapters (lavapipe) and GPUs
 * want very different tiles; measuring beats guessing.
 *
 * Layer: kernels; imports `lib/gpu` only.
 * @module
 */

import type { Gpu } from "../lib/gpu/device.ts";
import {
  DEFAULT_TILE,
  matmulGrid,
  type MatmulShape,
  matmulSource,
  type MatmulVariant,
  type Tile,
} from "./matmul.ts";

/**
 * Tiles the tuner tries: contiguous and interleaved register tiles of 4–25
 * outputs a side. The large single-row-of-invocations tiles (10×16, 13×12,
 * 25×8) are there for CPU adapters: lavapipe (Mesa 25.0) loads every
 * storage-buffer value lane by lane with a bounds check, so outputs per load
 * matter more than registers, and rows that divide the batch (50 = 5·10 =
 * 2·25) waste no lanes. On lavapipe they measured 1.2–1.4× faster than 16×8.
 * The last, one column of invocations, is for drivers that load uniform
 * values once (Mesa ≥ 25.1, GPUs): there it makes hashed weights as cheap as
 * dense ones.
 */
export const TILE_CANDIDATES: readonly Tile[] = [
  DEFAULT_TILE,
  { tm: 8, tn: 8, wgX: 8, wgY: 2 },
  { tm: 4, tn: 8, wgX: 8, wgY: 4 },
  { tm: 8, tn: 4, wgX: 8, wgY: 4, interleave: true },
  { tm: 4, tn: 4, wgX: 16, wgY: 4 },
  { tm: 4, tn: 4, wgX: 8, wgY: 8, interleave: true },
  { tm: 16, tn: 8, wgX: 8, wgY: 1, interleave: true },
  { tm: 8, tn: 8, wgX: 16, wgY: 1, interleave: true },
  { tm: 8, tn: 8, wgX: 8, wgY: 1 },
  { tm: 10, tn: 16, wgX: 8, wgY: 1, interleave: true },
  { tm: 13, tn: 12, wgX: 8, wgY: 1, interleave: true },
  { tm: 25, tn: 8, wgX: 8, wgY: 1, interleave: true },
  // One column of invocations: weights uniform per workgroup (see matmul.wgsl).
  { tm: 4, tn: 16, wgX: 1, wgY: 16, interleave: true },
  // Workgroup-memory tiles (matmul_shared.wgsl), for GPUs.
  { tm: 4, tn: 4, wgX: 16, wgY: 16, shared: 16 },
  { tm: 8, tn: 8, wgX: 8, wgY: 8, shared: 8 },
];

/**
 * The candidates worth compiling for a variant. Every output of a tile is
 * inlined code, so compile time grows with its size: procedural slots put a
 * few hashes in every weight load and the scatter a compare-exchange loop in
 * every store, and lavapipe then takes up to a minute for the largest tiles.
 */
export function tileCandidates(v: MatmulVariant): readonly Tile[] {
  const procedural = v.slots !== undefined && v.slots !== "buffer";
  if (procedural) return TILE_CANDIDATES.filter((t) => t.tm * t.tn <= 32);
  if (v.store === "scatter") return TILE_CANDIDATES.filter((t) => t.tm * t.tn <= 128);
  return TILE_CANDIDATES;
}

/**
 * Version of the candidate list, part of every cache key: a cached choice
 * made among other candidates is measured again.
 */
const CANDIDATES_VERSION = 4;

/** One candidate's measured time. */
export interface TuneResult {
  /** The tile. */
  tile: Tile;
  /** Best of the timed runs, in milliseconds. */
  ms: number;
}

const memory = new Map<string, Tile>();
let fileLoaded = false;

/** Where choices persist: `$ARBNET_TUNE_CACHE`, else `~/.cache/arbnet/tiles.json`. */
function cachePath(): string | null {
  try {
    const explicit = Deno.env.get("ARBNET_TUNE_CACHE");
    if (explicit) return explicit;
    const home = Deno.env.get("XDG_CACHE_HOME") ?? (Deno.env.get("HOME") + "/.cache");
    return `${home}/arbnet/tiles.json`;
  } catch {
    return null; // no env permission: memory only
  }
}

function loadFile(): void {
  if (fileLoaded) return;
  fileLoaded = true;
  const path = cachePath();
  if (!path) return;
  try {
    const saved = JSON.parse(Deno.readTextFileSync(path)) as Record<string, Tile>;
    for (const [k, v] of Object.entries(saved)) if (!memory.has(k)) memory.set(k, v);
  } catch {
    // absent, unreadable or not permitted: start empty
  }
}

function saveFile(): void {
  const path = cachePath();
  if (!path) return;
  try {
    Deno.mkdirSync(path.slice(0, path.lastIndexOf("/")), { recursive: true });
    const tmp = `${path}.tmp-${Deno.pid}`;
    Deno.writeTextFileSync(tmp, JSON.stringify(Object.fromEntries(memory), null, 1));
    Deno.renameSync(tmp, path);
  } catch {
    // not permitted: the choice lives for this process only
  }
}

/** The cache key: adapter, variant (without tile) and shape. */
export function tuneKey(gpu: Gpu, v: MatmulVariant, s: MatmulShape): string {
  const { tile: _tile, ...variant } = v;
  return JSON.stringify([gpu.adapter.description, variant, s.M, s.N, s.K, CANDIDATES_VERSION]);
}

/**
 * Launches timed per wait: a wait for the GPU costs about 11 ms under Deno
 * 2.9 on lavapipe whatever the work, which would otherwise blur the
 * differences between tiles.
 */
const LAUNCHES_PER_WAIT = 4;

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
  const hashed = v.weights === "hashed" || v.store === "scatter";
  const aLen = s.M * s.K, bLen = s.K * s.N, cLen = s.M * s.N;
  const slotsLen = Math.max(bLen, cLen);
  // Without a zero slot in the shape, a table of 1/8 of the positions.
  const zeroSlot = s.zeroSlot ?? Math.max(1, Math.ceil(slotsLen / 8));
  const scratch = [
    gpu.uniform([s.M, s.N, s.K, zeroSlot], "tune dims"),
    gpu.buffer(aLen * 4, "tune a"),
    gpu.buffer((hashed ? zeroSlot + 1 : bLen) * 4, "tune b"),
    hashed ? gpu.upload(scatteredSlots(slotsLen, zeroSlot), "tune slots") : null,
    gpu.buffer((v.store === "scatter" ? zeroSlot + 1 : cLen) * 4, "tune c"),
    v.store === "bias" || v.store === "bias_relu" ? gpu.buffer(s.N * 4, "tune bias") : null,
  ];
  const results: TuneResult[] = [];
  try {
    for (const tile of candidates) {
      const variant = { ...v, tile };
      const program = await gpu.program(`tune ${JSON.stringify(tile)}`, matmulSource(variant));
      const launch = gpu.bind(program, scratch, matmulGrid(s, tile));
      gpu.dispatch(launch); // first run pays for compilation in the driver
      await gpu.sync();
      let best = Infinity;
      for (let r = 0; r < repeats; r++) {
        const t0 = performance.now();
        for (let i = 0; i < LAUNCHES_PER_WAIT; i++) gpu.dispatch(launch);
        await gpu.sync();
        best = Math.min(best, (performance.now() - t0) / LAUNCHES_PER_WAIT);
      }
      results.push({ tile, ms: best });
    }
  } finally {
    for (const b of scratch) gpu.release(b);
  }
  return results.sort((a, b) => a.ms - b.ms);
}

/**
 * The tile to use for a variant and shape: a cached choice for this adapter,
 * else (when `tune`) the tuner's, else {@linkcode DEFAULT_TILE}.
 */
export async function chooseTile(
  gpu: Gpu,
  v: MatmulVariant,
  s: MatmulShape,
  tune = true,
): Promise<Tile> {
  if (!tune) return DEFAULT_TILE;
  loadFile();
  const key = tuneKey(gpu, v, s);
  const cached = memory.get(key);
  if (cached) return cached;
  // Workgroup-memory tiles measured ~4x slower on CPU adapters (lavapipe
  // runs barriers as coroutine switches): not worth their compile time there.
  const candidates = tileCandidates(v).filter((t) => !(t.shared && gpu.adapter.isFallbackAdapter));
  const [best] = await tuneMatmul(gpu, v, s, candidates);
  memory.set(key, best.tile);
  saveFile();
  return best.tile;
}
