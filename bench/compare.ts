/**
 * Ours against TensorFlow.js WebGPU on the same adapter, in the same run:
 * full training steps of a 784-1000-1000-10 MLP (momentum SGD, table
 * fraction 1/8 or dense) at batch 50 and 128, plus our deterministic table
 * gradient against the atomic one. Prints a markdown table with the ratios.
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

function median(a: number[]): number {
  const s = [...a].sort((p, q) => p - q);
  return s[Math.floor(s.length / 2)];
}

async function ours(
  mode: "dense" | "hashed",
  batch: number,
  steps: number,
  warmup: number,
  deterministic = false,
  tile: "auto" | undefined = "auto",
): Promise<number> {
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
    return median(times);
  } finally {
    gpu.destroy();
  }
}

await runMain(async () => {
  const f = parseFlags(Deno.args, FLAGS, "deno run -A bench/compare.ts");
  if (!f) return;
  const batches = parseIntList("batches", f.batches);
  const gflop = (b: number) =>
    6 * b * LAYERS.slice(1).reduce((s, n, i) => s + LAYERS[i] * n, 0) / 1e9;
  console.log(
    "| network 784-1000-1000-10 | batch | arbnet ms/step | tfjs-webgpu ms/step | arbnet / tfjs | arbnet GFLOP/s |",
  );
  console.log("| --- | ---: | ---: | ---: | ---: | ---: |");
  for (const batch of batches) {
    for (const mode of ["hashed", "dense"] as const) {
      const tile = f.tile === "auto" ? "auto" : undefined;
      const ms = await ours(mode, batch, f.steps, f.warmup, false, tile);
      let peer: PeerResult | null = null;
      if (!f["no-peer"]) {
        peer = await runTfjsPeer({ mode, batch, steps: f.steps, warmup: f.warmup });
      }
      const theirs = peer?.msPerStep.median;
      console.log(
        `| ${mode} | ${batch} | ${ms.toFixed(1)} | ${theirs?.toFixed(1) ?? "-"} | ${
          theirs ? (ms / theirs).toFixed(3) : "-"
        } | ${(gflop(batch) / (ms / 1000)).toFixed(2)} |`,
      );
    }
    if (f.deterministic) {
      const tile = f.tile === "auto" ? "auto" : undefined;
      const atomic = await ours("hashed", batch, f.steps, f.warmup, false, tile);
      const det = await ours("hashed", batch, f.steps, f.warmup, true, tile);
      console.log(
        `| hashed, deterministic vs atomic table gradient | ${batch} | ${det.toFixed(1)} | ` +
          `(atomic ${atomic.toFixed(1)}) | ${(det / atomic).toFixed(3)} | |`,
      );
    }
  }
});
