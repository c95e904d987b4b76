import assert from "node:assert/strict";
import { join } from "node:path";
import { ArbnetError } from "../lib/errors.ts";
import {
  balanceSweep,
  noiseSweep,
  parseResults,
  readResults,
  readResultsFile,
  resolveShard,
  type RunContext,
  runId,
  type RunResult,
  type RunSpec,
  runSweep,
  shardFile,
  shardRuns,
} from "../lib/experiment/mod.ts";

function fakeResult(spec: RunSpec): RunResult {
  return {
    testAccuracy: 0.9 + 0.01 * spec.sparsity,
    entropy: { network: 0.95, layers: [0.95, 1] },
    trainSeconds: 0.001,
    epochs: spec.epochs,
  };
}

async function lines(path: string): Promise<string[]> {
  return (await Deno.readTextFile(path)).split("\n").filter((l) => l !== "");
}

function idsOf(ls: string[]): string[] {
  return ls.map((l) => JSON.parse(l).id);
}

const quiet = () => {};

Deno.test("resume: finished runs are skipped, failed ones retried, nothing duplicated", async () => {
  const dir = await Deno.makeTempDir();
  const out = join(dir, "not", "yet", "balance.jsonl");
  const runs = balanceSweep({ profile: "quick" });
  const all = runs.map(runId);

  // First attempt: runs after the 5th fail (as a crash would leave them: unrecorded).
  let calls = 0;
  const first = await runSweep({
    runs,
    out,
    log: quiet,
    runOne: (spec, ctx: RunContext) => {
      assert.equal(ctx.id, runId(spec));
      assert.equal(ctx.total, 16);
      if (++calls > 5) return Promise.reject(new Error("GPU lost"));
      return Promise.resolve(fakeResult(spec));
    },
  });
  assert.equal(first.ran, 5);
  assert.equal(first.failed.length, 11);
  assert.match(first.failed[0].error, /GPU lost/);
  assert.deepEqual(idsOf(await lines(out)), all.slice(0, 5));

  const rec = JSON.parse((await lines(out))[0]);
  assert.deepEqual(rec.spec, runs[0]);
  assert.equal(rec.result.testAccuracy, 0.9);
  assert.ok(rec.wallSeconds >= 0 && Date.parse(rec.finishedAt) >= Date.parse(rec.startedAt));

  const seen: string[] = [];
  const second = await runSweep({
    runs,
    out,
    log: quiet,
    runOne: (spec) => {
      seen.push(runId(spec));
      return Promise.resolve(fakeResult(spec));
    },
  });
  assert.deepEqual(seen, all.slice(5));
  assert.equal(second.skipped, 5);
  assert.equal(second.ran, 11);
  assert.deepEqual(idsOf(await lines(out)), all);

  const third = await runSweep({
    runs,
    out,
    log: quiet,
    runOne: () => Promise.reject(new Error("must not run")),
  });
  assert.equal(third.ran, 0);
  assert.equal(third.skipped, 16);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("resume: a torn trailing line is reported, cut off, and its run redone", async () => {
  const dir = await Deno.makeTempDir();
  const out = join(dir, "noise.jsonl");
  const runs = noiseSweep({ radii: [0, 1, 2], sparsities: [0], seeds: 1 });
  let n = 0;
  await runSweep({
    runs,
    out,
    log: quiet,
    runOne: (spec) =>
      ++n > 2 ? Promise.reject(new Error("killed")) : Promise.resolve(fakeResult(spec)),
  });
  const torn = JSON.stringify({ id: runId(runs[2]), spec: runs[2] }).slice(0, 30);
  await Deno.writeTextFile(out, torn, { append: true });

  const before = await readResultsFile(out);
  assert.equal(before.records.length, 2);
  assert.match(before.warnings.join("\n"), /partial last line of 30 bytes/);

  const logs: string[] = [];
  const summary = await runSweep({
    runs,
    out,
    log: (m) => logs.push(m),
    runOne: (spec) => Promise.resolve(fakeResult(spec)),
  });
  assert.equal(summary.ran, 1);
  assert.match(logs.join("\n"), /partial last line/);
  assert.match(logs.join("\n"), /repaired/);
  const ls = await lines(out);
  assert.deepEqual(idsOf(ls), runs.map(runId));
  assert.ok((await Deno.readTextFile(out)).endsWith("}\n"));
  await Deno.remove(dir, { recursive: true });
});

Deno.test("parseResults: skips junk lines, keeps a whole last record missing its newline", () => {
  const rec = (id: string) =>
    JSON.stringify({ id, spec: { seed: 1 }, result: fakeResult(balanceSweep()[0]) });
  const enc = new TextEncoder();
  const p = parseResults(enc.encode(`${rec("a")}\nnot json\n{"id":"x"}\n\n${rec("b")}`), "f");
  assert.deepEqual(p.records.map((r) => r.id), ["a", "b"]);
  assert.equal(p.truncateTo, undefined);
  assert.equal(p.warnings.length, 2);
  assert.match(p.warnings[0], /^f:2: skipped line \(not valid JSON\)/);
  assert.match(p.warnings[1], /^f:3: skipped line \(no spec\)/);
  const torn = parseResults(enc.encode(`${rec("a")}\n${rec("b").slice(0, 10)}`));
  assert.equal(torn.truncateTo, rec("a").length + 1);
});

Deno.test("runSweep refuses duplicate configs and does not record invalid results", async () => {
  const dir = await Deno.makeTempDir();
  const out = join(dir, "r.jsonl");
  const runs = balanceSweep({ alphas: [1], sparsities: [0], seeds: 1 });
  await assert.rejects(
    () => runSweep({ runs: [...runs, ...runs], out, log: quiet, runOne: () => Promise.reject() }),
    (e: Error) => e instanceof ArbnetError && /same config/.test(e.message),
  );
  const bad = await runSweep({
    runs,
    out,
    log: quiet,
    runOne: () => Promise.resolve({ ...fakeResult(runs[0]), testAccuracy: 97.5 }),
  });
  assert.equal(bad.ran, 0);
  assert.match(bad.failed[0].error, /invalid RunResult: testAccuracy 97.5/);
  assert.equal((await readResultsFile(out)).records.length, 0);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("shards: disjoint, their union is the sweep, strided by position", () => {
  const runs = balanceSweep({ profile: "full" });
  for (const count of [1, 2, 3, 5, 54, 60]) {
    const parts = Array.from({ length: count }, (_, index) => shardRuns(runs, { index, count }));
    const ids = parts.flat().map(runId);
    assert.equal(ids.length, runs.length);
    assert.deepEqual(new Set(ids), new Set(runs.map(runId)));
    assert.ok(parts.every((p) => Math.abs(p.length - runs.length / count) < 1));
  }
  assert.deepEqual(shardRuns([0, 1, 2, 3, 4, 5, 6], { index: 1, count: 3 }), [1, 4]);
  assert.throws(() => shardRuns(runs, { index: 3, count: 3 }), /\[0, 2\]/);
});

Deno.test("shards write their own files; merge and a re-sharded rerun see all of them", async () => {
  const dir = await Deno.makeTempDir();
  const out = join(dir, "balance.jsonl");
  const runs = balanceSweep({ profile: "quick" });
  assert.equal(shardFile(out, { index: 1, count: 3 }), join(dir, "balance.shard-1-of-3.jsonl"));
  assert.equal(shardFile(out, { index: 0, count: 1 }), out);
  // Concurrent, as on a cluster.
  await Promise.all([0, 1, 2].map((index) =>
    runSweep({
      runs,
      out,
      shard: { index, count: 3 },
      log: quiet,
      runOne: (spec) => Promise.resolve(fakeResult(spec)),
    })
  ));
  const names = [...Deno.readDirSync(dir)].map((e) => e.name).sort();
  assert.deepEqual(names, [0, 1, 2].map((i) => `balance.shard-${i}-of-3.jsonl`));
  const merged = await readResults([dir]);
  assert.equal(merged.records.length, 16);
  assert.deepEqual(merged.warnings, []);
  // Now 2 shards: everything already done, whichever file holds it.
  for (const index of [0, 1]) {
    const s = await runSweep({
      runs,
      out,
      shard: { index, count: 2 },
      log: quiet,
      runOne: () => Promise.reject(new Error("must not run")),
    });
    assert.equal(s.ran + s.failed.length, 0);
    assert.equal(s.skipped, 8);
  }
  // Two files holding one id: merged once, with a warning naming both.
  const copy = (await lines(join(dir, "balance.shard-0-of-3.jsonl")))[0];
  await Deno.writeTextFile(join(dir, "extra.jsonl"), copy + "\n");
  const again = await readResults([join(dir, "*.jsonl")]);
  assert.equal(again.records.length, 16);
  assert.equal(again.warnings.length, 1);
  assert.match(again.warnings[0], /recorded 2 times .*extra\.jsonl/);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("resolveShard: --shard flag", () => {
  const none = new Map<string, string>();
  assert.equal(resolveShard(undefined, none), undefined);
  assert.deepEqual(resolveShard("0/4", none), { index: 0, count: 4 });
  assert.deepEqual(resolveShard(" 3 / 4 ", none), { index: 3, count: 4 });
  assert.throws(() => resolveShard("4/4", none), /invalid --shard.*\[0, 3\]/);
  assert.throws(() => resolveShard("1", none), /invalid --shard: "1".*i\/n/);
  assert.throws(() => resolveShard("-1/4", none), /invalid --shard/);
  assert.throws(() => resolveShard("a/b", none), /invalid --shard/);
  assert.throws(() => resolveShard("0/0", none), /invalid --shard.*count 0/);
  // The flag wins over the environment.
  const slurm = new Map([["SLURM_ARRAY_TASK_ID", "1"], ["SLURM_ARRAY_TASK_COUNT", "2"]]);
  assert.deepEqual(resolveShard("0/3", slurm), { index: 0, count: 3 });
});

Deno.test("resolveShard: SLURM arrays, 0- or 1-based, with steps", () => {
  const env = (o: Record<string, string>) => new Map(Object.entries(o));
  const T = "SLURM_ARRAY_TASK_";
  assert.deepEqual(resolveShard(undefined, env({ [`${T}ID`]: "3", [`${T}COUNT`]: "4" })), {
    index: 3,
    count: 4,
  });
  // sbatch --array=1-4
  assert.deepEqual(
    resolveShard(undefined, env({ [`${T}ID`]: "4", [`${T}COUNT`]: "4", [`${T}MIN`]: "1" })),
    { index: 3, count: 4 },
  );
  // sbatch --array=0-6:2
  assert.deepEqual(
    resolveShard(
      undefined,
      env({ [`${T}ID`]: "6", [`${T}COUNT`]: "4", [`${T}MIN`]: "0", [`${T}STEP`]: "2" }),
    ),
    { index: 3, count: 4 },
  );
  assert.throws(
    () => resolveShard(undefined, env({ [`${T}ID`]: "5", [`${T}COUNT`]: "4", [`${T}MIN`]: "1" })),
    /invalid SLURM_ARRAY_TASK_ID: "5" \(expected an integer in \[1, 4\]/,
  );
  assert.throws(
    () => resolveShard(undefined, env({ [`${T}ID`]: "x", [`${T}COUNT`]: "4" })),
    /invalid SLURM_ARRAY_TASK_ID: "x"/,
  );
  assert.throws(
    () => resolveShard(undefined, env({ [`${T}ID`]: "1", [`${T}COUNT`]: "four" })),
    /invalid SLURM_ARRAY_TASK_COUNT: "four"/,
  );
  assert.throws(
    () => resolveShard(undefined, env({ [`${T}ID`]: "1" })),
    /SLURM_ARRAY_TASK_COUNT is not/,
  );
  assert.throws(
    () => resolveShard(undefined, env({ [`${T}ID`]: "1", [`${T}COUNT`]: "2", [`${T}MIN`]: "-1" })),
    /invalid SLURM_ARRAY_TASK_MIN/,
  );
});

Deno.test("resolveShard: Kubernetes JOB_COMPLETION_INDEX with ARBNET_SHARD_COUNT", () => {
  const env = (o: Record<string, string>) => new Map(Object.entries(o));
  assert.deepEqual(
    resolveShard(undefined, env({ JOB_COMPLETION_INDEX: "2", ARBNET_SHARD_COUNT: "5" })),
    { index: 2, count: 5 },
  );
  assert.throws(
    () => resolveShard(undefined, env({ JOB_COMPLETION_INDEX: "2" })),
    /ARBNET_SHARD_COUNT is not/,
  );
  assert.throws(
    () => resolveShard(undefined, env({ JOB_COMPLETION_INDEX: "5", ARBNET_SHARD_COUNT: "5" })),
    /invalid JOB_COMPLETION_INDEX.*\[0, 4\]/,
  );
  assert.throws(
    () => resolveShard(undefined, env({ JOB_COMPLETION_INDEX: "1.5", ARBNET_SHARD_COUNT: "5" })),
    /invalid JOB_COMPLETION_INDEX: "1.5"/,
  );
  assert.throws(
    () => resolveShard(undefined, env({ JOB_COMPLETION_INDEX: "0", ARBNET_SHARD_COUNT: "0" })),
    /invalid ARBNET_SHARD_COUNT/,
  );
  // Default source is the real environment.
  assert.equal(resolveShard("1/2")?.index, 1);
});

Deno.test("kill test: SIGKILL mid-sweep, restart, every run recorded exactly once", async () => {
  const dir = await Deno.makeTempDir();
  const out = join(dir, "killed.jsonl");
  const script = new URL("./fixtures/experiment/kill_sweep.ts", import.meta.url).pathname;
  // The sweep's npm packages (plots) are in the tests' lockfile, not the library's.
  const TEST_LOCK = new URL("../locks/test.lock", import.meta.url).pathname;
  const cmd = () =>
    new Deno.Command(Deno.execPath(), {
      // `ps` tells the restarted sweep that the killed one's lock is stale.
      args: [
        ...["run", "--no-prompt", "--allow-read", `--allow-write=${dir}`, "--allow-run=ps"],
        ...[`--lock=${TEST_LOCK}`, script, out],
      ],
      stdout: "piped",
      stderr: "piped",
    });
  const expected = noiseSweep({
    profile: "quick",
    radii: [0, 1, 2, 3, 4, 5, 6, 7],
    sparsities: [0],
    seeds: 1,
  }).map(runId);

  const child = cmd().spawn();
  const deadline = Date.now() + 30_000;
  let count = 0;
  while (count < 2) {
    assert.ok(Date.now() < deadline, "the sweep wrote fewer than 2 results in 30 s");
    await new Promise((r) => setTimeout(r, 20));
    try {
      count = (await lines(out)).length;
    } catch {
      count = 0;
    }
  }
  child.kill("SIGKILL");
  const killed = await child.output();
  assert.equal(killed.signal, "SIGKILL");
  const partial = await lines(out);
  assert.ok(partial.length >= 2 && partial.length < 8, `${partial.length} results at kill`);
  assert.deepEqual(idsOf(partial), expected.slice(0, partial.length));
  // What a kill during a write could leave behind.
  await Deno.writeTextFile(out, `{"id":"${expected[partial.length]}","spec":{`, { append: true });

  const rerun = await cmd().output();
  const stderr = new TextDecoder().decode(rerun.stderr);
  assert.ok(rerun.success, stderr);
  assert.match(stderr, /partial last line/);
  const summary = JSON.parse(new TextDecoder().decode(rerun.stdout));
  assert.equal(summary.skipped, partial.length);
  assert.equal(summary.ran, 8 - partial.length);
  const final = idsOf(await lines(out));
  assert.equal(final.length, 8);
  assert.deepEqual([...final].sort(), [...expected].sort());
  await Deno.remove(dir, { recursive: true });
});

Deno.test("codeVersion: results files appended to do not make the checkout dirty; code does", async () => {
  const dir = await Deno.makeTempDir({ prefix: "arbnet-code-" });
  const git = (...args: string[]) =>
    new Deno.Command("git", { args, cwd: dir, stdout: "null", stderr: "null" }).output();
  const version = async () => {
    const url = new URL("../lib/experiment/train_run.ts", import.meta.url).href;
    const out = await new Deno.Command(Deno.execPath(), {
      args: [
        "eval",
        `const m = await import(${
          JSON.stringify(url)
        }); console.log(JSON.stringify(await m.codeVersion()));`,
      ],
      cwd: dir,
      stdout: "piped",
      stderr: "inherit",
    }).output();
    return JSON.parse(new TextDecoder().decode(out.stdout));
  };
  try {
    await git("init", "-q");
    await Deno.writeTextFile(join(dir, "a.ts"), "export const a = 1;\n");
    await Deno.writeTextFile(join(dir, "r.jsonl"), "{}\n");
    await git("add", ".");
    await git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "x");
    assert.equal((await version()).dirty, false);
    await Deno.writeTextFile(join(dir, "r.jsonl"), "{}\n{}\n");
    assert.equal((await version()).dirty, false, "an appended results file");
    await Deno.writeTextFile(join(dir, "a.ts"), "export const a = 2;\n");
    assert.equal((await version()).dirty, true, "changed code");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
