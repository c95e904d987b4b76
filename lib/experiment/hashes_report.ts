/**
 * The `hashes` experiment's comparison (`deno task experiment hashes`):
 * every hash against a baseline hash, paired by seed within each sparsity,
 * as the report prints it. Exploratory: nothing is pre-registered and the
 * p values are not corrected for the number of comparisons.
 *
 * Owns: the choice of baseline, the pairing and the table. Imports
 * `./results.ts`, `./stats.ts`, `./format.ts`.
 * @module
 */

import type { RunRecord } from "./results.ts";
import { type PairedTest, pairedTest } from "./stats.ts";
import { fixed, pValue as p } from "./format.ts";

/** Equivalence margin (points) of the comparisons' TOST, as the converged study's. */
export const COMPARISON_MARGIN = 0.2;

/** One hash against the baseline at one sparsity. */
export type HashComparison = {
  /** Sparsity. */
  sparsity: number;
  /** The hash (a label such as `pixelBlocks(block=2)`). */
  hash: string;
  /** The baseline's label. */
  baseline: string;
  /** Paired test of hash − baseline test accuracy in points over the seeds both ran; null under 2 pairs. */
  test: PairedTest | null;
  /** Seeds both ran. */
  pairs: number;
};

/**
 * The baseline of a sparsity's hashes: `uniform` (HashedNets' random hash)
 * when it is among them, else the first label in sorted order.
 */
export function baselineOf(labels: readonly string[]): string {
  return labels.includes("uniform") ? "uniform" : [...labels].sort()[0];
}

/**
 * Every hash against the baseline, per sparsity, paired by seed.
 *
 * @param records the runs of one `hashes` series
 * @param label a run's hash label (the report's)
 */
export function hashComparisons(
  records: readonly RunRecord[],
  label: (r: RunRecord) => string,
): HashComparison[] {
  const out: HashComparison[] = [];
  const sparsities = [...new Set(records.map((r) => r.spec.sparsity))].sort((a, b) => a - b);
  for (const sparsity of sparsities) {
    const runs = records.filter((r) => r.spec.sparsity === sparsity);
    const bySeed = new Map<string, Map<number, number>>();
    for (const r of runs) {
      const seeds = bySeed.get(label(r)) ?? new Map<number, number>();
      seeds.set(r.spec.seed, r.result.testAccuracy);
      bySeed.set(label(r), seeds);
    }
    const baseline = baselineOf([...bySeed.keys()]);
    const base = bySeed.get(baseline)!;
    for (const [hash, seeds] of [...bySeed].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
      if (hash === baseline) continue;
      const d = [...seeds].filter(([s]) => base.has(s)).map(([s, acc]) =>
        100 * (acc - base.get(s)!)
      );
      out.push({
        sparsity,
        hash,
        baseline,
        pairs: d.length,
        test: d.length >= 2 ? pairedTest(d, COMPARISON_MARGIN) : null,
      });
    }
  }
  return out;
}

/** The report's table of the comparisons (markdown lines). */
export function comparisonTable(cmps: readonly HashComparison[]): string[] {
  if (cmps.length === 0) return [];
  const f = (x: number) => fixed(x, 2);
  return [
    "### Against the baseline (exploratory)",
    "",
    "Hash − baseline test accuracy in points, paired by seed; two-sided paired t, not corrected " +
    "for the number of comparisons; TOST p for equivalence within ±" +
    `${COMPARISON_MARGIN} points. The baseline is \`uniform\` when it ran, else the first hash ` +
    "by name.",
    "",
    "| sparsity | hash | baseline | pairs | mean Δ | 95% CI | p | TOST p |",
    "|---:|---|---|---:|---:|---|---:|---:|",
    ...cmps.map((c) =>
      `| ${c.sparsity} | ${c.hash} | ${c.baseline} | ${c.pairs} | ` +
      (c.test
        ? `${f(c.test.mean)} | [${f(c.test.ci[0])}, ${f(c.test.ci[1])}] | ${p(c.test.p)} | ${
          p(c.test.tostP)
        } |`
        : "n/a | n/a | n/a | n/a |")
    ),
    "",
  ];
}
