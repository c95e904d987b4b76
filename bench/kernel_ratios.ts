/**
 * The kernel ratios the speed issue sets, measured interleaved: each round
 * times the dense product of the forward's shape (our roofline), the
 * hashed forward as ArbLinear runs it here (materialised on CPU adapters:
 * gather + dense), the forward gathered in the tiles (what GPUs run), and
 * the deterministic and atomic table gradients, one after the other, so
 * every ratio compares kernels the VM ran in about the same state. A shared
 * VM's speed drifts by up to 1.6× within minutes, which moves the ratios of
 * `deno task bench` (rows timed minutes apart) far more than any kernel
 * change; the median of per-round ratios resists that.
 *
 * With `--clock device` (the default where the adapter has timestamp
 * queries) each case's launches are captured once (`Gpu.capture`) and timed
 * on the device's own clock (`Gpu.timeLaunches`), each launch `--repeat`
 * times in a row in its own pass, all of a round in one submission; a case
 * of several launches (gather + dense) is the sum of its launches'. With
 * `--clock wall` each timing records `--repeat` launches and waits once, and
 * the round trip of an empty wait (about 11 ms under Deno 2.9, measured each
 * round) is subtracted: coarser, since that round trip is several times a
 * kernel's time and its jitter lands in every measure. Prints a markdown
 * table: median ms per launch, then the median (lowest-highest) of the
 * per-round ratios.
 *
 *   deno run -A bench/kernel_ratios.ts [--rounds 9] [--repeat 8] [--batches 50,128] [--clock device|wall]
 * @module
 */

import { parseFlags, parseIntList, runMain } from "../lib/cli.ts";
import { type Gpu, type Launch, requestDevice } from "../lib/gpu/device.ts";
import { median } from "../lib/experiment/stats.ts";
import { medianRange, msText } from "./format.ts";
import { type CaseId, type KernelCase, kernelCases, layerBuffers } from "./kernel_cases.ts";

const FLAGS = {
  rounds: { type: "int", min: 1, default: 9, help: "interleaved measurements of every kernel" },
  repeat: { type: "int", min: 1, default: 8, help: "launches per measure" },
  clock: {
    type: "enum",
    choices: ["device", "wall"],
    default: "device",
    help: "timestamp queries (wall clock where the adapter has none) or the wall clock",
  },
  batches: { type: "string", default: "50,128", help: "batch sizes" },
} as const;

/** The kernels timed each round. */
const TIMED: readonly CaseId[] = [
  "dense",
  "forward-materialised",
  "forward",
  "table-grad-deterministic",
  "table-grad-atomic",
];

/** A ratio the issue sets: `num / den` per round, and its target. */
interface Ratio {
  label: string;
  num: CaseId;
  den: CaseId;
  target: string;
}

const RATIOS: readonly Ratio[] = [
  {
    label: "hashed forward (materialised: gather + dense) throughput / dense",
    num: "dense",
    den: "forward-materialised",
    target: "≥ 0.8",
  },
  {
    label: "hashed forward (gathered in the tiles) throughput / dense",
    num: "dense",
    den: "forward",
    target: "(GPU path)",
  },
  {
    label: "table gradient (deterministic) time / hashed forward (materialised)",
    num: "table-grad-deterministic",
    den: "forward-materialised",
    target: "≤ 1.5",
  },
  {
    label: "table gradient (atomic) time / hashed forward (materialised)",
    num: "table-grad-atomic",
    den: "forward-materialised",
    target: "≤ 1.5",
  },
];

/** Milliseconds per launch of `record`, the round trip subtracted. */
async function time(gpu: Gpu, c: KernelCase, repeat: number, trip: number): Promise<number> {
  await gpu.sync();
  const t0 = performance.now();
  for (let i = 0; i < repeat; i++) await c.record();
  await gpu.sync();
  return (performance.now() - t0 - trip) / repeat;
}

/**
 * One round on the device's clock: milliseconds per launch of each case
 * (the sum of its captured launches' times), every case in one submission.
 */
async function deviceRound(
  gpu: Gpu,
  launches: ReadonlyMap<CaseId, Launch[]>,
  repeat: number,
): Promise<Map<CaseId, number>> {
  const all = [...launches.values()].flat();
  const ms = (await gpu.timeLaunches(all, repeat))!;
  const out = new Map<CaseId, number>();
  let i = 0;
  for (const [id, ls] of launches) {
    out.set(id, ms.slice(i, i + ls.length).reduce((s, t) => s + t, 0));
    i += ls.length;
  }
  return out;
}

async function roundTrip(gpu: Gpu): Promise<number> {
  await gpu.sync();
  const t0 = performance.now();
  await gpu.sync();
  return performance.now() - t0;
}

await runMain(async () => {
  const f = parseFlags(Deno.args, FLAGS, "deno run -A bench/kernel_ratios.ts");
  if (!f) return;
  const batches = parseIntList("batches", f.batches);
  const gpu = await requestDevice({ label: "arbnet kernel ratios" });
  try {
    const layer = layerBuffers(gpu);
    const onDevice = f.clock === "device" && gpu.timestamps;
    const clock = onDevice
      ? "timed on the device's clock (timestamp queries)"
      : "timed by the wall clock, the round trip of a wait subtracted";
    console.log(
      `adapter: ${gpu.adapter.description}; ${f.rounds} rounds, ${f.repeat} launches per ` +
        `measure, ${clock}\n`,
    );
    console.log("| batch | kernel | ms per launch (median) |");
    console.log("| ---: | --- | ---: |");
    const results: string[] = [];
    for (const batch of batches) {
      const cases = new Map((await kernelCases(gpu, layer, batch)).map((c) => [c.id, c]));
      const ms = new Map<CaseId, number[]>(TIMED.map((id) => [id, []]));
      for (const id of TIMED) await time(gpu, cases.get(id)!, 1, 0); // compile, warm
      const launches = new Map<CaseId, Launch[]>();
      if (onDevice) {
        for (const id of TIMED) launches.set(id, await gpu.capture(cases.get(id)!.record));
      }
      for (let r = 0; r < f.rounds; r++) {
        if (onDevice) {
          for (const [id, t] of await deviceRound(gpu, launches, f.repeat)) ms.get(id)!.push(t);
        } else {
          const trip = median([await roundTrip(gpu), await roundTrip(gpu), await roundTrip(gpu)]);
          for (const id of TIMED) {
            ms.get(id)!.push(await time(gpu, cases.get(id)!, f.repeat, trip));
          }
        }
        Deno.stderr.writeSync(
          new TextEncoder().encode(`\rbatch ${batch}: round ${r + 1}/${f.rounds}`),
        );
      }
      Deno.stderr.writeSync(new TextEncoder().encode("\n"));
      for (const id of TIMED) {
        console.log(`| ${batch} | ${cases.get(id)!.name} | ${msText(median(ms.get(id)!))} |`);
      }
      for (const q of RATIOS) {
        const per = ms.get(q.num)!.map((t, i) => t / ms.get(q.den)![i]);
        results.push(
          `| ${batch} | ${q.label} | ${medianRange(per)} | ${q.target} |`,
        );
      }
    }
    console.log("\n| batch | ratio | median (lowest-highest) of per-round ratios | target |");
    console.log("| ---: | --- | ---: | --- |");
    for (const line of results) console.log(line);
  } finally {
    gpu.destroy();
  }
});
