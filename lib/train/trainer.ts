/**
 * One training step, readable top to bottom: batch upload → `net.forward` →
 * loss → `net.backward` → `opt.step` → one submission. Plus evaluation over
 * a dataset. Metrics stay on the GPU until someone asks for them.
 *
 * Over ~350 lines on purpose: `Trainer` is one class whose step, evaluation and metric reads share
 * its plans and batch buffers.
 *
 * Layer: train; imports `lib/gpu`, `lib/nn`, `lib/optim`, `lib/data`.
 * @module
 */

import type { Gpu, Launch } from "../gpu/device.ts";
import { ArbnetError, invalidOption, NonFiniteError } from "../errors.ts";
import { type Activation, activationBytes, type Module } from "../nn/module.ts";
import { ArbLinear, bindableBytes, checkBindable } from "../nn/arb_linear.ts";
import { ReLU, Sequential } from "../nn/layers.ts";
import { type Metrics, MetricsBuffer, SoftmaxCrossEntropy } from "../nn/loss.ts";
import { type NonFiniteReport, NonFiniteWatch } from "../nn/watch.ts";
import type { Optimizer } from "../optim/optimizer.ts";
import { type Dataset, validateDataset } from "../data/dataset.ts";
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
  /** The divergence watch of every layer's output (training slots only). */
  watch: Launch[];
}

/** The network's ArbLinear layers in order, or null when it holds modules we cannot see into. */
function arbLayers(net: Module): ArbLinear[] | null {
  const flat = (m: Module): Module[] => m instanceof Sequential ? m.layers.flatMap(flat) : [m];
  const all = flat(net);
  if (!all.every((m) => m instanceof ArbLinear || m instanceof ReLU)) return null;
  return all.filter((m): m is ArbLinear => m instanceof ArbLinear);
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
  #watch: Promise<NonFiniteWatch> | null = null;
  #steps = 0;
  /** The end of the last queued step or evaluation: they run one after another. */
  #queue: Promise<unknown> = Promise.resolve();

  /**
   * Runs `fn` after every step and evaluation queued before it. Two
   * un-awaited calls would otherwise interleave on the GPU: the second
   * batch's upload lands before the first batch's commands are submitted.
   */
  #exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.#queue.then(fn);
    this.#queue = run.catch(() => {});
    return run;
  }

  /**
   * Binds a network, an optimizer and the data shape. Throws an
   * {@linkcode ArbnetError} when the network's first layer does not take
   * `features` inputs or its last does not output `classes` logits.
   */
  constructor(net: Module, opt: Optimizer, options: TrainerOptions) {
    const { features, classes } = options ?? {};
    if (!Number.isSafeInteger(features) || features < 1) {
      invalidOption("features", features, "a positive integer, the input features per example");
    }
    if (!Number.isSafeInteger(classes) || classes < 1) {
      invalidOption("classes", classes, "a positive integer, the number of classes");
    }
    const layers = arbLayers(net);
    const first = layers?.[0];
    const last = layers?.at(-1);
    if (first && first.config.inFeatures !== features) {
      throw new ArbnetError(
        `the data has ${features} features but the first layer, ${first.description}, takes ` +
          `${first.config.inFeatures}: make its inFeatures ${features}`,
      );
    }
    if (last && last.config.outFeatures !== classes) {
      throw new ArbnetError(
        `the last layer, ${last.description}, outputs ${last.config.outFeatures} features but ` +
          `the data has ${classes} classes: make its outFeatures ${classes}`,
      );
    }
    checkOwnParameters(net, opt);
    this.net = net;
    this.opt = opt;
    this.#gpu = net.gpu;
    this.#options = options;
    this.metrics = new MetricsBuffer(this.#gpu);
    this.#evalMetrics = new MetricsBuffer(this.#gpu);
  }

  /** Training steps taken by this trainer (the step numbers of {@linkcode Trainer.findNonFinite}). */
  get stepsTaken(): number {
    return this.#steps;
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
    checkBindable(
      gpu,
      `a batch of ${rows} examples × ${features} features`,
      4 * rows * features,
      `use a batch of at most ${Math.floor(bindableBytes(gpu).max / (4 * features))} examples`,
    );
    // The network input needs no gradient: the first layer skips dX.
    const input: Activation = {
      buffer: gpu.buffer(activationBytes(rows, features), "batch.x"),
      grad: null,
      rows,
      features,
    };
    const labels = gpu.buffer(rows * 4, "batch.y");
    // Evaluation batches bind the forward pass alone: no backward kernels to
    // tune and compile for their size, no gradient buffers.
    const training = metrics === this.metrics;
    const plan = await this.net.plan(input, { forwardOnly: !training });
    const output = plan.output;
    if (output.features !== this.#options.classes) {
      throw new ArbnetError(
        `the network outputs ${output.features} features but the data has ` +
          `${this.#options.classes} classes: make the last layer's outFeatures ${this.#options.classes}`,
      );
    }
    // The loss kernel always writes d(loss)/d(logits); evaluation discards it.
    const logits = output.grad ? output : {
      ...output,
      grad: gpu.buffer(activationBytes(rows, output.features), "eval.dlogits"),
    };
    const loss = await SoftmaxCrossEntropy.bind(gpu, logits, labels, metrics);
    let watch: Launch[] = [];
    if (training) {
      const outputs = plan.outputs ?? [{ module: this.net, activation: output }];
      this.#watch ??= NonFiniteWatch.create(gpu, outputs, this.net.parameters()).then((w) => {
        this.opt.watchUpdates?.(w); // fused into the updates where the optimizer can
        return w;
      });
      watch = await (await this.#watch).bindOutputs(outputs);
    }
    return { input, labels, logits, loss, watch };
  }

  #checkBatch(x: Float32Array, y: Uint32Array): void {
    const { features, classes } = this.#options;
    if (!(x instanceof Float32Array)) {
      throw new ArbnetError(`inputs must be a Float32Array, got ${typeName(x)}`);
    }
    if (!(y instanceof Uint32Array)) {
      throw new ArbnetError(`labels must be a Uint32Array, got ${typeName(y)}`);
    }
    const rows = y.length;
    if (rows === 0) throw new ArbnetError("a batch needs at least one example");
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
    for (let i = 0; i < x.length; i++) {
      // NaN fails both comparisons. A bad input would otherwise surface as a
      // non-finite loss blamed on the first layer.
      if (!(x[i] > -Infinity && x[i] < Infinity)) {
        throw new ArbnetError(
          `input ${i} (row ${Math.floor(i / features)}, feature ${i % features}) is ${x[i]}; ` +
            "inputs must be finite",
        );
      }
    }
  }

  #upload(slot: BatchSlot, x: Float32Array, y: Uint32Array): void {
    this.#gpu.write(slot.input.buffer, x);
    this.#gpu.write(slot.labels, y);
  }

  /**
   * Checks that a dataset can be fed to this trainer: consistent (see
   * `validateDataset`), with this trainer's feature count and every label
   * below its class count. Throws an {@linkcode ArbnetError} naming the
   * dataset and the first problem.
   */
  checkDataset(ds: Dataset): void {
    validateDataset(ds);
    const { features, classes } = this.#options;
    if (ds.features !== features) {
      throw new ArbnetError(
        `dataset ${ds.name} has ${ds.features} features, the trainer expects ${features}`,
      );
    }
    for (let i = 0; i < ds.count; i++) {
      if (ds.y[i] >= classes) {
        throw new ArbnetError(
          `dataset ${ds.name}: label ${ds.y[i]} of example ${i} is outside [0, ${classes}) ` +
            `(the network has ${classes} outputs)`,
        );
      }
    }
  }

  /**
   * One step of training on a batch (`x`: rows × features, `y`: rows labels).
   * Records and submits the whole step; reads nothing back.
   */
  step(x: Float32Array, y: Uint32Array): Promise<void> {
    return this.#exclusive(() => this.#step(x, y));
  }

  async #step(x: Float32Array, y: Uint32Array): Promise<void> {
    this.#checkBatch(x, y);
    const slot = await this.#slot(y.length, this.metrics);
    const watch = await this.#watch!;
    this.#upload(slot, x, y); // 1. batch upload
    watch.setStep(++this.#steps);
    await this.net.forward(slot.input); // 2. forward: every layer's gather-matmul
    for (const l of slot.watch) this.#gpu.dispatch(l); //    NaN/Inf watch of each layer's output
    slot.loss.record(); // 3. loss, dL/dlogits, running metrics
    this.net.backward(); // 4. backward: input and table gradients
    await this.opt.step(); // 5. optimizer update on the GPU
    watch.recordParameters(); //    NaN/Inf watch of parameters the update did not watch
    this.#gpu.flush(); // 6. one submission for all of it
  }

  /**
   * Where and at which step ({@linkcode Trainer.stepsTaken} numbering) a NaN
   * or an infinity first appeared in a layer's output or a parameter, or
   * null if none has since the last {@linkcode Trainer.resetNonFinite}.
   * Waits for the GPU; `fit` calls it at each metrics read.
   */
  async findNonFinite(): Promise<NonFiniteReport | null> {
    return this.#watch ? await (await this.#watch).read() : null;
  }

  /** Forgets recorded non-finite values (e.g. after restoring a checkpoint). */
  async resetNonFinite(): Promise<void> {
    if (this.#watch) (await this.#watch).reset();
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
  evaluate(ds: Dataset, batchSize = 500): Promise<Metrics> {
    return this.#exclusive(() => this.#evaluate(ds, batchSize));
  }

  async #evaluate(ds: Dataset, batchSize: number): Promise<Metrics> {
    this.checkDataset(ds);
    const batcher = new Batcher(ds, { batchSize: Math.min(batchSize, ds.count), shuffle: false });
    this.#evalMetrics.reset();
    for (const b of batcher.epoch(0)) {
      const slot = await this.#slot(b.size, this.#evalMetrics);
      this.#upload(slot, b.x, b.y); // checkDataset vetted every row
      await this.net.forward(slot.input);
      slot.loss.record();
      this.#gpu.flush();
    }
    return this.#evalMetrics.read();
  }
}

/**
 * Refuses an optimizer that updates a parameter the network does not have
 * (built over another network's parameters): it would train nothing of this
 * network, silently. An optimizer over a subset (frozen layers) is fine.
 */
function checkOwnParameters(net: Module, opt: Optimizer): void {
  if (!opt || typeof opt.step !== "function") {
    invalidOption("optimizer", opt, "an Optimizer, e.g. new SGD(net.parameters(), { lr })");
  }
  const owned = opt.parameters?.();
  if (!owned) return;
  const mine = new Set(net.parameters());
  const foreign = owned.filter((p) => !mine.has(p));
  if (foreign.length > 0) {
    throw new ArbnetError(
      `the optimizer updates ${foreign.length} of its ${owned.length} parameters that are not ` +
        `this network's (the first: ${foreign[0].name}): it was built over another network's ` +
        "parameters; build it from this network's: new SGD(net.parameters(), …)",
    );
  }
}

const trainers = new WeakMap<Module, Trainer>();
/** The end of the last trainStep of each network: its steps run one after another. */
const pending = new WeakMap<Module, Promise<unknown>>();

/**
 * One training step from host arrays, returning that batch's mean loss (the
 * library's first example, README.md). Reads the loss back, so for speed use a
 * {@linkcode Trainer} and read metrics every few hundred steps.
 *
 * Calls on one network run one after another, each returning its own
 * batch's loss, even when not awaited. Throws a {@linkcode NonFiniteError}
 * when the step made the loss, a layer's output or a parameter NaN or
 * infinite (e.g. finite but huge inputs), naming where, as `fit` does.
 */
export function trainStep(
  net: Module,
  opt: Optimizer,
  x: Float32Array,
  y: Uint32Array,
  classes = 10,
): Promise<number> {
  const run = (pending.get(net) ?? Promise.resolve()).then(() =>
    trainStepNow(net, opt, x, y, classes)
  );
  pending.set(net, run.catch(() => {}));
  return run;
}

async function trainStepNow(
  net: Module,
  opt: Optimizer,
  x: Float32Array,
  y: Uint32Array,
  classes = 10,
): Promise<number> {
  if (y?.length === 0) throw new ArbnetError("a batch needs at least one example");
  if (x?.length % y?.length !== 0) {
    throw new ArbnetError(
      `inputs have ${x?.length} values, not a multiple of the ${y?.length} labels`,
    );
  }
  let t = trainers.get(net);
  if (!t || t.opt !== opt) {
    t = new Trainer(net, opt, { features: x.length / y.length, classes });
    trainers.set(net, t);
  }
  t.resetMetrics();
  await t.step(x, y);
  const m = await t.readMetrics();
  const bad = await t.findNonFinite();
  if (m.nonFinite || bad) {
    const where = bad ? `; the first non-finite values were in ${bad.where}` : "";
    throw new NonFiniteError(
      `trainStep: ${m.nonFinite ? "the loss" : "the network"} became non-finite at step ` +
        `${t.stepsTaken}${where}: the parameters may be poisoned; lower the learning rate (it ` +
        `was ${opt.learningRate.toPrecision(3)}), scale the inputs (largest |x| ${
          maxAbs(x).toPrecision(3)
        }) and restore the last good parameters`,
      {
        epoch: 0,
        fromStep: t.stepsTaken,
        toStep: t.stepsTaken,
        step: bad?.step ?? null,
        where: bad?.where ?? null,
      },
    );
  }
  return m.loss;
}

function maxAbs(x: Float32Array): number {
  let m = 0;
  for (let i = 0; i < x.length; i++) m = Math.max(m, Math.abs(x[i]));
  return m;
}

function typeName(v: unknown): string {
  return (v as { constructor?: { name?: string } } | null)?.constructor?.name ?? String(v);
}
