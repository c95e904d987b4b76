/**
 * The training step every bench times: an MLP with momentum SGD (lr 0.01,
 * momentum 0.9), hashed layers with a uniform hash and table fraction 1/8
 * or dense ones, the library's defaults otherwise, and one seeded random
 * batch to step on again and again.
 * @module
 */

import type { Gpu } from "../lib/gpu/device.ts";
import { hashes } from "../lib/hash/mod.ts";
import { SGD } from "../lib/optim/mod.ts";
import { buildMlp, Trainer } from "../lib/train/mod.ts";
import { Rng } from "../lib/util/random.ts";
// Tuned tiles persist in a file between runs, as in the training script.
import "../lib/io/tile_cache.ts";

/** What {@linkcode mlpSetup} builds. */
export interface MlpSetupOptions {
  /** Layer widths, input first. */
  layers: readonly number[];
  /** Hashed (uniform hash, table fraction 1/8) or dense layers. */
  network: "hashed" | "dense";
  /** Rows of the batch. */
  batch: number;
  /** Passed to `buildMlp` (default `"auto"`). */
  deterministic?: boolean | "auto";
  /** Passed to `buildMlp`: `"auto"` for the adapter's tile choices; omitted, its portable default. */
  tile?: "auto" | "tune";
}

/** A trainer and the batch it steps on. */
export interface MlpSetup {
  /** The trainer of the network. */
  trainer: Trainer;
  /** Inputs, `batch × layers[0]`, uniform in [0, 1). */
  x: Float32Array;
  /** Labels, uniform over the last layer's classes. */
  y: Uint32Array;
}

/** Builds the benchmarked network on `gpu` with its trainer and one batch. */
export function mlpSetup(gpu: Gpu, o: MlpSetupOptions): MlpSetup {
  const { net } = buildMlp(gpu, {
    layers: [...o.layers],
    hash: o.network === "dense" ? hashes.dense() : hashes.uniform(),
    tableFraction: 1 / 8,
    seed: 1,
    deterministic: o.deterministic ?? "auto",
    tile: o.tile,
  });
  const features = o.layers[0], classes = o.layers[o.layers.length - 1];
  const trainer = new Trainer(net, new SGD(net.parameters(), { lr: 0.01, momentum: 0.9 }), {
    features,
    classes,
  });
  const rng = new Rng(1);
  const x = Float32Array.from({ length: o.batch * features }, () => rng.next());
  const y = Uint32Array.from({ length: o.batch }, () => rng.int(classes));
  return { trainer, x, y };
}

/** Steps `n` times untimed (the first compiles and tunes), then waits for the device. */
export async function warmUp(gpu: Gpu, s: MlpSetup, n: number): Promise<void> {
  for (let i = 0; i < n; i++) await s.trainer.step(s.x, s.y);
  await gpu.sync();
}

/**
 * Milliseconds per step of `steps` steps recorded back to back with one
 * wait at the end: the pipelined step, as `fit` trains between metric
 * reads (a wait costs about 11 ms under Deno whatever the work).
 */
export async function pipelinedStepMs(gpu: Gpu, s: MlpSetup, steps: number): Promise<number> {
  const t0 = performance.now();
  for (let i = 0; i < steps; i++) await s.trainer.step(s.x, s.y);
  await gpu.sync();
  return (performance.now() - t0) / steps;
}
