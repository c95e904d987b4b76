// bench/gpu_summary.ts reads the logs of bench/gpu_check.sh: known logs give
// known ratios, and a part that did not run or was stopped shows as such.
import assert from "node:assert/strict";
import { summarize } from "../bench/gpu_summary.ts";

/** A folder holding `files` (name → text), removed after `fn`. */
async function withLogs(files: Record<string, string>, fn: (dir: string) => void) {
  const dir = await Deno.makeTempDir({ prefix: "arbnet-gpu-summary-" });
  try {
    for (const [name, text] of Object.entries(files)) {
      await Deno.writeTextFile(`${dir}/${name}`, text);
    }
    fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

const STEPS = [
  "| network 784-1000-1000-10 | batch | arbnet ms/step | tfjs-webgpu ms/step | arbnet / tfjs " +
  "| arbnet ms/step, pipelined | tfjs ms/step, pipelined | arbnet / tfjs, pipelined " +
  "| arbnet GFLOP/s, pipelined |",
  "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
  "| hashed | 128 | 2.00 | - | - | 1.00 | - | - | 100 |",
  "| hashed, deterministic vs atomic table gradient | 128 | 3.00 | (atomic 2.00) | 1.500 " +
  "| 1.50 | (atomic 1.00) | 1.500 | |",
].join("\n");

const TORCH = 'json: {"network": "hashed", "batch": 128, "msPerStepWaited": 1.0, ' +
  '"msPerStepPipelined": 0.25}\n';

Deno.test("gpu summary: our step over PyTorch's, waited and pipelined", async () => {
  await withLogs({ "steps.log": STEPS, "torch.log": TORCH }, (dir) => {
    const text = summarize(dir);
    assert.ok(
      text.includes("| hashed | 128 | 2.00 | 1.00 | 2.00 | 1.00 | 0.250 | 4.00 |"),
      text,
    );
    assert.ok(!text.includes("deterministic"), "the deterministic row is no network");
  });
});

Deno.test("gpu summary: missing and stopped parts say so", async () => {
  const train = '{"type":"config"}\n{"type":"epoch","epoch":0,"trainSeconds":3.5,' +
    '"testAccuracy":0.97}\n{"type":"epo';
  await withLogs({ "train.jsonl": train, "tests.log": "running 3 tests\n" }, (dir) => {
    const text = summarize(dir);
    for (
      const line of [
        "adapter: missing (see adapter.log)",
        "tests: no verdict (stopped at its limit?)",
        "| 1 | 3.50 | 97.00% |",
        "training: did not finish (stopped at its limit?)",
        "steps: no timings",
        "kernels: not run",
      ]
    ) assert.ok(text.includes(line), `${line}\n---\n${text}`);
  });
});
