/**
 * `deno bench` of the kernels of a 784×1000 hashed layer (table 1/8) at
 * batch 50 and 128 (`kernel_cases.ts` binds them as ArbLinear runs them,
 * with the tiles the library picks), one full training step of 784-1000-10,
 * and the GPU round trip alone. Each is launched REPEAT times per wait for
 * the GPU. After the table deno prints, a summary gives each one's time,
 * GFLOP/s and fraction of the dense roofline. Rows are timed one after the
 * other, so a shared VM's drift between them moves those fractions:
 * `kernel_ratios.ts` measures the ratios the issue sets, interleaved.
 *
 *   deno task bench            (or: deno bench -A bench/kernels.bench.ts)
 * @module
 */

import { requestDevice } from "../lib/gpu/device.ts";
import { median } from "../lib/experiment/stats.ts";
import { kernelCases, layerBuffers } from "./kernel_cases.ts";

const gpu = await requestDevice({ label: "arbnet bench" });
const layer = layerBuffers(gpu);

interface Row {
  name: string;
  batch: number;
  flops: number;
  /** Launches per wait. */
  repeat: number;
  times: number[];
}
const rows: Row[] = [];

/**
 * Launches recorded per timed iteration. Waiting for the GPU costs about
 * 11 ms under Deno 2.9 on lavapipe whatever the work (the "GPU round trip"
 * row), so timing one launch per wait would time mostly the wait: each
 * iteration records REPEAT launches, waits once, and counts a REPEAT-th of
 * the time (deno's own table shows whole iterations); the summary also
 * subtracts the round trip.
 */
const REPEAT = 8;

function bench(
  name: string,
  batch: number,
  flops: number,
  record: () => void | Promise<void>,
  repeat = REPEAT,
) {
  const row: Row = { name, batch, flops, repeat, times: [] };
  rows.push(row);
  Deno.bench({
    name: batch > 0 ? `${name} b${batch}` : name,
    group: batch > 0 ? `batch ${batch}` : "latency",
    n: 20,
    warmup: 3,
    async fn() {
      const t0 = performance.now();
      for (let i = 0; i < repeat; i++) await record();
      await gpu.sync();
      row.times.push((performance.now() - t0) / repeat);
    },
  });
}

bench("GPU round trip (nothing recorded)", 0, 0, () => {}, 1);

for (const batch of [50, 128]) {
  for (const c of await kernelCases(gpu, layer, batch)) bench(c.name, batch, c.flops, c.record);
}

globalThis.addEventListener("unload", () => {
  printSummary();
  gpu.destroy();
});

/**
 * Prints each row's time per launch twice: with its share of the wait
 * (what a loop of REPEAT launches sees), and with the measured round trip
 * subtracted (the kernel alone, on which GFLOP/s and the roofline fraction
 * are computed: the wait would otherwise pull every ratio toward 1).
 */
function printSummary() {
  console.log(`\nadapter: ${gpu.adapter.description}`);
  const tripRow = rows.find((r) => r.batch === 0 && r.times.length > 0);
  const trip = tripRow ? median(tripRow.times) : 0;
  if (tripRow) console.log(`GPU round trip: ${trip.toFixed(2)} ms (median)`);
  console.log(
    `| kernel | batch | ms per launch, ${REPEAT} per wait | ms, round trip subtracted | GFLOP/s ` +
      "| of dense roofline |",
  );
  console.log("| --- | ---: | ---: | ---: | ---: | ---: |");
  const alone = (r: Row) => median(r.times) - trip / r.repeat;
  for (const batch of [50, 128]) {
    const roof = rows.find((r) => r.batch === batch && r.name.startsWith("dense"));
    const roofGflops = roof && roof.times.length ? roof.flops / alone(roof) / 1e6 : NaN;
    for (const r of rows.filter((r) => r.batch === batch && r.times.length > 0)) {
      const gflops = r.flops / alone(r) / 1e6;
      console.log(
        `| ${r.name} | ${batch} | ${median(r.times).toFixed(2)} | ${alone(r).toFixed(2)} | ${
          gflops.toFixed(2)
        } | ${(gflops / roofGflops).toFixed(2)} |`,
      );
    }
  }
}
