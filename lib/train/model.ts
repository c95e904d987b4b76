/**
 * Builds the MLPs of the experiments from a plain config: layer widths, one
 * hash for every layer, table fraction, sparsity and seed.
 *
 * Layer: train.
 * @module
 */

import type { Gpu } from "../gpu/device.ts";
import { invalidOption } from "../errors.ts";
import { isDenseHash } from "../hash/dense.ts";
import type { Hash } from "../hash/types.ts";
import { ArbLinear } from "../nn/arb_linear.ts";
import { ReLU, Sequential } from "../nn/layers.ts";
import type { Module } from "../nn/module.ts";
import type { Tile } from "../../shaders/matmul.ts";
import type { TileMode } from "../../shaders/matmul_tune.ts";

/** Options of {@linkcode buildMlp}. */
export interface MlpOptions {
  /** Widths including input and output, e.g. `[784, 1000, 10]`. */
  layers: number[];
  /** The hash of every layer (each layer gets its own seed), unless `perLayer` says otherwise. */
  hash: Hash;
  /**
   * Per-layer overrides of `hash` and `tableFraction`, by layer index (entry
   * `i` for the layer from `layers[i]` to `layers[i + 1]`); a missing entry or
   * field keeps the network-wide value. E.g. a swept first layer with a fixed
   * output layer: `[undefined, { hash: hashes.uniform(), tableFraction: 1 / 8 }]`.
   */
  perLayer?: readonly (LayerOverride | undefined)[];
  /** Table size as a fraction of each layer's virtual size. Default 1/8. */
  tableFraction?: number;
  /** Zero-slot fraction of every layer. Default 0. */
  sparsity?: number;
  /** Base seed; layer `i` uses `seed + i`. Default 0. */
  seed?: number;
  /** Register tile of the matmuls, `"auto"` or `"tune"` (see `ArbLinearOptions.tile`). */
  tile?: Tile | TileMode;
  /**
   * Round every hashed layer's table size up to the nearest size coprime with
   * its `outFeatures`. With round-robin sharing (`neighborhood`, radius 0)
   * a table size that is a multiple of the row length makes whole rows of the
   * virtual matrix identical (784-1000 at 1/8: K = 98·1000, so pixels i and
   * i + 98 share every weight); a coprime size makes them shifted copies
   * instead. Default false.
   */
  coprimeTables?: boolean;
  /** Deterministic table gradients (see `ArbLinearOptions.deterministic`). Default `"auto"`. */
  deterministic?: boolean | "auto";
  /** Write the virtual weights out once per step (see `ArbLinearOptions.materialize`). Default `"auto"`. */
  materialize?: boolean | "auto";
  /**
   * Recompute every layer's slots in the shaders from its seed (see
   * `ArbLinearOptions.procedural`): uniform, neighborhood and dirichlet only.
   * Default false.
   */
  procedural?: boolean;
}

/** What {@linkcode MlpOptions.perLayer} may change for one layer. */
export interface LayerOverride {
  /** This layer's hash. */
  hash?: Hash;
  /** This layer's table fraction. */
  tableFraction?: number;
}

/** The layers of an MLP (ArbLinear, ReLU, …, ArbLinear) and the network. */
export interface Mlp {
  /** The network. */
  net: Sequential;
  /** The hashed layers, in order. */
  layers: ArbLinear[];
}

/** An MLP of ArbLinear layers with ReLU between them (none after the last). */
export function buildMlp(gpu: Gpu, o: MlpOptions): Mlp {
  if (!Array.isArray(o.layers) || o.layers.length < 2) {
    invalidOption("layers", o.layers, "at least two widths, e.g. 784,1000,10");
  }
  const seed = o.seed ?? 0;
  if (o.perLayer !== undefined && !Array.isArray(o.perLayer)) {
    invalidOption("perLayer", o.perLayer, "an array with one entry (or undefined) per layer");
  }
  if ((o.perLayer?.length ?? 0) > o.layers.length - 1) {
    invalidOption("perLayer", o.perLayer, `at most ${o.layers.length - 1} entries, one per layer`);
  }
  const layers: ArbLinear[] = [];
  const modules: Module[] = [];
  for (let i = 0; i + 1 < o.layers.length; i++) {
    const [nIn, nOut] = [o.layers[i], o.layers[i + 1]];
    const hash = o.perLayer?.[i]?.hash ?? o.hash;
    const fraction = o.perLayer?.[i]?.tableFraction ?? o.tableFraction ?? 1 / 8;
    const hashed = !isDenseHash(hash);
    const layer = new ArbLinear(gpu, {
      inFeatures: nIn,
      outFeatures: nOut,
      hash,
      tableFraction: hashed ? fraction : undefined,
      tableSize: hashed && o.coprimeTables
        ? coprimeAtLeast(Math.max(1, Math.round(nIn * nOut * fraction)), nOut)
        : undefined,
      sparsity: o.sparsity ?? 0,
      seed: (seed + i) >>> 0,
      tile: o.tile,
      procedural: o.procedural,
      deterministic: o.deterministic,
      materialize: o.materialize,
      name: `layer${i}`,
    });
    layers.push(layer);
    modules.push(layer);
    if (i + 2 < o.layers.length) modules.push(new ReLU());
  }
  return { net: new Sequential(modules), layers };
}

function gcd(a: number, b: number): number {
  while (b) [a, b] = [b, a % b];
  return a;
}

/** The smallest integer ≥ `k` that shares no factor with `n`. */
export function coprimeAtLeast(k: number, n: number): number {
  while (gcd(k, n) !== 1) k++;
  return k;
}
