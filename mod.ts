/**
 * arbnet: train neural networks with arbitrary, hash-defined weight sharing
 * (ArbNets) on WebGPU, in Deno.
 *
 * Every layer's weight matrix is *virtual*: position `p = i·nOut + j` reads
 * slot `h(p)` of a small trainable table, times a sign `ξ(p)`. The hash is
 * the architecture of sharing: dense, HashedNets' uniform hash, Dirichlet
 * (balance), Neighborhood (noise), convolution, recurrence.
 *
 * @example Train one step of a HashedNets-style MLP
 * ```ts
 * import { ArbLinear, hashes, ReLU, requestDevice, Sequential, SGD, trainStep } from "./mod.ts";
 *
 * const dev = await requestDevice();
 * const h = hashes.uniform();
 * const net = new Sequential([
 *   new ArbLinear(dev, { inFeatures: 784, outFeatures: 1000, tableFraction: 1 / 8, hash: h, seed: 1 }),
 *   new ReLU(),
 *   new ArbLinear(dev, { inFeatures: 1000, outFeatures: 10, tableFraction: 1 / 8, hash: h, seed: 2 }),
 * ]);
 * const opt = new SGD(net.parameters(), { lr: 0.01, momentum: 0.9 });
 * const x = new Float32Array(50 * 784).fill(0.5);
 * const y = new Uint32Array(50).fill(3);
 * const loss = await trainStep(net, opt, x, y);
 * console.log(loss);
 * dev.destroy();
 * ```
 * @module
 */

export { ArbnetError, DeviceLostError, NonFiniteError } from "./lib/errors.ts";
export {
  type AdapterDescription,
  type DeviceOptions,
  Gpu,
  requestDevice,
} from "./lib/gpu/device.ts";
export {
  applySparsity,
  type BlocksOptions,
  type CheckedSpec,
  checkHashOutput,
  type Conv2dGeometry,
  type Conv2dOptions,
  conv2dOutputSize,
  conv2dShape,
  defineHashFamily,
  type DenseOptions,
  type DirichletHash,
  type DirichletOptions,
  type Entropy,
  expectedDirichletEntropy,
  type Hash,
  type HashDescriptor,
  hashes,
  type HashFactory,
  type HashFamilies,
  type HashFamilyDefinition,
  type HashFamilyFactory,
  hashFamilyNames,
  hashFromDescriptor,
  type HashOptions,
  type HashOptionValue,
  type IndexSpec,
  type LayerSlots,
  type NeighborhoodOptions,
  networkEntropy,
  occupancyEntropy,
  type OptionTypes,
  type RecurrentGeometry,
  type RecurrentOptions,
  recurrentShape,
  registeredHashFamilies,
  registerHashFamily,
  type SlotSpec,
  type SwapFamilyOptions,
  type UniformOptions,
  unregisterHashFamily,
  xxh32,
  xxh32U32,
} from "./lib/hash/mod.ts";
export {
  type Activation,
  ArbLinear,
  type ArbLinearConfig,
  type ArbLinearOptions,
  ChannelBias,
  type ChannelBiasOptions,
  conv2dLayer,
  type Conv2dLayerOptions,
  type LayerOutput,
  Linear,
  type LinearOptions,
  type Metrics,
  Module,
  type NonFiniteReport,
  Parameter,
  ReLU,
  Sequential,
  SoftmaxCrossEntropy,
  softmaxCrossEntropy,
} from "./lib/nn/mod.ts";
export { ElementwiseLayer, RNN, type RnnOptions, Tanh } from "./lib/nn/mod.ts";
export {
  Adam,
  type AdamOptions,
  type Optimizer,
  SGD,
  type SgdOptions,
  type UpdateWatch,
} from "./lib/optim/mod.ts";
export {
  type Batch,
  Batcher,
  type BatcherOptions,
  type Cifar10Options,
  type Dataset,
  type HeldOut,
  holdOut,
  loadCifar10,
  loadMnist,
  type MnistOptions,
  type Split,
} from "./lib/data/mod.ts";
export type { Tile } from "./shaders/matmul.ts";
export type { TileMode } from "./shaders/matmul_tune.ts";
export {
  buildMlp,
  type ClassMetrics,
  type ClassReport,
  classReport,
  type EpochRecord,
  evaluateClasses,
  fit,
  type FitOptions,
  type LayerOverride,
  type Mlp,
  type MlpOptions,
  predict,
  type PredictOptions,
  type Progress,
  type Schedule,
  Trainer,
  type TrainerOptions,
  trainStep,
} from "./lib/train/mod.ts";
export {
  buildFromCheckpoint,
  type BuildFromCheckpointOptions,
  type CheckpointInfo,
  type CheckpointProgress,
  type DecodedTensor,
  decodeSafetensors,
  encodeOnnx,
  encodeSafetensors,
  exportOnnx,
  type LayerRecord,
  loadCheckpoint,
  type LoadCheckpointOptions,
  loadStateDict,
  type OnnxExportOptions,
  type OptimizerRecord,
  type OptimizerState,
  readCheckpointInfo,
  type RebuiltNetwork,
  type Safetensors,
  type SafetensorsDtype,
  saveCheckpoint,
  type SaveCheckpointOptions,
  type StateDict,
  stateDict,
  type TensorArray,
  type TensorInput,
} from "./lib/io/mod.ts";
