/**
 * The converged study's report (docs/preregistration.md): per condition the
 * test accuracy with its 95% CI, per pre-registered contrast the paired
 * estimate, CI, Holm-adjusted p, equivalence test and verdict, the uniform
 * reference next to HashedNets, the learning-rate pilot, and the figures
 * (accuracy against first-layer entropy, against swap noise, and the
 * validation curves, one panel per series). The exploratory tables are
 * `./study_exploratory.ts`'s; this module places them.
 *
 * Over ~350 lines on purpose: the study's aggregation and its wording in one place, so the report
 * reads as one document.
 *
 * Owns: the study's aggregation and wording. Imports `./results.ts`,
 * `./stats.ts`, `./study.ts`, `./format.ts`, `./plot.ts` (types and rendering),
 * `./study_exploratory.ts`.
 * @module
 */

import { CHART_CONFIG, type ChartSpec } from "./plot.ts";
import type { RunRecord } from "./results.ts";
import { fixed as f, pValue as p } from "./format.ts";
import { exploratoryBlock, pairedBySeed } from "./study_exploratory.ts";
import { holm, mean, type PairedTest, std, studentTQuantile } from "./stats.ts";
import {
  cnnConditions,
  EQUIVALENCE_MARGIN,
  FAMILY_ALPHA,
  PILOT_LRS,
  STUDY_CONTRASTS,
  STUDY_REGIMES,
  STUDY_SEEDS,
  studyConditions,
} from "./study.ts";

/** Every condition of the study, MLP then CNN, in the report's order. */
function allConditions() {
  return [...studyConditions(), ...cnnConditions()];
}

/** HashedNets' test errors (%) for 784-1000-10 on MNIST, by table fraction. */
export const HASHEDNETS_ERRORS: Readonly<Record<string, number>> = Object.freeze({
  "reference/uniform/f8": 1.45,
  "reference/uniform/f64": 2.79,
});

/** Whether a record belongs to the converged study (any of its profiles). */
export function isStudyRecord(r: RunRecord): boolean {
  return typeof r.spec.protocol === "string" && typeof r.spec.condition === "string";
}

/** The runs of one condition (one profile). */
export type StudyCell = {
  /** Condition key. */
  condition: string;
  /** Learning rates of its runs (one, unless the records mix). */
  lrs: number[];
  /** Seed → test accuracy in points (%). */
  bySeed: Map<number, number>;
  /** Test accuracy in points: mean, sample std, 95% CI half-width (t). */
  accuracy: { mean: number; sd: number; half: number };
  /** Mean normalized occupancy entropy of the first layer. */
  entropy: number;
  /** Mean selected epoch (1-based). */
  selectedEpoch: number;
  /** Mean validation accuracy (%) at the selected epoch. */
  validation: number;
  /** Mean validation accuracy (%) per epoch, over seeds. */
  curve: number[];
};

/** One pre-registered contrast's outcome. */
export type ContrastResult = {
  /** Contrast key, e.g. `B1-r8`. */
  key: string;
  /** In words. */
  label: string;
  /** Which claim. */
  claim: string;
  /** Paired test of `b − a` in points; undefined when fewer than 2 seeds pair up. */
  test?: PairedTest;
  /** Holm-adjusted p of the difference. */
  holmP: number;
  /** Holm-adjusted TOST p. */
  holmTostP: number;
  /** supported / contradicted / absent within the margin / inconclusive / not run. */
  verdict: string;
};

function half(xs: number[]): number {
  return xs.length < 2
    ? NaN
    : studentTQuantile(0.975, xs.length - 1) * std(xs) / Math.sqrt(xs.length);
}

/** Groups study records of one profile into cells, in the design's order. */
export function studyCells(records: readonly RunRecord[]): StudyCell[] {
  const by = new Map<string, RunRecord[]>();
  for (const r of records) {
    const c = String(r.spec.condition);
    by.set(c, [...(by.get(c) ?? []), r]);
  }
  const order = allConditions().map((c) => c.key);
  const keys = [...by.keys()].sort((a, b) =>
    (order.indexOf(a) + 1 || 1e9) - (order.indexOf(b) + 1 || 1e9) || (a < b ? -1 : 1)
  );
  return keys.map((condition) => {
    const rs = by.get(condition)!.sort((a, b) => a.spec.seed - b.spec.seed);
    const acc = rs.map((r) => 100 * r.result.testAccuracy);
    const epochs = Math.max(0, ...rs.map((r) => r.result.history?.length ?? 0));
    const curve = Array.from(
      { length: epochs },
      (_, e) => 100 * mean(rs.map((r) => Number(r.result.history?.[e]?.validationAccuracy ?? NaN))),
    );
    return {
      condition,
      lrs: [...new Set(rs.map((r) => r.spec.lr))],
      bySeed: new Map(rs.map((r) => [r.spec.seed, 100 * r.result.testAccuracy])),
      accuracy: { mean: mean(acc), sd: std(acc), half: half(acc) },
      entropy: mean(rs.map((r) => r.result.entropy.layers[0])),
      selectedEpoch: mean(rs.map((r) => Number(r.result.selectedEpoch ?? NaN))),
      validation: 100 * mean(rs.map((r) => Number(r.result.validationAccuracy ?? NaN))),
      curve,
    };
  });
}

/**
 * The pre-registered contrasts on the cells: paired by seed, Holm across
 * every contrast that could be computed, verdicts by the registered rule.
 */
export function studyContrasts(cells: readonly StudyCell[]): ContrastResult[] {
  const cell = (k: string) => cells.find((c) => c.condition === k);
  const tests = STUDY_CONTRASTS.map((c) => pairedBySeed(cell(c.a), cell(c.b)));
  // Holm within each registered family.
  const holmP = tests.map(() => NaN);
  const holmTost = tests.map(() => NaN);
  for (const family of new Set(STUDY_CONTRASTS.map((c) => c.family))) {
    const idx = STUDY_CONTRASTS.map((c, i) => (c.family === family ? i : -1)).filter((i) => i >= 0);
    const p = holm(idx.map((i) => tests[i]?.p ?? NaN));
    const tost = holm(idx.map((i) => tests[i]?.tostP ?? NaN));
    idx.forEach((i, k) => {
      holmP[i] = p[k];
      holmTost[i] = tost[k];
    });
  }
  return STUDY_CONTRASTS.map((c, i) => {
    const t = tests[i];
    let verdict = "not run yet";
    if (t) {
      if (holmP[i] < FAMILY_ALPHA) {
        verdict = Math.sign(t.mean) === c.paperPredicts ? "supported" : "contradicted";
      } else if (holmTost[i] < FAMILY_ALPHA) {
        verdict = `absent (within ±${EQUIVALENCE_MARGIN} points)`;
      } else verdict = "inconclusive";
    }
    return {
      key: c.key,
      label: c.label,
      claim: c.claim,
      test: t,
      holmP: holmP[i],
      holmTostP: holmTost[i],
      verdict,
    };
  });
}

/**
 * The registered verdict of a claim from its contrasts' verdicts: supported
 * (some supported, none contradicted), contradicted (the reverse), mixed
 * (both), absent (all absent within the margin), else inconclusive; "not run
 * yet" while any of its contrasts has not run.
 */
export function claimVerdict(rs: readonly ContrastResult[], claim: string): string {
  const v = rs.filter((r) => r.claim === claim).map((r) => r.verdict);
  if (v.length === 0 || v.includes("not run yet")) return "not run yet";
  const sup = v.includes("supported"), con = v.includes("contradicted");
  if (sup && con) return "mixed";
  if (sup) return "supported";
  if (con) return "contradicted";
  if (v.every((x) => x.startsWith("absent"))) return "absent";
  return "inconclusive";
}

/** Markdown table of the contrasts; a contrast for which `interim` holds shows no verdict. */
export function contrastTable(
  rs: readonly ContrastResult[],
  interim: (r: ContrastResult) => boolean = () => false,
): string[] {
  return [
    "| contrast | claim | B − A | n | mean (points) | 95% CI | p | Holm p | TOST p (Holm) | verdict |",
    "|---|---|---|---:|---:|---|---:|---:|---:|---|",
    ...rs.map((r) => {
      const t = r.test;
      return `| ${r.key} | ${r.claim} | ${r.label} | ${t?.n ?? 0} | ${f(t?.mean ?? NaN, 3)} | ` +
        `${t ? `[${f(t.ci[0], 3)}, ${f(t.ci[1], 3)}]` : "n/a"} | ${p(t?.p ?? NaN)} | ` +
        `${p(r.holmP)} | ${p(r.holmTostP)} | ${interim(r) ? "(interim)" : `**${r.verdict}**`} |`;
    }),
  ];
}

/** Markdown table of the cells. */
export function cellTable(cells: readonly StudyCell[]): string[] {
  return [
    "| condition | lr | n | test accuracy % (mean ± sd) | 95% CI | first-layer entropy | " +
    "selected epoch | validation % |",
    "|---|---:|---:|---:|---|---:|---:|---:|",
    ...cells.map((c) =>
      `| ${c.condition} | ${c.lrs.join(", ")} | ${c.bySeed.size} | ` +
      `${f(c.accuracy.mean, 2)} ± ${f(c.accuracy.sd, 2)} | ` +
      `[${f(c.accuracy.mean - c.accuracy.half, 2)}, ${
        f(c.accuracy.mean + c.accuracy.half, 2)
      }] | ` +
      `${f(c.entropy, 4)} | ${f(c.selectedEpoch, 1)} | ${f(c.validation, 2)} |`
    ),
  ];
}

/** Markdown table of the uniform reference against HashedNets' errors. */
export function referenceTable(cells: readonly StudyCell[]): string[] {
  const rows = cells.filter((c) => c.condition in HASHEDNETS_ERRORS);
  if (rows.length === 0) return [];
  return [
    "| table fraction | n | our test error % (mean, 95% CI) | HashedNets' error % |",
    "|---|---:|---|---:|",
    ...rows.map((c) => {
      const err = 100 - c.accuracy.mean;
      return `| 1/${c.condition.split("/f")[1]} | ${c.bySeed.size} | ${f(err, 2)} ` +
        `[${f(err - c.accuracy.half, 2)}, ${f(err + c.accuracy.half, 2)}] | ` +
        `${HASHEDNETS_ERRORS[c.condition]} |`;
    }),
  ];
}

/** Markdown table of the pilot: best validation accuracy per condition and learning rate. */
export function pilotTable(pilot: readonly RunRecord[]): string[] {
  if (pilot.length === 0) return [];
  const lrs = [...new Set([...PILOT_LRS, ...pilot.map((r) => r.spec.lr)])].sort((a, b) => a - b);
  const conditions = allConditions().map((c) => c.key)
    .filter((k) => pilot.some((r) => r.spec.condition === k));
  const rows = conditions.map((k) => {
    const cellsOf = lrs.map((lr) => pilot.find((r) => r.spec.condition === k && r.spec.lr === lr));
    const vals = cellsOf.map((r) =>
      r === undefined ? NaN : r.result.diverged ? -1 : 100 * Number(r.result.validationAccuracy)
    );
    const best = chooseLr(lrs, vals);
    const shown = vals.map((v, i) =>
      Number.isNaN(v) ? "–" : v < 0 ? "diverged" : i === best ? `**${f(v, 2)}**` : f(v, 2)
    );
    return `| ${k} | ${shown.join(" | ")} | ${best < 0 ? "–" : lrs[best]} |`;
  });
  return [
    `| condition | ${lrs.map((lr) => `lr ${lr}`).join(" | ")} | chosen |`,
    `|---|${lrs.map(() => "---:").join("|")}|---:|`,
    ...rows,
  ];
}

/**
 * The pilot's rule: the learning rate with the highest best-epoch validation
 * accuracy, ties to the smaller rate; `-1` when none ran. `vals[i]` is the
 * accuracy at `lrs[i]` (sorted ascending), negative for a diverged run, NaN
 * for one not run.
 */
export function chooseLr(lrs: readonly number[], vals: readonly number[]): number {
  let best = -1;
  for (let i = 0; i < lrs.length; i++) {
    if (Number.isNaN(vals[i])) continue;
    if (best < 0 || vals[i] > vals[best]) best = i;
  }
  return best;
}

/** The chosen learning rate of every condition the pilot covered. */
export function pilotChoices(pilot: readonly RunRecord[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const c of allConditions()) {
    const rs = pilot.filter((r) => r.spec.condition === c.key).sort((a, b) =>
      a.spec.lr - b.spec.lr
    );
    const i = chooseLr(
      rs.map((r) => r.spec.lr),
      rs.map((r) => (r.result.diverged ? -1 : Number(r.result.validationAccuracy))),
    );
    if (i >= 0) out[c.key] = rs[i].spec.lr;
  }
  return out;
}

const SCHEMA = "https://vega.github.io/schema/vega-lite/v6.json";

function regimeLabel(condition: string): string {
  const key = condition.split("/")[2];
  return STUDY_REGIMES.find((r) => r.key === key)?.label ?? key;
}

/** A line chart of test accuracy with 95% CI bars, one line per regime. */
function ciChart(
  title: string,
  xTitle: string,
  rows: { x: number; regime: string; acc: number; lo: number; hi: number; label: string }[],
  xScale: Record<string, unknown> = { zero: false, padding: 12 },
): ChartSpec {
  const x = { field: "x", type: "quantitative", title: xTitle, scale: xScale };
  const color = { field: "regime", type: "nominal", title: "regime" };
  const yTitle = "test accuracy (%), mean and 95% CI over seeds";
  return {
    $schema: SCHEMA,
    title,
    width: 480,
    height: 320,
    data: { values: rows },
    layer: [
      {
        mark: { type: "line", point: { size: 50 } },
        encoding: {
          x,
          y: { field: "acc", type: "quantitative", title: yTitle, scale: { zero: false } },
          color,
        },
      },
      {
        mark: { type: "errorbar", ticks: true },
        encoding: {
          x,
          y: { field: "lo", type: "quantitative", title: yTitle },
          y2: { field: "hi" },
          color,
        },
      },
    ],
    config: {
      ...CHART_CONFIG,
      legend: { ...CHART_CONFIG.legend, orient: "bottom", direction: "vertical", labelLimit: 0 },
    },
  } as ChartSpec;
}

/** `a0.01` → `α = 0.01`, `q0.5` → `q = 0.5`, `f8` → `table 1/8`. */
function levelLabel(level: string): string {
  if (level.startsWith("a")) return `α = ${level.slice(1)}`;
  if (level.startsWith("q")) return `q = ${level.slice(1)}`;
  if (level.startsWith("f")) return `table 1/${level.slice(1)}`;
  return level;
}

function rowsOf(cells: readonly StudyCell[], prefix: string, x: (c: StudyCell) => number) {
  return cells.filter((c) => c.condition.startsWith(prefix)).map((c) => ({
    x: x(c),
    regime: regimeLabel(c.condition),
    acc: c.accuracy.mean,
    lo: c.accuracy.mean - (Number.isFinite(c.accuracy.half) ? c.accuracy.half : 0),
    hi: c.accuracy.mean + (Number.isFinite(c.accuracy.half) ? c.accuracy.half : 0),
    label: c.condition,
  }));
}

/** The study's figures as Vega-Lite specs, by file base name. */
export function studyCharts(
  cells: readonly StudyCell[],
  profile: string,
): Record<string, ChartSpec> {
  const charts: Record<string, ChartSpec> = {};
  const balance = rowsOf(cells, "balance/", (c) => c.entropy);
  if (balance.length > 0) {
    charts[`study-${profile}-balance`] = ciChart(
      `Balance (Dirichlet α, first layer): ${profile}`,
      "normalized occupancy entropy of the first layer (H / ln K)",
      balance,
    );
  }
  const noise = rowsOf(cells, "noise/", (c) => Number(c.condition.split("/")[1].slice(1)));
  const cnn = rowsOf(cells, "cnn/", (c) => Number(c.condition.split("/")[1].slice(1)))
    .map((r) => ({ ...r, regime: "conv 1→8, 5×5, stride 2" }));
  if (cnn.length > 0) {
    charts[`study-${profile}-cnn`] = ciChart(
      `CNN: the convolution's sharing broken by swap noise q: ${profile}`,
      "swap noise q on the conv2d hash (kernel counts and connectivity kept)",
      cnn,
      { domain: [-0.05, 1.05] },
    );
  }
  if (noise.length > 0) {
    charts[`study-${profile}-noise`] = ciChart(
      `Noise (swap q on pixel blocks, first layer): ${profile}`,
      "swap noise q (fraction of positions exchanging slots; entropy unchanged)",
      noise,
      { domain: [-0.05, 1.05] },
    );
  }
  const curves = cells.flatMap((c) => {
    const [experiment, level, regime] = c.condition.split("/");
    // A reference condition is `reference/uniform/f8`: its level is the table fraction.
    const reference = experiment === "reference";
    const panel = reference ? "reference (uniform)" : `${experiment} ${regime ?? ""}`.trim();
    return c.curve.map((v, e) => ({
      epoch: e + 1,
      acc: v,
      panel,
      level: levelLabel(reference ? regime : level),
      condition: c.condition,
    }));
  }).filter((r) => Number.isFinite(r.acc));
  if (curves.length > 0) {
    // One panel per swept series (at most four lines each), so the colours stay readable.
    charts[`study-${profile}-curves`] = {
      $schema: SCHEMA,
      title: `Validation accuracy by epoch (mean over seeds): ${profile}`,
      data: { values: curves },
      facet: {
        field: "panel",
        type: "nominal",
        title: null,
        sort: [...new Set(curves.map((r) => r.panel))],
      },
      columns: 3,
      spec: {
        width: 260,
        height: 180,
        mark: { type: "line", point: { size: 20 } },
        encoding: {
          x: { field: "epoch", type: "quantitative", title: "epoch", scale: { zero: false } },
          y: {
            field: "acc",
            type: "quantitative",
            title: "validation accuracy (%)",
            scale: { zero: false },
          },
          color: { field: "level", type: "nominal", title: "level" },
        },
      },
      resolve: { scale: { y: "independent" } },
      config: { ...CHART_CONFIG, header: { labelFontSize: 13 } },
    } as ChartSpec;
  }
  return charts;
}

/** The runs one arm of the study has recorded against those registered. */
export type ArmProgress = {
  /** The arm, named as its contrasts' Holm family: `"mlp"` or `"cnn"`. */
  family: "mlp" | "cnn";
  /** Registered runs (condition × registered seed) recorded. */
  done: number;
  /** Registered runs: its conditions × the registered seeds. */
  planned: number;
};

/** Per arm (MLP, CNN) that has at least one run: its registered runs recorded and planned. */
export function armProgress(records: readonly RunRecord[]): ArmProgress[] {
  const arms = [
    { family: "mlp" as const, conditions: studyConditions() },
    { family: "cnn" as const, conditions: cnnConditions() },
  ];
  return arms.flatMap(({ family, conditions }) => {
    const keys = new Set(conditions.map((c) => c.key));
    const mine = records.filter((r) => keys.has(String(r.spec.condition)));
    if (mine.length === 0) return [];
    const done = new Set(
      mine.filter((r) => STUDY_SEEDS.includes(r.spec.seed))
        .map((r) => `${r.spec.condition}/${r.spec.seed}`),
    ).size;
    return [{ family, done, planned: keys.size * STUDY_SEEDS.length }];
  });
}

/**
 * Runs recorded against runs planned, summed over the arms begun: every
 * registered seed of every condition of an arm (MLP or CNN) that has at
 * least one run.
 */
export function progressOf(records: readonly RunRecord[]): { done: number; planned: number } {
  const arms = armProgress(records);
  return {
    done: arms.reduce((n, a) => n + a.done, 0),
    planned: arms.reduce((n, a) => n + a.planned, 0),
  };
}

const ARM_NAMES: Readonly<Record<string, string>> = { mlp: "MLP", cnn: "CNN" };

/**
 * The study's named blocks of markdown, as `report.md` prints them and as
 * `writeReport`'s `splice` writes them into other documents (between
 * `<!-- report:NAME -->` and `<!-- /report:NAME -->`): for the converged
 * profile `contrasts` (the interim note when runs are missing, the
 * contrast table and the claims' verdicts), `cells`, `hashednets` and
 * `exploratory` (`./study_exploratory.ts`); for the pilot, `pilot`.
 */
export function studyBlocks(
  profile: string,
  records: readonly RunRecord[],
): Record<string, string[]> {
  if (profile === "pilot") return { pilot: pilotTable(records) };
  const cells = studyCells(records);
  const contrasts = studyContrasts(cells);
  // The stopping rule applies per arm: an arm's verdicts are read once all of
  // its registered runs are in, whatever the other arm's state.
  const open = profile === "converged"
    ? armProgress(records).filter((a) => a.done < a.planned)
    : [];
  const interim = new Set<string>(open.map((a) => a.family));
  const note = open.length === 0 ? [] : [
    `**Interim**: ${
      open.map((a) =>
        `${a.done} of the ${a.planned} registered runs of the ${ARM_NAMES[a.family]} arm`
      )
        .join(" and ")
    } are in. An arm's verdicts are read only when all its runs are (docs/preregistration.md, ` +
    "stopping rule); until then its estimates are shown without them.",
    "",
  ];
  const familyOf = (claim: string) => STUDY_CONTRASTS.find((c) => c.claim === claim)?.family ?? "";
  const claim = (name: string, label: string) =>
    interim.has(familyOf(name))
      ? `${label} no verdict while runs are missing`
      : `${label} **${claimVerdict(contrasts, name)}**`;
  return {
    contrasts: [
      ...note,
      ...contrastTable(contrasts, (r) => interim.has(familyOf(r.claim))),
      "",
      `Claims: ${claim("balance", "balance")}, ${claim("noise", "determinism (noise)")}, ` +
      `${claim("cnn", "CNN sharing")}.`,
    ],
    cells: cellTable(cells),
    hashednets: referenceTable(cells),
    exploratory: exploratoryBlock(cells),
  };
}

/**
 * The study's section of `report.md` for one profile (`converged`, `ci`, or
 * `pilot`, which gives the pilot table only); `figures` are the base names
 * that were drawn; `blocks` are {@linkcode studyBlocks} of the records,
 * when the caller has them already.
 */
export function studySection(
  profile: string,
  records: readonly RunRecord[],
  figures: readonly string[],
  blocks: Record<string, string[]> = studyBlocks(profile, records),
): string[] {
  if (profile === "pilot") {
    return [
      "## Converged study: learning-rate pilot",
      "",
      `Best-epoch validation accuracy (%) of each condition at each learning rate (seed ${
        records[0]?.spec.seed
      }, ${records[0]?.spec.epochs} epochs); the chosen rate in bold: the highest, ties to the ` +
      "smaller. The pilot reads no test accuracy into any decision.",
      "",
      ...blocks.pilot,
      "",
    ];
  }
  const md = [`## Converged study: ${profile}`, ""];
  if (profile !== "converged") {
    md.push(
      `Profile \`${profile}\`: the protocol's plumbing on a tiny budget; its numbers mean nothing.`,
      "",
    );
  }
  md.push(
    "### Pre-registered contrasts",
    "",
    `Paired by seed, B − A in test-accuracy points; two-sided paired t; Holm within each ` +
      `registered family (the MLP's six contrasts; the CNN arm's) at ${FAMILY_ALPHA}; ` +
      `equivalence by TOST at ` +
      `±${EQUIVALENCE_MARGIN} points (Holm-adjusted the same way). Verdicts: supported or ` +
      "contradicted (Holm p < 0.05, by the sign the paper predicts), absent (not significant " +
      "and equivalent within the margin), else inconclusive.",
    "",
    ...blocks.contrasts,
    "",
    "### Cells",
    "",
    ...blocks.cells,
    "",
  );
  if (blocks.hashednets.length > 0) {
    md.push("### Uniform hash against HashedNets", "", ...blocks.hashednets, "");
  }
  if (blocks.exploratory.length > 0) {
    md.push("### Exploratory", "", ...blocks.exploratory, "");
  }
  for (const name of figures) md.push(`![${name}](${name}.png)`, "");
  return md;
}
