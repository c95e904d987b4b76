/**
 * The summary `bench/gpu_check.sh` prints at its end, from the logs it left
 * in one folder: the adapter, the tests' verdict, the training run's epochs
 * against the issue's target, our steps next to PyTorch's on the same GPU
 * (the ratios), and the kernel ratios. A part that did not run or did not
 * finish shows as missing; nothing here is measured.
 *
 *   deno run --allow-read bench/gpu_summary.ts OUT
 * @module
 */

import { runMain } from "../lib/cli.ts";
import { ArbnetError } from "../lib/errors.ts";
import { msText } from "./format.ts";

/** The targets. */
const TARGET = { accuracy: 0.981, seconds: 60, pipelinedRatio: 2 };

function read(dir: string, name: string): string | null {
  try {
    return Deno.readTextFileSync(`${dir}/${name}`);
  } catch {
    return null;
  }
}

/** Rows of every markdown table in `text`, as trimmed cells (separator rows dropped). */
function tableRows(text: string): string[][] {
  return text.split("\n")
    .filter((l) => l.startsWith("|") && !l.startsWith("| ---"))
    .map((l) => l.split("|").slice(1, -1).map((c) => c.trim()));
}

function adapter(dir: string): string {
  const log = read(dir, "adapter.log");
  return log?.split("\n").find((l) => l.startsWith("arbnet device:")) ??
    "adapter: missing (see adapter.log)";
}

function tests(dir: string): string[] {
  const log = read(dir, "tests.log");
  if (log === null) return ["tests: not run"];
  const verdict = log.split("\n").findLast((l) => /^(ok|FAILED) \|/.test(l));
  const failed = log.split("\n").filter((l) => / \.\.\. FAILED/.test(l));
  return [`tests: ${verdict ?? "no verdict (stopped at its limit?)"}`, ...failed];
}

interface EpochLine {
  type: string;
  epoch?: number;
  trainSeconds?: number;
  testAccuracy?: number;
  wallSeconds?: number;
}

function training(dir: string): string[] {
  const log = read(dir, "train.jsonl");
  if (log === null) return ["training: no log"];
  // A run stopped at its limit may leave its last line cut short.
  const lines = log.trim().split("\n").flatMap((l) => {
    try {
      return [JSON.parse(l) as EpochLine];
    } catch {
      return [];
    }
  });
  const pct = (a?: number) => (a === undefined ? "-" : `${(100 * a).toFixed(2)}%`);
  const out = ["| epoch | train s | test accuracy |", "| ---: | ---: | ---: |"];
  for (const e of lines.filter((l) => l.type === "epoch")) {
    out.push(`| ${e.epoch! + 1} | ${e.trainSeconds!.toFixed(2)} | ${pct(e.testAccuracy)} |`);
  }
  const done = lines.find((l) => l.type === "done");
  out.push(
    done
      ? `training: ${pct(done.testAccuracy)} in ${done.wallSeconds!.toFixed(1)} s ` +
        `(target: ≥ ${pct(TARGET.accuracy)} in under ${TARGET.seconds} s)`
      : "training: did not finish (stopped at its limit?)",
  );
  return out;
}

interface StepRow {
  waited: number;
  pipelined: number;
}

/** bench/compare.ts's rows, by `network batch`. */
function oursSteps(dir: string): Map<string, StepRow> {
  const rows = new Map<string, StepRow>();
  for (const c of tableRows(read(dir, "steps.log") ?? "")) {
    if ((c[0] === "hashed" || c[0] === "dense") && /^\d+$/.test(c[1])) {
      rows.set(`${c[0]} ${c[1]}`, { waited: Number(c[2]), pipelined: Number(c[5]) });
    }
  }
  return rows;
}

/** bench/torch_hashed_mlp.py's JSON lines, by `network batch`. */
function torchSteps(dir: string): Map<string, StepRow> {
  const rows = new Map<string, StepRow>();
  for (const l of (read(dir, "torch.log") ?? "").split("\n")) {
    if (!l.startsWith("json: ")) continue;
    const r = JSON.parse(l.slice(6));
    rows.set(`${r.network} ${r.batch}`, {
      waited: r.msPerStepWaited,
      pipelined: r.msPerStepPipelined,
    });
  }
  return rows;
}

function steps(dir: string): string[] {
  const ours = oursSteps(dir), torch = torchSteps(dir);
  if (ours.size === 0 && torch.size === 0) return ["steps: no timings"];
  const out = [
    "| network | batch | ours ms, waited | torch ms, waited | ours / torch " +
    "| ours ms, pipelined | torch ms, pipelined | ours / torch |",
    "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
  ];
  const ms = (x?: number) => (x === undefined ? "-" : msText(x));
  const ratio = (a?: number, b?: number) => (a && b ? (a / b).toFixed(2) : "-");
  for (const key of new Set([...ours.keys(), ...torch.keys()])) {
    const a = ours.get(key), b = torch.get(key);
    const [network, batch] = key.split(" ");
    out.push(
      `| ${network} | ${batch} | ${ms(a?.waited)} | ${ms(b?.waited)} | ` +
        `${ratio(a?.waited, b?.waited)} | ${ms(a?.pipelined)} | ${ms(b?.pipelined)} | ` +
        `${ratio(a?.pipelined, b?.pipelined)} |`,
    );
  }
  out.push(
    `(target: hashed, batch 128, pipelined: ours / torch ≤ ${TARGET.pipelinedRatio})`,
  );
  return out;
}

function kernels(dir: string): string[] {
  const log = read(dir, "kernels.log");
  if (log === null) return ["kernels: not run"];
  const at = log.indexOf("| batch | ratio |");
  const ratios = at < 0
    ? ["kernels: no ratio table (stopped at its limit?)"]
    : log.slice(at).split("\n\n")[0].split("\n");
  // profile_step's totals: the sum of a step's kernels beside the step itself.
  const step = log.split("\n").filter((l) => /^(Sum of the|Pipelined step)/.test(l));
  return [...ratios, ...step];
}

/** The summary of the logs in `dir`, as printed. */
export function summarize(dir: string): string {
  const sections = [[adapter(dir)], tests(dir), training(dir), steps(dir), kernels(dir)];
  return sections.map((s) => s.join("\n")).join("\n\n");
}

if (import.meta.main) {
  await runMain(async () => {
    const dir = Deno.args[0];
    if (!dir) throw new ArbnetError("usage: deno run --allow-read bench/gpu_summary.ts OUT");
    // A mistyped folder is an error, not a summary of six missing parts.
    await Deno.stat(dir);
    console.log(summarize(dir));
  });
}
