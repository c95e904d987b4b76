/**
 * Never lose a user's work (docs/reliability.md): output paths checked before
 * any training, no silent overwrite of a checkpoint or a report, locks
 * against two writers, stale temporary files and locks cleaned, settings
 * that differ on `--resume` refused or warned, flags that do not apply
 * refused, result ids checked against their specs, and API misuse of the
 * trainer and optimizers named.
 * @module
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import {
  asRoot,
  assertScriptError,
  hasSetpriv,
  NOBODY,
  rejectsArbnet,
  runTrain,
  tempDir,
  throwsArbnet,
  writeFakeMnist,
} from "./_reliability.ts";
import { gpuTest, randomF32 } from "./_util.ts";
import { NonFiniteError } from "../lib/errors.ts";
import {
  balanceSweep,
  readResults,
  runId,
  type RunResult,
  type RunSpec,
  runSweep,
  writeReport,
} from "../lib/experiment/mod.ts";
import {
  acquireLock,
  fileError,
  hostName,
  removeStaleTemps,
  writeFileAtomic,
} from "../lib/io/files.ts";
import { readCheckpointInfo } from "../lib/io/checkpoint.ts";
import {
  type Hash,
  hashes,
  type IndexSpec,
  proceduralSlotCounts,
  slotCounts,
} from "../lib/hash/mod.ts";
import { ArbLinear } from "../lib/nn/mod.ts";
import { Adam, SGD } from "../lib/optim/mod.ts";
import { buildMlp, Trainer, trainStep } from "../lib/train/mod.ts";
import type { Gpu } from "../lib/gpu/device.ts";

const quiet = () => {};
/** A process id no process has (above Linux's pid_max limit of 2^22). */
const DEAD_PID = 2 ** 22 + 17;

Deno.test("train.ts: output paths and flags are checked before anything is loaded", async () => {
  const { dir, remove } = await tempDir();
  try {
    const file = join(dir, "file.txt");
    await Deno.writeTextFile(file, "not a checkpoint\n");
    const ckpt = join(dir, "busy.safetensors");
    const lock = { pid: Deno.pid, host: hostName(), since: "2026-01-01T00:00:00.000Z" };
    await Deno.writeTextFile(`${ckpt}.lock`, JSON.stringify(lock));
    // Each of these would once have trained, crashed or overwritten something.
    const cases: [string, string[], ...string[]][] = [
      ["--resume empty", ["--resume", ""], 'invalid --resume "": expected a non-empty value'],
      ["--log empty", ["--log", ""], 'invalid --log "": expected a non-empty value'],
      ["--resume a folder", ["--resume", dir], `--resume ${dir} is a folder`],
      ["--log a folder", ["--log", dir], `--log ${dir} is a folder: give a file path`],
      ["--checkpoint a folder", ["--checkpoint", dir], `--checkpoint ${dir} is a folder`],
      [
        "--checkpoint under a file",
        ["--checkpoint", join(file, "run.safetensors")],
        "a part of the path is a file, not a folder",
      ],
      [
        "--log = --checkpoint",
        ["--log", join(dir, "same"), "--checkpoint", join(dir, "same")],
        "--log and --checkpoint are the same file",
      ],
      ["--log not a log", ["--log", join(dir, "data.bin")], "is not a JSON-lines log"],
      [
        "--checkpoint exists",
        ["--checkpoint", file],
        `--checkpoint ${file} already holds a file that this run would replace`,
        `--resume ${file}`,
        "--overwrite",
      ],
      [
        "--checkpoint locked",
        ["--checkpoint", ckpt],
        `checkpoint ${ckpt} is in use by process ${Deno.pid}`,
        `delete ${ckpt}.lock`,
      ],
      [
        "--momentum with adam",
        ["--optimizer", "adam", "--momentum", "0.9"],
        "--momentum applies to --optimizer sgd, not adam",
      ],
      [
        "--nesterov with adam",
        ["--optimizer", "adam", "--nesterov"],
        "--nesterov applies to --optimizer sgd",
      ],
      ["--nesterov, momentum 0", ["--nesterov", "--momentum", "0"], "--nesterov needs --momentum"],
      [
        "--table-fraction with dense",
        ["--hash", "dense", "--table-fraction", "0.5"],
        "--table-fraction applies to hashed layers, not --hash dense",
      ],
      ["--overwrite alone", ["--overwrite"], "--overwrite applies to --checkpoint"],
      ["--allow-changes alone", ["--allow-changes"], "--allow-changes applies to --resume"],
    ];
    await Deno.writeFile(join(dir, "data.bin"), new Uint8Array([1, 2, 3]));
    for (const [label, args, ...fragments] of cases) {
      const run = await runTrain(["--data", join(dir, "no-data"), ...args]);
      assertScriptError(label, run, ...fragments);
      assert.doesNotMatch(run.stderr, /MNIST|\n\s+at /, `${label}: checked after loading data`);
    }
    assert.equal(await Deno.readTextFile(file), "not a checkpoint\n", "the file is untouched");
    assert.deepEqual(JSON.parse(await Deno.readTextFile(`${ckpt}.lock`)), lock);
  } finally {
    await remove();
  }
});

Deno.test({
  name: "train.ts: a checkpoint in a read-only folder is refused before training",
  // Root writes through permission bits: run the script as nobody instead.
  ignore: asRoot && !hasSetpriv,
  fn: async () => {
    const { dir, remove } = await tempDir();
    const ro = join(dir, "ro");
    try {
      await Deno.chmod(dir, 0o755);
      await Deno.mkdir(ro);
      await Deno.chmod(ro, 0o555);
      const cache = join(dir, "deno-dir");
      await Deno.mkdir(cache);
      await Deno.chmod(cache, 0o777);
      const args = ["--data", join(dir, "no-data"), "--checkpoint", join(ro, "run.safetensors")];
      const run = asRoot
        ? await runTrain(args, { uid: NOBODY, denoDir: cache })
        : await runTrain(args);
      assertScriptError(
        "--checkpoint read-only",
        run,
        `cannot write --checkpoint ${join(ro, "run.safetensors")}: permission denied`,
      );
    } finally {
      await Deno.chmod(ro, 0o755).catch(() => {});
      await remove();
    }
  },
});

gpuTest(
  "train.ts: a checkpoint is replaced only by its resume or --overwrite; resume settings compared",
  async () => {
    const { dir, remove } = await tempDir();
    try {
      await writeFakeMnist(dir);
      const ckpt = join(dir, "run.safetensors");
      const base = [
        ...["--data", dir, "--layers", "784,8,10", "--tile", "default", "--quiet"],
        ...["--log", join(dir, "log.jsonl"), "--checkpoint", ckpt],
      ];
      const first = await runTrain([...base, "--epochs", "1"]);
      assert.equal(first.code, 0, first.stderr);
      const saved = await Deno.readFile(ckpt);

      // The same command again: it would restart at epoch 1 over the saved run.
      assertScriptError(
        "rerun without --resume",
        await runTrain([...base, "--epochs", "1"]),
        `--checkpoint ${ckpt} already holds a checkpoint after epoch 1`,
      );
      assertScriptError(
        "resume with other batch and momentum",
        await runTrain([...base, "--resume", ckpt, "--batch", "25", "--momentum", "0.5"]),
        "this run's settings differ from the checkpoint's: --momentum 0.5 (was 0.9), " +
          "--batch 25 (was 50)",
        "--allow-changes",
      );
      assertScriptError(
        "--log is the checkpoint",
        await runTrain([...base.slice(0, -4), "--resume", ckpt, "--log", ckpt]),
        `--log ${ckpt} exists and is not a JSON-lines log`,
      );
      assert.deepEqual(await Deno.readFile(ckpt), saved, "refused runs leave the checkpoint");

      // A killed save's temporary file and a dead process's lock are cleaned up.
      await Deno.writeTextFile(`${ckpt}.tmp-${DEAD_PID}`, "half a checkpoint");
      const dead = { pid: DEAD_PID, host: hostName(), since: "2026-01-01T00:00:00.000Z" };
      await Deno.writeTextFile(`${ckpt}.lock`, JSON.stringify(dead));
      const more = await runTrain([...base, "--resume", ckpt, "--epochs", "2"]);
      assert.equal(more.code, 0, more.stderr);
      assert.match(more.stderr, /removed the stale lock .*run\.safetensors\.lock \(process \d+/);
      assert.match(
        more.stderr,
        /removed .*run\.safetensors\.tmp-\d+, left by a save that was killed/,
      );
      // The schedule spans --epochs: epoch 2 of 2 starts at half the base rate, not at 0.
      assert.match(
        more.stderr,
        /warning: resuming with --epochs 2 \(was 1\): the cosine schedule spans all --epochs, so it is re-stretched over 2; the learning rate moves from 0\.00000500 \(where the old schedule stood after epoch 1\) to 0\.0250 at epoch 2/,
      );
      assert.match(more.stderr, /epoch 2: .* lr 0\.0[01]/);
      const info = await readCheckpointInfo(ckpt);
      assert.equal(info.progress.epoch, 1);
      assert.equal((info.progress.settings as { epochs: number }).epochs, 2);
      const left = [...Deno.readDirSync(dir)].map((e) => e.name).filter((n) => n.includes(".tmp"));
      assert.deepEqual(left, []);
      assert.throws(() => Deno.statSync(`${ckpt}.lock`), Deno.errors.NotFound, "lock released");

      const over = await runTrain([...base, "--epochs", "1", "--overwrite"]);
      assert.equal(over.code, 0, over.stderr);
      assert.equal((await readCheckpointInfo(ckpt)).progress.epoch, 0);

      assertScriptError(
        "--sparsity leaving no weight",
        await runTrain([...base.slice(0, -2), "--sparsity", "0.999999", "--epochs", "1"]),
        "--sparsity 0.999999 sends every weight of layer 1, ArbLinear layer0 (784×8, uniform " +
          "hash), to the zero slot: the network would train its biases only",
      );
    } finally {
      await remove();
    }
  },
);

Deno.test("locks: one holder at a time, stale ones replaced, foreign hosts respected", async () => {
  const { dir, remove } = await tempDir();
  try {
    const target = join(dir, "results.jsonl");
    const lock = await acquireLock(target, "results file", quiet);
    await rejectsArbnet(
      "second lock",
      () => acquireLock(target, "results file", quiet),
      `results file ${target} is in use by process ${Deno.pid}`,
    );
    await lock.release();
    const again = await acquireLock(target, "results file", quiet);
    await again.release();

    const notes: string[] = [];
    const dead = { pid: DEAD_PID, host: hostName(), since: "2026-01-01T00:00:00.000Z" };
    await Deno.writeTextFile(`${target}.lock`, JSON.stringify(dead));
    const taken = await acquireLock(target, "results file", (m) => notes.push(m));
    assert.match(notes[0], /removed the stale lock .* \(process \d+ that held it is gone\)/);
    await taken.release();

    const elsewhere = { ...dead, host: `not-${hostName()}` };
    await Deno.writeTextFile(`${target}.lock`, JSON.stringify(elsewhere));
    await rejectsArbnet(
      "lock from another host",
      () => acquireLock(target, "results file", quiet),
      `in use by process ${DEAD_PID} on not-`,
    );
  } finally {
    await remove();
  }
});

Deno.test("atomic writes name the path; stale temporary files are removed", async () => {
  const { dir, remove } = await tempDir();
  try {
    const out = join(dir, "report.md");
    await writeFileAtomic(out, "one", "report");
    await Deno.writeTextFile(`${out}.tmp-${DEAD_PID}`, "torn");
    await Deno.writeTextFile(`${out}.tmp-${Deno.pid}x`, "not a temp name");
    assert.deepEqual(await removeStaleTemps(out), [`${out}.tmp-${DEAD_PID}`]);
    assert.equal(await Deno.readTextFile(out), "one");
    await rejectsArbnet(
      "atomic write into a missing folder",
      () => writeFileAtomic(join(dir, "nope", "r.md"), "x", "report"),
      `cannot write report ${join(dir, "nope", "r.md")}: its folder does not exist`,
    );
  } finally {
    await remove();
  }
});

Deno.test("file-system failures become one line naming the path and what to do", () => {
  // What Deno throws for a full disk, a read-only file system and a forbidden folder.
  const cases: [Error, string][] = [
    [new Error("No space left on device (os error 28)"), "no space left on the disk; free some"],
    [new Error("Read-only file system (os error 30)"), "the file system is read-only; choose"],
    [new Deno.errors.PermissionDenied("Permission denied (os error 13)"), "permission denied;"],
    [new Deno.errors.IsADirectory("Is a directory (os error 21)"), "it is a folder; give a file"],
  ];
  for (const [e, what] of cases) {
    const m = fileError(e, "/data/run.jsonl", "append to the log").message;
    assert.ok(m.startsWith(`cannot append to the log /data/run.jsonl: ${what}`), m);
    assert.ok(!m.includes("\n"), m);
  }
});

function fakeResult(spec: RunSpec): RunResult {
  return {
    testAccuracy: 0.9,
    entropy: { network: 0.95, layers: [0.95, 1] },
    trainSeconds: 0.001,
    epochs: spec.epochs,
  };
}

Deno.test("runSweep: one writer per results file, folders refused, ids checked", async () => {
  const { dir, remove } = await tempDir();
  try {
    const out = join(dir, "r.jsonl");
    const runs = balanceSweep({ alphas: [1, 10], sparsities: [0], seeds: 1 });
    const runOne = (spec: RunSpec) => Promise.resolve(fakeResult(spec));
    const held = await acquireLock(out, "results file", quiet);
    await rejectsArbnet(
      "a second sweep on one results file",
      () => runSweep({ runs, out, log: quiet, runOne }),
      `results file ${out} is in use by process ${Deno.pid}`,
    );
    await held.release();
    await rejectsArbnet(
      "results file is a folder",
      () => runSweep({ runs, out: dir, log: quiet, runOne }),
      `results file ${dir} is a folder`,
    );
    assert.equal((await runSweep({ runs, out, log: quiet, runOne })).ran, 2);
    assert.throws(() => Deno.statSync(`${out}.lock`), Deno.errors.NotFound, "lock released");

    // An edited id: the record no longer names its spec. Not counted, and rerun.
    const lines = (await Deno.readTextFile(out)).trim().split("\n");
    const edited = JSON.parse(lines[0]);
    edited.id = runId(runs[1]);
    await Deno.writeTextFile(out, `${JSON.stringify(edited)}\n${lines[1]}\n`);
    const merged = await readResults([out]);
    assert.equal(merged.records.length, 1);
    assert.match(
      merged.warnings.join("\n"),
      new RegExp(`skipped run ${edited.id}: its id .* is not its spec's, ${runId(runs[0])}`),
    );
    const logs: string[] = [];
    const rerun = await runSweep({ runs, out, log: (m) => logs.push(m), runOne });
    assert.equal(rerun.ran, 1, "the run whose record was edited is redone");
    assert.match(logs.join("\n"), /not counted/);
  } finally {
    await remove();
  }
});

Deno.test("writeReport: never from no runs, never into a file, atomically", async () => {
  const { dir, remove } = await tempDir();
  try {
    const outDir = join(dir, "report");
    await Deno.mkdir(outDir);
    await Deno.writeTextFile(join(outDir, "report.md"), "a good report");
    const empty = join(dir, "empty");
    await Deno.mkdir(empty);
    await rejectsArbnet(
      "report from an empty folder",
      () => writeReport({ inputs: [empty], outDir, plots: false, log: quiet }),
      `no runs found in ${empty}`,
      "is left as it was",
    );
    assert.equal(await Deno.readTextFile(join(outDir, "report.md")), "a good report");

    const results = join(dir, "r.jsonl");
    const runs = balanceSweep({ alphas: [1], sparsities: [0], seeds: 1 });
    await runSweep({
      runs,
      out: results,
      log: quiet,
      runOne: (s) => Promise.resolve(fakeResult(s)),
    });
    await rejectsArbnet(
      "report --out a file",
      () => writeReport({ inputs: [results], outDir: results, plots: false, log: quiet }),
      `report folder ${results} is a file, not a folder`,
    );
    await Deno.writeTextFile(join(outDir, `report.md.tmp-${DEAD_PID}`), "torn");
    const notes: string[] = [];
    await writeReport({ inputs: [results], outDir, plots: false, log: (m) => notes.push(m) });
    assert.match(await Deno.readTextFile(join(outDir, "report.md")), /1 distinct runs/);
    assert.deepEqual([...Deno.readDirSync(outDir)].map((e) => e.name), ["report.md"]);
    assert.match(notes.join("\n"), /removed .*report\.md\.tmp-\d+/);
  } finally {
    await remove();
  }
});

function net(gpu: Gpu, seed = 1) {
  return buildMlp(gpu, { layers: [12, 8, 4], hash: hashes.uniform(), tableFraction: 0.5, seed })
    .net;
}

function batch(rows: number, seed: number) {
  const x = randomF32(rows * 12, seed);
  const y = Uint32Array.from({ length: rows }, (_, i) => (i + seed) % 4);
  return { x, y };
}

gpuTest("API misuse: an optimizer over another network's parameters is refused", (gpu) => {
  const a = net(gpu, 1);
  const b = net(gpu, 1);
  throwsArbnet(
    "optimizer over another network's parameters",
    () => new Trainer(a, new SGD(b.parameters(), { lr: 0.1 }), { features: 12, classes: 4 }),
    "the optimizer updates 4 of its 4 parameters that are not this network's",
    "new SGD(net.parameters(), …)",
  );
  return Promise.resolve();
});

gpuTest(
  "API misuse: un-awaited trainStep calls run in turn, each with its own loss",
  async (gpu) => {
    const a = net(gpu, 1);
    const b = net(gpu, 1);
    const [b1, b2] = [batch(6, 1), batch(6, 2)];
    const optA = new SGD(a.parameters(), { lr: 0.1, momentum: 0.9 });
    const optB = new SGD(b.parameters(), { lr: 0.1, momentum: 0.9 });
    const together = await Promise.all([
      trainStep(a, optA, b1.x, b1.y, 4),
      trainStep(a, optA, b2.x, b2.y, 4),
    ]);
    const inTurn = [
      await trainStep(b, optB, b1.x, b1.y, 4),
      await trainStep(b, optB, b2.x, b2.y, 4),
    ];
    assert.deepEqual(together, inTurn);
    assert.notEqual(together[0], together[1]);
  },
);

gpuTest("API misuse: a trainStep that overflows to NaN says so, as fit does", async (gpu) => {
  const a = net(gpu, 1);
  const opt = new SGD(a.parameters(), { lr: 0.1, momentum: 0.9 });
  const good = batch(6, 1);
  await trainStep(a, opt, good.x, good.y, 4);
  // Finite but huge inputs overflow in the first layer.
  const huge = batch(6, 3);
  huge.x.fill(3e38);
  await rejectsArbnet(
    "trainStep with overflowing inputs",
    () => trainStep(a, opt, huge.x, huge.y, 4),
    /trainStep: the (loss|network) became non-finite at step 2; the first non-finite values were in /,
    "largest |x| 3.00e+38",
  );
  assert.ok(
    await trainStep(a, opt, good.x, good.y, 4).then(
      () => false,
      (e) => e instanceof NonFiniteError,
    ),
    "the poisoned network keeps being reported",
  );
});

gpuTest("API misuse: optimizer options out of bounds or unknown are named", (gpu) => {
  const p = net(gpu, 1).parameters();
  throwsArbnet(
    "weightDecay Infinity",
    () => new SGD(p, { lr: 0.1, weightDecay: Infinity }),
    "invalid weightDecay: Infinity (expected a finite number ≥ 0)",
  );
  throwsArbnet(
    "Adam weightDecay Infinity",
    () => new Adam(p, { weightDecay: Infinity }),
    "invalid weightDecay: Infinity",
  );
  throwsArbnet("Adam eps Infinity", () => new Adam(p, { eps: Infinity }), "invalid eps: Infinity");
  throwsArbnet(
    "SGD option typo",
    () => new SGD(p, { lr: 0.1, weight_decay: 1e-4 } as never),
    'unknown option "weight_decay" in SGD options (known options: lr, momentum, nesterov, weightDecay)',
  );
  throwsArbnet(
    "nesterov not a boolean",
    () => new SGD(p, { lr: 0.1, nesterov: 1 } as never),
    "invalid nesterov: 1 (expected true or false)",
  );
  throwsArbnet("setSteps(-1)", () => new SGD(p, { lr: 0.1 }).setSteps(-1), "invalid steps: -1");
  return Promise.resolve();
});

Deno.test("procedural slot counts equal the indices' counts, without building them", () => {
  const cases: [Hash, IndexSpec][] = [
    [hashes.uniform(), { rows: 37, cols: 23, tableSize: 101, seed: 5 }],
    [hashes.uniform(), { rows: 30, cols: 20, tableSize: 64, seed: 2, sparsity: 0.6 }],
    [hashes.neighborhood({ radius: 3 }), { rows: 40, cols: 9, tableSize: 50, seed: 3 }],
    [hashes.neighborhood({ radius: 0 }), {
      rows: 8,
      cols: 8,
      tableSize: 7,
      seed: 1,
      sparsity: 0.3,
    }],
    [hashes.dirichlet({ alpha: 0.1 }), { rows: 25, cols: 31, tableSize: 77, seed: 9 }],
    [hashes.dirichlet({ alpha: 10 }), {
      rows: 25,
      cols: 31,
      tableSize: 77,
      seed: 4,
      sparsity: 0.5,
    }],
  ];
  for (const [hash, spec] of cases) {
    assert.deepEqual(
      proceduralSlotCounts(hash, spec),
      slotCounts(hash.indices(spec), spec.tableSize),
      `${hash.family} ${JSON.stringify(spec)}`,
    );
  }
});

gpuTest("a procedural layer's slot counts never build its host index array", (gpu) => {
  // A hash whose index array must not be asked for (4 bytes per position): the
  // library's own (only built-in hashes count as built-in), its indices replaced.
  const hash: Hash = hashes.dirichlet({ alpha: 1 });
  hash.indices = () => {
    throw new Error("indices built on the host");
  };
  const layer = new ArbLinear(gpu, {
    inFeatures: 300,
    outFeatures: 200,
    hash,
    tableSize: 500,
    sparsity: 0.25,
    procedural: true,
    seed: 3,
  });
  const counts = layer.slotCounts;
  assert.equal(counts.length, 501);
  assert.equal(counts.reduce((a, b) => a + b, 0), 300 * 200);
  const plain = hashes.dirichlet({ alpha: 1 });
  const spec = { rows: 300, cols: 200, tableSize: 500, sparsity: 0.25, seed: 3 };
  assert.deepEqual(counts, slotCounts(plain.indices(spec), 500));
  return Promise.resolve();
});
