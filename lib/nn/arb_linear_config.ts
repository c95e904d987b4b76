/**
 * What an `ArbLinear` is built from: its options, the config
 * resolved and checked from them, the initial table, a shared table's
 * checks and the device-size checks. Split from `arb_linear.ts`, which
 * builds the layer and binds its plans.
 *
 * Layer: nn; imports `lib/gpu` and kernel types, `lib/hash`, `lib/util`.
 * @module
 */

import type { Gpu } from "../gpu/device.ts";
import { ArbnetError, invalidOption } from "../errors.ts";
import type { Hash, IndexSpec } from "../hash/types.ts";
import { isDenseHash } from "../hash/dense.ts";
import { hasProceduralForm, PROCEDURAL_FAMILIES } from "../hash/procedural.ts";
import type { Tile } from "../../shaders/matmul.ts";
import type { TileMode } from "../../shaders/matmul_tune.ts";
import { Rng } from "../util/random.ts";
import { Parameter } from "./module.ts";

/** Options of `ArbLinear`. */
export interface ArbLinearOptions {
  /** Input features (rows of the virtual matrix). */
  inFeatures: number;
  /** Output features (columns of the virtual matrix). */
  outFeatures: number;
  /** The weight-sharing pattern. */
  hash: Hash;
  /**
   * Trainable slots `K`. Default: `round(tableFraction · in · out)`, or
   * `in · out` for the dense hash.
   */
  tableSize?: number;
  /** Table size as a fraction of the virtual matrix, used when `tableSize` is absent. Default 1. */
  tableFraction?: number;
  /** Fraction of positions sent to the zero slot, in [0, 1). Default 0. */
  sparsity?: number;
  /** Seed of the hash and of the initial table. Default 0. */
  seed?: number;
  /** Learn a bias. Default true. */
  bias?: boolean;
  /**
   * Register tile of the matmuls: a fixed tile; `"auto"`, a choice the
   * autotuner cached for this adapter and a nearby shape, else the adapter
   * class's default (tuned on GPUs, rules on CPU adapters:
   * `shaders/matmul_tile_policy.ts`); `"tune"`, measured where nothing is
   * cached (`shaders/matmul_tune.ts`); or absent for the portable default.
   * A fixed window tile runs the products it fits (`windowMisfit`); the
   * others take the default tile.
   */
  tile?: Tile | TileMode;
  /**
   * Deterministic table gradient: materialise `Xᵀ·dY` and sum it per slot
   * through the inverse index in a fixed order, instead of atomic adds.
   * Two runs then give bit-identical tables. Costs `4·in·out` bytes for the
   * product and the inverse index; not available with `procedural`.
   * `"auto"` (the default) follows the adapter's policy (`plan_policy.ts`):
   * on CPU adapters (lavapipe, llvmpipe, SwiftShader: `isFallbackAdapter`)
   * it is on, elsewhere atomics; procedural layers stay atomic.
   */
  deterministic?: boolean | "auto";
  /**
   * Write the virtual weight matrix out once per step (`4·in·out` bytes) and
   * run the forward and input-gradient products dense, instead of gathering
   * the weights inside every matmul tile. It pays where a gathered weight is
   * expensive and reused by many rows (lavapipe). `"auto"` (the default)
   * follows the adapter's policy (`plan_policy.ts`): on CPU adapters, for
   * batches of at least `MATERIALIZE_MIN_ROWS` rows; procedural layers never
   * materialise (they exist to store nothing per weight).
   */
  materialize?: boolean | "auto";
  /** Label prefix for parameters and buffers, and the layer's name in errors. Default `"arblinear"`. */
  name?: string;
  /**
   * Weight tying: hash into this existing table (another layer's `table`)
   * instead of a new one. Its gradient then sums both layers' (the table is
   * {@linkcode Parameter.tied}), and a container lists it once. `tableSize`
   * defaults to the table's size and may exceed `inFeatures × outFeatures`
   * (other layers use the other slots). A hashed layer needs a table made
   * by a hashed layer (it ends in the zero slot). The table keeps its first
   * layer's initialisation. Share before the first forward pass of either
   * layer. A network-wide table is every layer given the first one's.
   */
  table?: Parameter;
  /**
   * Recompute every slot word in the shaders from the seed instead of
   * storing one u32 per position: GPU memory is then the table (plus a
   * `2·K`-word alias table for `dirichlet`), whatever `inFeatures ×
   * outFeatures`, at the cost of a few hashes per weight read. Only the
   * `uniform`, `neighborhood` and `dirichlet` families have a procedural
   * form. The slots are the same bit for bit. Default false.
   */
  procedural?: boolean;
}

/** Everything that decides a layer's slots: enough to rebuild it (checkpoints, logs). */
export interface ArbLinearConfig {
  /** Input features. */
  inFeatures: number;
  /** Output features. */
  outFeatures: number;
  /** Trainable slots. */
  tableSize: number;
  /** Zero-slot fraction. */
  sparsity: number;
  /** Seed. */
  seed: number;
  /** Whether there is a bias. */
  bias: boolean;
  /** Hash family and options. */
  hash: { family: string; options: Record<string, number | string | boolean> };
}

const SIGN_BIT = 0x80000000;

/**
 * Packs slots and signs into the kernels' slot words (slot in the low 31
 * bits, bit 31 set where the sign is −1).
 */
export function packSlotWords(indices: Uint32Array, signs: Int8Array | null): Uint32Array {
  const words = new Uint32Array(indices.length);
  for (let p = 0; p < indices.length; p++) {
    words[p] = signs && signs[p] < 0 ? (indices[p] | SIGN_BIT) >>> 0 : indices[p];
  }
  return words;
}

/**
 * Refuses, before allocating anything, a layer (`name`, `c`) whose buffers
 * this device cannot bind: WebGPU would otherwise skip the kernels silently.
 */
export function checkLayerMemory(
  gpu: Gpu,
  name: string,
  c: ArbLinearConfig,
  o: ArbLinearOptions,
): void {
  const n = c.inFeatures * c.outFeatures;
  const dense = isDenseHash(o.hash) && c.sparsity === 0;
  const layer = `ArbLinear ${name} (${c.inFeatures}×${c.outFeatures}, ${c.hash.family} hash)`;
  const fits = (what: string, bytes: number, fix: string) =>
    checkBindable(gpu, `${layer}: ${what}`, bytes, fix);
  if (dense) {
    fits(
      "its weight table (4 bytes per weight)",
      4 * (n + 1),
      "share weights through a hash with a smaller table, e.g. hashes.uniform() with " +
        "tableFraction < 1, or use a smaller layer",
    );
    return;
  }
  if (o.procedural !== true) {
    fits(
      "its slot buffer (4 bytes per position of the virtual matrix)",
      4 * n,
      hasProceduralForm(o.hash)
        ? "use the procedural hash (procedural: true, --procedural), which recomputes the " +
          "slots in the shaders and stores none, or a smaller layer"
        : `use a smaller layer (the ${c.hash.family} hash has no procedural form)`,
    );
  }
  // The deterministic mode's per-position buffers are the slot buffer's size, checked above.
  fits("its table (4 bytes per slot)", 4 * (c.tableSize + 2), "use a smaller tableSize");
}

/** The largest buffer this device can bind as storage, and which limit sets it. */
export function bindableBytes(gpu: Gpu): { max: number; limit: string } {
  const l = gpu.limits;
  return l.maxStorageBufferBindingSize <= l.maxBufferSize
    ? { max: l.maxStorageBufferBindingSize, limit: "maxStorageBufferBindingSize" }
    : { max: l.maxBufferSize, limit: "maxBufferSize" };
}

/** Throws naming `what`, the limit and the excess when `bytes` cannot be bound as one buffer. */
export function checkBindable(gpu: Gpu, what: string, bytes: number, fix: string): void {
  const { max, limit } = bindableBytes(gpu);
  if (bytes > max) {
    throw new ArbnetError(
      `${what} needs ${bytes} bytes, over this device's ${limit} (${max}) by ${bytes - max} ` +
        `bytes; ${fix}`,
    );
  }
}

export function resolveConfig(o: ArbLinearOptions): ArbLinearConfig {
  const positiveInt = (name: string, v: unknown) => {
    if (!Number.isInteger(v) || (v as number) < 1) invalidOption(name, v, "a positive integer");
  };
  positiveInt("inFeatures", o.inFeatures);
  positiveInt("outFeatures", o.outFeatures);
  const t = o.tile;
  const tileOk = t === undefined || t === "auto" || t === "tune" ||
    (typeof t === "object" && t !== null &&
      [t.tm, t.tn, t.wgX, t.wgY].every((n) => Number.isSafeInteger(n) && n >= 1));
  if (!tileOk) invalidOption("tile", t, `"auto", "tune", a Tile ({ tm, tn, wgX, wgY }) or absent`);
  if (!o.hash || typeof o.hash.indices !== "function") {
    invalidOption("hash", o.hash, "a Hash, e.g. hashes.uniform()");
  }
  const virtual = o.inFeatures * o.outFeatures;
  if (virtual > 2 ** 32) {
    invalidOption(
      "inFeatures × outFeatures",
      virtual,
      "at most 2^32 positions (positions are u32); use a smaller layer",
    );
  }
  const fraction = o.tableFraction ?? 1;
  if (!(fraction > 0 && fraction <= 1)) {
    invalidOption("tableFraction", fraction, "a number in (0, 1]");
  }
  if (o.table !== undefined && !(o.table instanceof Parameter)) {
    invalidOption("table", o.table, "another layer's table (a Parameter)");
  }
  const tableSize = o.tableSize ?? o.table?.size ??
    (isDenseHash(o.hash) ? virtual : Math.max(1, Math.round(virtual * fraction)));
  positiveInt("tableSize", tableSize);
  if (tableSize >= 2 ** 31) invalidOption("tableSize", tableSize, "below 2^31 slots");
  if (o.table && tableSize !== o.table.size) {
    invalidOption("tableSize", tableSize, `the shared table's size, ${o.table.size}`);
  }
  // More slots than positions leaves slots that no position reads: memory and
  // optimizer work for nothing, and an occupancy entropy that cannot reach 1.
  // A shared table's other slots are other layers'.
  if (tableSize > virtual && !o.table) {
    invalidOption(
      "tableSize",
      tableSize,
      `at most inFeatures × outFeatures = ${virtual}: a larger table leaves slots unused`,
    );
  }
  const sparsity = o.sparsity ?? 0;
  if (!(sparsity >= 0 && sparsity < 1)) invalidOption("sparsity", sparsity, "a number in [0, 1)");
  const seed = o.seed ?? 0;
  if (!Number.isInteger(seed)) invalidOption("seed", seed, "an integer");
  if (o.procedural !== undefined && typeof o.procedural !== "boolean") {
    invalidOption("procedural", o.procedural, "true or false");
  }
  if (o.procedural === true && !hasProceduralForm(o.hash)) {
    throw new ArbnetError(
      `invalid procedural: true for the ${o.hash.family} hash (only ${
        PROCEDURAL_FAMILIES.join(", ")
      } and user families with a wgsl rule can be recomputed in the shaders); drop the ` +
        "procedural option to materialise its slots",
    );
  }
  if (isDenseHash(o.hash) && tableSize !== virtual) {
    throw new ArbnetError(
      `the dense hash needs tableSize = inFeatures × outFeatures = ${virtual}, got ${tableSize}`,
    );
  }
  return {
    inFeatures: o.inFeatures,
    outFeatures: o.outFeatures,
    tableSize,
    sparsity,
    seed,
    bias: o.bias ?? true,
    hash: { family: o.hash.family, options: { ...o.hash.options } },
  };
}

/**
 * The fan-in of one output before sparsity: the hash's own `fanIn` (a
 * convolution's receptive field), else every input row.
 */
export function hashFanIn(hash: Hash, spec: IndexSpec): number {
  if (typeof hash.fanIn !== "function") return spec.rows;
  const f = hash.fanIn(spec);
  if (!(Number.isFinite(f) && f > 0 && f <= spec.rows)) {
    throw new ArbnetError(
      `the ${hash.family} hash's fanIn(spec) returned ${f}; it must be a number in ` +
        `(0, rows = ${spec.rows}]: the inputs one output reads outside the zero slot`,
    );
  }
  return f;
}

/**
 * He-uniform initial table: every virtual weight is then U(±√(6/fanIn′)),
 * where fanIn′ = fanIn·(1 − sparsity) is the fan-in the zero slot leaves
 * (`fanIn` from {@linkcode hashFanIn}: the inputs, or a convolution's
 * receptive field). `extra` zero entries follow (the zero slot).
 */
export function initTable(c: ArbLinearConfig, extra: number, fanInBefore: number): Float32Array {
  const fanIn = Math.max(1, fanInBefore * (1 - c.sparsity));
  const bound = Math.sqrt(6 / fanIn);
  const rng = new Rng((c.seed ^ 0x5eed7ab1e) >>> 0);
  const t = new Float32Array(c.tableSize + extra);
  for (let k = 0; k < c.tableSize; k++) t[k] = (2 * rng.next() - 1) * bound;
  return t;
}

/**
 * `table` checked for a layer that shares it (option `table`), and tied:
 * same device, and a zero slot after it for a hashed layer.
 */
export function sharedTable(gpu: Gpu, table: Parameter, dense: boolean, who: string): Parameter {
  if (table.gpuDevice !== gpu) {
    throw new ArbnetError(`${who}: the shared table ${table.name} lives on another device`);
  }
  if (!dense && table.data.size < 4 * (table.size + 1)) {
    throw new ArbnetError(
      `${who}: the shared table ${table.name} has no zero slot (a dense layer's table); ` +
        "share a hashed layer's table instead",
    );
  }
  table.tie();
  return table;
}
