/**
 * Getting models in and out: in-memory state dicts ({@linkcode stateDict},
 * {@linkcode loadStateDict}), safetensors checkpoints of a network and its
 * optimizer ({@linkcode saveCheckpoint}, {@linkcode loadCheckpoint},
 * {@linkcode buildFromCheckpoint}), the safetensors codec they use, and ONNX
 * export ({@linkcode exportOnnx}).
 *
 * Layer: io; imports `lib/gpu`, `lib/hash`, `lib/nn`, `lib/optim` and `node:crypto`.
 *
 * @example Save after an epoch, resume later
 * ```ts ignore
 * import { loadCheckpoint, saveCheckpoint } from "./mod.ts";
 * await saveCheckpoint("out/run.safetensors", { net, opt, extra: { epoch, step: opt.steps } });
 * const info = await loadCheckpoint("out/run.safetensors", { net, opt });
 * const nextEpoch = (info.progress.epoch ?? -1) + 1;
 * ```
 * @module
 */

// Under Deno the autotuner keeps its choices in a file: loading the io layer installs that store.
export { fileTuneStore } from "./tile_cache.ts";
export {
  buildFromCheckpoint,
  type BuildFromCheckpointOptions,
  CHECKPOINT_FORMAT,
  CHECKPOINT_VERSION,
  type CheckpointInfo,
  type CheckpointProgress,
  type LayerRecord,
  loadCheckpoint,
  type LoadCheckpointOptions,
  type OptimizerRecord,
  readCheckpointInfo,
  type RebuiltNetwork,
  saveCheckpoint,
  type SaveCheckpointOptions,
} from "./checkpoint.ts";
export {
  flattenLayers,
  loadStateDict,
  type NamedParameter,
  namedParameters,
  optimizerKind,
  type OptimizerState,
  optimizerStateName,
  stageStateLoad,
  type StateDict,
  stateDict,
  type StateSource,
} from "./state_dict.ts";
export {
  type DecodedTensor,
  decodeSafetensors,
  encodeSafetensors,
  MAX_HEADER_BYTES,
  parseSafetensorsHeader,
  type Safetensors,
  SAFETENSORS_DTYPES,
  type SafetensorsDtype,
  type SafetensorsHeader,
  type TensorArray,
  tensorF32,
  type TensorInput,
} from "./safetensors.ts";
export {
  encodeOnnx,
  exportOnnx,
  ONNX_IR_VERSION,
  ONNX_OPSET,
  type OnnxExportOptions,
} from "./onnx.ts";
