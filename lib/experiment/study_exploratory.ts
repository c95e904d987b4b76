/**
 * The converged study's exploratory analyses, the ones docs/preregistration.md
 * lists as "reported, labelled exploratory, not used for verdicts": the trend
 * over every level of an axis, each step between adjacent levels (the
 * intermediate points), and the regime × hash interaction. Everything is
 * paired by seed, as the registered contrasts are, and nothing is corrected
 * for multiplicity: these tables suggest, they do not decide.
 *
 * Owns: the exploratory tables and the pairing by seed. Imports `./stats.ts`, `./study.ts`,
 * `./format.ts`, and the cell type of `./study_report.ts`.
 * @module
 */

import { fixed as f, pValue as p } from "./format.ts";
import { mean, type PairedTest, pairedTest, spearman } from "./stats.ts";
import {
  cnnConditions,
  EQUIVALENCE_MARGIN,
  STUDY_CONTRASTS,
  STUDY_REGIMES,
  studyConditions,
} from "./study.ts";
import type { StudyCell } from "./study_report.ts";

/** One axis swept within one regime (or the CNN arm), its conditions in level order. */
export type StudySeries = {
  /** Short name, e.g. `balance r8`, `cnn`. */
  name: string;
  /** What the levels are, e.g. `α`, `q`. */
  symbol: string;
  /** Condition keys, in increasing level. */
  conditions: string[];
  /** The swept values, in the same order. */
  levels: number[];
};

/** The swept series of the design: balance and noise per regime, then the CNN arm. */
export function studySeries(): StudySeries[] {
  const all = [...studyConditions(), ...cnnConditions()];
  const out: StudySeries[] = [];
  for (const r of STUDY_REGIMES) {
    for (const [experiment, symbol] of [["balance", "α"], ["noise", "q"]] as const) {
      const cs = all.filter((c) => c.experiment === experiment && c.regime === r.key);
      out.push({
        name: `${experiment} ${r.key}`,
        symbol,
        conditions: cs.map((c) => c.key),
        levels: cs.map((c) => c.point),
      });
    }
  }
  const cnn = all.filter((c) => c.experiment === "cnn");
  out.push({
    name: "cnn",
    symbol: "q",
    conditions: cnn.map((c) => c.key),
    levels: cnn.map((c) => c.point),
  });
  return out;
}

/** The seeds that ran in every one of `cells`, ascending. */
function commonSeeds(cells: readonly StudyCell[]): number[] {
  if (cells.length === 0) return [];
  return [...cells[0].bySeed.keys()].filter((s) => cells.every((c) => c.bySeed.has(s)))
    .sort((a, b) => a - b);
}

/** A series' trend: within each seed, Spearman's ρ of accuracy over the levels. */
export type TrendResult = {
  /** The series. */
  series: StudySeries;
  /** ρ of each seed that ran every level, in seed order. */
  perSeed: number[];
  /** Their mean. No interval: ρ over 4 levels takes a few bounded values, so the seeds are shown. */
  mean: number;
};

/** One step between adjacent levels of a series, paired by seed. */
export type StepResult = {
  /** The series. */
  series: StudySeries;
  /** Lower and higher level. */
  from: number;
  /** Higher level. */
  to: number;
  /** Paired test of `accuracy(to) − accuracy(from)` in points. */
  test: PairedTest;
};

/** A registered contrast's difference between the two regimes, paired by seed. */
export type InteractionResult = {
  /** Contrast kind, e.g. `B1`. */
  kind: string;
  /** Paired test of `contrast(r64) − contrast(r8)` in points. */
  test: PairedTest;
};

/**
 * Per series, the mean over seeds of the within-seed rank correlation of
 * accuracy with the level. Within a seed the levels share the hash seed,
 * initial tables and batch order, so each seed gives one ρ; the seeds are
 * the independent replicates (unlike a pooled ρ over every run).
 */
export function seriesTrends(cells: readonly StudyCell[]): TrendResult[] {
  const out: TrendResult[] = [];
  for (const series of studySeries()) {
    const cs = series.conditions.map((k) => cells.find((c) => c.condition === k));
    if (cs.some((c) => c === undefined)) continue;
    const present = cs as StudyCell[];
    const perSeed = commonSeeds(present).map((s) =>
      spearman(series.levels, present.map((c) => c.bySeed.get(s)!)).rho
    );
    if (perSeed.length === 0) continue;
    out.push({ series, perSeed, mean: mean(perSeed) });
  }
  return out;
}

/**
 * The paired test of `accuracy(b) − accuracy(a)` in points over the seeds
 * both cells ran, with the study's equivalence margin; undefined when a cell
 * is missing or fewer than two seeds pair up. The registered contrasts
 * (`./study_report.ts`) pair the same way.
 */
export function pairedBySeed(
  a: StudyCell | undefined,
  b: StudyCell | undefined,
): PairedTest | undefined {
  if (!a || !b) return undefined;
  const seeds = commonSeeds([a, b]);
  if (seeds.length < 2) return undefined;
  return pairedTest(seeds.map((s) => b.bySeed.get(s)! - a.bySeed.get(s)!), EQUIVALENCE_MARGIN);
}

/** Every step between adjacent levels of every series that has both ends with two seeds or more. */
export function adjacentSteps(cells: readonly StudyCell[]): StepResult[] {
  const cell = (k: string) => cells.find((c) => c.condition === k);
  return studySeries().flatMap((series) =>
    series.conditions.slice(1).flatMap((k, i) => {
      const test = pairedBySeed(cell(series.conditions[i]), cell(k));
      return test ? [{ series, from: series.levels[i], to: series.levels[i + 1], test }] : [];
    })
  );
}

/**
 * For each registered MLP contrast kind (B1, B2, N1), whether its effect
 * differs between the regimes: per seed, the `r64` contrast minus the `r8`
 * one, over the seeds that ran all four conditions.
 */
export function regimeInteractions(cells: readonly StudyCell[]): InteractionResult[] {
  const cell = (k: string) => cells.find((c) => c.condition === k);
  const [r8, r64] = STUDY_REGIMES.map((r) => r.key);
  const kinds = [
    ...new Set(STUDY_CONTRASTS.filter((c) => c.family === "mlp").map((c) => c.key.split("-")[0])),
  ];
  return kinds.flatMap((kind) => {
    const [c8, c64] = [r8, r64].map((r) => STUDY_CONTRASTS.find((c) => c.key === `${kind}-${r}`)!);
    const four = [cell(c8.a), cell(c8.b), cell(c64.a), cell(c64.b)];
    if (four.some((c) => c === undefined)) return [];
    const [a8, b8, a64, b64] = four as StudyCell[];
    const seeds = commonSeeds([a8, b8, a64, b64]);
    if (seeds.length < 2) return [];
    const d = seeds.map((s) =>
      (b64.bySeed.get(s)! - a64.bySeed.get(s)!) - (b8.bySeed.get(s)! - a8.bySeed.get(s)!)
    );
    return [{ kind, test: pairedTest(d, EQUIVALENCE_MARGIN) }];
  });
}

/** The exploratory block of the report: the three tables, labelled as such. */
export function exploratoryBlock(cells: readonly StudyCell[]): string[] {
  const trends = seriesTrends(cells);
  const steps = adjacentSteps(cells);
  const inter = regimeInteractions(cells);
  if (trends.length + steps.length + inter.length === 0) return [];
  const md: string[] = [
    "**Exploratory** (listed in the pre-registration as exploratory; no correction for " +
    "multiplicity, no verdicts). Paired by seed; intervals are 95% t intervals over seeds.",
    "",
  ];
  if (trends.length > 0) {
    md.push(
      "Trend over every level: within each seed, Spearman's ρ of test accuracy with the level " +
        "(4 levels; 1 = accuracy rises at every step), and their mean over seeds.",
      "",
      "| series | levels | seeds | mean ρ | ρ per seed |",
      "|---|---|---:|---:|---|",
      ...trends.map((t) =>
        `| ${t.series.name} | ${t.series.symbol} = ${t.series.levels.join(", ")} | ` +
        `${t.perSeed.length} | ${f(t.mean, 2)} | ${t.perSeed.map((r) => f(r, 1)).join(", ")} |`
      ),
      "",
    );
  }
  if (steps.length > 0) {
    md.push(
      "Each step between adjacent levels, higher minus lower, in test-accuracy points:",
      "",
      "| series | step | n | mean (points) | 95% CI | p (unadjusted) |",
      "|---|---|---:|---:|---|---:|",
      ...steps.map((s) =>
        `| ${s.series.name} | ${s.series.symbol} = ${s.from} → ${s.to} | ${s.test.n} | ` +
        `${f(s.test.mean, 3)} | [${f(s.test.ci[0], 3)}, ${f(s.test.ci[1], 3)}] | ${p(s.test.p)} |`
      ),
      "",
    );
  }
  if (inter.length > 0) {
    md.push(
      "Regime × hash interaction: each registered contrast at table 1/64, sparsity 0.9 minus " +
        "the same contrast at table 1/8, sparsity 0, in points:",
      "",
      "| contrast | n | r64 − r8 (points) | 95% CI | p (unadjusted) |",
      "|---|---:|---:|---|---:|",
      ...inter.map((r) =>
        `| ${r.kind} | ${r.test.n} | ${f(r.test.mean, 3)} | ` +
        `[${f(r.test.ci[0], 3)}, ${f(r.test.ci[1], 3)}] | ${p(r.test.p)} |`
      ),
    );
  }
  while (md.at(-1) === "") md.pop();
  return md;
}
