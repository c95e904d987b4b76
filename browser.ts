/**
 * arbnet's browser build: the core of `mod.ts` (GPU runtime, kernels, hash
 * families, layers, optimizers, trainer, in-memory datasets) without the
 * parts that read or write files (`loadMnist`, `loadCifar10`, checkpoints,
 * ONNX export). Nothing reached from here uses a `Deno` or `node:` API, so
 * `deno bundle --platform browser browser.ts` gives an ES module that runs
 * in a WebGPU browser tab (`examples/browser/` trains MNIST with it).
 *
 * Data comes in as bytes: fetch the idx files and pass them to
 * {@linkcode parseMnist}.
 *
 * @example Train one step in a browser tab
 * ```ts ignore
 * import { buildMlp, hashes, requestDevice, SGD, Trainer } from "./browser.ts";
 * const gpu = await requestDevice();
 * const { net } = buildMlp(gpu, { layers: [784, 64, 10], hash: hashes.uniform(), seed: 1 });
 * const trainer = new Trainer(net, new SGD(net.parameters(), { lr: 0.1 }), {
 *   features: 784,
 *   classes: 10,
 * });
 * await trainer.step(new Float32Array(50 * 784), new Uint32Array(50));
 * ```
 * @module
 */

export * from "./lib/errors.ts";
export * from "./lib/gpu/device.ts";
export * from "./lib/hash/mod.ts";
export * from "./lib/nn/mod.ts";
export * from "./lib/optim/mod.ts";
export * from "./lib/train/mod.ts";
// lib/data/mod.ts also exports the file loaders (node:path, Deno.open): the in-memory half only.
export { type Dataset, type Split, subset, validateDataset } from "./lib/data/dataset.ts";
export { type Batch, Batcher, type BatcherOptions } from "./lib/data/batches.ts";
export { encodeIdx, type IdxData, type IdxExpect, parseIdx } from "./lib/data/idx.ts";
export { MNIST_SIDE, type MnistBytes, mnistFromIdx, parseMnist } from "./lib/data/mnist_parse.ts";
export {
  type DecodedTensor,
  decodeSafetensors,
  encodeSafetensors,
  type Safetensors,
  type SafetensorsDtype,
  type TensorArray,
  type TensorInput,
} from "./lib/io/safetensors.ts";
export { DEFAULT_TILE, type Tile } from "./shaders/matmul.ts";
