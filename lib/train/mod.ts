/**
 * Training: the {@linkcode Trainer} (one step = one submission), the
 * contract's {@linkcode trainStep}, the epoch loop {@linkcode fit}, and
 * {@linkcode buildMlp} for the experiments' networks, and inference from host
 * arrays ({@linkcode predict}, {@linkcode evaluateClasses}).
 *
 * Layer: train; imports `lib/gpu`, `lib/nn`, `lib/optim`, `lib/data`, `lib/hash`.
 * @module
 */

export { Trainer, type TrainerOptions, trainStep } from "./trainer.ts";
export {
  type EpochRecord,
  fit,
  type FitOptions,
  type Progress,
  type Schedule,
  scheduledLr,
} from "./fit.ts";
export { buildMlp, type LayerOverride, type Mlp, type MlpOptions } from "./model.ts";
export {
  type ClassMetrics,
  type ClassReport,
  classReport,
  evaluateClasses,
  predict,
  type PredictOptions,
  softmaxRows,
} from "./predict.ts";
