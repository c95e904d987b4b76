/**
 * Where a training step's time goes, kernel by kernel: one step of the
 * 784-1000-1000-10 MLP (momentum SGD, table fraction 1/8 or dense, the
 * library's defaults) is captured with `Gpu.capture`, and each of its
 * launches is then timed alone on the device's own clock
 * (`Gpu.timeLaunches`, timestamp queries), `--repeat` times in a row per
 * measure, over `--rounds` rounds. Wall-clock timing cannot do this under
 * Deno: every wait costs about 11 ms whatever the work.
 *
 * Prints a markdown table: per launch the median device milliseconds and
 * its share of the sum, then the sum next to the measured pipelined step
 * (steps back to back, one wait). With one launch per measure (the
 * default) the sum matches the step to within the VM's drift: the step is
 * its launches, with little between them. More launches per measure time a
 * kernel with its data already in the caches, about 20% faster here than
 * between other kernels.
 *
 *   deno run -A bench/profile_step.ts [--network dense|hashed] [--batch 50] [--rounds 7] [--repeat 1]
 * @module
 */

import { parseFlags, runMain } from "../lib/cli.ts";
import { ArbnetError } from "../lib/errors.ts";
import { requestDevice } from "../lib/gpu/device.ts";
import { median } from "../lib/experiment/stats.ts";
import { msText } from "./format.ts";
import { mlpSetup, pipelinedStepMs, warmUp } from "./mlp_setup.ts";

const FLAGS = {
  network: { type: "enum", choices: ["hashed", "dense"], default: "hashed", help: "layers" },
  batch: { type: "int", min: 1, default: 50, help: "batch size" },
  rounds: { type: "int", min: 1, default: 7, help: "measures of every launch (median)" },
  repeat: { type: "int", min: 1, default: 1, help: "launches in a row per measure" },
  steps: { type: "int", min: 1, default: 20, help: "steps timed back to back for the wall time" },
} as const;

const LAYERS = [784, 1000, 1000, 10];

await runMain(async () => {
  const f = parseFlags(Deno.args, FLAGS, "deno run -A bench/profile_step.ts");
  if (!f) return;
  const gpu = await requestDevice();
  try {
    if (!gpu.timestamps) {
      throw new ArbnetError(
        `the adapter ${gpu.adapter.description} offers no timestamp queries, so kernels ` +
          "cannot be timed on it one by one; bench/compare.ts times whole steps",
      );
    }
    const setup = mlpSetup(gpu, {
      layers: LAYERS,
      network: f.network as "hashed" | "dense",
      batch: f.batch,
      tile: "auto",
    });
    console.error("compiling and tuning (cached after the first run)...");
    await warmUp(gpu, setup, 3);
    const pipelined = await pipelinedStepMs(gpu, setup, f.steps);

    const { trainer, x, y } = setup;
    const launches = await gpu.capture(() => trainer.step(x, y));
    const measures: number[][] = launches.map(() => []);
    for (let r = 0; r < f.rounds; r++) {
      const ms = (await gpu.timeLaunches(launches, f.repeat))!;
      ms.forEach((t, i) => measures[i].push(t));
    }
    const times = measures.map(median);
    const sum = times.reduce((s, t) => s + t, 0);

    console.log(
      `${f.network} ${LAYERS.join("-")}, batch ${f.batch}, on ${gpu.adapter.description}: ` +
        `median of ${f.rounds} measures of ${f.repeat} launches each.\n`,
    );
    console.log("| # | kernel | workgroups | device ms | share |");
    console.log("| ---: | --- | --- | ---: | ---: |");
    launches.forEach((l, i) => {
      const blocks = l.more?.length ? ` + ${l.more.length} more` : "";
      console.log(
        `| ${i + 1} | ${l.program.label} | ${l.workgroups.join("×")}${blocks} | ` +
          `${msText(times[i])} | ${(100 * times[i] / sum).toFixed(1)}% |`,
      );
    });
    console.log(`\nSum of the ${launches.length} launches: ${msText(sum)} ms of device time.`);
    console.log(`Pipelined step (${f.steps} back to back, one wait): ${msText(pipelined)} ms.`);
  } finally {
    gpu.destroy();
  }
});
