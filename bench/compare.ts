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
 * A shared VM's speed drifts by up to 1.4× within a minute, so `--rounds N`
 * measures every configuration N times, ours and the peer's back to back in
 * each round, and prints the median time per side and the median, lowest
 * and highest of the per-round ratios.
 *
 *   deno run -A bench/compare.ts [--rounds 3] [--steps 20] [--warmup 3] [--batches 50,128] [--no-peer]
 *
 * tfjs runs in a subprocess (bench/peers/), so the two never share a device.
 * @module
 */

import { parseFlags, parseIntList, runMain } from "../lib/cli.ts";
import { requestDevice } from "../lib/gpu/device.ts";
import { median } from "../lib/experiment/stats.ts";
import { medianRange, msText } from "./format.ts";
import { mlpSetup, pipelinedStepMs, warmUp } from "./mlp_setup.ts";
import { runTfjsPeer } from "./peers/mod.ts";

const FLAGS = {
  rounds: { type: "int", min: 1, default: 1, help: "measurements of every configuration" },
  steps: { type: "int", min: 1, default: 20, help: "timed steps per configuration" },
  warmup: { type: "int", min: 1, default: 3, help: "untimed steps first (compiles shaders)" },
  batches: { type: "string", default: "50,128", help: "batch sizes" },
  "no-peer": { type: "bool", help: "skip TensorFlow.js" },
  deterministic: { type: "bool", help: "also time the deterministic table gradient" },
  tile: {
    type: "enum",
    choices: ["auto", "tune", "default"],
    default: "auto",
    help: "matmul tiles: the adapter's choice (cached, else its class's default), measured " +
      "where not cached (tune), or the portable default",
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
  tile: "auto" | "tune" | undefined = "auto",
): Promise<StepTimes> {
  const gpu = await requestDevice();
  try {
    const setup = mlpSetup(gpu, { layers: LAYERS, network: mode, batch, deterministic, tile });
    await warmUp(gpu, setup, warmup);
    const times: number[] = [];
    for (let i = 0; i < steps; i++) {
      const t0 = performance.now();
      await setup.trainer.step(setup.x, setup.y);
      await gpu.sync(); // a step is done when the device is done, as for the peer
      times.push(performance.now() - t0);
    }
    return { waited: median(times), pipelined: await pipelinedStepMs(gpu, setup, steps) };
  } finally {
    gpu.destroy();
  }
}

await runMain(async () => {
  const f = parseFlags(Deno.args, FLAGS, "deno run -A bench/compare.ts");
  if (!f) return;
  const batches = parseIntList("batches", f.batches);
  const tile = f.tile === "default" ? undefined : f.tile as "auto" | "tune";
  const gflop = (b: number) =>
    6 * b * LAYERS.slice(1).reduce((s, n, i) => s + LAYERS[i] * n, 0) / 1e9;
  // Per-round ratios: a round times ours and then the peer, so both see the
  // VM in about the same state; the median over rounds resists a slow spell.
  const ratios = (ours: number[], theirs: number[] | null) => {
    if (!theirs) return "-";
    const r = ours.map((t, i) => t / theirs[i]);
    return r.length > 1 ? medianRange(r) : median(r).toFixed(3);
  };
  const ms = (t: number[] | null) => (t ? msText(median(t)) : "-");
  if (f.rounds > 1) {
    console.log(
      `Times: median of ${f.rounds} rounds. Ratios: median of the per-round ratios ` +
        "(lowest-highest).\n",
    );
  }
  console.log(
    "| network 784-1000-1000-10 | batch | arbnet ms/step | tfjs-webgpu ms/step | arbnet / tfjs " +
      "| arbnet ms/step, pipelined | tfjs ms/step, pipelined | arbnet / tfjs, pipelined " +
      "| arbnet GFLOP/s, pipelined |",
  );
  console.log("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
  for (const batch of batches) {
    for (const mode of ["hashed", "dense"] as const) {
      const waited: number[] = [], piped: number[] = [];
      const peerWaited: number[] = [], peerPiped: number[] = [];
      for (let r = 0; r < f.rounds; r++) {
        const t = await ours(mode, batch, f.steps, f.warmup, "auto", tile);
        waited.push(t.waited);
        piped.push(t.pipelined);
        if (!f["no-peer"]) {
          const peer = await runTfjsPeer({ mode, batch, steps: f.steps, warmup: f.warmup });
          peerWaited.push(peer.msPerStep.median);
          peerPiped.push(peer.msPerStepPipelined);
        }
      }
      const theirs = f["no-peer"] ? null : peerWaited;
      const theirsPiped = f["no-peer"] ? null : peerPiped;
      console.log(
        `| ${mode} | ${batch} | ${ms(waited)} | ${ms(theirs)} | ${ratios(waited, theirs)} | ` +
          `${ms(piped)} | ${ms(theirsPiped)} | ${ratios(piped, theirsPiped)} | ` +
          `${(gflop(batch) / (median(piped) / 1000)).toFixed(2)} |`,
      );
    }
    if (f.deterministic) {
      const det: StepTimes[] = [], atomic: StepTimes[] = [];
      for (let r = 0; r < f.rounds; r++) {
        atomic.push(await ours("hashed", batch, f.steps, f.warmup, false, tile));
        det.push(await ours("hashed", batch, f.steps, f.warmup, true, tile));
      }
      const w = (t: StepTimes[]) => t.map((x) => x.waited);
      const p = (t: StepTimes[]) => t.map((x) => x.pipelined);
      console.log(
        `| hashed, deterministic vs atomic table gradient | ${batch} | ${ms(w(det))} | ` +
          `(atomic ${ms(w(atomic))}) | ${ratios(w(det), w(atomic))} | ` +
          `${ms(p(det))} | (atomic ${ms(p(atomic))}) | ${ratios(p(det), p(atomic))} | |`,
      );
    }
  }
});
