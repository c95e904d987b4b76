/**
 * Tiles the autotuner (`matmul_tune.ts`) chose on adapters we ran, shipped
 * so that a fresh machine with the same adapter skips tuning for these
 * products: on lavapipe tuning is mostly compiling every candidate (about
 * 75 of the 94 s of the default training run's first step from empty
 * caches; 19 s with its choices known). `chooseTile` takes one of these
 * when its own cache has no choice for the adapter, variant and shape, and
 * only under the candidate list they were chosen from
 * (`KNOWN_TILES_VERSION`); `ARBNET_TUNE_KNOWN=off` makes it tune instead.
 *
 * The shapes are the default `deno task train` run's and the benchmarks'
 * (`bench/mlp_setup.ts`, `bench/kernel_cases.ts`) on Mesa 25.0 lavapipe.
 * Regenerate with `scripts/gen_known_tiles.ts` from the tile caches of
 * fresh runs; `tests/matmul_tune.test.ts` checks that every entry is a
 * candidate for its variant and shape.
 *
 * Long on purpose: data (one entry per line), not code to read.
 *
 * Layer: kernels; data only.
 * @module
 */

import type { MatmulVariant, Tile } from "./matmul.ts";

/** One shipped choice: the adapter's description, the variant, the shape [M, N, K] and the tile. */
export interface KnownTile {
  /** `Gpu.adapter.description` of the adapter it was measured on. */
  adapter: string;
  /** The product's variant, without its tile. */
  variant: Omit<MatmulVariant, "tile">;
  /** M, N and K of the product. */
  shape: readonly [number, number, number];
  /** The tuner's choice. */
  tile: Tile;
}

/** The tuner's `CANDIDATES_VERSION` these choices were made under. */
export const KNOWN_TILES_VERSION = 14;

/** The shipped choices (generated: see the module doc). */
export const KNOWN_TILES: readonly KnownTile[] = [
  {"adapter":"llvmpipe (LLVM 15.0.6, 256 bits)","variant":{"a":"cols","weights":"dense","b":"rows","store":"scatter"},"shape":[784,1000,128],"tile":{"tm":16,"tn":8,"wgX":8,"wgY":1,"interleave":true}},
  {"adapter":"llvmpipe (LLVM 15.0.6, 256 bits)","variant":{"a":"cols","weights":"dense","b":"rows","store":"scatter"},"shape":[784,1000,50],"tile":{"tm":16,"tn":8,"wgX":8,"wgY":1,"interleave":true}},
  {"adapter":"llvmpipe (LLVM 15.0.6, 256 bits)","variant":{"a":"rows","weights":"dense","b":"cols","store":"plain"},"shape":[128,1000,10],"tile":{"tm":8,"tn":8,"wgX":8,"wgY":2}},
  {"adapter":"llvmpipe (LLVM 15.0.6, 256 bits)","variant":{"a":"rows","weights":"dense","b":"cols","store":"plain"},"shape":[128,784,1000],"tile":{"tm":13,"tn":12,"wgX":8,"wgY":1,"interleave":true}},
  {"adapter":"llvmpipe (LLVM 15.0.6, 256 bits)","variant":{"a":"rows","weights":"dense","b":"cols","store":"plain"},"shape":[50,1000,10],"tile":{"tm":8,"tn":8,"wgX":8,"wgY":2}},
  {"adapter":"llvmpipe (LLVM 15.0.6, 256 bits)","variant":{"a":"rows","weights":"dense","b":"cols","store":"plain"},"shape":[50,784,1000],"tile":{"tm":13,"tn":12,"wgX":8,"wgY":1,"interleave":true}},
  {"adapter":"llvmpipe (LLVM 15.0.6, 256 bits)","variant":{"a":"rows","weights":"dense","b":"rows","store":"bias"},"shape":[128,10,1000],"tile":{"tm":4,"tn":16,"wgX":1,"wgY":16,"interleave":true}},
  {"adapter":"llvmpipe (LLVM 15.0.6, 256 bits)","variant":{"a":"rows","weights":"dense","b":"rows","store":"bias"},"shape":[128,1000,784],"tile":{"tm":16,"tn":16,"wgX":8,"wgY":1,"window":true}},
  {"adapter":"llvmpipe (LLVM 15.0.6, 256 bits)","variant":{"a":"rows","weights":"dense","b":"rows","store":"bias"},"shape":[50,10,1000],"tile":{"tm":8,"tn":8,"wgX":8,"wgY":2}},
  {"adapter":"llvmpipe (LLVM 15.0.6, 256 bits)","variant":{"a":"rows","weights":"dense","b":"rows","store":"bias"},"shape":[50,1000,784],"tile":{"tm":10,"tn":16,"wgX":8,"wgY":1,"window":true}},
  {"adapter":"llvmpipe (LLVM 15.0.6, 256 bits)","variant":{"a":"rows","weights":"dense","b":"rows","store":"bias"},"shape":[500,10,1000],"tile":{"tm":4,"tn":16,"wgX":1,"wgY":16,"interleave":true}},
  {"adapter":"llvmpipe (LLVM 15.0.6, 256 bits)","variant":{"a":"rows","weights":"dense","b":"rows","store":"bias_relu"},"shape":[128,1000,1000],"tile":{"tm":16,"tn":16,"wgX":8,"wgY":1,"window":true}},
  {"adapter":"llvmpipe (LLVM 15.0.6, 256 bits)","variant":{"a":"rows","weights":"dense","b":"rows","store":"bias_relu"},"shape":[128,1000,784],"tile":{"tm":16,"tn":16,"wgX":8,"wgY":1,"window":true}},
  {"adapter":"llvmpipe (LLVM 15.0.6, 256 bits)","variant":{"a":"rows","weights":"dense","b":"rows","store":"bias_relu"},"shape":[50,1000,1000],"tile":{"tm":10,"tn":16,"wgX":8,"wgY":1,"window":true}},
  {"adapter":"llvmpipe (LLVM 15.0.6, 256 bits)","variant":{"a":"rows","weights":"dense","b":"rows","store":"bias_relu"},"shape":[50,1000,784],"tile":{"tm":10,"tn":16,"wgX":8,"wgY":1,"window":true}},
  {"adapter":"llvmpipe (LLVM 15.0.6, 256 bits)","variant":{"a":"rows","weights":"dense","b":"rows","store":"bias_relu"},"shape":[500,1000,784],"tile":{"tm":16,"tn":16,"wgX":8,"wgY":1,"window":true}},
  {"adapter":"llvmpipe (LLVM 15.0.6, 256 bits)","variant":{"a":"rows","weights":"dense","b":"rows","store":"permuted"},"shape":[1000,10,128],"tile":{"tm":4,"tn":16,"wgX":1,"wgY":16,"interleave":true}},
  {"adapter":"llvmpipe (LLVM 15.0.6, 256 bits)","variant":{"a":"rows","weights":"dense","b":"rows","store":"permuted"},"shape":[1000,10,52],"tile":{"tm":4,"tn":16,"wgX":1,"wgY":16,"interleave":true}},
  {"adapter":"llvmpipe (LLVM 15.0.6, 256 bits)","variant":{"a":"rows","weights":"dense","b":"rows","store":"permuted"},"shape":[1000,1000,128],"tile":{"tm":16,"tn":16,"wgX":8,"wgY":1,"window":true}},
  {"adapter":"llvmpipe (LLVM 15.0.6, 256 bits)","variant":{"a":"rows","weights":"dense","b":"rows","store":"permuted"},"shape":[1000,1000,52],"tile":{"tm":16,"tn":16,"wgX":8,"wgY":1,"window":true}},
  {"adapter":"llvmpipe (LLVM 15.0.6, 256 bits)","variant":{"a":"rows","weights":"dense","b":"rows","store":"permuted"},"shape":[784,1000,128],"tile":{"tm":16,"tn":16,"wgX":8,"wgY":1,"window":true}},
  {"adapter":"llvmpipe (LLVM 15.0.6, 256 bits)","variant":{"a":"rows","weights":"dense","b":"rows","store":"permuted"},"shape":[784,1000,52],"tile":{"tm":16,"tn":16,"wgX":8,"wgY":1,"window":true}},
  {"adapter":"llvmpipe (LLVM 15.0.6, 256 bits)","variant":{"a":"rows","weights":"dense","b":"rows","store":"plain"},"shape":[1000,10,128],"tile":{"tm":4,"tn":16,"wgX":1,"wgY":16,"interleave":true}},
  {"adapter":"llvmpipe (LLVM 15.0.6, 256 bits)","variant":{"a":"rows","weights":"dense","b":"rows","store":"plain"},"shape":[1000,10,52],"tile":{"tm":4,"tn":16,"wgX":1,"wgY":16,"interleave":true}},
  {"adapter":"llvmpipe (LLVM 15.0.6, 256 bits)","variant":{"a":"rows","weights":"dense","b":"rows","store":"plain"},"shape":[1000,1000,128],"tile":{"tm":16,"tn":16,"wgX":8,"wgY":1,"window":true}},
  {"adapter":"llvmpipe (LLVM 15.0.6, 256 bits)","variant":{"a":"rows","weights":"dense","b":"rows","store":"plain"},"shape":[1000,1000,52],"tile":{"tm":16,"tn":16,"wgX":8,"wgY":1,"window":true}},
  {"adapter":"llvmpipe (LLVM 15.0.6, 256 bits)","variant":{"a":"rows","weights":"dense","b":"rows","store":"plain"},"shape":[128,1000,1000],"tile":{"tm":16,"tn":16,"wgX":8,"wgY":1,"window":true}},
  {"adapter":"llvmpipe (LLVM 15.0.6, 256 bits)","variant":{"a":"rows","weights":"dense","b":"rows","store":"plain"},"shape":[128,784,1000],"tile":{"tm":16,"tn":16,"wgX":8,"wgY":1,"window":true}},
  {"adapter":"llvmpipe (LLVM 15.0.6, 256 bits)","variant":{"a":"rows","weights":"dense","b":"rows","store":"plain"},"shape":[50,1000,1000],"tile":{"tm":10,"tn":16,"wgX":8,"wgY":1,"window":true}},
  {"adapter":"llvmpipe (LLVM 15.0.6, 256 bits)","variant":{"a":"rows","weights":"dense","b":"rows","store":"plain"},"shape":[50,784,1000],"tile":{"tm":10,"tn":16,"wgX":8,"wgY":1,"window":true}},
  {"adapter":"llvmpipe (LLVM 15.0.6, 256 bits)","variant":{"a":"rows","weights":"dense","b":"rows","store":"plain"},"shape":[784,1000,128],"tile":{"tm":16,"tn":16,"wgX":8,"wgY":1,"window":true}},
  {"adapter":"llvmpipe (LLVM 15.0.6, 256 bits)","variant":{"a":"rows","weights":"dense","b":"rows","store":"plain"},"shape":[784,1000,52],"tile":{"tm":16,"tn":16,"wgX":8,"wgY":1,"window":true}},
  {"adapter":"llvmpipe (LLVM 15.0.6, 256 bits)","variant":{"a":"rows","weights":"hashed","b":"cols","store":"plain"},"shape":[128,784,1000],"tile":{"tm":16,"tn":8,"wgX":8,"wgY":1,"interleave":true}},
  {"adapter":"llvmpipe (LLVM 15.0.6, 256 bits)","variant":{"a":"rows","weights":"hashed","b":"cols","store":"plain"},"shape":[50,784,1000],"tile":{"tm":16,"tn":8,"wgX":8,"wgY":1,"interleave":true}},
  {"adapter":"llvmpipe (LLVM 15.0.6, 256 bits)","variant":{"a":"rows","weights":"hashed","b":"rows","store":"bias"},"shape":[128,1000,784],"tile":{"tm":16,"tn":8,"wgX":8,"wgY":1,"interleave":true}},
  {"adapter":"llvmpipe (LLVM 15.0.6, 256 bits)","variant":{"a":"rows","weights":"hashed","b":"rows","store":"bias"},"shape":[50,1000,784],"tile":{"tm":13,"tn":12,"wgX":8,"wgY":1,"interleave":true}},
];
