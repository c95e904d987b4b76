/**
 * The results file format: what a finished run records ({@linkcode RunResult},
 * {@linkcode RunRecord}), JSON-lines reading that survives a torn last line,
 * and merging of many files (shards) into one de-duplicated list.
 *
 * Owns: the `.jsonl` format and shard file names. Imports `./sweep.ts`,
 * `lib/errors.ts` and `node:path`.
 * @module
 */

import { basename, dirname, join } from "node:path";
import { ArbnetError } from "../errors.ts";
import { type JsonValue, runId, type RunSpec } from "./sweep.ts";

/** One epoch of a run's learning curve. */
export type EpochRecord = {
  /** 1-based epoch number. */
  epoch: number;
  /** Mean training loss over the epoch. */
  trainLoss?: number;
  /** Test accuracy after the epoch, a fraction in [0, 1]. */
  testAccuracy?: number;
  /** Wall seconds spent in the epoch. */
  seconds?: number;
  /** Further JSON-safe values. */
  [key: string]: JsonValue | undefined;
};

/**
 * What `runOne` must return for a finished run; it is stored verbatim (so
 * it must be JSON-safe) and read by the report.
 */
export type RunResult = {
  /** Test accuracy, a fraction in [0, 1]. */
  testAccuracy: number;
  /** Mean test cross-entropy. */
  testLoss?: number;
  /**
   * Occupancy entropy normalised to [0, 1] (`H / ln K`, zero slot not counted).
   * `layers` has one value per ArbLinear layer; `network` combines them, best
   * as the mean weighted by each layer's count of non-zero-slot positions.
   */
  entropy: { network: number; layers: number[] };
  /** Wall seconds spent training (not setting up or evaluating). */
  trainSeconds: number;
  /** Epochs actually trained. */
  epochs: number;
  /** Per-epoch curve, if the trainer kept one. */
  history?: EpochRecord[];
  /** Further JSON-safe values. */
  [key: string]: JsonValue | undefined;
};

/** One line of a results file: a finished run. */
export type RunRecord = {
  /** `runId(spec)` when the run was made. */
  id: string;
  /** The run's config. */
  spec: RunSpec;
  /** What the run measured. */
  result: RunResult;
  /** ISO 8601 time `runOne` was called. */
  startedAt: string;
  /** ISO 8601 time it returned. */
  finishedAt: string;
  /** Wall seconds of the whole `runOne` call (setup, training, evaluation). */
  wallSeconds: number;
  /** Host that ran it, when known. */
  host?: string;
};

/**
 * Why `result` is not a valid {@linkcode RunResult}, or `undefined` when it is.
 * Checked before a record is written so no file ever holds a run the report
 * cannot read.
 */
export function resultProblem(result: unknown): string | undefined {
  if (typeof result !== "object" || result === null) return "not an object";
  const r = result as Record<string, unknown>;
  const acc = r.testAccuracy;
  if (typeof acc !== "number" || !(acc >= 0 && acc <= 1)) {
    return `testAccuracy ${String(acc)} is not a fraction in [0, 1]`;
  }
  const e = r.entropy as Record<string, unknown> | undefined;
  if (typeof e !== "object" || e === null || typeof e.network !== "number") {
    return "entropy.network is missing or not a number";
  }
  if (!Array.isArray(e.layers) || !e.layers.every((x) => typeof x === "number")) {
    return "entropy.layers is not an array of numbers";
  }
  if (typeof r.trainSeconds !== "number" || !Number.isFinite(r.trainSeconds)) {
    return "trainSeconds is not a finite number";
  }
  if (typeof r.epochs !== "number") return "epochs is not a number";
  return undefined;
}

function recordProblem(rec: unknown): string | undefined {
  if (typeof rec !== "object" || rec === null) return "not an object";
  const r = rec as Record<string, unknown>;
  if (typeof r.id !== "string" || r.id === "") return "no id";
  if (typeof r.spec !== "object" || r.spec === null) return "no spec";
  return resultProblem(r.result);
}

/**
 * Why a record's id does not name its spec (`id !== runId(spec)`: an edited
 * line, or a record from another version of the spec format), or `undefined`.
 * Such a record is not counted: it would count a run twice, or under the
 * wrong config.
 */
export function idProblem(rec: RunRecord): string | undefined {
  let expected: string;
  try {
    expected = runId(rec.spec);
  } catch (e) {
    return `its spec has no valid id (${e instanceof Error ? e.message : String(e)})`;
  }
  return rec.id === expected ? undefined : `its id ${rec.id} is not its spec's, ${expected}`;
}

/** Records whose id names their spec; a warning through `warn` for each other one. */
export function withValidIds(
  records: readonly RunRecord[],
  file: string,
  warn: (msg: string) => void,
): RunRecord[] {
  return records.filter((rec) => {
    const problem = idProblem(rec);
    if (problem) warn(`${file}: skipped run ${rec.id}: ${problem} (edited?); not counted`);
    return problem === undefined;
  });
}

/** The parsed lines of one results file. */
export type ParsedResults = {
  /** Complete, valid records in file order. */
  records: RunRecord[];
  /** One message per line skipped (torn tail, unparsable, invalid). */
  warnings: string[];
  /**
   * Byte length of the file up to and including its last newline, when the
   * bytes after it are a torn (incomplete) line; else `undefined`.
   */
  truncateTo?: number;
};

/**
 * Parses a results file's bytes. A last line without its newline is a
 * write cut short (the writer always ends a record with one): it is skipped
 * with a warning unless it happens to parse as a whole valid record.
 */
export function parseResults(bytes: Uint8Array, file = "<results>"): ParsedResults {
  const text = new TextDecoder().decode(bytes);
  const records: RunRecord[] = [];
  const warnings: string[] = [];
  let truncateTo: number | undefined;
  const lastNl = bytes.lastIndexOf(0x0a);
  const lines = text.split("\n");
  const tail = lines.pop() ?? ""; // after the last "\n": "" for a complete file
  lines.forEach((line, i) => {
    if (line.trim() === "") return;
    const rec = tryParse(line);
    const problem = rec === undefined ? "not valid JSON" : recordProblem(rec);
    if (problem) warnings.push(`${file}:${i + 1}: skipped line (${problem})`);
    else records.push(rec as RunRecord);
  });
  if (tail.trim() !== "") {
    const rec = tryParse(tail);
    if (rec !== undefined && recordProblem(rec) === undefined) {
      records.push(rec as RunRecord);
    } else {
      truncateTo = lastNl + 1;
      warnings.push(
        `${file}:${lines.length + 1}: ignored a partial last line of ${
          bytes.length - truncateTo
        } bytes (a write cut short, e.g. by a kill): not counted, and a rerun of the sweep redoes that run`,
      );
    }
  }
  return { records, warnings, truncateTo };
}

function tryParse(line: string): unknown {
  try {
    return JSON.parse(line);
  } catch {
    return undefined;
  }
}

/**
 * Reads one results file; a missing file is empty.
 */
export async function readResultsFile(path: string): Promise<ParsedResults> {
  let bytes: Uint8Array;
  try {
    bytes = await Deno.readFile(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return { records: [], warnings: [] };
    throw e;
  }
  return parseResults(bytes, path);
}

/** A shard of a sweep: this process runs positions `p` with `p % count === index`. */
export type Shard = {
  /** 0-based, in `[0, count)`. */
  index: number;
  /** Number of shards, ≥ 1. */
  count: number;
};

function stem(out: string): string {
  return out.endsWith(".jsonl") ? out.slice(0, -".jsonl".length) : out;
}

/**
 * The file a shard writes: `<out without .jsonl>.shard-<i>-of-<n>.jsonl`
 * (0-based `i`), or `out` itself when unsharded or `count` is 1. Separate
 * files because appends from several hosts to one file on a network
 * filesystem (NFS) can interleave.
 */
export function shardFile(out: string, shard?: Shard): string {
  if (shard === undefined || shard.count === 1) return out;
  return `${stem(out)}.shard-${shard.index}-of-${shard.count}.jsonl`;
}

/**
 * `out` plus every shard file of it that exists (any shard count), so a
 * re-sharded rerun still sees what earlier shards finished.
 */
export async function siblingResultFiles(out: string): Promise<string[]> {
  const dir = dirname(out);
  const prefix = `${basename(stem(out))}.shard-`;
  const files = [out];
  try {
    for await (const e of Deno.readDir(dir)) {
      if (e.isFile && e.name.startsWith(prefix) && /\.shard-\d+-of-\d+\.jsonl$/.test(e.name)) {
        files.push(join(dir, e.name));
      }
    }
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
  return [...new Set(files)].sort();
}

/**
 * Expands inputs to files: a directory gives its `*.jsonl` files (recursively);
 * a path whose last segment has `*` or `?` is a glob over that directory;
 * anything else is a file, which must exist.
 */
export async function expandInputs(inputs: string[]): Promise<string[]> {
  const files: string[] = [];
  for (const input of inputs) {
    const name = basename(input);
    if (/[*?]/.test(name)) {
      const re = new RegExp(
        `^${name.replace(/[.+^${}()|[\]\\]/g, "\\$&").replace(/\*/g, ".*").replace(/\?/g, ".")}$`,
      );
      const dir = dirname(input);
      const matched: string[] = [];
      for await (const e of Deno.readDir(dir)) {
        if (e.isFile && re.test(e.name)) matched.push(join(dir, e.name));
      }
      if (matched.length === 0) throw new ArbnetError(`no file matches ${input}`);
      files.push(...matched.sort());
      continue;
    }
    let info: Deno.FileInfo;
    try {
      info = await Deno.stat(input);
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) {
        throw new ArbnetError(`results input not found: ${input}`);
      }
      throw e;
    }
    if (info.isDirectory) files.push(...(await jsonlUnder(input)));
    else files.push(input);
  }
  return [...new Set(files)];
}

async function jsonlUnder(dir: string): Promise<string[]> {
  const out: string[] = [];
  for await (const e of Deno.readDir(dir)) {
    const p = join(dir, e.name);
    if (e.isDirectory) out.push(...(await jsonlUnder(p)));
    else if (e.isFile && e.name.endsWith(".jsonl")) out.push(p);
  }
  return out.sort();
}

/** Records merged from many files. */
export type MergedResults = {
  /** One record per id: the earliest finished when an id was run more than once. */
  records: RunRecord[];
  /** Files read, in order. */
  files: string[];
  /** Skipped lines and duplicate ids, in words. */
  warnings: string[];
};

/**
 * Reads and merges results files (see {@linkcode expandInputs} for what an
 * input may be), keeping one record per id. Two records with one id mean two
 * shards (or two processes) ran the same run: the earliest finished is kept
 * and a warning names the files.
 */
export async function readResults(inputs: string[]): Promise<MergedResults> {
  const files = await expandInputs(inputs);
  const warnings: string[] = [];
  const byId = new Map<string, { rec: RunRecord; file: string; copies: string[] }>();
  for (const file of files) {
    const parsed = await readResultsFile(file);
    warnings.push(...parsed.warnings);
    for (const rec of withValidIds(parsed.records, file, (w) => warnings.push(w))) {
      const seen = byId.get(rec.id);
      if (seen === undefined) {
        byId.set(rec.id, { rec, file, copies: [file] });
        continue;
      }
      seen.copies.push(file);
      if (rec.finishedAt < seen.rec.finishedAt) {
        seen.rec = rec;
        seen.file = file;
      }
    }
  }
  for (const [id, { file, copies }] of byId) {
    if (copies.length > 1) {
      warnings.push(
        `run ${id} was recorded ${copies.length} times (${
          [...new Set(copies)].join(", ")
        }); kept the earliest finished, from ${file}`,
      );
    }
  }
  return { records: [...byId.values()].map((v) => v.rec), files, warnings };
}
