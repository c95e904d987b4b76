/**
 * The converged study: its design (grid, fresh seeds, contrasts, pilot), its
 * statistics (t quantiles, paired tests, TOST, Holm) against known answers,
 * the pilot's learning-rate rule, and the quick CI profile of the protocol
 * end to end: `deno task experiment study ci` trains for real (validation
 * split, best epoch selected, test read once), then `report` writes the
 * contrasts, cells and figures.
 * @module
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { RunRecord } from "../lib/experiment/mod.ts";
import { readResultsFile, writeReport } from "../lib/experiment/mod.ts";
import { holm, pairedTest, studentTQuantile, studentTUpperP } from "../lib/experiment/stats.ts";
import {
  ciStudyRuns,
  cnnConditions,
  PILOT_SEED,
  pilotRuns,
  STUDY_CONTRASTS,
  STUDY_LEARNING_RATES,
  STUDY_SEEDS,
  studyConditions,
  studyRuns,
} from "../lib/experiment/study.ts";
import {
  chooseLr,
  claimVerdict,
  pilotChoices,
  progressOf,
  studyBlocks,
  studyCells,
  studyContrasts,
} from "../lib/experiment/study_report.ts";
import {
  adjacentSteps,
  regimeInteractions,
  seriesTrends,
  studySeries,
} from "../lib/experiment/study_exploratory.ts";
import { runId } from "../lib/experiment/sweep.ts";

const ROOT = fileURLToPath(new URL("..", import.meta.url));

Deno.test("study design: 18 conditions, fresh seeds, contrasts name real conditions", () => {
  const conditions = studyConditions();
  assert.equal(conditions.length, 18);
  assert.equal(new Set(conditions.map((c) => c.key)).size, 18);
  // Seeds 1-3 were used by the one-epoch study: the main runs never reuse them or the pilot's.
  assert.ok(STUDY_SEEDS.length >= 4);
  assert.ok(STUDY_SEEDS.every((s) => s > 3 && s !== PILOT_SEED));
  const cnn = cnnConditions();
  assert.deepEqual(cnn.map((c) => c.key), ["cnn/q0", "cnn/q0.1", "cnn/q0.5", "cnn/q1"]);
  const keys = new Set([...conditions, ...cnn].map((c) => c.key));
  for (const c of STUDY_CONTRASTS) assert.ok(keys.has(c.a) && keys.has(c.b), c.key);
  // The MLP family is the six registered first; the CNN arm is a family of its own.
  assert.equal(STUDY_CONTRASTS.filter((c) => c.family === "mlp").length, 6);
  assert.deepEqual(STUDY_CONTRASTS.filter((c) => c.family === "cnn").map((c) => c.key), ["C1"]);
  const cnnMain = studyRuns(
    Object.fromEntries(cnn.map((c) => [c.key, 0.05])),
    STUDY_SEEDS,
    cnn,
  );
  assert.equal(cnnMain.length, 4 * STUDY_SEEDS.length);
  assert.ok(cnnMain.every((r) => r.arch === "cnn" && r.hash.family === "swap"));
  assert.equal(pilotRuns(cnn).length, 4 * 3);
  // Balance and noise sweep the first layer only; the output layer is the same everywhere.
  for (const c of conditions.filter((c) => c.experiment !== "reference")) {
    assert.deepEqual(c.outputHash, { family: "uniform", options: { sign: true } });
    assert.equal(c.outputTableFraction, 1 / 8);
  }
  const pilot = pilotRuns();
  assert.equal(pilot.length, 18 * 3);
  assert.ok(pilot.every((r) => r.seed === PILOT_SEED && r.onDivergence === "record"));
  const ids = new Set(pilot.map(runId));
  assert.equal(ids.size, pilot.length);
  assert.throws(() => studyRuns({}), /no learning rate for 18 condition/);
  const lrs = Object.fromEntries(conditions.map((c) => [c.key, 0.03]));
  const main = studyRuns(lrs);
  assert.equal(main.length, 18 * STUDY_SEEDS.length);
  assert.equal(new Set(main.map(runId)).size, main.length);
  // Seed outermost: a partial study holds whole seeds.
  assert.deepEqual(main.slice(0, 18).map((r) => r.seed), Array(18).fill(STUDY_SEEDS[0]));
  assert.ok(main.every((r) => r.validation === 6000 && r.epochs === 10 && r.batch === 50));
});

Deno.test("stats: t quantiles, paired test and TOST, Holm: known answers", () => {
  // Tables of Student's t.
  assert.ok(Math.abs(studentTQuantile(0.975, 4) - 2.7764451) < 1e-6);
  assert.ok(Math.abs(studentTQuantile(0.975, 1) - 12.7062047) < 1e-5);
  assert.ok(Math.abs(studentTQuantile(0.95, 10) - 1.8124611) < 1e-6);
  assert.ok(Math.abs(studentTQuantile(0.025, 4) + 2.7764451) < 1e-6);
  assert.ok(Math.abs(studentTUpperP(2.7764451, 4) - 0.025) < 1e-7);
  // d = [0.1, 0.3, 0.2, 0.25, 0.15]: mean 0.2, sd 0.0790569, t = 5.6569 on 4 df.
  const t = pairedTest([0.1, 0.3, 0.2, 0.25, 0.15], 0.2);
  assert.ok(Math.abs(t.mean - 0.2) < 1e-12);
  assert.ok(Math.abs(t.p - 0.0048127) < 1e-6, `p ${t.p}`);
  assert.ok(Math.abs(t.ci[0] - 0.1018378) < 1e-6 && Math.abs(t.ci[1] - 0.2981622) < 1e-6);
  // The mean sits on the margin: TOST p is exactly 1/2.
  assert.ok(Math.abs(t.tostP - 0.5) < 1e-9);
  // Small differences well inside ±0.2 are equivalent; huge ones are not.
  assert.ok(pairedTest([0.01, -0.02, 0.0, 0.015, -0.01], 0.2).tostP < 0.001);
  assert.ok(pairedTest([1, 1.1, 0.9], 0.2).tostP > 0.99);
  assert.deepEqual(holm([0.01, 0.04, 0.03, 0.005]), [0.03, 0.06, 0.06, 0.02]);
  const h = holm([0.5, NaN, 0.01]);
  assert.ok(Number.isNaN(h[1]));
  assert.deepEqual([h[0], h[2]], [0.5, 0.02]);
});

Deno.test("pilot rule: highest validation accuracy, ties to the smaller rate, divergence loses", () => {
  assert.equal(chooseLr([0.01, 0.03, 0.1], [0.9, 0.95, 0.94]), 1);
  assert.equal(chooseLr([0.01, 0.03, 0.1], [0.95, 0.95, 0.94]), 0);
  assert.equal(chooseLr([0.01, 0.03, 0.1], [0.9, NaN, -1]), 0);
  assert.equal(chooseLr([0.01], [NaN]), -1);
  const rec = (lr: number, acc: number, diverged = false) =>
    ({
      spec: { condition: "balance/a0.01/r8", lr, seed: PILOT_SEED },
      result: { validationAccuracy: acc, diverged },
    }) as unknown as RunRecord;
  assert.deepEqual(pilotChoices([rec(0.1, 0, true), rec(0.03, 0.96), rec(0.01, 0.95)]), {
    "balance/a0.01/r8": 0.03,
  });
});

Deno.test("contrasts: paired by seed, Holm across contrasts, verdicts by the registered rule", () => {
  const rec = (condition: string, seed: number, acc: number) =>
    ({
      spec: { condition, seed, lr: 0.03 },
      result: { testAccuracy: acc, entropy: { network: 1, layers: [1, 1] } },
    }) as unknown as RunRecord;
  const seeds = [101, 102, 103, 104, 105];
  const records = seeds.flatMap((s, i) => [
    // B1-r8: α = 0.1 beats 0.01 by about 2 points in every seed (supported).
    rec("balance/a0.01/r8", s, 0.95 + i * 0.001),
    rec("balance/a0.1/r8", s, 0.97 + i * 0.0012),
    // B2-r8: α = 100 equals α = 0.1 within ±0.02 points (absent within the margin).
    rec("balance/a100/r8", s, 0.97 + i * 0.0012 + (i % 2 ? 1e-4 : -1e-4)),
    // N1-r8: q = 1 beats q = 0 by 1 point (contradicts the paper's determinism claim).
    rec("noise/q0/r8", s, 0.96 + i * 0.001),
    rec("noise/q1/r8", s, 0.97 + i * 0.001 + (i % 2 ? 5e-4 : -5e-4)),
  ]);
  const out = studyContrasts(studyCells(records));
  const by = Object.fromEntries(out.map((r) => [r.key, r]));
  assert.equal(by["B1-r8"].verdict, "supported");
  assert.ok(by["B1-r8"].test!.ci[0] > 1.5 && by["B1-r8"].test!.ci[1] < 2.5);
  assert.equal(by["B2-r8"].verdict, "absent (within ±0.2 points)");
  assert.equal(by["N1-r8"].verdict, "contradicted");
  assert.equal(by["B1-r64"].verdict, "not run yet");
  assert.equal(claimVerdict(out, "balance"), "not run yet");
  // Five conditions of the MLP arm have runs: its 18 conditions × 5 seeds are planned.
  assert.deepEqual(progressOf(records), { done: 25, planned: 90 });
  const ran = out.filter((r) => r.test);
  assert.equal(claimVerdict(ran, "balance"), "supported");
  assert.equal(claimVerdict(ran, "noise"), "contradicted");
  assert.equal(claimVerdict([...ran, { ...ran[2], claim: "balance" }], "balance"), "mixed");
  // Holm over the three contrasts that ran: adjusted p is at least the raw p.
  for (const r of out.filter((r) => r.test)) assert.ok(r.holmP >= r.test!.p);
});

Deno.test({
  name: "study ci: the protocol end to end (train with validation, select, test once, report)",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const dir = await Deno.makeTempDir({ prefix: "arbnet-study-" });
    try {
      const out = join(dir, "ci.jsonl");
      const run = async (args: string[]) => {
        const r = await new Deno.Command(Deno.execPath(), {
          args: ["run", "-A", "--lock=locks/test.lock", "scripts/experiment.ts", ...args],
          cwd: ROOT,
          env: { SLURM_ARRAY_TASK_ID: "", JOB_COMPLETION_INDEX: "" },
          stdout: "piped",
          stderr: "piped",
        }).output();
        const text = new TextDecoder().decode(r.stdout) + new TextDecoder().decode(r.stderr);
        assert.equal(r.code, 0, text);
        return text;
      };
      await run(["study", "ci", "--out", out]);
      const { records } = await readResultsFile(out);
      assert.equal(records.length, ciStudyRuns().length);
      for (const r of records) {
        const res = r.result;
        assert.equal(res.trainExamples, 1000);
        assert.equal(res.validationExamples, 200);
        assert.equal(res.testExamples, 500);
        assert.ok([1, 2].includes(res.selectedEpoch as number), `${r.id}: ${res.selectedEpoch}`);
        // The curve is on validation; the test set appears only in the final result.
        assert.ok(res.history!.every((e) => "validationAccuracy" in e && !("testAccuracy" in e)));
        const best = Math.max(...res.history!.map((e) => e.validationAccuracy as number));
        assert.equal(res.validationAccuracy, best);
        assert.equal(
          res.history![(res.selectedEpoch as number) - 1].validationAccuracy,
          best,
        );
        assert.match(
          String((res.code as { commit?: string } | null)?.commit ?? "none"),
          /^[0-9a-f]{40}$|^none$/,
        );
      }
      // Swap noise keeps the first layer's entropy exactly; the output layers are identical.
      const seed1 = records.filter((r) => r.spec.seed === 1);
      const noise = seed1.filter((r) => r.spec.experiment === "noise");
      assert.equal(noise.length, 2);
      assert.equal(noise[0].result.entropy.layers[0], noise[1].result.entropy.layers[0]);
      assert.equal(
        new Set(seed1.map((r) => r.result.entropy.layers[1])).size,
        1,
        "the output layer differs between conditions",
      );
      const report = join(dir, "report");
      // Prose with marked blocks gets the report's tables, the text around them kept.
      const doc = join(dir, "results.md");
      const prose = "# Results\n\nBefore.\n\n<!-- report:ci-contrasts -->\nstale\n" +
        "<!-- /report:ci-contrasts -->\n\nAfter.\n";
      await Deno.writeTextFile(doc, prose);
      const said = await run(["report", out, "--out", report, "--splice", doc]);
      assert.match(said, /tables written into .*results\.md/);
      const spliced = await Deno.readTextFile(doc);
      assert.match(
        spliced,
        /^# Results\n\nBefore\.\n\n<!-- report:ci-contrasts -->\n<!-- deno-fmt-ignore-start -->\n\n\| contrast \|/,
      );
      assert.match(spliced, /\| N1-r8 \| noise \| .* \| 2 \|/);
      assert.match(
        spliced,
        /Claims: balance .*\n\n<!-- deno-fmt-ignore-end -->\n<!-- \/report:ci-contrasts -->\n\nAfter\.\n$/,
      );
      assert.doesNotMatch(spliced, /stale/);
      const md = await Deno.readTextFile(join(report, "report.md"));
      assert.match(md, /## Converged study: ci/);
      assert.match(md, /\| N1-r8 \| noise \| .* \| 2 \|/);
      assert.match(md, /\| noise\/q0\/r8 \| 0.05 \| 2 \|/);
      for (const f of ["study-ci-balance.png", "study-ci-noise.svg", "study-ci-curves.png"]) {
        assert.ok((await Deno.stat(join(report, f))).size > 0, f);
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test("the registered learning rates are the pilot rule applied to the committed pilot results", async () => {
  const results = join(ROOT, "docs/results/converged");
  const pilot: RunRecord[] = [];
  // A missing file reads as no records (the CNN pilot may not have run).
  for (const name of ["pilot.jsonl", "cnn-pilot.jsonl"]) {
    pilot.push(...(await readResultsFile(join(results, name))).records);
  }
  const chosen = pilotChoices(pilot.filter((r) => r.spec.profile === "pilot"));
  // Every registered rate is the rule's choice; a condition the pilot has not
  // finished is not registered.
  for (const [condition, lr] of Object.entries(STUDY_LEARNING_RATES)) {
    assert.equal(chosen[condition], lr, condition);
  }
  for (const c of [...studyConditions(), ...cnnConditions()]) {
    assert.ok(c.key in STUDY_LEARNING_RATES, c.key);
  }
});

Deno.test("study blocks: while runs are missing, estimates without verdicts", () => {
  const rec = (condition: string, seed: number, acc: number) =>
    ({
      spec: { condition, seed, lr: 0.03, profile: "converged" },
      result: { testAccuracy: acc, entropy: { network: 1, layers: [1, 1] } },
    }) as unknown as RunRecord;
  // Two seeds of B1-r8's conditions: an estimate, 2 of 90 MLP runs per condition.
  const records = [101, 102].flatMap((s, i) => [
    rec("balance/a0.01/r8", s, 0.95 + i * 0.001),
    rec("balance/a0.1/r8", s, 0.97 + i * 0.002),
  ]);
  const blocks = studyBlocks("converged", records);
  const text = blocks.contrasts.join("\n");
  assert.match(text, /\*\*Interim\*\*: 4 of the 90 registered runs of the MLP arm are in/);
  assert.match(text, /\| B1-r8 \| balance \| .* \| 2 \| 2\.050 \| .* \| \(interim\) \|/);
  assert.doesNotMatch(text, /\*\*(supported|contradicted|absent|inconclusive)\*\*/);
  assert.match(
    text,
    /Claims: balance no verdict while runs are missing, determinism \(noise\) no verdict while runs are missing, CNN sharing \*\*not run yet\*\*\./,
  );
  // The stopping rule is per arm: with all 20 CNN runs in, C1 gets its verdict
  // while the MLP arm's contrasts stay interim.
  const cnn = [101, 102, 103, 104, 105].flatMap((s, i) =>
    ["cnn/q0", "cnn/q0.1", "cnn/q0.5", "cnn/q1"].map((c, k) =>
      rec(c, s, 0.98 - 0.01 * k + 0.001 * (i % 2))
    )
  );
  const both = studyBlocks("converged", [...records, ...cnn]).contrasts.join("\n");
  assert.match(both, /\*\*Interim\*\*: 4 of the 90 registered runs of the MLP arm are in\. /);
  assert.match(both, /\| C1 \| cnn \| .* \| 5 \| -3\.000 \| .* \| \*\*supported\*\* \|/);
  assert.match(both, /\| B1-r8 \| .* \| \(interim\) \|/);
  assert.match(
    both,
    /determinism \(noise\) no verdict while runs are missing, CNN sharing \*\*supported\*\*\./,
  );
  // The CI profile is never interim: its verdicts show (its numbers mean nothing anyway).
  assert.match(studyBlocks("ci", records).contrasts.join("\n"), /\*\*(inconclusive|supported)\*\*/);
});

Deno.test("exploratory: within-seed trends, adjacent steps and the regime interaction, known answers", () => {
  const rec = (condition: string, seed: number, acc: number) =>
    ({
      spec: { condition, seed, lr: 0.1, profile: "converged" },
      result: { testAccuracy: acc, entropy: { network: 1, layers: [1, 1] } },
    }) as unknown as RunRecord;
  const seeds = [101, 102, 103];
  const alphas = [0.01, 0.1, 1, 100];
  const records = seeds.flatMap((s, i) => [
    // Balance r8: +1 point per step, the same in every seed but for a seed offset.
    ...alphas.map((a, k) => rec(`balance/a${a}/r8`, s, 0.9 + 0.01 * k + 0.001 * i)),
    // Balance r64: +2 points per step, so each contrast is 1 point (per step) larger than at r8.
    ...alphas.map((a, k) => rec(`balance/a${a}/r64`, s, 0.8 + 0.02 * k + 0.002 * i)),
    // CNN: falls at every step in seeds 101 and 103; seed 102 rises from q = 0.5 to 1.
    ...[0, 0.1, 0.5, 1].map((q, k) =>
      rec(`cnn/q${q}`, s, 0.98 - 0.01 * k + (i === 1 && k === 3 ? 0.015 : 0))
    ),
  ]);
  const cells = studyCells(records);
  const series = studySeries().map((x) => x.name);
  assert.deepEqual(series, ["balance r8", "noise r8", "balance r64", "noise r64", "cnn"]);

  const trends = Object.fromEntries(seriesTrends(cells).map((t) => [t.series.name, t]));
  assert.deepEqual(Object.keys(trends), ["balance r8", "balance r64", "cnn"]);
  assert.deepEqual(trends["balance r8"].perSeed, [1, 1, 1]);
  // Seed 102's CNN accuracies rank 3, 2, 0.5 → 1.5: ρ = −0.8 (ties broken by mean ranks).
  assert.deepEqual(trends["cnn"].perSeed.map((r) => Math.round(r * 100) / 100), [-1, -0.8, -1]);

  const steps = adjacentSteps(cells);
  assert.equal(steps.length, 9);
  const b8 = steps.filter((s) => s.series.name === "balance r8");
  assert.deepEqual(b8.map((s) => [s.from, s.to]), [[0.01, 0.1], [0.1, 1], [1, 100]]);
  for (const s of b8) assert.ok(Math.abs(s.test.mean - 1) < 1e-9 && s.test.n === 3);

  const inter = regimeInteractions(cells);
  // B1 and B2 have both regimes; N1 has no noise runs, so it is left out.
  assert.deepEqual(inter.map((r) => r.kind), ["B1", "B2"]);
  // B2 spans two steps (α = 0.1 → 100): 4 points at r64 against 2 at r8.
  assert.ok(Math.abs(inter[0].test.mean - 1) < 1e-9, String(inter[0].test.mean));
  assert.ok(Math.abs(inter[1].test.mean - 2) < 1e-9, String(inter[1].test.mean));
});

Deno.test("docs/results.md carries the tables the report computes from the committed results", async () => {
  const doc = join(ROOT, "docs/results.md");
  const text = await Deno.readTextFile(doc);
  const dir = await Deno.makeTempDir({ prefix: "arbnet-results-doc-" });
  try {
    const copy = join(dir, "results.md");
    await Deno.writeTextFile(copy, text);
    await writeReport({
      inputs: [join(ROOT, "docs/results/converged")],
      outDir: dir,
      plots: false,
      splice: [copy],
      log: () => {},
    });
    // Regenerating the blocks from the raw results changes nothing: the
    // numbers in results.md are the committed runs' (run the report with
    // --splice docs/results.md after adding results).
    assert.equal(await Deno.readTextFile(copy), text);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
