/**
 * Outside peers that the arbnet benchmarks compare against. Each peer runs
 * as a subprocess (its own Deno process, hence its own GPUDevice) and hands
 * back one line of JSON; this module spawns it and parses that line.
 *
 * @example
 * ```ts
 * import { runTfjsPeer } from "./mod.ts";
 * const r = await runTfjsPeer({ mode: "hashed", batch: 50, steps: 20, warmup: 3 });
 * console.log(r.msPerStep.median, r.gflops);
 * ```
 *
 * @module
 */

/** Result of one peer benchmark run (the JSON line printed by the peer script). */
export interface PeerResult {
  /** Peer name, `"tfjs-webgpu"`. */
  peer: string;
  /** Version of the peer library (TensorFlow.js core version, `"4.22.0"`). */
  version: string;
  /** `dense` weight matrices, or `hashed` tables (K = nIn·nOut/8, random slots and ±1 signs). */
  mode: "dense" | "hashed";
  /** Batch size B. */
  batch: number;
  /**
   * Wall time per whole training step (forward, backward, momentum update,
   * waited until the GPU is done), over the timed steps, in milliseconds.
   */
  msPerStep: { median: number; mean: number; min: number; max: number };
  /**
   * Wall time per step when `steps` steps run back to back and only the
   * last is waited for, as a training loop that does not read every loss
   * runs: the GPU round trip (about 11 ms under Deno 2.9 on lavapipe) is
   * paid once instead of every step. In milliseconds.
   */
  msPerStepPipelined: number;
  /** Number of timed steps. */
  steps: number;
  /** Number of untimed steps before them (the first one compiles the shaders). */
  warmup: number;
  /**
   * Nominal GFLOP per step: `6·B·Σ nIn·nOut` (forward, input-gradient and
   * weight-gradient matmuls of every layer; tfjs really skips the first
   * layer's input gradient, and gather/scatter work is not counted).
   */
  gflopPerStep: number;
  /** `gflopPerStep / median seconds per step`. */
  gflops: number;
  /** Wall time of the very first step, which includes WGSL pipeline compilation. */
  firstStepMs: number;
  /** Loss after the last timed step (sanity: finite). */
  finalLoss: number;
  /** tfjs backend actually used; always `"webgpu"` (the script fails otherwise). */
  backend: string;
  /** Description of the WebGPU adapter (e.g. `"llvmpipe (LLVM 15.0.6, 256 bits)"`). */
  adapter: string;
}

/** Options of {@link runTfjsPeer}. */
export interface TfjsPeerOptions {
  /** Weight storage: ordinary matrices or hashed tables. */
  mode: "dense" | "hashed";
  /** Batch size (the benchmarks use 50 and 128). */
  batch: number;
  /** Timed steps (default 20). */
  steps?: number;
  /** Untimed warm-up steps, including the shader-compiling first step (default 3). */
  warmup?: number;
}

/** Path or URL of the peer script, suitable as a `deno run` argument. */
function scriptArg(name: string): string {
  const url = new URL(name, import.meta.url);
  if (url.protocol !== "file:") return url.href;
  let path = decodeURIComponent(url.pathname);
  if (Deno.build.os === "windows") path = path.replace(/^\/([A-Za-z]:)/, "$1");
  return path;
}

/** Runs a peer script with `args` in a subprocess and parses its last stdout line as JSON. */
async function runPeerScript(script: string, args: string[]): Promise<unknown> {
  const cmd = new Deno.Command(Deno.execPath(), {
    // TensorFlow.js is in the benchmarks' lockfile, outside the library's install set.
    args: [
      "run",
      "-A",
      `--lock=${scriptArg("../../locks/bench.lock")}`,
      scriptArg(script),
      ...args,
    ],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  });
  const out = await cmd.output();
  const stdout = new TextDecoder().decode(out.stdout).trim();
  const stderr = new TextDecoder().decode(out.stderr).trim();
  if (!out.success) {
    throw new Error(`${script} ${args.join(" ")} exited with code ${out.code}:\n${stderr}`);
  }
  const lines = stdout.split("\n").filter((l) => l.trim().length > 0);
  const last = lines[lines.length - 1];
  if (!last) throw new Error(`${script} printed no result line; stderr:\n${stderr}`);
  try {
    return JSON.parse(last);
  } catch {
    throw new Error(`${script} printed a result line that is not JSON: ${last}`);
  }
}

/**
 * Benchmarks TensorFlow.js 4.22.0 on its WebGPU backend training a
 * 784-1000-1000-10 ReLU MLP (softmax cross-entropy, SGD momentum 0.9), in a
 * separate Deno process running `tfjs_mlp.ts`, so tfjs's GPUDevice never shares
 * a process with ours. Needs `--allow-run`; throws with the child's stderr if
 * WebGPU or the tfjs `webgpu` backend is unavailable.
 *
 * @param opts mode, batch size and step counts
 * @returns the parsed result line
 */
export async function runTfjsPeer(opts: TfjsPeerOptions): Promise<PeerResult> {
  const args = [
    "--mode",
    opts.mode,
    "--batch",
    String(opts.batch),
    "--steps",
    String(opts.steps ?? 20),
    "--warmup",
    String(opts.warmup ?? 3),
  ];
  const r = await runPeerScript("./tfjs_mlp.ts", args) as PeerResult;
  if (
    r.backend !== "webgpu" || typeof r.msPerStep?.median !== "number" ||
    typeof r.msPerStepPipelined !== "number"
  ) {
    throw new Error(`tfjs peer returned an unexpected result: ${JSON.stringify(r)}`);
  }
  return r;
}

/** Result of {@link checkTfjsPeer}: per-quantity error ratios (≤ 1 is within tolerance). */
export interface PeerCheckResult {
  /** Peer name, `"tfjs-webgpu"`. */
  peer: string;
  /** TensorFlow.js core version. */
  version: string;
  /** Error ratios for the dense and hashed 7-5-3 networks, each with an `ok` flag. */
  check: Record<"dense" | "hashed", Record<string, number | boolean>>;
  /** Whether logits, loss, gradients and one momentum step all match the CPU reference. */
  ok: boolean;
  /** Description of the WebGPU adapter. */
  adapter: string;
}

/**
 * Validates the tfjs peer against a plain-TS CPU reference (logits, loss,
 * gradients w.r.t. tables/weights and biases, one optimizer step) on a tiny
 * 7-5-3 network, batch 4, in both modes, in a subprocess (`tfjs_mlp.ts --check`).
 *
 * @returns the check report; throws if the check fails or WebGPU is unavailable
 */
export async function checkTfjsPeer(): Promise<PeerCheckResult> {
  return await runPeerScript("./tfjs_mlp.ts", ["--check"]) as PeerCheckResult;
}
