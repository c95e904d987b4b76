/**
 * The one argument parser of every script: typed flags declared once, with
 * ranges, defaults and help text, parsed by `node:util` parseArgs (JSR's
 * `@std/cli` cannot be fetched here). A bad flag or value gives a message
 * that names the flag and what is allowed.
 *
 * Layer: scripts' helper; imports only `lib/errors.ts`.
 * @module
 */

import { parseArgs } from "node:util";
import { ArbnetError } from "./errors.ts";

/** One flag. */
export type Flag =
  | { type: "int"; default?: number; min?: number; max?: number; help: string }
  | { type: "number"; default?: number; min?: number; max?: number; help: string }
  | { type: "string"; default?: string; help: string }
  | { type: "enum"; choices: readonly string[]; default?: string; help: string }
  | { type: "bool"; default?: boolean; help: string };

/** Flag declarations keyed by long name (kebab-case). */
export type FlagSpec = Record<string, Flag>;

type ValueOf<F extends Flag> = F extends { type: "int" | "number" } ? number
  : F extends { type: "bool" } ? boolean
  : string;

/** Parsed values: flags with a default are always present. */
export type Parsed<S extends FlagSpec> =
  & {
    [K in keyof S]: S[K] extends { default: unknown } ? ValueOf<S[K]> : ValueOf<S[K]> | undefined;
  }
  & { _: string[] };

/** Help text for a spec. */
export function usage(command: string, spec: FlagSpec, summary = ""): string {
  const lines = [`usage: ${command} [options]`, summary, "", "options:"].filter((l, i) =>
    i !== 1 || l
  );
  for (const [name, f] of Object.entries(spec)) {
    const arg = f.type === "bool"
      ? ""
      : f.type === "enum"
      ? ` <${f.choices.join("|")}>`
      : ` <${f.type}>`;
    const def = f.default !== undefined && f.type !== "bool" ? ` (default ${f.default})` : "";
    lines.push(`  --${name}${arg}`.padEnd(34) + f.help + def);
  }
  lines.push("  --help".padEnd(34) + "show this help");
  return lines.join("\n");
}

function range(f: { min?: number; max?: number }, int: boolean): string {
  const kind = int ? "an integer" : "a number";
  if (f.min !== undefined && f.max !== undefined) return `${kind} in [${f.min}, ${f.max}]`;
  if (f.min !== undefined) return `${kind} ≥ ${f.min}`;
  if (f.max !== undefined) return `${kind} ≤ ${f.max}`;
  return kind;
}

/**
 * Parses `args` against `spec`. Throws an {@linkcode ArbnetError} for an
 * unknown flag or a malformed/out-of-range value. Returns `null` for `--help`
 * (after printing the usage).
 */
export function parseFlags<S extends FlagSpec>(
  args: string[],
  spec: S,
  command = "script",
  summary = "",
): Parsed<S> | null {
  const options: Record<string, { type: "string" | "boolean" }> = { help: { type: "boolean" } };
  for (const [name, f] of Object.entries(spec)) {
    options[name] = { type: f.type === "bool" ? "boolean" : "string" };
  }
  let raw;
  try {
    raw = parseArgs({ args, options, allowPositionals: true, strict: true });
  } catch (e) {
    const msg = (e as Error).message.replace(/\. To specify a positional.*$/s, "");
    throw new ArbnetError(`${msg}\n\n${usage(command, spec, summary)}`);
  }
  if (raw.values.help) {
    console.log(usage(command, spec, summary));
    return null;
  }
  const out: Record<string, unknown> = { _: raw.positionals };
  for (const [name, f] of Object.entries(spec)) {
    const v = raw.values[name];
    if (v === undefined) {
      out[name] = f.default;
      continue;
    }
    if (f.type === "bool") {
      out[name] = v;
      continue;
    }
    const s = String(v);
    if (f.type === "int" || f.type === "number") {
      const n = s.trim() === "" ? NaN : Number(s);
      const int = f.type === "int";
      if (
        !Number.isFinite(n) || (int && !Number.isInteger(n)) ||
        (f.min !== undefined && n < f.min) || (f.max !== undefined && n > f.max)
      ) {
        throw new ArbnetError(`invalid --${name} ${JSON.stringify(s)}: expected ${range(f, int)}`);
      }
      out[name] = n;
    } else if (f.type === "enum") {
      if (!f.choices.includes(s)) {
        throw new ArbnetError(
          `invalid --${name} ${JSON.stringify(s)}: expected one of ${f.choices.join(", ")}`,
        );
      }
      out[name] = s;
    } else {
      // An empty value (`--resume ""`, an unset shell variable) would read as
      // "not given" and silently change what the run does.
      if (s === "") throw new ArbnetError(`invalid --${name} "": expected a non-empty value`);
      out[name] = s;
    }
  }
  return out as Parsed<S>;
}

/** Parses a comma-separated list of positive integers (e.g. `--layers 784,1000,10`). */
export function parseIntList(flag: string, s: string): number[] {
  const parts = s.split(",").map((p) => p.trim());
  const nums = parts.map(Number);
  if (parts.length === 0 || nums.some((n, i) => parts[i] === "" || !Number.isInteger(n) || n < 1)) {
    throw new ArbnetError(
      `invalid --${flag} ${JSON.stringify(s)}: expected comma-separated positive integers`,
    );
  }
  return nums;
}

/** Whether `e` is one of Deno's file-system and I/O errors (`Deno.errors.*`). */
function isDenoError(e: unknown): e is Error {
  return Object.values(Deno.errors).some((c) => e instanceof c);
}

/**
 * Runs a script's main, printing an {@linkcode ArbnetError} as a one-line
 * message and exiting 2. A file-system error that escaped every specific
 * check (a folder where a file was expected, a full or read-only disk) is a
 * user's problem too: one `error:` line with Deno's message, which names the
 * path, and exit code 2, never a stack trace.
 */
export async function runMain(main: () => Promise<void>): Promise<void> {
  try {
    await main();
  } catch (e) {
    if (e instanceof ArbnetError) {
      console.error(`error: ${e.message}`);
      Deno.exit(2);
    }
    if (isDenoError(e)) {
      console.error(`error: ${e.message.split("\n")[0]}: check the path and its permissions`);
      Deno.exit(2);
    }
    throw e;
  }
}
