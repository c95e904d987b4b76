/**
 * Turns results files into `report.md`: per-cell tables (experiment ×
 * sparsity × swept point), Spearman tests of the seed paper's two claims
 * with a verdict in words, and the two figures as SVG and PNG.
 *
 * Over ~350 lines on purpose: the aggregation and the wording of one report stay together.
 *
 * Owns: aggregation and the report's wording. Imports `./results.ts`,
 * `./stats.ts`, `./plot.ts`, `./sweep.ts`, `./hashes_report.ts`, `./format.ts` and `node:path`.
 * @module
 */

import { join } from "node:path";
import { balanceChart, findFonts, noiseChart, type PlotPoint, renderChart } from "./plot.ts";
import { readResults, type RunRecord } from "./results.ts";
import { checkReportInputs } from "./report_files.ts";
import { fileError, writeFileAtomic } from "../io/files.ts";
import { EXACT_MAX_N, mean, spearman, type SpearmanResult, std } from "./stats.ts";
import { canonicalJson, sweepPoint } from "./sweep.ts";
import {
  isStudyRecord,
  studyBlocks,
  studyCells,
  studyCharts,
  studySection,
} from "./study_report.ts";
import { spliceBlocks } from "./splice.ts";
import { pValue } from "./format.ts";
import { comparisonTable, type HashComparison, hashComparisons } from "./hashes_report.ts";

/** Significance level of the verdicts. */
export const SIGNIFICANCE = 0.05;

/** The runs of one (series, sparsity, point): the seeds of one config. */
export type Cell = {
  /** Sparsity. */
  sparsity: number;
  /** Swept value (α or radius), or the hash family when the run has neither. */
  point: number | string;
  /** Runs (seeds). */
  n: number;
  /** Mean test accuracy (fraction). */
  accuracyMean: number;
  /** Sample std of test accuracy; NaN for one run. */
  accuracyStd: number;
  /** Mean normalized network entropy. */
  entropyMean: number;
  /** Sample std of normalized network entropy; NaN for one run. */
  entropyStd: number;
  /** Mean wall seconds of a run. */
  wallMean: number;
};

/** The Spearman test of one sparsity of a series. */
export type TrendTest = {
  /** Sparsity. */
  sparsity: number;
  /** What accuracy is ranked against. */
  against: "entropy" | "radius";
  /** ρ, p, n and how p was computed. */
  test: SpearmanResult;
  /** One line in words, e.g. "accuracy rises with entropy (ρ=0.71, p=0.001, n=18)". */
  verdict: string;
};

/** All runs of one experiment on one dataset and profile. */
export type Series = {
  /** e.g. `balance-mnist-quick`: also the figures' base name. */
  key: string;
  /** `"balance"`, `"noise"` or whatever the specs say. */
  experiment: string;
  /** Dataset. */
  dataset: string;
  /** Profile, when the specs carry one. */
  profile?: string;
  /** Name of the swept quantity: `"alpha"`, `"radius"` or `"hash"`. */
  pointName: string;
  /** Cells sorted by sparsity, then point. */
  cells: Cell[];
  /** One test per sparsity (balance and noise only). */
  trends: TrendTest[];
  /** Cells that mix configs differing in more than the seed. */
  warnings: string[];
  /** `hashes` only: each hash against the baseline, paired by seed. */
  comparisons: HashComparison[];
};

function seriesKey(
  r: RunRecord,
): { key: string; experiment: string; dataset: string; profile?: string } {
  const experiment = String(r.spec.experiment);
  const dataset = String(r.spec.dataset);
  const profile = typeof r.spec.profile === "string" ? r.spec.profile : undefined;
  const key = [experiment, dataset, profile].filter((s) => s !== undefined).join("-")
    .replace(/[^A-Za-z0-9._-]/g, "_");
  return { key, experiment, dataset, profile };
}

function pointOf(r: RunRecord): number | string {
  if (r.spec.experiment === "hashes") return hashLabel(r.spec.hash);
  return sweepPoint(r.spec)?.value ?? String(r.spec.hash?.family ?? "?");
}

/** A hash as a table shows it: `family` or `family(name=value, …)`, options sorted by name. */
export function hashLabel(
  h: { family?: string; options?: Record<string, unknown> } | undefined,
): string {
  const options = Object.entries(h?.options ?? {}).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  const family = String(h?.family ?? "?");
  // Strings quoted, so that { a: 1 } and { a: "1" } stay two hashes.
  const value = (v: unknown) => (typeof v === "string" ? JSON.stringify(v) : String(v));
  return options.length === 0
    ? family
    : `${family}(${options.map(([k, v]) => `${k}=${value(v)}`).join(", ")})`;
}

function comparePoints(a: number | string, b: number | string): number {
  if (typeof a === "number" && typeof b === "number") return a - b;
  if (typeof a === "number") return -1;
  if (typeof b === "number") return 1;
  return a < b ? -1 : a > b ? 1 : 0;
}

function testText(t: SpearmanResult): string {
  const how = t.method === "exact" ? "exact" : "t approx.";
  return `ρ=${t.rho.toFixed(2)}, p=${pValue(t.p)} ${how}, n=${t.n}`;
}

/**
 * The verdict line of a trend test, in words. The paper predicts accuracy
 * rising with entropy (balance) and falling with radius (noise).
 */
export function verdictLine(against: "entropy" | "radius", t: SpearmanResult): string {
  if (t.method === "none") {
    return `no test possible (n=${t.n}; needs ≥ 3 runs and ${against} and accuracy not constant)`;
  }
  if (!(t.p < SIGNIFICANCE)) return `no significant trend (${testText(t)})`;
  const rises = t.rho > 0;
  const agrees = against === "entropy" ? rises : !rises;
  return `accuracy ${rises ? "rises" : "falls"} with ${against} (${testText(t)}): ` +
    `${agrees ? "as the paper claims" : "contrary to the paper's claim"}`;
}

/** Groups records into series and cells, and runs the trend tests. */
export function summarize(records: readonly RunRecord[]): Series[] {
  const groups = new Map<string, { meta: ReturnType<typeof seriesKey>; recs: RunRecord[] }>();
  for (const r of records) {
    const meta = seriesKey(r);
    const g = groups.get(meta.key) ?? { meta, recs: [] };
    g.recs.push(r);
    groups.set(meta.key, g);
  }
  const order = (e: string) => (e === "balance" ? 0 : e === "noise" ? 1 : 2);
  const metas = [...groups.values()].sort((a, b) =>
    order(a.meta.experiment) - order(b.meta.experiment) || (a.meta.key < b.meta.key ? -1 : 1)
  );
  return metas.map(({ meta, recs }) => {
    const cellsMap = new Map<string, RunRecord[]>();
    for (const r of recs) {
      const k = JSON.stringify([r.spec.sparsity, pointOf(r)]);
      cellsMap.set(k, [...(cellsMap.get(k) ?? []), r]);
    }
    const warnings: string[] = [];
    const cells: Cell[] = [...cellsMap.values()].map((rs) => {
      const acc = rs.map((r) => r.result.testAccuracy);
      const ent = rs.map((r) => r.result.entropy.network);
      const point = pointOf(rs[0]);
      const diff = differingKeys(rs);
      if (diff.length > 0) {
        warnings.push(
          `${meta.key} s=${rs[0].spec.sparsity} ${point}: mixes runs whose configs differ in ` +
            `${diff.join(", ")} (not only the seed)`,
        );
      }
      return {
        sparsity: rs[0].spec.sparsity,
        point,
        n: rs.length,
        accuracyMean: mean(acc),
        accuracyStd: std(acc),
        entropyMean: mean(ent),
        entropyStd: std(ent),
        wallMean: mean(rs.map((r) => r.wallSeconds)),
      };
    }).sort((a, b) => a.sparsity - b.sparsity || comparePoints(a.point, b.point));
    const pointName = meta.experiment === "hashes"
      ? "hash"
      : sweepPoint(recs[0].spec)?.name ?? "hash";
    const trends: TrendTest[] = [];
    const against = meta.experiment === "balance"
      ? "entropy"
      : meta.experiment === "noise"
      ? "radius"
      : undefined;
    if (against !== undefined) {
      for (const s of [...new Set(recs.map((r) => r.spec.sparsity))].sort((a, b) => a - b)) {
        const rs = recs.filter((r) => r.spec.sparsity === s && typeof pointOf(r) === "number");
        const x = rs.map((r) =>
          against === "entropy" ? r.result.entropy.network : pointOf(r) as number
        );
        const test = spearman(x, rs.map((r) => r.result.testAccuracy));
        trends.push({ sparsity: s, against, test, verdict: verdictLine(against, test) });
      }
    }
    const comparisons = meta.experiment === "hashes"
      ? hashComparisons(recs, (r) => String(pointOf(r)))
      : [];
    return { ...meta, pointName, cells, trends, warnings, comparisons };
  });
}

function differingKeys(rs: RunRecord[]): string[] {
  const keys = new Set(rs.flatMap((r) => Object.keys(r.spec)));
  keys.delete("seed");
  return [...keys].filter((k) => new Set(rs.map((r) => canonicalJson(r.spec[k] ?? null))).size > 1)
    .sort();
}

function pm(m: number, s: number, digits: number, scale = 1): string {
  const sd = Number.isFinite(s) ? (s * scale).toFixed(digits) : "n/a";
  return `${(m * scale).toFixed(digits)} ± ${sd}`;
}

const POINT_HEADER: Record<string, string> = { alpha: "α", radius: "radius", hash: "hash" };

/**
 * One markdown table row of a cell, as `report.md` prints it:
 * `| sparsity | point | n | accuracy % | entropy | wall s |`.
 */
export function cellRow(c: Cell): string {
  return `| ${c.sparsity} | ${c.point} | ${c.n} | ${pm(c.accuracyMean, c.accuracyStd, 2, 100)} | ` +
    `${pm(c.entropyMean, c.entropyStd, 4)} | ${c.wallMean.toFixed(1)} |`;
}

function title(s: Series): string {
  const name = s.experiment === "balance"
    ? "Balance: accuracy vs occupancy entropy (Dirichlet α)"
    : s.experiment === "noise"
    ? "Determinism: accuracy vs Neighborhood radius"
    : s.experiment === "hashes"
    ? "Hashes compared"
    : `Experiment ${s.experiment}`;
  return `${name} — ${s.dataset}${s.profile ? `, ${s.profile} profile` : ""}`;
}

function plotPoints(s: Series): PlotPoint[] {
  return s.cells.filter((c) => typeof c.point === "number").map((c) => ({
    sparsity: c.sparsity,
    x: s.experiment === "balance" ? c.entropyMean : c.point as number,
    accuracy: c.accuracyMean,
    accuracyStd: c.accuracyStd,
    n: c.n,
    label: `${POINT_HEADER[s.pointName] ?? s.pointName}=${c.point}`,
  }));
}

/** Options of {@linkcode writeReport}. */
export type ReportOptions = {
  /** Results files, directories (their `*.jsonl`, recursively) or globs like `out/balance*.jsonl`. */
  inputs: string[];
  /** Directory for `report.md` and the figures; created if missing. */
  outDir: string;
  /** Draw the figures (default true). */
  plots?: boolean;
  /** Where warnings go as well as into the report; default `console.error`. */
  log?: (msg: string) => void;
  /**
   * Markdown files whose marked blocks get the report's tables (see
   * `./splice.ts`): the converged study's `contrasts`, `cells` and
   * `hashednets`, the pilot's `pilot`; another study profile's are named
   * `<profile>-contrasts` and so on.
   */
  splice?: string[];
};

/** What {@linkcode writeReport} wrote. */
export type ReportSummary = {
  /** Path of `report.md`. */
  report: string;
  /** Paths of the figures (SVG and PNG). */
  figures: string[];
  /** Distinct runs reported. */
  runs: number;
  /** The series, as in the report. */
  series: Series[];
  /** Everything the report warns about. */
  warnings: string[];
  /** The files given as `splice` whose blocks were rewritten. */
  spliced: string[];
};

/**
 * Reads and merges results (shards included, duplicates dropped with a
 * warning) and writes `report.md` plus one SVG and one PNG figure per
 * balance or noise series into `outDir`.
 *
 * @example
 * ```ts ignore
 * import { writeReport } from "./report.ts";
 * await writeReport({ inputs: ["out/"], outDir: "docs/results" });
 * ```
 */
export async function writeReport(opts: ReportOptions): Promise<ReportSummary> {
  const log = opts.log ?? ((msg: string) => console.error(msg));
  const merged = await readResults(opts.inputs);
  await checkReportInputs(merged, opts);
  const study = merged.records.filter(isStudyRecord);
  const series = summarize(merged.records.filter((r) => !isStudyRecord(r)));
  const studyProfiles = ["converged", "pilot", "ci"]
    .map((profile) => ({ profile, records: study.filter((r) => r.spec.profile === profile) }))
    .filter((g) => g.records.length > 0)
    .map((g) => ({ ...g, blocks: studyBlocks(g.profile, g.records) }));
  const studyFigures = new Map<string, string[]>();
  const warnings = [...merged.warnings, ...series.flatMap((s) => s.warnings)];

  const figures: string[] = [];
  const drawn = new Set<string>();
  if (opts.plots ?? true) {
    const fonts = await findFonts();
    if (fonts.files.length === 0) {
      warnings.push("no font found (set ARBNET_FONT to a .ttf): PNG figures have no text");
    }
    for (const s of series) {
      const pts = plotPoints(s);
      if (pts.length === 0 || (s.experiment !== "balance" && s.experiment !== "noise")) continue;
      const spec = s.experiment === "balance"
        ? balanceChart(pts, title(s))
        : noiseChart(pts, title(s));
      try {
        const out = await renderChart(spec, join(opts.outDir, s.key), fonts);
        figures.push(out.svg, out.png);
        drawn.add(s.key);
      } catch (e) {
        warnings.push(`figure ${s.key} failed: ${e instanceof Error ? e.message : String(e)}`);
      }
    }
    for (const g of studyProfiles) {
      const drawnHere: string[] = [];
      for (const [name, spec] of Object.entries(studyCharts(studyCells(g.records), g.profile))) {
        if (g.profile === "pilot") continue;
        try {
          const out = await renderChart(spec, join(opts.outDir, name), fonts);
          figures.push(out.svg, out.png);
          drawnHere.push(name);
        } catch (e) {
          warnings.push(`figure ${name} failed: ${e instanceof Error ? e.message : String(e)}`);
        }
      }
      studyFigures.set(g.profile, drawnHere);
    }
  }
  for (const w of warnings) log(w);

  const md: string[] = [];
  md.push("# ArbNet experiment report", "");
  md.push(
    `${merged.records.length} distinct runs from ${merged.files.length} file(s): ` +
      merged.files.map((f) => `\`${f}\``).join(", ") + ".",
    "",
  );
  if (series.length > 0) {
    md.push(
      "Accuracy is test accuracy in %, entropy the normalized occupancy entropy of the " +
        "network (H / ln K, 1 = perfectly balanced); both mean ± sample std over seeds. " +
        `Trends: Spearman's ρ of accuracy against entropy (balance) or radius (noise) over all ` +
        `runs of one sparsity, ties given mean ranks; two-sided p exact by permutation for ` +
        `n ≤ ${EXACT_MAX_N}, else from Student's t with n − 2 df. Significant: p < ${SIGNIFICANCE}.`,
      "",
    );
  }
  if (warnings.length > 0) {
    md.push("## Warnings", "", ...warnings.map((w) => `- ${w}`), "");
  }
  for (const g of studyProfiles) {
    md.push(...studySection(g.profile, g.records, studyFigures.get(g.profile) ?? [], g.blocks));
  }
  for (const s of series) {
    md.push(`## ${title(s)}`, "");
    if (s.trends.length > 0) {
      md.push("### Verdict", "");
      for (const t of s.trends) {
        md.push(`- sparsity ${t.sparsity}: ${t.verdict}`);
      }
      md.push("");
    }
    if (drawn.has(s.key)) {
      md.push(
        `![${title(s)}](${s.key}.png)`,
        "",
        `Vector version: [${s.key}.svg](${s.key}.svg)`,
        "",
      );
    }
    md.push("### Runs", "");
    md.push(
      `| sparsity | ${POINT_HEADER[s.pointName] ?? s.pointName} | n | test accuracy % | ` +
        "network entropy | mean wall s |",
      "|---:|---:|---:|---:|---:|---:|",
      ...s.cells.map(cellRow),
      "",
      ...comparisonTable(s.comparisons),
    );
  }
  if (series.length === 0 && studyProfiles.length === 0) md.push("No runs found.", "");
  const report = join(opts.outDir, "report.md");
  await writeFileAtomic(report, md.join("\n"), "report");
  const blocks: Record<string, string[]> = {};
  for (const g of studyProfiles) {
    const prefix = g.profile === "converged" || g.profile === "pilot" ? "" : `${g.profile}-`;
    for (const [name, lines] of Object.entries(g.blocks)) {
      blocks[prefix + name] = lines;
    }
  }
  const spliced: string[] = [];
  for (const file of opts.splice ?? []) {
    let text: string;
    try {
      text = await Deno.readTextFile(file);
    } catch (e) {
      throw fileError(e, file, "read the document to splice");
    }
    const out = spliceBlocks(text, blocks, file);
    if (out.text !== text) await writeFileAtomic(file, out.text, "document");
    spliced.push(file);
  }
  return { report, figures, runs: merged.records.length, series, warnings, spliced };
}
