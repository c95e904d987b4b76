/**
 * The training script as a user runs it (a subprocess of `scripts/train.ts`):
 * unknown flags, malformed values, bad `--data` folders and files, and
 * mismatched layers end with exit code 2 and one `error:` line naming the
 * flag or file and what is allowed; `--checkpoint`/`--resume` continue a run,
 * and a diverging run keeps its last good checkpoint.
 * @module
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import {
  asRoot,
  assertScriptError,
  hasSetpriv,
  NOBODY,
  runTrain,
  tempDir,
  writeFakeMnist,
} from "./_reliability.ts";
import { gpuTest } from "./_util.ts";
import { buildFromCheckpoint, readCheckpointInfo } from "../lib/io/checkpoint.ts";
import { MNIST_FILES } from "../lib/data/mod.ts";

Deno.test("train.ts: unknown flags and malformed values name the flag and the allowed range", async () => {
  const cases: [string, string[], ...string[]][] = [
    ["unknown flag", ["--bogus"], "Unknown option '--bogus'", "usage: deno task train"],
    ["--batch 0", ["--batch", "0"], 'invalid --batch "0": expected an integer in [1, 65536]'],
    ["--batch 2.5", ["--batch", "2.5"], 'invalid --batch "2.5": expected an integer'],
    ["--lr abc", ["--lr", "abc"], 'invalid --lr "abc": expected a number in [1e-9, 100]'],
    ["--epochs missing", ["--epochs"], "Option '--epochs <value>' argument missing"],
    ["--sparsity 1", ["--sparsity", "1"], 'invalid --sparsity "1": expected a number in [0,'],
    [
      "--hash foo",
      ["--hash", "foo"],
      'unknown hash family "foo" (known families: dense, uniform, dirichlet, neighborhood',
      "registerHashFamily",
    ],
    [
      "--layers 784,,10",
      ["--layers", "784,,10"],
      'invalid --layers "784,,10": expected comma-separated positive integers',
    ],
    [
      "--alpha 0",
      ["--hash", "dirichlet", "--alpha", "0"],
      'invalid --alpha "0": expected a number in [0.0001, 10000]',
    ],
    ["--radius=-1", ["--hash", "neighborhood", "--radius=-1"], 'invalid --radius "-1"'],
    ["dirichlet without --alpha", ["--hash", "dirichlet"], "--hash dirichlet needs --alpha"],
    [
      "--alpha with uniform",
      ["--alpha", "0.1"],
      "--alpha applies to --hash dirichlet, not uniform",
    ],
    ["positional argument", ["mnist"], 'unexpected argument "mnist"'],
    [
      "--deterministic with --atomic",
      ["--deterministic", "--atomic"],
      "--deterministic and --atomic exclude each other",
    ],
    [
      "cifar10 without --data",
      ["--dataset", "cifar10"],
      "--dataset cifar10 needs --data DIR",
    ],
    ["--resume missing", ["--resume", "/nonexistent/run.safetensors"], "cannot read checkpoint"],
    [
      "--hash conv2d",
      ["--hash", "conv2d"],
      "--hash conv2d describes the geometry of one layer",
      "examples/cnn_mnist.ts",
    ],
    [
      "--hash recurrent",
      ["--hash", "recurrent"],
      "--hash recurrent describes the geometry of one layer",
      "examples/rnn_mnist.ts",
    ],
  ];
  for (const [label, args, ...fragments] of cases) {
    assertScriptError(label, await runTrain(args), ...fragments);
  }
});

Deno.test("train.ts: a missing, unreadable or damaged --data folder names the path", async () => {
  const { dir, remove } = await tempDir();
  try {
    const data = join(dir, "mnist");
    await Deno.mkdir(data);
    await writeFakeMnist(data);
    const labels = join(data, MNIST_FILES.train.labels);
    const good = await Deno.readFile(labels);
    const base = ["--layers", "784,8,10", "--epochs", "1", "--tile", "default", "--quiet"];
    const run = (d: string) => runTrain(["--data", d, ...base]);

    assertScriptError(
      "--data missing folder",
      await run(join(dir, "nope")),
      `MNIST folder not found: ${join(dir, "nope")} (it should hold train-images-idx3-ubyte`,
    );
    assertScriptError(
      "--data is a file",
      await run(labels),
      `MNIST path is not a folder: ${labels}`,
    );
    const wrong = good.slice();
    wrong[3] = 3;
    await Deno.writeFile(labels, wrong);
    assertScriptError(
      "wrong magic",
      await run(data),
      `${labels}: wrong idx magic number 0x00000803, expected 0x00000801`,
    );
    await Deno.writeFile(labels, good.subarray(0, good.length - 10));
    assertScriptError(
      "truncated file",
      await run(data),
      `${labels}: truncated idx file (10 bytes missing)`,
    );
    await Deno.remove(labels);
    assertScriptError(
      "missing file",
      await run(data),
      `MNIST file not found: ${labels} (nor train-labels-idx1-ubyte.gz)`,
    );
    await Deno.writeFile(labels, good);
    assertScriptError(
      "--layers against the data",
      await runTrain(["--data", data, "--layers", "100,8,10"]),
      "--layers 100,8,10 must start with 784 (input features of mnist-train) and end with 10",
    );
  } finally {
    await remove();
  }
});

Deno.test({
  name: "train.ts: an unreadable --data folder says permission denied, naming the file",
  // Root reads through permission bits: run the script as nobody instead.
  ignore: asRoot && !hasSetpriv,
  fn: async () => {
    const { dir, remove } = await tempDir();
    const locked = join(dir, "locked");
    try {
      await Deno.chmod(dir, 0o755);
      await Deno.mkdir(locked);
      await writeFakeMnist(locked);
      await Deno.chmod(locked, 0o000);
      const cache = join(dir, "deno-dir");
      await Deno.mkdir(cache);
      await Deno.chmod(cache, 0o777);
      const args = ["--data", locked, "--layers", "784,8,10"];
      const run = asRoot
        ? await runTrain(args, { uid: NOBODY, denoDir: cache })
        : await runTrain(args);
      assertScriptError(
        "--data not readable",
        run,
        `cannot read MNIST file ${join(locked, MNIST_FILES.train.images)}: permission denied`,
      );
    } finally {
      await Deno.chmod(locked, 0o700).catch(() => {});
      await remove();
    }
  },
});

gpuTest(
  "train.ts: --resume continues a run; a diverging run keeps its last good checkpoint",
  async (gpu) => {
    const { dir, remove } = await tempDir();
    try {
      await writeFakeMnist(dir);
      const ckpt = join(dir, "run.safetensors");
      const base = [
        ...["--data", dir, "--layers", "784,16,10", "--tile", "default", "--quiet"],
        ...["--log", join(dir, "log.jsonl"), "--checkpoint", ckpt],
      ];
      const first = await runTrain([...base, "--epochs", "1"]);
      assert.equal(first.code, 0, first.stderr);
      // Progress, and the settings a resume is compared with (reliability_work).
      const { settings, ...progress } = (await readCheckpointInfo(ckpt)).progress;
      assert.deepEqual(progress, { epoch: 0, step: 4 });
      assert.deepEqual(settings, {
        dataset: "mnist",
        optimizer: "sgd",
        lr: 0.05,
        momentum: 0.9,
        nesterov: false,
        weightDecay: 0,
        schedule: "cosine",
        batch: 50,
        epochs: 1,
        trainLimit: null,
        seed: 1,
      });

      const resumed = await runTrain([...base, "--epochs", "2", "--resume", ckpt]);
      assert.equal(resumed.code, 0, resumed.stderr);
      assert.match(resumed.stderr, /resumed from .*run\.safetensors at epoch 2 \(step 4\)/);
      assert.match(resumed.stderr, /epoch 2: train loss/);
      assert.doesNotMatch(resumed.stderr, /epoch 1: train loss/);
      const { settings: _, ...after } = (await readCheckpointInfo(ckpt)).progress;
      assert.deepEqual(after, { epoch: 1, step: 8 });

      // Learning rate 100 diverges within a few epochs on this data.
      const diverged = await runTrain([
        ...base,
        ...["--epochs", "6", "--resume", ckpt, "--lr", "100", "--schedule", "constant"],
      ]);
      assertScriptError(
        "diverging run with --checkpoint",
        diverged,
        /non-finite/,
        /lower the learning rate \(it was 100\)/,
        /the last good checkpoint, .*run\.safetensors \(epoch \d\), was kept/,
      );
      // The kept checkpoint loads (loading refuses non-finite tensors).
      const { net, info } = await buildFromCheckpoint(gpu, ckpt);
      assert.ok((info.progress.epoch ?? 0) >= 1);
      for (const p of net.parameters()) assert.ok((await p.read()).every(Number.isFinite));
    } finally {
      await remove();
    }
  },
);
