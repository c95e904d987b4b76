/**
 * Inference from host arrays: {@linkcode predict} runs a network's forward
 * pass on a batch and returns its logits (or class probabilities) as a
 * Float32Array; {@linkcode evaluateClasses} turns them into a confusion
 * matrix and per-class precision and recall over a dataset.
 *
 * Layer: train; imports `lib/gpu`, `lib/nn`, `lib/data`.
 * @module
 */

import { ArbnetError, invalidOption } from "../errors.ts";
import { type Activation, activationBytes, type Module, type Plan } from "../nn/module.ts";
import { ArbLinear } from "../nn/arb_linear.ts";
import { ChannelBias } from "../nn/channel_bias.ts";
import { ReLU, Sequential } from "../nn/layers.ts";
import { type Dataset, validateDataset } from "../data/dataset.ts";

/** Options of {@linkcode predict}. */
export interface PredictOptions {
  /**
   * Input features per example. Default: what the network's first layer
   * takes (an ArbLinear's `inFeatures`); required for networks that start
   * with another module.
   */
  features?: number;
  /** `"logits"` (default) or `"probabilities"` (softmax of each row, on the host). */
  output?: "logits" | "probabilities";
  /**
   * Examples per forward pass: a larger `x` is run in chunks of this many
   * (each chunk size is planned once and kept). Default 500.
   */
  batchSize?: number;
}

/** One batch size's forward-only plan of a network. */
interface InferenceSlot {
  input: Activation;
  plan: Plan;
}

const slots = new WeakMap<Module, Map<string, Promise<InferenceSlot>>>();

/** The features the first layer of `net` takes, or null when it cannot be seen. */
function firstLayerFeatures(net: Module): number | null {
  const leaves = (m: Module): Module[] => m instanceof Sequential ? m.layers.flatMap(leaves) : [m];
  for (const m of leaves(net)) {
    if (m instanceof ReLU) continue;
    if (m instanceof ArbLinear) return m.config.inFeatures;
    if (m instanceof ChannelBias) return m.features;
    return null;
  }
  return null;
}

function slot(net: Module, rows: number, features: number): Promise<InferenceSlot> {
  let bySize = slots.get(net);
  if (!bySize) slots.set(net, bySize = new Map());
  const key = `${rows}x${features}`;
  let s = bySize.get(key);
  if (!s) {
    const gpu = net.gpu;
    const input: Activation = {
      buffer: gpu.buffer(activationBytes(rows, features), "predict.x"),
      grad: null,
      rows,
      features,
    };
    // Forward only: no gradient buffers, no backward kernels compiled.
    s = net.plan(input, { forwardOnly: true }).then((plan) => ({ input, plan }));
    bySize.set(key, s);
  }
  return s;
}

/** Softmax of every row of a `rows × classes` array, in place (max subtracted, as the loss kernel). */
export function softmaxRows(logits: Float32Array, classes: number): Float32Array {
  for (let r = 0; r < logits.length / classes; r++) {
    const row = logits.subarray(r * classes, (r + 1) * classes);
    let top = -Infinity;
    for (const v of row) top = Math.max(top, v);
    let sum = 0;
    for (let c = 0; c < classes; c++) sum += Math.exp(row[c] - top);
    for (let c = 0; c < classes; c++) row[c] = Math.exp(row[c] - top) / sum;
  }
  return logits;
}

/**
 * The network's outputs for a batch of examples given on the host: `x` holds
 * `B × features` values, one example per row; the result holds `B × outputs`
 * (logits, or probabilities with `output: "probabilities"`), row-major. The
 * forward pass is bound forward-only, once per chunk size, and shares the
 * network's parameters: call it between training steps to watch a model, or
 * after loading a checkpoint.
 *
 * @example
 * ```ts ignore
 * const logits = await predict(net, test.x.subarray(0, 20 * 784)); // 20 × 10
 * const probs = await predict(net, x, { output: "probabilities" });
 * ```
 */
export async function predict(
  net: Module,
  x: Float32Array,
  options: PredictOptions = {},
): Promise<Float32Array> {
  const features = options.features ?? firstLayerFeatures(net);
  if (features === null) {
    throw new ArbnetError(
      `predict cannot tell how many features a ${net.constructor.name} takes: pass ` +
        "options.features",
    );
  }
  if (!Number.isSafeInteger(features) || features < 1) {
    invalidOption("features", features, "a positive integer");
  }
  const output = options.output ?? "logits";
  if (output !== "logits" && output !== "probabilities") {
    invalidOption("output", output, `"logits" or "probabilities"`);
  }
  const batchSize = options.batchSize ?? 500;
  if (!Number.isSafeInteger(batchSize) || batchSize < 1) {
    invalidOption("batchSize", batchSize, "a positive integer");
  }
  checkInputs(x, features);
  const rows = x.length / features;
  const gpu = net.gpu;
  let result: Float32Array | null = null;
  let outputs = 0;
  for (let start = 0; start < rows; start += batchSize) {
    const n = Math.min(batchSize, rows - start);
    const s = await slot(net, n, features);
    outputs = s.plan.output.features;
    result ??= new Float32Array(rows * outputs);
    gpu.write(s.input.buffer, x.subarray(start * features, (start + n) * features));
    s.plan.forward();
    result.set(await gpu.readF32(s.plan.output.buffer, n * outputs), start * outputs);
  }
  return output === "probabilities" ? softmaxRows(result!, outputs) : result!;
}

function checkInputs(x: Float32Array, features: number): void {
  if (!(x instanceof Float32Array)) {
    const type = (x as { constructor?: { name?: string } } | null)?.constructor?.name;
    throw new ArbnetError(`predict takes a Float32Array of inputs, got ${type ?? String(x)}`);
  }
  if (x.length === 0 || x.length % features !== 0) {
    throw new ArbnetError(
      `predict: ${x.length} input values are not a whole number (≥ 1) of examples of ` +
        `${features} features`,
    );
  }
  for (let i = 0; i < x.length; i++) {
    if (!(x[i] > -Infinity && x[i] < Infinity)) {
      throw new ArbnetError(
        `predict: input ${i} (row ${Math.floor(i / features)}, feature ${i % features}) is ` +
          `${x[i]}; inputs must be finite`,
      );
    }
  }
}

/** One class's line of a {@linkcode ClassReport}. */
export interface ClassMetrics {
  /** Examples whose label is this class. */
  support: number;
  /** Examples predicted as this class. */
  predicted: number;
  /** Correct among those predicted as this class (NaN when none was). */
  precision: number;
  /** Correct among those labelled this class: the per-class accuracy (NaN when none is). */
  recall: number;
  /** Harmonic mean of precision and recall (NaN when either is, 0 when both are 0). */
  f1: number;
}

/** What {@linkcode evaluateClasses} returns. */
export interface ClassReport {
  /** Number of classes. */
  classes: number;
  /** Examples evaluated. */
  count: number;
  /** Mean softmax cross-entropy. */
  loss: number;
  /** Fraction predicted right (argmax; ties go to the lower class, as in training). */
  accuracy: number;
  /** `classes × classes` counts, row = true label, column = predicted class. */
  confusion: Uint32Array;
  /** Per class, in label order. */
  perClass: ClassMetrics[];
}

/** Index of the largest value of `row` (the first on ties, as the loss kernel). */
function argmax(row: Float32Array): number {
  let best = 0;
  for (let c = 1; c < row.length; c++) if (row[c] > row[best]) best = c;
  return best;
}

/**
 * The confusion matrix and per-class metrics of `rows × classes` logits
 * against their labels, with the mean cross-entropy.
 */
export function classReport(
  logits: Float32Array,
  labels: Uint32Array,
  classes: number,
): ClassReport {
  const count = labels.length;
  if (logits.length !== count * classes) {
    throw new ArbnetError(
      `classReport: ${logits.length} logits for ${count} labels × ${classes} classes`,
    );
  }
  const confusion = new Uint32Array(classes * classes);
  let loss = 0;
  let correct = 0;
  for (let r = 0; r < count; r++) {
    const row = logits.subarray(r * classes, (r + 1) * classes);
    const label = labels[r];
    if (!(label < classes)) {
      throw new ArbnetError(`classReport: label ${label} of row ${r} is outside [0, ${classes})`);
    }
    const guess = argmax(row);
    confusion[label * classes + guess]++;
    if (guess === label) correct++;
    const top = row[guess];
    let sum = 0;
    for (const v of row) sum += Math.exp(v - top);
    loss += Math.log(sum) + top - row[label];
  }
  const perClass: ClassMetrics[] = [];
  for (let c = 0; c < classes; c++) {
    let support = 0, predicted = 0;
    for (let k = 0; k < classes; k++) {
      support += confusion[c * classes + k];
      predicted += confusion[k * classes + c];
    }
    const hit = confusion[c * classes + c];
    const precision = predicted > 0 ? hit / predicted : NaN;
    const recall = support > 0 ? hit / support : NaN;
    const f1 = Number.isNaN(precision + recall)
      ? NaN
      : precision + recall === 0
      ? 0
      : 2 * precision * recall / (precision + recall);
    perClass.push({ support, predicted, precision, recall, f1 });
  }
  return { classes, count, loss: loss / count, accuracy: correct / count, confusion, perClass };
}

/**
 * Evaluates a classifier on a dataset: {@linkcode predict} over every
 * example, then {@linkcode classReport} (loss, accuracy, confusion matrix,
 * per-class precision and recall).
 *
 * @example
 * ```ts ignore
 * const r = await evaluateClasses(net, test);
 * console.log(r.accuracy, r.perClass.map((c) => c.recall)); // per-class accuracy
 * ```
 */
export async function evaluateClasses(
  net: Module,
  ds: Dataset,
  options: Pick<PredictOptions, "batchSize"> = {},
): Promise<ClassReport> {
  validateDataset(ds);
  const logits = await predict(net, ds.x, { features: ds.features, batchSize: options.batchSize });
  if (logits.length !== ds.count * ds.classes) {
    throw new ArbnetError(
      `the network outputs ${logits.length / ds.count} values per example but dataset ` +
        `${ds.name} has ${ds.classes} classes`,
    );
  }
  return classReport(logits, ds.y, ds.classes);
}
