/**
 * Neural-network modules: {@linkcode ArbLinear} (hashed virtual weights),
 * {@linkcode Linear}, {@linkcode ReLU}, {@linkcode Sequential}, and softmax
 * cross-entropy. Modules plan once per batch shape and then only record
 * dispatches.
 *
 * Layer: nn; imports `lib/gpu`, the kernels in `shaders/`, `lib/hash`, `lib/util`.
 * @module
 */

export {
  type Activation,
  allocActivation,
  expectFeatures,
  type LayerOutput,
  Module,
  Parameter,
  type Plan,
  type PlanOptions,
} from "./module.ts";
export {
  ArbLinear,
  type ArbLinearConfig,
  type ArbLinearOptions,
  Linear,
  type LinearOptions,
  packSlotWords,
} from "./arb_linear.ts";
export { MATERIALIZE_MIN_ROWS, TRANSPOSE_WEIGHTS_MIN_ROWS } from "./plan_policy.ts";
export { ElementwiseLayer, ReLU, Sequential, Tanh } from "./layers.ts";
export { RNN, type RnnOptions } from "./rnn.ts";
export {
  ChannelBias,
  type ChannelBiasOptions,
  conv2dLayer,
  type Conv2dLayerOptions,
} from "./channel_bias.ts";
export { type NonFiniteReport, NonFiniteWatch } from "./watch.ts";
export { type Metrics, MetricsBuffer, SoftmaxCrossEntropy, softmaxCrossEntropy } from "./loss.ts";
