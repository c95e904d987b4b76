/**
 * The experiment command line end to end, as a user runs it: a tiny sweep
 * (2 points × 1 sparsity × 1 seed, 200 training examples, 1 epoch) trains
 * for real on WebGPU, is rerun without retraining, is sharded through the
 * flag and the Kubernetes environment, and is reported with figures; plus
 * the usage errors. Each step is a `deno run` subprocess of
 * `scripts/experiment.ts`.
 * @module
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { encodeIdx } from "../lib/data/mod.ts";
import { runId, type RunRecord } from "../lib/experiment/mod.ts";
import { cnnConditions, STUDY_LEARNING_RATES, studyRuns } from "../lib/experiment/study.ts";

const ROOT = fileURLToPath(new URL("..", import.meta.url));

/** A tiny sweep: every flag that shrinks it, so a run takes about a second. */
const TINY = [
  "--profile",
  "quick",
  "--train-limit",
  "200",
  "--test-limit",
  "100",
  "--epochs",
  "1",
  "--sparsities",
  "0",
  "--seeds",
  "1",
];

// A CI job inside a SLURM array or a Kubernetes indexed job must not shard the test's sweeps.
const NO_SHARD_ENV = {
  SLURM_ARRAY_TASK_ID: "",
  JOB_COMPLETION_INDEX: "",
};

async function experiment(
  args: string[],
  env: Record<string, string> = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = await new Deno.Command(Deno.execPath(), {
    // The experiment's npm packages (plots) are outside the library's lockfile.
    args: ["run", "-A", "--lock=locks/test.lock", "scripts/experiment.ts", ...args],
    cwd: ROOT,
    env: { ...NO_SHARD_ENV, ...env },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

function ok(r: { code: number; stdout: string; stderr: string }): void {
  assert.equal(r.code, 0, `exit ${r.code}\nstdout:\n${r.stdout}\nstderr:\n${r.stderr}`);
}

async function records(path: string): Promise<RunRecord[]> {
  return (await Deno.readTextFile(path)).split("\n").filter((l) => l !== "").map((l) =>
    JSON.parse(l)
  );
}

/** The plotted points of a report SVG: Vega labels each with its x and y values. */
function svgPoints(svg: string): { x: number; acc: number }[] {
  const re =
    /<path aria-label="[^":]*: ([-\d.,]+); test accuracy[^:]*: ([-\d.]+);[^"]*" role="graphics-symbol" aria-roledescription="point"/g;
  return [...svg.matchAll(re)].map((m) => ({
    x: Number(m[1].replaceAll(",", "")),
    acc: Number(m[2]),
  }));
}

Deno.test({
  name: "experiment CLI: tiny sweep → results → resume → shards → report with figures",
  sanitizeResources: false,
  fn: async () => {
    const dir = await Deno.makeTempDir({ prefix: "arbnet-cli-" });
    const balance = join(dir, "balance.jsonl");

    const first = await experiment(["balance", ...TINY, "--alphas", "0.001,100", "--out", balance]);
    ok(first);
    assert.match(first.stdout, /balance: 2 of 2 runs owned; 2 trained now, 0 already recorded/);
    // One progress line per finished run: id, accuracy, entropy, seconds, runs left, ETA.
    assert.match(
      first.stderr,
      /run 1\/2 balance-a0\.001-s0-seed1-[0-9a-f]{8}: accuracy 0\.\d{4}, entropy 0\.\d{4}, [\d.]+ s; 1 left, ETA ~[\d.]+ s/,
    );
    assert.match(first.stderr, /run 2\/2 balance-a100-s0-seed1-[0-9a-f]{8}: .*; 0 left/);
    const recs = await records(balance);
    assert.deepEqual(recs.map((r) => r.spec.hash.options.alpha), [0.001, 100]);
    for (const r of recs) {
      assert.equal(r.spec.trainLimit, 200);
      assert.equal(r.result.epochs, 1);
      assert.equal(r.result.history?.length, 1);
      assert.equal(r.result.trainExamples, 200);
      assert.equal(r.result.testExamples, 100);
      assert.deepEqual(r.result.tableSizes, [98_000, 1_250]);
      assert.equal(r.result.entropy.layers.length, 2);
      assert.ok(r.result.testAccuracy >= 0 && r.result.testAccuracy <= 1);
    }
    // The worked figures of docs/arbnet.md (the design's) for 784×1000 at K = 98,000: α = 0.001 ≈ 0.45, α = 100 ≈ 0.994.
    assert.ok(Math.abs(recs[0].result.entropy.layers[0] - 0.45) < 0.02);
    assert.ok(Math.abs(recs[1].result.entropy.layers[0] - 0.994) < 0.002);

    const before = await Deno.readTextFile(balance);
    const again = await experiment(["balance", ...TINY, "--alphas", "0.001,100", "--out", balance]);
    ok(again);
    assert.match(again.stderr, /2 already done, 0 to run/);
    assert.match(again.stdout, /0 trained now, 2 already recorded \(not retrained\), 0 failed/);
    assert.doesNotMatch(again.stderr, /run 1\//);
    assert.equal(await Deno.readTextFile(balance), before);

    // Two shards of the noise sweep, one from the flag, one from a Kubernetes indexed job.
    const noise = join(dir, "noise.jsonl");
    const noiseArgs = ["noise", ...TINY, "--radii", "0,49000", "--out", noise];
    ok(await experiment([...noiseArgs, "--shard", "0/2"]));
    ok(await experiment(noiseArgs, { JOB_COMPLETION_INDEX: "1", ARBNET_SHARD_COUNT: "2" }));
    const shard0 = await records(join(dir, "noise.shard-0-of-2.jsonl"));
    const shard1 = await records(join(dir, "noise.shard-1-of-2.jsonl"));
    assert.deepEqual([...shard0, ...shard1].map((r) => r.spec.hash.options.radius), [0, 49000]);

    const outDir = join(dir, "report");
    const rep = await experiment(["report", "--out", outDir, dir]);
    ok(rep);
    assert.match(rep.stdout, /report: 4 runs/);
    assert.match(rep.stdout, /verdict balance-mnist-quick sparsity 0: no test possible \(n=2/);
    const md = await Deno.readTextFile(join(outDir, "report.md"));
    assert.match(md, /4 distinct runs from 3 file\(s\)/);
    assert.match(md, /\| 0 \| 0\.001 \| 1 \| /);
    assert.match(md, /\| 0 \| 100 \| 1 \| /);
    assert.match(md, /\| 0 \| 0 \| 1 \| /);
    assert.match(md, /\| 0 \| 49000 \| 1 \| /);
    const expected = {
      "balance-mnist-quick": recs.map((r) => ({
        x: r.result.entropy.network,
        acc: 100 * r.result.testAccuracy,
      })),
      "noise-mnist-quick": [...shard0, ...shard1].map((r) => ({
        x: r.spec.hash.options.radius as number,
        acc: 100 * r.result.testAccuracy,
      })),
    };
    for (const [name, points] of Object.entries(expected)) {
      assert.match(md, new RegExp(`!\\[[^\\]]*\\]\\(${name}\\.png\\)`));
      const png = await Deno.readFile(join(outDir, `${name}.png`));
      assert.deepEqual([...png.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
      assert.ok(png.length > 5_000, `${name}.png has only ${png.length} bytes`);
      const drawn = svgPoints(await Deno.readTextFile(join(outDir, `${name}.svg`)));
      assert.equal(drawn.length, points.length, `${name}.svg draws ${drawn.length} points`);
      for (const p of points) {
        assert.ok(
          drawn.some((d) => Math.abs(d.x - p.x) < 1e-6 && Math.abs(d.acc - p.acc) < 1e-6),
          `${name}.svg lacks the point ${JSON.stringify(p)}: ${JSON.stringify(drawn)}`,
        );
      }
    }
    await Deno.remove(dir, { recursive: true });
  },
});

Deno.test("experiment CLI: usage errors name the command or flag and exit 2", async () => {
  const cases: [string[], RegExp][] = [
    [[], /error: missing command/],
    [
      ["sweep"],
      /error: unknown command "sweep" \(expected study, balance, noise, hashes or report\)/,
    ],
    [["hashes"], /error: hashes needs --hashes/],
    [["hashes", "--hashes", "[]"], /error: invalid --hashes \[\]: expected a non-empty JSON list/],
    [["hashes", "--hashes", "uniform"], /error: invalid --hashes uniform: not JSON/],
    [["hashes", "--hashes", '["nosuch"]'], /error: --hashes entry 0 \(nosuch\): .*nosuch/],
    [
      ["hashes", "--hashes", '["uniform","uniform"]'],
      /error: invalid hashes: .*uniform.* \(expected each hash listed once\)/,
    ],
    [
      ["hashes", "--hash-module", "/nonexistent/h.ts", "--hashes", '["uniform"]'],
      /error: --hash-module \/nonexistent\/h\.ts could not be imported/,
    ],
    [["balance", "--hashes", '["uniform"]'], /error: Unknown option '--hashes'/],
    [["study"], /error: study needs a phase: pilot, main, cnn-pilot, cnn-main, ci; got ""/],
    [["study", "warm"], /error: study needs a phase: .*; got "warm"/],
    [["study", "pilot", "--seeds", "5"], /error: --seeds applies to study main and cnn-main only/],
    [["study", "main", "--seeds", "1,x"], /error: invalid --seeds "1,x": "x" is not an integer/],
    [["balance", "--seeds", "0"], /error: invalid --seeds "0": expected an integer in \[1, 1000\]/],
    [
      ["noise", "--profile", "huge"],
      /error: invalid --profile "huge": expected one of quick, full/,
    ],
    [["balance", "--bogus"], /error: Unknown option '--bogus'/],
    [
      ["balance", "--alphas", "0.1,-1"],
      /error: invalid --alphas "0\.1,-1": "-1" is not a number > 0/,
    ],
    [
      ["noise", "--radii", "0,1.5"],
      /error: invalid --radii "0,1\.5": "1\.5" is not an integer in \[0, 2147483647\]/,
    ],
    [
      ["noise", "--sparsities", "0,1"],
      /error: invalid --sparsities "0,1": "1" is not a number in \[0, 1\)/,
    ],
    [["balance", "--shard", "2/2"], /error: invalid --shard: shard index 2/],
    [["balance", "extra"], /error: balance takes no positional arguments, got "extra"/],
    [["balance", "--dataset", "cifar10"], /error: --dataset cifar10 needs --data DIR/],
    [
      ["balance", "--dataset", "cifar10", "--data", "/nonexistent/cifar"],
      /error: CIFAR-10 folder not found: \/nonexistent\/cifar/,
    ],
  ];
  const empty = await Deno.makeTempDir({ prefix: "arbnet-nocifar-" });
  cases.push([
    ["noise", "--dataset", "cifar10", "--data", empty],
    /error: CIFAR-10 train files missing: data_batch_1\.bin, .*looked in/,
  ]);
  // No case trains anything, so they can all start at once.
  const results = await Promise.all(cases.map(([args]) => experiment(args)));
  cases.forEach(([args, message], i) => {
    const r = results[i];
    assert.equal(r.code, 2, `${args.join(" ")}: exit ${r.code}\n${r.stderr}`);
    assert.match(r.stderr, message, args.join(" "));
  });
  await Deno.remove(empty);
  const help = await experiment(["--help"]);
  ok(help);
  assert.match(help.stdout, /balance .*\n.*noise .*\n.*hashes .*\n.*report/);
  const sub = await experiment(["noise", "--help"]);
  ok(sub);
  assert.match(sub.stdout, /--radii/);
});

Deno.test("experiment CLI: a run that fails is reported, not recorded, and exits 1", async () => {
  // MNIST-format files whose second training label is out of range: the up-front data check
  // reads one example and passes, the run itself loads all three and fails.
  const dir = await Deno.makeTempDir({ prefix: "arbnet-badmnist-" });
  const images = (n: number) => encodeIdx([n, 28, 28], new Uint8Array(n * 784));
  await Deno.writeFile(join(dir, "train-images-idx3-ubyte"), images(3));
  await Deno.writeFile(
    join(dir, "train-labels-idx1-ubyte"),
    encodeIdx([3], Uint8Array.of(1, 12, 3)),
  );
  await Deno.writeFile(join(dir, "t10k-images-idx3-ubyte"), images(2));
  await Deno.writeFile(join(dir, "t10k-labels-idx1-ubyte"), encodeIdx([2], Uint8Array.of(0, 1)));
  const out = join(dir, "results.jsonl");
  const r = await experiment([
    "balance",
    ...TINY,
    "--alphas",
    "1",
    "--data",
    dir,
    "--out",
    out,
  ]);
  assert.equal(r.code, 1, `exit ${r.code}\n${r.stdout}\n${r.stderr}`);
  assert.match(r.stdout, /0 trained now, 0 already recorded \(not retrained\), 1 failed/);
  assert.match(r.stdout, /failed: balance-a1-s0-seed1-[0-9a-f]{8}: .*label 1 is 12/);
  assert.match(r.stdout, /rerun the same command to retry/);
  assert.equal((await Deno.readTextFile(out).catch(() => "")).trim(), "");
  await Deno.remove(dir, { recursive: true });
});

Deno.test({
  name: "experiment CLI: hashes compares a registered family of one's own with a built-in",
  sanitizeResources: false,
  fn: async () => {
    const dir = await Deno.makeTempDir({ prefix: "arbnet-cli-hashes-" });
    try {
      const out = join(dir, "hashes.jsonl");
      const hashes = '["uniform", {"family":"pixelBlocks","options":{"block":2}}]';
      const args = ["hashes", ...TINY, "--hash-module", "examples/custom_hash.ts"];
      const r = await experiment([...args, "--hashes", hashes, "--out", out]);
      ok(r);
      assert.match(r.stdout, /hashes: 2 of 2 runs owned; 2 trained now/);
      const recs = await records(out);
      assert.deepEqual(recs.map((x) => x.spec.hash), [
        { family: "uniform", options: {} },
        { family: "pixelBlocks", options: { block: 2 } },
      ]);
      // pixelBlocks gives every slot the same count: perfectly balanced.
      assert.ok(recs[1].result.entropy.layers[0] > 0.9999, `${recs[1].result.entropy.layers}`);
      const report = await experiment(["report", out, "--out", join(dir, "report"), "--no-plots"]);
      ok(report);
      const md = await Deno.readTextFile(join(dir, "report", "report.md"));
      assert.match(md, /## Hashes compared — mnist, quick profile/);
      assert.match(md, /\| 0 \| pixelBlocks\(block=2\) \| 1 \|/);
      assert.match(md, /\| 0 \| uniform \| 1 \|/);
      assert.match(md, /### Against the baseline \(exploratory\)/);
      assert.match(md, /\| 0 \| pixelBlocks\(block=2\) \| uniform \| 1 \| n\/a \|/);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test("experiment CLI: a study arm's runs are not added from other code than those already in", async () => {
  const dir = await Deno.makeTempDir({ prefix: "arbnet-cli-commit-" });
  try {
    const out = join(dir, "cnn-main.jsonl");
    const [spec] = studyRuns(STUDY_LEARNING_RATES, [101], cnnConditions());
    const record = {
      id: runId(spec),
      spec,
      result: {
        testAccuracy: 0.98,
        entropy: { network: 1, layers: [1, 1] },
        trainSeconds: 1,
        epochs: 10,
        code: { commit: "0".repeat(40), dirty: false },
      },
      wallSeconds: 1,
    };
    await Deno.writeTextFile(out, JSON.stringify(record) + "\n");
    const r = await experiment(["study", "cnn-main", "--out", out]);
    assert.equal(r.code, 2, r.stderr);
    assert.match(
      r.stderr,
      /error: the 1 runs in .* ran on commit 0000000, and this is .*: run from a clean checkout of that commit .* or pass --new-commit/,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
