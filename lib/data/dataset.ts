/**
 * The in-memory dataset every loader returns and every trainer consumes:
 * row-major float features plus integer class labels. Owns the type, its
 * validator and cheap views (`subset`).
 *
 * May import only `lib/errors.ts` and `lib/util`.
 * @module
 */

import { invalidOption } from "../errors.ts";
import { Rng } from "../util/random.ts";

/** Which part of a dataset: the training set or the held-out test set. */
export type Split = "train" | "test";

/**
 * A labelled classification dataset held in memory.
 *
 * Example `i` has features `x[i * features, (i + 1) * features)`, laid out
 * channel-major `(c, y, x)` for images, and label `y[i]` in `[0, classes)`.
 */
export interface Dataset {
  /** A short name for logs, e.g. `"mnist-train"`. */
  readonly name: string;
  /** `count × features` values, one example per row. */
  readonly x: Float32Array;
  /** `count` class labels. */
  readonly y: Uint32Array;
  /** Number of examples (≥ 1). */
  readonly count: number;
  /** Values per example; equals `channels × height × width`. */
  readonly features: number;
  /** Number of classes; every label is below it. */
  readonly classes: number;
  /** `[channels, height, width]` of one example; `[1, 1, n]` for flat vectors. */
  readonly shape: readonly [channels: number, height: number, width: number];
}

function posInt(name: string, v: unknown) {
  if (typeof v !== "number" || !Number.isSafeInteger(v) || v < 1) {
    invalidOption(name, v, "an integer ≥ 1");
  }
}

/**
 * Checks that a (typically hand-made) dataset is self-consistent: array
 * types, `features = channels × height × width`, array lengths, labels below
 * `classes` and finite features. Returns the dataset, so it can wrap a literal.
 *
 * @throws {ArbnetError} naming the first field that is wrong.
 *
 * @example
 * ```ts
 * import { validateDataset } from "./dataset.ts";
 * const ds = validateDataset({
 *   name: "xor", x: new Float32Array([0, 0, 0, 1, 1, 0, 1, 1]), y: new Uint32Array([0, 1, 1, 0]),
 *   count: 4, features: 2, classes: 2, shape: [1, 1, 2],
 * });
 * ```
 */
export function validateDataset<D extends Dataset>(ds: D): D {
  const n = `dataset ${JSON.stringify(ds.name)}`;
  if (typeof ds.name !== "string") invalidOption("dataset.name", ds.name, "a string");
  if (!(ds.x instanceof Float32Array)) invalidOption(`${n}: x`, ds.x, "a Float32Array");
  if (!(ds.y instanceof Uint32Array)) invalidOption(`${n}: y`, ds.y, "a Uint32Array");
  posInt(`${n}: count`, ds.count);
  posInt(`${n}: features`, ds.features);
  posInt(`${n}: classes`, ds.classes);
  if (!Array.isArray(ds.shape) || ds.shape.length !== 3) {
    invalidOption(`${n}: shape`, ds.shape, "[channels, height, width]");
  }
  ds.shape.forEach((d, i) => posInt(`${n}: shape[${i}]`, d));
  const [c, h, w] = ds.shape;
  if (c * h * w !== ds.features) {
    invalidOption(`${n}: features`, ds.features, `shape product ${c}×${h}×${w} = ${c * h * w}`);
  }
  if (ds.x.length !== ds.count * ds.features) {
    invalidOption(`${n}: x.length`, ds.x.length, `count × features = ${ds.count * ds.features}`);
  }
  if (ds.y.length !== ds.count) invalidOption(`${n}: y.length`, ds.y.length, `count = ${ds.count}`);
  for (let i = 0; i < ds.count; i++) {
    if (ds.y[i] >= ds.classes) {
      invalidOption(`${n}: y[${i}]`, ds.y[i], `a label in [0, ${ds.classes})`);
    }
  }
  const x = ds.x;
  for (let i = 0; i < x.length; i++) {
    // NaN fails both comparisons, so this also catches NaN.
    if (!(x[i] > -Infinity && x[i] < Infinity)) {
      const ex = Math.floor(i / ds.features);
      invalidOption(`${n}: x[${i}] (example ${ex})`, x[i], "a finite number");
    }
  }
  return ds;
}

/** The two parts of a dataset split by {@linkcode holdOut}. */
export interface HeldOut {
  /** The examples kept for training, in their original order. */
  train: Dataset;
  /** The held-out examples (e.g. a validation set), in their original order. */
  heldOut: Dataset;
}

/**
 * Splits `ds` into a training part and `count` held-out examples chosen by a
 * seeded shuffle (equal seeds give equal splits on every platform). Both
 * parts are copies, named `<name>-train` and `<name>-heldout`, each keeping
 * the original order of its examples.
 *
 * @throws {ArbnetError} if `count` is not an integer in `[1, ds.count − 1]`.
 *
 * @example
 * ```ts
 * import { holdOut, validateDataset } from "./dataset.ts";
 * const ds = validateDataset({
 *   name: "toy", x: new Float32Array(10), y: new Uint32Array(10), count: 10, features: 1,
 *   classes: 1, shape: [1, 1, 1],
 * });
 * const { train, heldOut } = holdOut(ds, 2, 0); // 8 and 2 examples
 * ```
 */
export function holdOut(ds: Dataset, count: number, seed: number): HeldOut {
  if (!Number.isSafeInteger(count) || count < 1 || count >= ds.count) {
    invalidOption("held-out count", count, `an integer in [1, ${ds.count - 1}]`);
  }
  const order = new Rng(seed).shuffle(Uint32Array.from({ length: ds.count }, (_, i) => i));
  const held = new Uint8Array(ds.count);
  for (let i = 0; i < count; i++) held[order[i]] = 1;
  const part = (keep: number, n: number, suffix: string): Dataset => {
    const x = new Float32Array(n * ds.features);
    const y = new Uint32Array(n);
    let r = 0;
    for (let i = 0; i < ds.count; i++) {
      if (held[i] !== keep) continue;
      x.set(ds.x.subarray(i * ds.features, (i + 1) * ds.features), r * ds.features);
      y[r++] = ds.y[i];
    }
    return { ...ds, name: `${ds.name}-${suffix}`, x, y, count: n };
  };
  return { train: part(0, ds.count - count, "train"), heldOut: part(1, count, "heldout") };
}

/**
 * The first `count` examples of `ds`, as views sharing its memory (no copy).
 * The MNIST and CIFAR-10 files are not sorted by class, so their prefixes are
 * usable samples; a hand-made dataset sorted by label is not.
 *
 * @throws {ArbnetError} if `count` is not an integer in `[1, ds.count]`.
 */
export function subset(ds: Dataset, count: number): Dataset {
  if (!Number.isSafeInteger(count) || count < 1 || count > ds.count) {
    invalidOption("subset count", count, `an integer in [1, ${ds.count}]`);
  }
  return {
    name: ds.name,
    x: ds.x.subarray(0, count * ds.features),
    y: ds.y.subarray(0, count),
    count,
    features: ds.features,
    classes: ds.classes,
    shape: ds.shape,
  };
}
