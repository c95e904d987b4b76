/**
 * Ours against TensorFlow.js WebGPU on the same adapter, in the same run:
 * full training steps of a 784-1000-1000-10 MLP (momentum SGD, table
 * fraction 1/8 or dense) at batch 50 and 128, plus our deterministic table
 * gradient against the atomic one. Ours runs with the library's defaults
 * (`deterministic: "auto"`: deterministic on CPU adapters). Prints a
 * markdown table with the ratios, two ways: every step waited for (the
 * peer reads its loss each step), and `--steps` steps back to back with one
 * wait at the end (pipelined, what `fit` does between metric reads). A GPU
 * round trip costs about 11 ms under Deno 2.9 on lavapipe whatever the work,
 * so the first way adds that to both sides' every step.
 *
 *   deno run -A bench/compare.ts [--steps 20] [--warmup 3] [--batches 50,128] [--no-peer]
 *
 * tfjs runs in a subprocess (bench/peers/), so the two never share a device.
 * @module
 */

import { parseFlags, parseIntList, runMain } from "../lib/cli.ts";
import { requestDevice } from "../lib/gpu/device.ts";
import { hashes } from "../lib/hash/mod.ts";
import { SGD } from "../lib/optim/mod.ts";
import { buildMlp, Trainer } from "../lib/train/mod.ts";
import { median } from "../lib/experiment/stats.ts";
import { Rng } from "../lib/util/random.ts";
import { type PeerResult, runTfjsPeer } from "./peers/mod.ts";

const FLAGS = {
  steps: { type: "int", min: 1, default: 20, help: "timed steps per configuration" },
  warmup: { type: "int", min: 1, default: 3, help: "untimed steps first (compiles shaders)" },
  batches: { type: "string", default: "50,128", help: "batch sizes" },
  "no-peer": { type: "bool", help: "skip TensorFlow.js" },
  deterministic: { type: "bool", help: "also time the deterministic table gradient" },
  tile: {
    type: "enum",
    choices: ["auto", "default"],
    default: "auto",
    help: "matmul tiles: autotuned (cached per adapter) or the portable default",
  },
} as const;

const LAYERS = [784, 1000, 1000, 10];

/** Milliseconds per step: each step waited for (median), and back to back with one wait. */
interface StepTimes {
  waited: number;
  pipelined: number;
}

async function ours(
  mode: "dense" | "hashed",
  batch: number,
  steps: number,
  warmup: number,
  deterministic: boolean | "auto" = "auto",
  tile: "auto" | undefined = "auto",
): Promise<StepTimes> {
  const gpu = await requestDevice();
  try {
    const { net } = buildMlp(gpu, {
      layers: LAYERS,
      hash: mode === "dense" ? hashes.dense() : hashes.uniform(),
      tableFraction: 1 / 8,
      seed: 1,
      deterministic,
      tile,
    });
    const trainer = new Trainer(net, new SGD(net.parameters(), { lr: 0.01, momentum: 0.9 }), {
      features: 784,
      classes: 10,
    });
    const rng = new Rng(1);
    const x = Float32Array.from({ length: batch * 784 }, () => rng.next());
    const y = Uint32Array.from({ length: batch }, () => rng.int(10));
    for (let i = 0; i < warmup; i++) await trainer.step(x, y);
    await gpu.sync();
    const times: number[] = [];
    for (let i = 0; i < steps; i++) {
      const t0 = performance.now();
      await trainer.step(x, y);
      await gpu.sync(); // a step is done when the device is done, as for the peer
      times.push(performance.now() - t0);
    }
    const t0 = performance.now();
    for (let i = 0; i < steps; i++) await trainer.step(x, y);
    await gpu.sync();
    return { waited: median(times), pipelined: (performance.now() - t0) / steps };
  } finally {
    gpu.destroy();
  }
}

await runMain(async () => {
  const f = parseFlags(Deno.args, FLAGS, "deno run -A bench/compare.ts");
  if (!f) return;
  const batches = parseIntList("batches", f.batches);
  const tile = f.tile === "auto" ? "auto" : undefined;
  const gflop = (b: number) =>
    6 * b * LAYERS.slice(1).reduce((s, n, i) => s + LAYERS[i] * n, 0) / 1e9;
  const ratio = (a: number, b?: number) => (b ? (a / b).toFixed(3) : "-");
  console.log(
    "| network 784-1000-1000-10 | batch | arbnet ms/step | tfjs-webgpu ms/step | arbnet / tfjs " +
      "| arbnet ms/step, pipelined | tfjs ms/step, pipelined | arbnet / tfjs, pipelined " +
      "| arbnet GFLOP/s, pipelined |",
  );
  console.log("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
  for (const batch of batches) {
    for (const mode of ["hashed", "dense"] as const) {
      const t = await ours(mode, batch, f.steps, f.warmup, "auto", tile);
      let peer: PeerResult | null = null;
      if (!f["no-peer"]) {
        peer = await runTfjsPeer({ mode, batch, steps: f.steps, warmup: f.warmup });
      }
      const theirs = peer?.msPerStep.median;
      const theirsPiped = peer?.msPerStepPipelined;
      console.log(
        `| ${mode} | ${batch} | ${t.waited.toFixed(1)} | ${theirs?.toFixed(1) ?? "-"} | ${
          ratio(t.waited, theirs)
        } | ${t.pipelined.toFixed(1)} | ${theirsPiped?.toFixed(1) ?? "-"} | ${
          ratio(t.pipelined, theirsPiped)
        } | ${(gflop(batch) / (t.pipelined / 1000)).toFixed(2)} |`,
      );
    }
    if (f.deterministic) {
      const atomic = await ours("hashed", batch, f.steps, f.warmup, false, tile);
      const det = await ours("hashed", batch, f.steps, f.warmup, true, tile);
      console.log(
        `| hashed, deterministic vs atomic table gradient | ${batch} | ${
          det.waited.toFixed(1)
        } | ` +
          `(atomic ${atomic.waited.toFixed(1)}) | ${ratio(det.waited, atomic.waited)} | ` +
          `${det.pipelined.toFixed(1)} | (atomic ${atomic.pipelined.toFixed(1)}) | ` +
          `${ratio(det.pipelined, atomic.pipelined)} | |`,
      );
    }
  }
});
