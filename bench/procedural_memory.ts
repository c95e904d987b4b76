/**
 * The memory demonstration of procedural hashing: one `ArbLinear` with
 * 10^9 virtual weights (40000 × 25000) and a table of 10^6 slots trains
 * whole steps (forward, softmax cross-entropy, backward, SGD with momentum)
 * while the GPU holds only what scales with the table and the batch. A
 * materialised layer would need 4 GB for its slot words alone.
 *
 * A script rather than a test or a `Deno.bench`: on a CPU adapter (lavapipe,
 * 2 cores) one step takes about a minute. `tests/hash_procedural.test.ts`
 * runs the same check at 10^8.
 *
 *   deno run -A bench/procedural_memory.ts                 # 10^9, batch 1, 2 steps
 *   deno run -A bench/procedural_memory.ts --in 10000 --out 10000 --batch 2
 *
 * Prints one JSON line on stdout (figures) and a summary on stderr; exits 1
 * when the GPU memory exceeds `--limit-mib`.
 * @module
 */

import { parseFlags, runMain } from "../lib/cli.ts";
import { requestDevice } from "../lib/gpu/device.ts";
import { hashFromDescriptor } from "../lib/hash/mod.ts";
import { ArbLinear } from "../lib/nn/arb_linear.ts";
import { Sequential } from "../lib/nn/layers.ts";
import { SGD } from "../lib/optim/mod.ts";
import { Trainer } from "../lib/train/mod.ts";
import { Rng } from "../lib/util/random.ts";

const FLAGS = {
  in: { type: "int", min: 1, default: 40_000, help: "input features (rows of V)" },
  out: { type: "int", min: 1, default: 25_000, help: "output features (columns of V, classes)" },
  table: { type: "int", min: 1, default: 1_000_000, help: "table size K" },
  batch: { type: "int", min: 1, max: 64, default: 1, help: "batch size" },
  steps: { type: "int", min: 1, max: 100, default: 2, help: "training steps (the first compiles)" },
  hash: {
    type: "enum",
    choices: ["uniform", "neighborhood", "dirichlet"],
    default: "uniform",
    help: "hash family (neighborhood radius 16, dirichlet alpha 1)",
  },
  "limit-mib": { type: "number", min: 1, default: 64, help: "fail above this much GPU memory" },
} as const;

const OPTIONS: Record<string, Record<string, number>> = {
  uniform: {},
  neighborhood: { radius: 16 },
  dirichlet: { alpha: 1 },
};

await runMain(async () => {
  const f = parseFlags(
    Deno.args,
    FLAGS,
    "bench/procedural_memory.ts",
    "Procedural ArbLinear memory",
  );
  if (!f) return;
  const gpu = await requestDevice();
  const layer = new ArbLinear(gpu, {
    inFeatures: f.in,
    outFeatures: f.out,
    tableSize: f.table,
    hash: hashFromDescriptor({ family: f.hash, options: OPTIONS[f.hash] }),
    seed: 1,
    procedural: true,
  });
  const net = new Sequential([layer]);
  const opt = new SGD(net.parameters(), { lr: 1e-4, momentum: 0.9 });
  const trainer = new Trainer(net, opt, { features: f.in, classes: f.out });
  const rng = new Rng(1);
  const x = new Float32Array(f.batch * f.in).map(() => rng.next());
  const y = new Uint32Array(f.batch).map(() => rng.int(f.out));
  const stepMs: number[] = [];
  const losses: number[] = [];
  for (let s = 0; s < f.steps; s++) {
    const t0 = performance.now();
    trainer.resetMetrics();
    await trainer.step(x, y);
    // Reading the metrics waits for the GPU, so the time is the whole step.
    losses.push((await trainer.readMetrics()).loss);
    stepMs.push(performance.now() - t0);
  }
  const stats = gpu.stats;
  const virtual = f.in * f.out;
  const result = {
    bench: "procedural_memory",
    adapter: gpu.adapter.description,
    hash: f.hash,
    virtualWeights: virtual,
    tableSize: f.table,
    batch: f.batch,
    liveBytes: stats.liveBytes,
    liveBuffers: stats.liveBuffers,
    materialisedSlotBytes: 4 * virtual,
    stepMs: stepMs.map((t) => Math.round(t)),
    losses,
  };
  console.log(JSON.stringify(result));
  const mib = (b: number) => (b / 2 ** 20).toFixed(1);
  const steady = stepMs.length > 1 ? Math.min(...stepMs.slice(1)) : stepMs[0];
  console.error(
    `${f.in} × ${f.out} = ${virtual.toExponential(2)} virtual weights, K = ${f.table}, ` +
      `batch ${f.batch}, ${f.hash}: GPU memory ${mib(stats.liveBytes)} MiB in ` +
      `${stats.liveBuffers} buffers (materialised slots alone: ${mib(4 * virtual)} MiB); ` +
      `step ${(stepMs[0] / 1000).toFixed(1)} s with compile, ${(steady / 1000).toFixed(1)} s after`,
  );
  gpu.destroy();
  if (stats.liveBytes > f["limit-mib"] * 2 ** 20) {
    console.error(`GPU memory ${mib(stats.liveBytes)} MiB is over --limit-mib ${f["limit-mib"]}`);
    Deno.exit(1);
  }
});
