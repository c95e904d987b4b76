/**
 * Mini-batches for training: a seeded, resumable shuffle and a gather into
 * buffers allocated once, so a training loop creates no garbage per batch.
 *
 * May import only `lib/errors.ts`, `lib/util/` and `lib/data/*`.
 * @module
 */

import { ArbnetError, invalidOption } from "../errors.ts";
import { Rng } from "../util/random.ts";
import { type Dataset, validateDataset } from "./dataset.ts";

/** Options of {@linkcode Batcher}. */
export interface BatcherOptions {
  /** Examples per batch: an integer ≥ 1. Larger than the dataset means one batch per epoch. */
  batchSize: number;
  /** Visit examples in a fresh seeded order each epoch (`true`) or in dataset order. */
  shuffle: boolean;
  /** Required when `shuffle` is true: any safe integer. */
  seed?: number;
  /** Skip the last batch of an epoch if it is smaller than `batchSize`. Default `false`. */
  dropLast?: boolean;
}

/**
 * One mini-batch. The object and its arrays are **reused**: they are
 * overwritten when the next batch is pulled, so consume (or copy) a batch
 * before advancing the iterator.
 */
export interface Batch {
  /** `size × features` inputs, row-major. */
  readonly x: Float32Array;
  /** `size` labels. */
  readonly y: Uint32Array;
  /** Examples in this batch: `batchSize`, or fewer for the last one. */
  readonly size: number;
  /** Position of this batch in its epoch, from 0. */
  readonly index: number;
}

interface MutableBatch {
  x: Float32Array;
  y: Uint32Array;
  size: number;
  index: number;
}

function fmix32(h: number): number {
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

/** Both 32-bit halves of a safe integer, so seeds above 2^32 stay distinct. */
function mix(h: number, v: number): number {
  const lo = v >>> 0;
  const hi = Math.floor(v / 4294967296) >>> 0;
  return fmix32(fmix32(h ^ lo) ^ hi);
}

/**
 * Splits a dataset into mini-batches, epoch by epoch.
 *
 * The order of epoch `e` depends only on `(seed, e)`, never on what was
 * iterated before, so a run resumed at epoch `e` sees exactly the batches an
 * uninterrupted run would have.
 *
 * @example
 * ```ts
 * import { Batcher } from "./batches.ts";
 * const ds = {
 *   name: "toy", x: new Float32Array(10), y: new Uint32Array(10),
 *   count: 10, features: 1, classes: 1, shape: [1, 1, 1] as const,
 * };
 * const batcher = new Batcher(ds, { batchSize: 4, shuffle: true, seed: 7 });
 * for (const batch of batcher.epoch(0)) {
 *   // use batch.x, batch.y (batch.size = 4, 4, 2) before the next iteration
 * }
 * ```
 */
export class Batcher {
  /** The dataset batches are drawn from. */
  readonly dataset: Dataset;
  /** Examples per full batch. */
  readonly batchSize: number;
  /** Whether each epoch has its own seeded order. */
  readonly shuffle: boolean;
  /** The seed of the shuffle (0 when not shuffling). */
  readonly seed: number;
  /** Whether a final partial batch is skipped. */
  readonly dropLast: boolean;
  /** Batches each epoch yields. */
  readonly batchesPerEpoch: number;

  readonly #perm: Uint32Array;
  readonly #full: MutableBatch;
  readonly #partial: MutableBatch;
  #generation = 0;

  /**
   * Allocates the batch buffers and the order buffer once, for all epochs.
   *
   * @param dataset validated here (see `validateDataset`)
   * @throws {ArbnetError} on an invalid option or dataset
   */
  constructor(dataset: Dataset, options: BatcherOptions) {
    validateDataset(dataset);
    const { batchSize, shuffle, seed, dropLast = false } = options;
    if (!Number.isSafeInteger(batchSize) || batchSize < 1) {
      invalidOption("batchSize", batchSize, "an integer ≥ 1");
    }
    if (typeof shuffle !== "boolean") invalidOption("shuffle", shuffle, "true or false");
    if (typeof dropLast !== "boolean") invalidOption("dropLast", dropLast, "true or false");
    if (shuffle && (seed === undefined || !Number.isSafeInteger(seed))) {
      invalidOption("seed", seed, "an integer (required when shuffle is true)");
    }
    const { count, features } = dataset;
    if (dropLast && batchSize > count) {
      invalidOption(
        "batchSize",
        batchSize,
        `at most the ${count} examples of ${JSON.stringify(dataset.name)} when dropLast is set`,
      );
    }
    this.dataset = dataset;
    this.batchSize = batchSize;
    this.shuffle = shuffle;
    this.seed = shuffle ? seed! : 0;
    this.dropLast = dropLast;
    this.batchesPerEpoch = dropLast ? Math.floor(count / batchSize) : Math.ceil(count / batchSize);

    const full = Math.min(batchSize, count);
    const x = new Float32Array(full * features);
    const y = new Uint32Array(full);
    this.#full = { x, y, size: full, index: 0 };
    // The last batch's size is fixed by (count, batchSize), so its views are made once too.
    const rest = count % batchSize;
    this.#partial = rest === 0 || batchSize > count || dropLast
      ? this.#full
      : { x: x.subarray(0, rest * features), y: y.subarray(0, rest), size: rest, index: 0 };
    this.#perm = new Uint32Array(count);
  }

  /**
   * The order in which epoch `epoch` visits the examples: a fresh permutation
   * of `0 … count-1` (identity without shuffle). Not reused; for inspection.
   */
  order(epoch: number): Uint32Array {
    return this.#fillOrder(epoch, new Uint32Array(this.dataset.count));
  }

  /**
   * The batches of epoch `epoch` (an integer ≥ 0). The batch object and its
   * buffers are reused, and starting another epoch's iteration invalidates
   * this one (its next pull throws), since they share the buffers.
   */
  epoch(epoch: number): IterableIterator<Batch> {
    this.#fillOrder(epoch, this.#perm);
    const generation = ++this.#generation;
    const result: IteratorResult<Batch> = { done: false, value: this.#full };
    const done: IteratorResult<Batch> = { done: true, value: undefined };
    let index = 0;
    const iter: IterableIterator<Batch> = {
      next: () => {
        if (index >= this.batchesPerEpoch) return done;
        if (generation !== this.#generation) {
          throw new ArbnetError(
            `Batcher: epoch ${epoch} was abandoned because another epoch() iteration ` +
              "started; finish one epoch before starting the next",
          );
        }
        const batch = index === this.batchesPerEpoch - 1 ? this.#partial : this.#full;
        this.#gather(index * this.batchSize, batch);
        batch.index = index++;
        result.value = batch;
        return result;
      },
      [Symbol.iterator]: () => iter,
    };
    return iter;
  }

  #fillOrder(epoch: number, perm: Uint32Array): Uint32Array {
    if (!Number.isSafeInteger(epoch) || epoch < 0) {
      invalidOption("epoch", epoch, "an integer ≥ 0");
    }
    for (let i = 0; i < perm.length; i++) perm[i] = i;
    if (this.shuffle) new Rng(mix(mix(0x2545f491, this.seed), epoch)).shuffle(perm);
    return perm;
  }

  #gather(start: number, batch: MutableBatch) {
    const { x: src, y: labels, features } = this.dataset;
    const perm = this.#perm;
    const { x, y, size } = batch;
    // Element loops rather than set(subarray()): a view per example would be garbage.
    for (let j = 0; j < size; j++) {
      const e = perm[start + j];
      y[j] = labels[e];
      const from = e * features;
      const to = j * features;
      for (let k = 0; k < features; k++) x[to + k] = src[from + k];
    }
  }
}
