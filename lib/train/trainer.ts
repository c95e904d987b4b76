/**
 * One training step, readable top to bottom: batch upload → `net.forward` →
 * loss → `net.backward` → `opt.step` → one submission. Plus evaluation over
 * a dataset. Metrics stay on the GPU until someone asks for them.
 *
 * Layer: train; imports `lib/gpu`, `lib/nn`, `lib/optim`, `lib/data`.
 * @module
 */

import type { Gpu } from "../gpu/device.ts";
import { ArbnetError } from "../errors.ts";
import type { Activation, Module } from "../nn/module.ts";
import { type Metrics, MetricsBuffer, SoftmaxCrossEntropy } from "../nn/loss.ts";
import type { Optimizer } from "../optim/optimizer.ts";
import type { Dataset } from "../data/dataset.ts";
import { Batcher } from "../data/batches.ts";

/** Options of {@linkcode Trainer}. */
export interface TrainerOptions {
  /** Input features per example (e.g. 784). */
  features: number;
  /** Number of classes (labels must be below it). */
  classes: number;
}

/** Buffers and bindings for one batch size, built once. */
interface BatchSlot {
  input: Activation;
  labels: GPUBuffer;
  logits: Activation;
  loss: SoftmaxCrossEntropy;
}

/**
 * Trains a classifier with softmax cross-entropy. Keeps one set of buffers
 * per batch size, so steps allocate nothing on the GPU.
 *
 * @example
 * ```ts ignore
 * const trainer = new Trainer(net, opt, { features: 784, classes: 10 });
 * for (const b of batcher.epoch(0)) await trainer.step(b.x.subarray(0, b.size * 784), b.y.subarray(0, b.size));
 * console.log(await trainer.readMetrics()); // { loss, accuracy, rows, nonFinite }
 * ```
 */
export class Trainer {
  /** The network being trained. */
  readonly net: Module;
  /** Its optimizer. */
  readonly opt: Optimizer;
  /** Running training metrics since the last {@linkcode Trainer.resetMetrics}. */
  readonly metrics: MetricsBuffer;
  readonly #gpu: Gpu;
  readonly #options: TrainerOptions;
  readonly #slots = new Map<number, Promise<BatchSlot>>();
  readonly #evalMetrics: MetricsBuffer;

  /** Binds a network, an optimizer and the data shape. */
  constructor(net: Module, opt: Optimizer, options: TrainerOptions) {
    this.net = net;
    this.opt = opt;
    this.#gpu = net.gpu;
    this.#options = options;
    this.metrics = new MetricsBuffer(this.#gpu);
    this.#evalMetrics = new MetricsBuffer(this.#gpu);
  }

  #slot(rows: number, metrics: MetricsBuffer): Promise<BatchSlot> {
    const key = rows * 2 + (metrics === this.metrics ? 0 : 1);
    let s = this.#slots.get(key);
    if (!s) {
      s = this.#buildSlot(rows, metrics);
      this.#slots.set(key, s);
    }
    return s;
  }

  async #buildSlot(rows: number, metrics: MetricsBuffer): Promise<BatchSlot> {
    const gpu = this.#gpu;
    const { features } = this.#options;
    // The network input needs no gradient: the first layer skips dX.
    const input: Activation = {
      buffer: gpu.buffer(rows * features * 4, "batch.x"),
      grad: null,
      rows,
      features,
    };
    const labels = gpu.buffer(rows * 4, "batch.y");
    const plan = await this.net.plan(input);
    const logits = plan.output;
    if (logits.features !== this.#options.classes) {
      throw new ArbnetError(
        `the network outputs ${logits.features} features but the data has ` +
          `${this.#options.classes} classes: make the last layer's outFeatures ${this.#options.classes}`,
      );
    }
    const loss = await SoftmaxCrossEntropy.bind(gpu, logits, labels, metrics);
    return { input, labels, logits, loss };
  }

  #upload(slot: BatchSlot, x: Float32Array, y: Uint32Array): void {
    const rows = y.length;
    const { features, classes } = this.#options;
    if (!(x instanceof Float32Array)) {
      throw new ArbnetError(`inputs must be a Float32Array, got ${typeName(x)}`);
    }
    if (!(y instanceof Uint32Array)) {
      throw new ArbnetError(`labels must be a Uint32Array, got ${typeName(y)}`);
    }
    if (x.length !== rows * features) {
      throw new ArbnetError(
        `inputs have ${x.length} values; ${rows} labels × ${features} features needs ${
          rows * features
        }`,
      );
    }
    for (let i = 0; i < rows; i++) {
      if (y[i] >= classes) {
        throw new ArbnetError(`label ${y[i]} at row ${i} is outside [0, ${classes})`);
      }
    }
    this.#gpu.write(slot.input.buffer, x);
    this.#gpu.write(slot.labels, y);
  }

  /**
   * One step of training on a batch (`x`: rows × features, `y`: rows labels).
   * Records and submits the whole step; reads nothing back.
   */
  async step(x: Float32Array, y: Uint32Array): Promise<void> {
    if (y.length === 0) throw new ArbnetError("a batch needs at least one example");
    const slot = await this.#slot(y.length, this.metrics);
    this.#upload(slot, x, y); // 1. batch upload
    await this.net.forward(slot.input); // 2. forward: every layer's gather-matmul
    slot.loss.record(); // 3. loss, dL/dlogits, running metrics
    this.net.backward(); // 4. backward: input and table gradients
    await this.opt.step(); // 5. optimizer update on the GPU
    this.#gpu.flush(); // 6. one submission for all of it
  }

  /** Reads the running training metrics (waits for the GPU). */
  readMetrics(): Promise<Metrics> {
    return this.metrics.read();
  }

  /** Zeroes the running training metrics. */
  resetMetrics(): void {
    this.metrics.reset();
  }

  /** Loss and accuracy of the network on a dataset (forward passes only). */
  async evaluate(ds: Dataset, batchSize = 500): Promise<Metrics> {
    if (ds.features !== this.#options.features) {
      throw new ArbnetError(
        `dataset ${ds.name} has ${ds.features} features, the trainer expects ${this.#options.features}`,
      );
    }
    const batcher = new Batcher(ds, { batchSize: Math.min(batchSize, ds.count), shuffle: false });
    this.#evalMetrics.reset();
    for (const b of batcher.epoch(0)) {
      const slot = await this.#slot(b.size, this.#evalMetrics);
      this.#upload(slot, b.x, b.y);
      await this.net.forward(slot.input);
      slot.loss.record();
      this.#gpu.flush();
    }
    return this.#evalMetrics.read();
  }
}

const trainers = new WeakMap<Module, Trainer>();

/**
 * One training step from host arrays, returning that batch's mean loss (the
 * public contract of ARBNET.md). Reads the loss back, so for speed use a
 * {@linkcode Trainer} and read metrics every few hundred steps.
 */
export async function trainStep(
  net: Module,
  opt: Optimizer,
  x: Float32Array,
  y: Uint32Array,
  classes = 10,
): Promise<number> {
  let t = trainers.get(net);
  if (!t || t.opt !== opt) {
    t = new Trainer(net, opt, { features: y.length > 0 ? x.length / y.length : 0, classes });
    trainers.set(net, t);
  }
  t.resetMetrics();
  await t.step(x, y);
  const m = await t.readMetrics();
  return m.loss;
}

function typeName(v: unknown): string {
  return (v as { constructor?: { name?: string } } | null)?.constructor?.name ?? String(v);
}
