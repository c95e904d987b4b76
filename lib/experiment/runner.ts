/**
 * Runs a sweep with resume and sharding. Each finished run becomes one
 * complete JSON line, appended in a single write and fsynced, so a process
 * killed at any moment loses at most the run in progress and a rerun skips
 * every id already recorded (records whose id is not their spec's are
 * reported and not counted). A lock file keeps a second process from
 * writing the same results file.
 *
 * Over ~350 lines on purpose: resuming, sharding and locking the results
 * file are one protocol, and each relies on how the others record runs.
 *
 * Owns: running, skipping, shard selection (`--shard`, SLURM, Kubernetes).
 * The training itself is the caller's `runOne`. Imports `./sweep.ts`,
 * `./results.ts`, `lib/errors.ts` and `lib/io/files.ts`.
 * @module
 */

import { ArbnetError } from "../errors.ts";
import { acquireLock, checkOutputFile } from "../io/files.ts";
import {
  readResultsFile,
  resultProblem,
  type RunRecord,
  type RunResult,
  type Shard,
  shardFile,
  siblingResultFiles,
  withValidIds,
} from "./results.ts";
import { runId, type RunSpec } from "./sweep.ts";

/** Where environment variables come from; `Deno.env` fits, and so does a test's stub. */
export type EnvSource = { get(name: string): string | undefined };

/** Env var that gives the shard count for Kubernetes indexed jobs (set it to `.spec.completions`). */
export const SHARD_COUNT_ENV = "ARBNET_SHARD_COUNT";

function parseNonNegInt(text: string, what: string, allowed: string): number {
  const t = text.trim();
  if (!/^\d+$/.test(t) || !Number.isSafeInteger(Number(t))) {
    throw new ArbnetError(`invalid ${what}: ${JSON.stringify(text)} (expected ${allowed})`);
  }
  return Number(t);
}

function checkShard(index: number, count: number, what: string): Shard {
  if (count < 1) {
    throw new ArbnetError(`invalid ${what}: shard count ${count} (expected an integer ≥ 1)`);
  }
  if (index >= count) {
    throw new ArbnetError(
      `invalid ${what}: shard index ${index} (expected an integer in [0, ${count - 1}])`,
    );
  }
  return { index, count };
}

/**
 * Which shard this process is, from (first that is present):
 * 1. `flag`, the value of `--shard i/n`: 0-based `i` in `[0, n)`, e.g. `"0/4"`;
 * 2. SLURM job arrays: `SLURM_ARRAY_TASK_ID`, `SLURM_ARRAY_TASK_COUNT`, and
 *    `SLURM_ARRAY_TASK_MIN` / `SLURM_ARRAY_TASK_STEP` (defaults 0 / 1), so
 *    `--array=1-8` and `--array=0-14:2` both map onto shards `0..n-1`;
 * 3. Kubernetes indexed jobs: `JOB_COMPLETION_INDEX` (0-based), with the count
 *    from `ARBNET_SHARD_COUNT`, which Kubernetes does not set: put it in the
 *    pod template's env, equal to the job's `completions`.
 *
 * Returns `undefined` when none is present (run everything). Malformed values
 * throw an {@linkcode ArbnetError} naming the flag or variable and the range.
 *
 * @example
 * ```ts
 * import { resolveShard } from "./runner.ts";
 * const env = new Map([["SLURM_ARRAY_TASK_ID", "3"], ["SLURM_ARRAY_TASK_COUNT", "4"],
 *   ["SLURM_ARRAY_TASK_MIN", "1"]]);
 * resolveShard(undefined, env); // { index: 2, count: 4 }
 * ```
 */
export function resolveShard(flag?: string, env: EnvSource = Deno.env): Shard | undefined {
  if (flag !== undefined) {
    const m = /^\s*(\S+)\s*\/\s*(\S+)\s*$/.exec(flag);
    const form = `"i/n" with integers 0 ≤ i < n, e.g. "0/4"`;
    if (!m) throw new ArbnetError(`invalid --shard: ${JSON.stringify(flag)} (expected ${form})`);
    const index = parseNonNegInt(m[1], "--shard", form);
    const count = parseNonNegInt(m[2], "--shard", form);
    return checkShard(index, count, "--shard");
  }
  const slurmId = env.get("SLURM_ARRAY_TASK_ID");
  if (slurmId !== undefined && slurmId !== "") {
    const countText = env.get("SLURM_ARRAY_TASK_COUNT");
    if (countText === undefined || countText === "") {
      throw new ArbnetError(
        "SLURM_ARRAY_TASK_ID is set but SLURM_ARRAY_TASK_COUNT is not (expected both, from sbatch --array)",
      );
    }
    const count = parseNonNegInt(countText, "SLURM_ARRAY_TASK_COUNT", "an integer ≥ 1");
    const min = parseNonNegInt(
      env.get("SLURM_ARRAY_TASK_MIN") ?? "0",
      "SLURM_ARRAY_TASK_MIN",
      "an integer ≥ 0",
    );
    const step = parseNonNegInt(
      env.get("SLURM_ARRAY_TASK_STEP") ?? "1",
      "SLURM_ARRAY_TASK_STEP",
      "an integer ≥ 1",
    );
    if (step < 1) {
      throw new ArbnetError(`invalid SLURM_ARRAY_TASK_STEP: "${step}" (expected an integer ≥ 1)`);
    }
    const last = min + step * (count - 1);
    const allowed = step === 1
      ? `an integer in [${min}, ${last}] (SLURM_ARRAY_TASK_MIN..MIN+COUNT-1)`
      : `one of ${min}, ${min + step}, …, ${last} (MIN + k·STEP)`;
    const id = parseNonNegInt(slurmId, "SLURM_ARRAY_TASK_ID", allowed);
    if (id < min || id > last || (id - min) % step !== 0) {
      throw new ArbnetError(`invalid SLURM_ARRAY_TASK_ID: "${id}" (expected ${allowed})`);
    }
    return checkShard((id - min) / step, count, "SLURM_ARRAY_TASK_ID");
  }
  const k8sIndex = env.get("JOB_COMPLETION_INDEX");
  if (k8sIndex !== undefined && k8sIndex !== "") {
    const countText = env.get(SHARD_COUNT_ENV);
    if (countText === undefined || countText === "") {
      throw new ArbnetError(
        `JOB_COMPLETION_INDEX is set but ${SHARD_COUNT_ENV} is not: set ${SHARD_COUNT_ENV} in the ` +
          "pod template to the job's completions (or pass --shard i/n)",
      );
    }
    const count = parseNonNegInt(countText, SHARD_COUNT_ENV, "an integer ≥ 1");
    if (count < 1) {
      throw new ArbnetError(`invalid ${SHARD_COUNT_ENV}: "${countText}" (expected an integer ≥ 1)`);
    }
    const index = parseNonNegInt(
      k8sIndex,
      "JOB_COMPLETION_INDEX",
      `an integer in [0, ${count - 1}]`,
    );
    return checkShard(index, count, "JOB_COMPLETION_INDEX");
  }
  return undefined;
}

/**
 * The runs a shard owns: those whose position `p` in `runs` has
 * `p % count === index` (strided rather than contiguous, so every shard gets
 * a mix of points and seeds and equal shares of slow and fast configs).
 */
export function shardRuns<T>(runs: readonly T[], shard?: Shard): T[] {
  if (shard === undefined) return [...runs];
  checkShard(shard.index, shard.count, "shard");
  return runs.filter((_, p) => p % shard.count === shard.index);
}

/** What `runOne` gets besides the spec. */
export type RunContext = {
  /** The run's id. */
  id: string;
  /** Position of the run in the whole (unsharded) list. */
  position: number;
  /** Length of the whole list. */
  total: number;
  /** This process's shard, if sharded. */
  shard?: Shard;
  /** The sweep's logger, for progress inside a run. */
  log: (msg: string) => void;
};

/** Options of {@linkcode runSweep}. */
export type RunSweepOptions = {
  /** The whole sweep in canonical order (every shard must get the same list). */
  runs: RunSpec[];
  /** Results path, e.g. `out/balance.jsonl`; shards write next to it (see {@linkcode shardFile}). */
  out: string;
  /** This process's part of the sweep; default all of it. */
  shard?: Shard;
  /** Trains and evaluates one run. */
  runOne: (spec: RunSpec, ctx: RunContext) => Promise<RunResult>;
  /** Progress messages; default `console.error` (stdout stays free for the caller). */
  log?: (msg: string) => void;
  /** Host name stored in each record; default `Deno.hostname()` when permitted. */
  host?: string;
};

/** What {@linkcode runSweep} did. */
export type SweepSummary = {
  /** The file this process appended to. */
  file: string;
  /** Runs in the whole sweep. */
  total: number;
  /** Runs owned by this shard. */
  owned: number;
  /** Owned runs already recorded before this call (in any sibling file). */
  skipped: number;
  /** Runs finished and recorded by this call. */
  ran: number;
  /** Runs whose `runOne` threw or returned an invalid result; not recorded, so a rerun retries them. */
  failed: { id: string; error: string }[];
};

function defaultHost(): string | undefined {
  try {
    if (Deno.permissions.querySync({ name: "sys", kind: "hostname" }).state === "granted") {
      return Deno.hostname();
    }
  } catch {
    // No host is fine: it is informational only.
  }
  return undefined;
}

/**
 * Makes sure `file` ends at a line boundary before we append to it: a torn
 * last line (process killed mid-write, full disk) is cut off, since appending
 * after it would glue the next record onto garbage.
 */
async function repairTail(file: string, log: (msg: string) => void): Promise<Set<string>> {
  const parsed = await readResultsFile(file);
  for (const w of parsed.warnings) log(w);
  const valid = withValidIds(parsed.records, file, log);
  if (parsed.truncateTo !== undefined) {
    await Deno.truncate(file, parsed.truncateTo);
    log(`${file}: repaired, truncated to ${parsed.truncateTo} bytes`);
  } else if (parsed.records.length > 0) {
    // A complete record without its newline: finish the line.
    const bytes = await Deno.readFile(file);
    if (bytes.length > 0 && bytes[bytes.length - 1] !== 0x0a) await appendLine(file, "");
  }
  return new Set(valid.map((r) => r.id));
}

/**
 * One `write` of the whole line with O_APPEND, then fsync before returning,
 * so the record survives a crash once `runSweep` moves on. Partial writes
 * are retried, which only a full disk or a signal can cause on a regular file.
 */
async function appendLine(file: string, line: string): Promise<void> {
  const bytes = new TextEncoder().encode(line + "\n");
  const f = await Deno.open(file, { append: true, create: true });
  try {
    let off = 0;
    while (off < bytes.length) off += await f.write(bytes.subarray(off));
    await f.sync();
  } finally {
    f.close();
  }
}

function fmtSeconds(s: number): string {
  if (s < 120) return `${s.toFixed(1)} s`;
  if (s < 7200) return `${(s / 60).toFixed(1)} min`;
  return `${(s / 3600).toFixed(1)} h`;
}

/**
 * Runs every run of this shard not yet recorded, one at a time, appending a
 * {@linkcode RunRecord} line to the shard's file after each. Ids recorded in
 * `out` or any of its shard files are skipped, so a killed or failed sweep
 * is resumed by running the same command again. A run that throws is logged
 * and left unrecorded, and the sweep goes on; check `summary.failed`.
 *
 * @throws {ArbnetError} if two runs share an id (the same config twice).
 *
 * @example
 * ```ts ignore
 * import { balanceSweep, resolveShard, runSweep } from "./mod.ts";
 * const summary = await runSweep({
 *   runs: balanceSweep({ profile: "quick" }),
 *   out: "out/balance.jsonl",
 *   shard: resolveShard(),
 *   runOne: async (spec) => await train(spec),
 * });
 * if (summary.failed.length > 0) Deno.exit(1);
 * ```
 */
export async function runSweep(opts: RunSweepOptions): Promise<SweepSummary> {
  const log = opts.log ?? ((msg: string) => console.error(msg));
  const ids = opts.runs.map(runId);
  const firstAt = new Map<string, number>();
  ids.forEach((id, p) => {
    const prev = firstAt.get(id);
    if (prev !== undefined) {
      throw new ArbnetError(`runs ${prev} and ${p} have the same config (id ${id}); drop one`);
    }
    firstAt.set(id, p);
  });
  const file = shardFile(opts.out, opts.shard);
  const positions = shardRuns(ids.map((_, p) => p), opts.shard);
  await checkOutputFile(file, "results file");
  // One writer per results file: a second sweep on it would run the same runs again.
  await using _lock = await acquireLock(file, "results file", log);

  const done = await repairTail(file, log);
  for (const other of await siblingResultFiles(opts.out)) {
    if (other === file) continue;
    // Read-only: another shard may be appending to it right now.
    for (const rec of withValidIds((await readResultsFile(other)).records, other, log)) {
      done.add(rec.id);
    }
  }
  const todo = positions.filter((p) => !done.has(ids[p]));
  const summary: SweepSummary = {
    file,
    total: ids.length,
    owned: positions.length,
    skipped: positions.length - todo.length,
    ran: 0,
    failed: [],
  };
  const tag = opts.shard ? `[shard ${opts.shard.index}/${opts.shard.count}] ` : "";
  log(
    `${tag}${summary.owned} of ${summary.total} runs are this shard's; ${summary.skipped} already ` +
      `done, ${todo.length} to run → ${file}`,
  );
  const host = opts.host ?? defaultHost();
  let spent = 0;
  for (const [k, p] of todo.entries()) {
    const spec = opts.runs[p];
    const id = ids[p];
    const ctx: RunContext = { id, position: p, total: ids.length, shard: opts.shard, log };
    const startedAt = new Date();
    const t0 = performance.now();
    let result: RunResult;
    try {
      result = await opts.runOne(structuredClone(spec), ctx);
      const problem = resultProblem(result);
      if (problem) throw new ArbnetError(`runOne returned an invalid RunResult: ${problem}`);
    } catch (e) {
      const error = e instanceof Error ? e.message : String(e);
      summary.failed.push({ id, error });
      log(`${tag}run ${k + 1}/${todo.length} ${id} FAILED: ${error}`);
      continue;
    }
    const wallSeconds = (performance.now() - t0) / 1000;
    const record: RunRecord = {
      id,
      spec,
      result,
      startedAt: startedAt.toISOString(),
      finishedAt: new Date().toISOString(),
      wallSeconds,
      ...(host === undefined ? {} : { host }),
    };
    await appendLine(file, JSON.stringify(record));
    summary.ran++;
    spent += wallSeconds;
    const left = todo.length - k - 1;
    const eta = left > 0 ? `, ETA ~${fmtSeconds((spent / (k + 1)) * left)}` : "";
    log(
      `${tag}run ${k + 1}/${todo.length} ${id}: accuracy ${result.testAccuracy.toFixed(4)}, ` +
        `entropy ${result.entropy.network.toFixed(4)}, ${fmtSeconds(wallSeconds)}; ` +
        `${left} left${eta}`,
    );
  }
  if (summary.failed.length > 0) {
    log(`${tag}${summary.failed.length} run(s) failed; run the same command again to retry them`);
  }
  return summary;
}
