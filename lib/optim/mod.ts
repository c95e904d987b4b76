/**
 * Optimizers: {@linkcode SGD} and {@linkcode Adam}, updating parameters on the GPU.
 *
 * Layer: optim; imports `lib/gpu`, the kernels, and `lib/nn`'s Parameter type.
 * @module
 */

export {
  Adam,
  type AdamOptions,
  type Optimizer,
  SGD,
  type SgdOptions,
  type UpdateWatch,
} from "./optimizer.ts";
