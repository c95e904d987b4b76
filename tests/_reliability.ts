/**
 * Helpers of the reliability tests (`tests/reliability_*.test.ts`): asserting
 * that bad input fails with an `ArbnetError` whose message says enough, toy
 * datasets, fake MNIST folders, and running `scripts/train.ts` as a user would.
 *
 * Set `ARBNET_SHOW_MESSAGES=1` to print every checked message (that is how
 * the table of docs/reliability.md is kept in step with the code).
 * @module
 */

import assert from "node:assert/strict";
import { cpSync } from "node:fs";
import { join } from "node:path";
import { ArbnetError } from "../lib/errors.ts";
import { encodeIdx, MNIST_FILES } from "../lib/data/mod.ts";
import type { Dataset } from "../lib/data/mod.ts";
import { Rng } from "../lib/util/random.ts";

const show = (() => {
  try {
    return Deno.env.get("ARBNET_SHOW_MESSAGES") === "1";
  } catch {
    return false;
  }
})();

function check(err: unknown, fragments: (string | RegExp)[], label: string): string {
  assert.ok(err !== undefined, `${label}: expected an ArbnetError, but nothing was thrown`);
  assert.ok(err instanceof ArbnetError, `${label}: expected an ArbnetError, got ${err}`);
  for (const f of fragments) {
    const ok = typeof f === "string" ? err.message.includes(f) : f.test(err.message);
    assert.ok(ok, `${label}: message ${JSON.stringify(err.message)} lacks ${f}`);
  }
  if (show) console.log(`MESSAGE [${label}] ${err.message}`);
  return err.message;
}

/** Runs `fn`, requiring an ArbnetError whose message contains every fragment; returns it. */
export function throwsArbnet(label: string, fn: () => unknown, ...f: (string | RegExp)[]): string {
  let err: unknown;
  try {
    fn();
  } catch (e) {
    err = e;
  }
  return check(err, f, label);
}

/** Awaits `p`, requiring an ArbnetError whose message contains every fragment; returns it. */
export async function rejectsArbnet(
  label: string,
  p: Promise<unknown> | (() => Promise<unknown>),
  ...f: (string | RegExp)[]
): Promise<string> {
  let err: unknown;
  try {
    await (typeof p === "function" ? p() : p);
  } catch (e) {
    err = e;
  }
  return check(err, f, label);
}

/** A seeded dataset of `count` examples in [0, 1), labels cycling through `classes`. */
export function toyDataset(count: number, features: number, classes: number, seed = 1): Dataset {
  const rng = new Rng(seed);
  return {
    name: `toy-${seed}`,
    x: Float32Array.from({ length: count * features }, () => rng.next()),
    y: Uint32Array.from({ length: count }, (_, i) => i % classes),
    count,
    features,
    classes,
    shape: [1, 1, features],
  };
}

/** Writes a train and a test split of MNIST-format idx files (random pixels) into `dir`. */
export async function writeFakeMnist(dir: string, train = 200, test = 50): Promise<void> {
  const rng = new Rng(7);
  for (const [split, n] of [["train", train], ["test", test]] as const) {
    const px = Uint8Array.from({ length: n * 784 }, () => rng.int(256));
    const labels = Uint8Array.from({ length: n }, (_, i) => i % 10);
    await Deno.writeFile(join(dir, MNIST_FILES[split].images), encodeIdx([n, 28, 28], px));
    await Deno.writeFile(join(dir, MNIST_FILES[split].labels), encodeIdx([n], labels));
  }
}

/** What a script run printed and how it ended. */
export interface ScriptRun {
  /** Exit code. */
  code: number;
  /** Everything written to stderr. */
  stderr: string;
  /** Everything written to stdout. */
  stdout: string;
}

/**
 * Runs `deno run -A scripts/train.ts ...args` and returns its exit code and
 * output. With `asUser` (root only) it runs as that uid through `setpriv`,
 * with an empty Deno cache in `denoDir` (root's is not readable to others).
 */
export async function runTrain(
  args: string[],
  as?: { uid: number; denoDir: string },
): Promise<ScriptRun> {
  let script = new URL("../scripts/train.ts", import.meta.url).pathname;
  if (as) {
    // The other user may not be able to read the checkout (a clone in a
    // private folder): run a copy of the sources from its own folder.
    const root = new URL("../", import.meta.url).pathname;
    const src = join(as.denoDir, "src");
    for (const part of ["deno.json", "deno.lock", "lib", "scripts", "shaders"]) {
      cpSync(join(root, part), join(src, part), { recursive: true });
    }
    script = join(src, "scripts", "train.ts");
  }
  const deno = ["run", "-A", script, ...args];
  const command = as
    ? ["setpriv", [
      `--reuid=${as.uid}`,
      `--regid=${as.uid}`,
      "--clear-groups",
      "env",
      `DENO_DIR=${as.denoDir}`,
      `HOME=${as.denoDir}`,
      Deno.execPath(),
      "run",
      "-A",
      "--cached-only",
      ...deno.slice(2),
    ]] as const
    : [Deno.execPath(), deno] as const;
  const out = await new Deno.Command(command[0], {
    args: [...command[1]],
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).output();
  const dec = new TextDecoder();
  const run = { code: out.code, stderr: dec.decode(out.stderr), stdout: dec.decode(out.stdout) };
  return run;
}

/** Asserts a train.ts run failed with exit code 2 and an `error:` line containing every fragment. */
export function assertScriptError(
  label: string,
  run: ScriptRun,
  ...f: (string | RegExp)[]
): string {
  assert.equal(run.code, 2, `${label}: exit code ${run.code}, stderr:\n${run.stderr}`);
  const line = run.stderr.split("\n").find((l) => l.startsWith("error: "));
  assert.ok(line, `${label}: no "error:" line in stderr:\n${run.stderr}`);
  for (const x of f) {
    const ok = typeof x === "string" ? run.stderr.includes(x) : x.test(run.stderr);
    assert.ok(ok, `${label}: stderr lacks ${x}:\n${run.stderr}`);
  }
  if (show) console.log(`MESSAGE [${label}] ${line}`);
  return line;
}

/** A fresh temporary folder, removed by the returned function. */
export async function tempDir(): Promise<{ dir: string; remove: () => Promise<void> }> {
  const dir = await Deno.makeTempDir({ prefix: "arbnet-rel-" });
  return { dir, remove: () => Deno.remove(dir, { recursive: true }) };
}

/** The uid of `nobody`, for tests that need a user root's permission bits do not bypass. */
export const NOBODY = 65534;

/** Whether the tests run as root (who reads and writes through permission bits). */
export const asRoot = Deno.uid() === 0;

/** Whether `setpriv` can run a script as {@linkcode NOBODY}. */
export const hasSetpriv = (() => {
  try {
    return Deno.statSync("/usr/bin/setpriv").isFile;
  } catch {
    return false;
  }
})();
