/**
 * Experiments: sweeps as lists of runs with stable ids, a resumable and
 * shardable runner that appends one JSON line per finished run, and a
 * report (tables, Spearman trend tests, SVG/PNG figures) for the seed
 * paper's two claims.
 *
 * Re-exports the public API of `lib/experiment/*`; imports nothing else.
 * Plotting packages load only when a figure is drawn. The real `runOne`,
 * which trains on WebGPU, is `TrainRunner` in `./train_run.ts`, not
 * re-exported here so that this module stays free of the GPU stack.
 *
 * @example
 * ```ts ignore
 * import { balanceSweep, resolveShard, runSweep, writeReport } from "./mod.ts";
 * await runSweep({
 *   runs: balanceSweep({ profile: "quick" }),
 *   out: "out/balance.jsonl",
 *   shard: resolveShard(),
 *   runOne: train, // (spec, ctx) => Promise<RunResult>
 * });
 * await writeReport({ inputs: ["out/"], outDir: "out/report" });
 * ```
 * @module
 */

export {
  balanceSweep,
  type BalanceSweepOptions,
  type BaseConfig,
  canonicalJson,
  type Dataset,
  DATASET_CLASSES,
  DATASET_INPUTS,
  defaultRadii,
  type Experiment,
  firstLayerTableSize,
  hashesSweep,
  type HashesSweepOptions,
  type HashSpec,
  type JsonValue,
  noiseSweep,
  type NoiseSweepOptions,
  type Profile,
  runId,
  type RunSpec,
  type SweepOptions,
  sweepPoint,
  type SweepProfile,
} from "./sweep.ts";
export {
  type EpochRecord,
  expandInputs,
  type MergedResults,
  type ParsedResults,
  parseResults,
  readResults,
  readResultsFile,
  resultProblem,
  type RunRecord,
  type RunResult,
  type Shard,
  shardFile,
  siblingResultFiles,
} from "./results.ts";
export {
  type EnvSource,
  resolveShard,
  type RunContext,
  runSweep,
  type RunSweepOptions,
  SHARD_COUNT_ENV,
  shardRuns,
  type SweepSummary,
} from "./runner.ts";
export {
  EXACT_MAX_N,
  logGamma,
  mean,
  median,
  pearson,
  ranks,
  regularizedIncompleteBeta,
  spearman,
  type SpearmanResult,
  spearmanTP,
  std,
  studentTTwoSidedP,
} from "./stats.ts";
export {
  balanceChart,
  type ChartSpec,
  chartToSvg,
  findFonts,
  type FontSet,
  noiseChart,
  type PlotPoint,
  renderChart,
  svgToPng,
} from "./plot.ts";
export {
  type Cell,
  cellRow,
  type ReportOptions,
  type ReportSummary,
  type Series,
  SIGNIFICANCE,
  summarize,
  type TrendTest,
  verdictLine,
  writeReport,
} from "./report.ts";
