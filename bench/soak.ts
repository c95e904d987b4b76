/**
 * The soak run: many training steps of a small but real network (784-256-10,
 * uniform hash, table 1/8, batch 50, SGD with momentum, random data), through
 * `fit` (batches, schedule, metrics reads, the divergence watch, a test
 * evaluation per epoch), checking that nothing grows: no GPU buffer, bind
 * group or pipeline is created after the first epoch, GPU memory stays put,
 * and the JS heap grows by less than `--heap-mib`.
 *
 *   deno run -A --v8-flags=--expose-gc bench/soak.ts            # 10,000 steps
 *   deno run -A --v8-flags=--expose-gc bench/soak.ts --steps 2000
 *
 * Without `--expose-gc` the heap is measured without forcing a collection,
 * which is noisier. Prints the figures at the start and the end on stderr,
 * one JSON line on stdout, and exits 1 if anything grew.
 * `tests/reliability_soak.test.ts` runs the same loop for 300 steps.
 * @module
 */

import { parseFlags, runMain } from "../lib/cli.ts";
import { type Gpu, type GpuStats, requestDevice } from "../lib/gpu/device.ts";
import { hashes } from "../lib/hash/mod.ts";
import { SGD } from "../lib/optim/mod.ts";
import { buildMlp, fit, Trainer } from "../lib/train/mod.ts";
import type { Dataset } from "../lib/data/mod.ts";
import { Rng } from "../lib/util/random.ts";

/** What {@linkcode soak} runs. */
export interface SoakOptions {
  /** Training steps after the warm-up epoch (a multiple of the steps per epoch). */
  steps: number;
  /** Training examples; steps per epoch = examples / batch. */
  examples: number;
  /** Batch size. */
  batch: number;
  /** Hidden width of 784-hidden-10. */
  hidden: number;
}

/** One snapshot of everything that must not grow. */
export interface SoakSnapshot {
  /** The device's allocation counters. */
  gpu: GpuStats;
  /** `Deno.memoryUsage().heapUsed` in bytes, after a forced collection when available. */
  heapUsed: number;
  /** `Deno.memoryUsage().rss` in bytes. */
  rss: number;
}

/** What {@linkcode soak} measured. */
export interface SoakResult {
  /** Steps run between the two snapshots. */
  steps: number;
  /** Seconds those steps took. */
  seconds: number;
  /** After the warm-up epoch. */
  start: SoakSnapshot;
  /** After the last step. */
  end: SoakSnapshot;
  /** Training loss of the last epoch (finite, or the run would have stopped). */
  lastLoss: number;
  /** Whether the heap could be collected before each snapshot. */
  gcForced: boolean;
}

function randomDataset(name: string, count: number, seed: number): Dataset {
  const rng = new Rng(seed);
  return {
    name,
    x: Float32Array.from({ length: count * 784 }, () => rng.next()),
    y: Uint32Array.from({ length: count }, () => rng.int(10)),
    count,
    features: 784,
    classes: 10,
    shape: [1, 28, 28],
  };
}

async function snapshot(gpu: Gpu): Promise<SoakSnapshot> {
  await gpu.sync();
  const gc = (globalThis as { gc?: () => void }).gc;
  gc?.();
  const m = Deno.memoryUsage();
  return { gpu: gpu.stats, heapUsed: m.heapUsed, rss: m.rss };
}

/**
 * Trains one warm-up epoch (which builds every buffer and binding), takes a
 * snapshot, trains `steps` more steps, and takes another.
 */
export async function soak(gpu: Gpu, o: SoakOptions): Promise<SoakResult> {
  const perEpoch = Math.ceil(o.examples / o.batch);
  if (o.steps % perEpoch !== 0) {
    throw new Error(`steps ${o.steps} is not a multiple of the ${perEpoch} steps per epoch`);
  }
  const train = randomDataset("soak-train", o.examples, 1);
  const test = randomDataset("soak-test", 500, 2);
  const { net } = buildMlp(gpu, {
    layers: [784, o.hidden, 10],
    hash: hashes.uniform(),
    tableFraction: 1 / 8,
    seed: 1,
  });
  const opt = new SGD(net.parameters(), { lr: 0.01, momentum: 0.9 });
  const trainer = new Trainer(net, opt, { features: 784, classes: 10 });
  const epochs = 1 + o.steps / perEpoch;
  const options = { train, test, batchSize: o.batch, seed: 1, lr: 0.01, epochs };
  await fit(trainer, { ...options, epochs: 1 });
  const start = await snapshot(gpu);
  const t0 = performance.now();
  const history = await fit(trainer, { ...options, startEpoch: 1 });
  const seconds = (performance.now() - t0) / 1000;
  const end = await snapshot(gpu);
  return {
    steps: o.steps,
    seconds,
    start,
    end,
    lastLoss: history.at(-1)!.trainLoss,
    gcForced: typeof (globalThis as { gc?: unknown }).gc === "function",
  };
}

/** The GPU counters that must not change during the soak, and by how much they did. */
export function gpuGrowth(r: SoakResult): Record<string, number> {
  const keys = [
    "liveBuffers",
    "liveBytes",
    "buffersCreated",
    "bindGroupsCreated",
    "pipelinesCompiled",
  ] as const;
  return Object.fromEntries(keys.map((k) => [k, r.end.gpu[k] - r.start.gpu[k]]));
}

const FLAGS = {
  steps: { type: "int", min: 1, default: 10_000, help: "steps after the warm-up epoch" },
  examples: {
    type: "int",
    min: 1,
    default: 5000,
    help: "training examples (steps per epoch × batch)",
  },
  batch: { type: "int", min: 1, max: 4096, default: 50, help: "batch size" },
  hidden: { type: "int", min: 1, default: 256, help: "hidden width of 784-hidden-10" },
  "heap-mib": { type: "number", min: 0, default: 8, help: "fail if the JS heap grows more" },
} as const;

if (import.meta.main) {
  await runMain(async () => {
    const f = parseFlags(Deno.args, FLAGS, "bench/soak.ts", "Soak: long runs must not grow.");
    if (!f) return;
    const gpu = await requestDevice();
    const r = await soak(gpu, f);
    gpu.destroy();
    const mib = (b: number) => (b / 2 ** 20).toFixed(2);
    const show = (what: string, s: SoakSnapshot) =>
      console.error(
        `${what}: GPU ${s.gpu.liveBuffers} buffers, ${mib(s.gpu.liveBytes)} MiB ` +
          `(created: ${s.gpu.buffersCreated} buffers, ${s.gpu.bindGroupsCreated} bind groups, ` +
          `${s.gpu.pipelinesCompiled} pipelines; ${s.gpu.submits} submits); ` +
          `JS heap ${mib(s.heapUsed)} MiB, RSS ${mib(s.rss)} MiB`,
      );
    show("start", r.start);
    show("end  ", r.end);
    const growth = gpuGrowth(r);
    const heap = r.end.heapUsed - r.start.heapUsed;
    console.error(
      `${r.steps} steps of 784-${f.hidden}-10 (batch ${f.batch}) in ${r.seconds.toFixed(0)} s ` +
        `(${(1000 * r.seconds / r.steps).toFixed(1)} ms/step), last train loss ` +
        `${r.lastLoss.toFixed(4)}; heap ${heap >= 0 ? "+" : ""}${mib(heap)} MiB` +
        (r.gcForced ? "" : " (no --v8-flags=--expose-gc: heap figures are noisy)"),
    );
    console.log(JSON.stringify({ bench: "soak", ...r, growth, heapGrowth: heap }));
    const grew = Object.entries(growth).filter(([, d]) => d !== 0);
    if (grew.length > 0 || heap > f["heap-mib"] * 2 ** 20) {
      console.error(
        `FAIL: ${grew.map(([k, d]) => `${k} +${d}`).join(", ")}` +
          (heap > f["heap-mib"] * 2 ** 20 ? ` heap +${mib(heap)} MiB > ${f["heap-mib"]} MiB` : ""),
      );
      Deno.exit(1);
    }
    console.error("ok: no GPU object was created and the heap stayed within bounds");
  });
}
