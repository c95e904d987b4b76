/**
 * Pieces shared by the scripts: hash options from flags, a JSON-lines log
 * writer and the per-epoch progress bar.
 * @module
 */

import { dirname, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { ArbnetError } from "../lib/errors.ts";
import { fileError } from "../lib/io/files.ts";
import { type Hash, hashFamilyNames, hashFromDescriptor } from "../lib/hash/mod.ts";
import type { EpochRecord, Progress } from "../lib/train/mod.ts";

/** The flags that choose a hash family's options, shared by every script that builds hashes. */
export const HASH_OPTION_FLAGS = {
  hash: {
    type: "string",
    default: "uniform",
    help: `hash family: ${hashFamilyNames.join(", ")}, or one a --hash-module registers`,
  },
  "hash-module": {
    type: "string",
    help: "import this module first (a path); it registers hash families for --hash",
  },
  "hash-options": {
    type: "string",
    help: `the family's options as JSON, e.g. '{"block":2}' (any family)`,
  },
  alpha: {
    type: "number",
    min: 1e-4,
    max: 1e4,
    help: "Dirichlet concentration (--hash dirichlet)",
  },
  radius: { type: "int", min: 0, help: "Neighborhood radius (--hash neighborhood)" },
  sign: { type: "enum", choices: ["on", "off"], help: "sign hash ξ (family default when absent)" },
} as const;

/** Hash family options from the common flags (`--alpha`, `--radius`, `--sign`). */
export function hashOptionsFromFlags(
  f: { hash: string; alpha?: number; radius?: number; sign?: string },
): Record<string, number | boolean> {
  const o: Record<string, number | boolean> = {};
  if (f.hash === "dirichlet") {
    if (f.alpha === undefined) throw new ArbnetError("--hash dirichlet needs --alpha (e.g. 0.1)");
    o.alpha = f.alpha;
  } else if (f.alpha !== undefined) {
    throw new ArbnetError(`--alpha applies to --hash dirichlet, not ${f.hash}`);
  }
  if (f.hash === "neighborhood") {
    if (f.radius === undefined) {
      throw new ArbnetError("--hash neighborhood needs --radius (e.g. 16)");
    }
    o.radius = f.radius;
  } else if (f.radius !== undefined) {
    throw new ArbnetError(`--radius applies to --hash neighborhood, not ${f.hash}`);
  }
  if (f.sign !== undefined) o.sign = f.sign === "on";
  return o;
}

/**
 * Imports a `--hash-module` file, whose top level registers hash families
 * (`registerHashFamily`). It must import arbnet from this same copy of the
 * library (e.g. `../mod.ts` inside the repository), so that it registers
 * into the registry the scripts read.
 */
export async function importHashModule(path: string): Promise<void> {
  const url = pathToFileURL(resolve(path)).href;
  try {
    await import(url);
  } catch (e) {
    if (e instanceof ArbnetError) throw e;
    throw new ArbnetError(`--hash-module ${path} could not be imported: ${(e as Error).message}`);
  }
}

/** `--hash-options` parsed: a JSON object of numbers, strings and booleans. */
export function parseHashOptions(json: string): Record<string, number | string | boolean> {
  let value: unknown;
  try {
    value = JSON.parse(json);
  } catch (e) {
    throw new ArbnetError(`invalid --hash-options ${json}: not JSON (${(e as Error).message})`);
  }
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    throw new ArbnetError(`invalid --hash-options ${json}: expected a JSON object, e.g. '{"a":1}'`);
  }
  for (const [k, v] of Object.entries(value)) {
    if (typeof v !== "number" && typeof v !== "string" && typeof v !== "boolean") {
      throw new ArbnetError(
        `invalid --hash-options ${json}: option ${k} is ${JSON.stringify(v)}, expected a ` +
          "number, string or boolean",
      );
    }
  }
  return value as Record<string, number | string | boolean>;
}

/**
 * The hash the flags describe: imports `--hash-module` (if any), then
 * builds `--hash` with the options of `--alpha`, `--radius`, `--sign` and
 * `--hash-options` (an option given twice is refused).
 */
export async function hashFromFlags(
  f: {
    hash: string;
    "hash-module"?: string;
    "hash-options"?: string;
    alpha?: number;
    radius?: number;
    sign?: string;
  },
): Promise<Hash> {
  if (f["hash-module"] !== undefined) await importHashModule(f["hash-module"]);
  const options: Record<string, number | string | boolean> = hashOptionsFromFlags(f);
  if (f["hash-options"] !== undefined) {
    for (const [k, v] of Object.entries(parseHashOptions(f["hash-options"]))) {
      if (Object.hasOwn(options, k)) {
        throw new ArbnetError(`the hash option ${k} is given twice: by --${k} and --hash-options`);
      }
      options[k] = v;
    }
  }
  return hashFromDescriptor({ family: f.hash, options });
}

/** An append-only JSON-lines file. */
export interface JsonlLog {
  /** Where it is written. */
  path: string;
  /** Appends one record (with a timestamp). */
  write(record: Record<string, unknown>): Promise<void>;
  /** Closes the file. */
  close(): Promise<void>;
}

/** Opens `path` (or `out/<prefix>-<time>.jsonl`) for appending. */
export async function openLog(path: string | undefined, prefix: string): Promise<JsonlLog> {
  const p = path ?? `out/${prefix}-${new Date().toISOString().replace(/[:.]/g, "-")}.jsonl`;
  let file: Deno.FsFile;
  try {
    await Deno.mkdir(dirname(p), { recursive: true });
    file = await Deno.open(p, { append: true, create: true });
  } catch (e) {
    throw fileError(e, p, "open the log");
  }
  const enc = new TextEncoder();
  return {
    path: p,
    async write(record) {
      const line = enc.encode(JSON.stringify({ time: new Date().toISOString(), ...record }) + "\n");
      try {
        let at = 0;
        while (at < line.length) at += await file.write(line.subarray(at));
      } catch (e) {
        // A full disk mid-run: say which file, not just the OS error.
        throw fileError(e, p, "append to the log");
      }
    },
    close() {
      file.close();
      return Promise.resolve();
    },
  };
}

/**
 * A progress bar on stderr: redrawn in place on a terminal, a line per
 * quarter epoch otherwise (logs and CI stay readable).
 */
export class ProgressBar {
  readonly #quiet: boolean;
  readonly #tty: boolean;
  #lastQuarter = -1;
  #enc = new TextEncoder();

  /** @param quiet print only the per-epoch summary */
  constructor(quiet = false) {
    this.#quiet = quiet;
    this.#tty = Deno.stderr.isTerminal();
  }

  /** Shows progress inside an epoch. */
  update(p: Progress): void {
    if (this.#quiet) return;
    const width = 30;
    const filled = Math.round((width * p.step) / p.steps);
    const text = `epoch ${p.epoch + 1} [${"=".repeat(filled)}${" ".repeat(width - filled)}] ` +
      `${p.step}/${p.steps} loss ${p.metrics.loss.toFixed(4)} ` +
      `acc ${(100 * p.metrics.accuracy).toFixed(1)}% ${p.examplesPerSecond.toFixed(0)} ex/s`;
    if (this.#tty) {
      Deno.stderr.writeSync(this.#enc.encode(`\r${text}\x1b[K`));
      return;
    }
    const quarter = Math.floor((4 * p.step) / p.steps);
    if (quarter !== this.#lastQuarter && quarter < 4) {
      this.#lastQuarter = quarter;
      console.error(text);
    }
  }

  /** Ends an epoch's bar with its summary line. */
  done(e: EpochRecord): void {
    if (this.#tty && !this.#quiet) Deno.stderr.writeSync(this.#enc.encode("\r\x1b[K"));
    this.#lastQuarter = -1;
    const test = e.testAccuracy !== undefined
      ? ` test loss ${e.testLoss!.toFixed(4)} acc ${(100 * e.testAccuracy).toFixed(2)}%`
      : "";
    console.error(
      `epoch ${e.epoch + 1}: train loss ${e.trainLoss.toFixed(4)} acc ` +
        `${(100 * e.trainAccuracy).toFixed(2)}%${test} | ${e.trainSeconds.toFixed(1)} s, ` +
        `${e.examplesPerSecond.toFixed(0)} ex/s, lr ${e.lr.toPrecision(3)}`,
    );
  }
}
