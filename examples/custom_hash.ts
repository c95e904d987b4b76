/**
 * A user hash family, end to end: `pixelBlocks` lets the pixels of each
 * `block × block` square of the image share one weight per output unit
 * (a coarser image, learned as an ArbNet). The family is defined by its
 * slot rule (TypeScript, and the same rule in WGSL for procedural layers),
 * registered by name, trained from the API, checkpointed and rebuilt from
 * the checkpoint alone, which finds the family in the registry.
 *
 * From the API (this file; `--tiny` for a few seconds' smoke run):
 *
 *   nice -n 10 deno run --allow-read --allow-write --allow-env --allow-run examples/custom_hash.ts
 *
 * From the training CLI, which imports this file to register the family:
 *
 *   nice -n 10 deno task train --hash-module examples/custom_hash.ts --hash pixelBlocks \
 *     --hash-options '{"block":2}' --layers 784,100,10 --table-fraction 0.25 --epochs 2
 *
 * Both reach 96.87% test accuracy after 2 epochs (the same seed, and
 * deterministic table gradients on a CPU adapter); docs/custom_hashes.md
 * gives the run.
 *
 * Layers other than the first read their inputs as `width`-wide rows too:
 * in the hidden layer, hidden units 2k and 2k + 1 of neighbouring rows of 28
 * share weights. The point here is the mechanics, not that choice.
 * @module
 */

import {
  ArbnetError,
  buildFromCheckpoint,
  buildMlp,
  defineHashFamily,
  fit,
  loadMnist,
  registerHashFamily,
  requestDevice,
  saveCheckpoint,
  SGD,
  Trainer,
} from "../mod.ts";

/**
 * The `pixelBlocks` family. Input `i` is the pixel at row `i / width`,
 * column `i % width`; its block is `(row / block, column / block)`, and
 * position `(i, j)` takes slot `(blockIndex · cols + j) mod K`: the pixels
 * of a block share each output's weight.
 */
export const pixelBlocks = defineHashFamily({
  name: "pixelBlocks",
  defaults: { width: 28, block: 2, sign: false },
  checkOptions(o) {
    for (const key of ["width", "block"] as const) {
      if (!Number.isInteger(o[key]) || o[key] < 1 || o[key] > 65535) {
        throw new ArbnetError(
          `invalid pixelBlocks option ${key}: ${o[key]} (an integer in [1, 65535])`,
        );
      }
    }
  },
  sign: (o) => o.sign,
  slot(p, s, o) {
    const i = Math.floor(p / s.cols), j = p % s.cols;
    const perRow = Math.ceil(o.width / o.block);
    const b = Math.floor(Math.floor(i / o.width) / o.block) * perRow +
      Math.floor((i % o.width) / o.block);
    return (b * s.cols + j) % s.tableSize;
  },
  // The same rule in u32 arithmetic, options baked in as constants.
  wgsl: (o) => `
const PB_WIDTH: u32 = ${o.width}u;
const PB_BLOCK: u32 = ${o.block}u;
fn family_slot(p: u32) -> u32 {
  let cols = hash_params.cols;
  let i = p / cols;
  let j = p % cols;
  let per_row = (PB_WIDTH + PB_BLOCK - 1u) / PB_BLOCK;
  let b = (i / PB_WIDTH / PB_BLOCK) * per_row + (i % PB_WIDTH) / PB_BLOCK;
  return (b * cols + j) % hash_params.table_size;
}`,
});

registerHashFamily("pixelBlocks", pixelBlocks);

/** Sizes of a run of the example. */
export interface CustomHashRun {
  /** Hidden units. Default 100. */
  hidden?: number;
  /** Epochs. Default 2. */
  epochs?: number;
  /** Training examples used (default all 60,000). */
  trainLimit?: number;
  /** Test examples used (default all 10,000). */
  testLimit?: number;
  /** Where the checkpoint goes. Default `out/custom_hash.safetensors`. */
  checkpoint?: string;
  /** Pixels per block side. Default 2. */
  block?: number;
  /** Print progress. Default false. */
  verbose?: boolean;
}

/** What a run measured. */
export interface CustomHashResult {
  /** Test accuracy after the last epoch. */
  testAccuracy: number;
  /** Test accuracy of the network rebuilt from the checkpoint. */
  reloadedAccuracy: number;
  /** Every layer's table size. */
  tableSizes: number[];
  /** Wall-clock seconds of training. */
  trainSeconds: number;
}

/**
 * Trains a 784-hidden-10 MLP with `pixelBlocks` on MNIST, checkpoints it
 * and rebuilds it from the checkpoint.
 *
 * @param run sizes (defaults: the full run of the header)
 * @returns the accuracies before and after reloading
 */
export async function runCustomHash(run: CustomHashRun = {}): Promise<CustomHashResult> {
  const block = run.block ?? 2;
  const train = await loadMnist({ split: "train", limit: run.trainLimit });
  const test = await loadMnist({ split: "test", limit: run.testLimit });
  const gpu = await requestDevice();
  try {
    const { net, layers } = buildMlp(gpu, {
      layers: [784, run.hidden ?? 100, 10],
      hash: pixelBlocks({ block }),
      tableFraction: 1 / (block * block),
      seed: 1,
    });
    const lr = 0.05;
    const opt = new SGD(net.parameters(), { lr, momentum: 0.9 });
    const trainer = new Trainer(net, opt, { features: 784, classes: 10 });
    const started = performance.now();
    const history = await fit(trainer, {
      train,
      test,
      epochs: run.epochs ?? 2,
      batchSize: 50,
      seed: 1,
      lr,
      onEpoch: (e) => {
        if (run.verbose) {
          console.log(
            `epoch ${e.epoch + 1}: train loss ${e.trainLoss.toFixed(4)}, test accuracy ${
              (100 * e.testAccuracy!).toFixed(2)
            }%`,
          );
        }
      },
    });
    const trainSeconds = (performance.now() - started) / 1000;
    const path = run.checkpoint ?? "out/custom_hash.safetensors";
    await Deno.mkdir(path.replace(/[^/]*$/, "") || ".", { recursive: true });
    await saveCheckpoint(path, { net });
    // The checkpoint names the family; the registry rebuilds its hashes.
    const rebuilt = await buildFromCheckpoint(gpu, path);
    const again = new Trainer(rebuilt.net, new SGD(rebuilt.net.parameters(), { lr }), {
      features: 784,
      classes: 10,
    });
    const reloaded = await again.evaluate(test);
    return {
      testAccuracy: history.at(-1)!.testAccuracy!,
      reloadedAccuracy: reloaded.accuracy,
      tableSizes: layers.map((l) => l.config.tableSize),
      trainSeconds,
    };
  } finally {
    gpu.destroy();
  }
}

if (import.meta.main) {
  const tiny = Deno.args.includes("--tiny");
  const r = await runCustomHash(
    tiny
      ? { hidden: 16, epochs: 1, trainLimit: 500, testLimit: 200, verbose: true }
      : { verbose: true },
  );
  console.log(
    `pixelBlocks: K = ${r.tableSizes.join(" + ")}, test accuracy ${
      (100 * r.testAccuracy).toFixed(2)
    }%, after reloading the checkpoint ${(100 * r.reloadedAccuracy).toFixed(2)}%, ` +
      `${r.trainSeconds.toFixed(0)} s of training`,
  );
}
