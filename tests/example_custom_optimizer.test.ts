/**
 * examples/custom_optimizer.ts: an optimizer written outside the library
 * (its own WGSL kernel) matches its CPU definition step by step, a learning
 * rate set between steps included, and resumes from a checkpoint that holds
 * its state, as the library's optimizers do.
 * @module
 */

import assert from "node:assert/strict";
import { Adagrad, runCustomOptimizer } from "../examples/custom_optimizer.ts";
import { Parameter } from "../lib/nn/mod.ts";
import { hashes } from "../lib/hash/mod.ts";
import { buildMlp, trainStep } from "../lib/train/mod.ts";
import { loadCheckpoint, readCheckpointInfo, saveCheckpoint } from "../lib/io/checkpoint.ts";
import { assertClose, gpuTest, randomF32 } from "./_util.ts";

gpuTest(
  "Adagrad: three steps match the CPU, a new learning rate taking effect at the next",
  async (gpu) => {
    const n = 131;
    const w = Float64Array.from(randomF32(n, 1));
    const p = new Parameter(gpu, "w", Float32Array.from(w));
    const opt = new Adagrad([p], { lr: 0.1, eps: 1e-8 });
    const sum = new Float64Array(n);
    for (const [step, lr] of [[0, 0.1], [1, 0.1], [2, 0.03]]) {
      if (lr !== opt.learningRate) opt.learningRate = lr;
      const g = randomF32(n, 10 + step);
      gpu.write(p.grad, g);
      await opt.step();
      for (let i = 0; i < n; i++) {
        sum[i] += g[i] * g[i];
        w[i] -= lr * g[i] / (Math.sqrt(sum[i]) + 1e-8);
      }
      assertClose(await p.read(), w, { rtol: 1e-5, atol: 1e-6, what: `step ${step}` });
    }
    assert.equal(opt.steps, 3);
    assertClose(await gpu.readF32(opt.stateBuffers()[0].buffer, n), sum, { rtol: 1e-5, what: "G" });
  },
);

gpuTest(
  "Adagrad: a checkpoint stores its sums, and a resumed run goes on as the original",
  async (gpu) => {
    const build = () =>
      buildMlp(gpu, {
        layers: [48, 16, 10],
        hash: hashes.uniform(),
        tableFraction: 1 / 4,
        seed: 5,
      });
    const x = randomF32(16 * 48, 3, 0, 1);
    const y = Uint32Array.from({ length: 16 }, (_, i) => i % 10);
    const a = build();
    const optA = new Adagrad(a.net.parameters(), { lr: 0.05 });
    for (let i = 0; i < 3; i++) await trainStep(a.net, optA, x, y);
    const dir = await Deno.makeTempDir({ prefix: "arbnet-adagrad-" });
    try {
      const path = `${dir}/run.safetensors`;
      await saveCheckpoint(path, { net: a.net, opt: optA });
      assert.equal((await readCheckpointInfo(path)).optimizer?.kind, "Adagrad");
      const b = build();
      const optB = new Adagrad(b.net.parameters(), { lr: 0.05 });
      await loadCheckpoint(path, { net: b.net, opt: optB });
      assert.equal(optB.steps, 3);
      for (let i = 0; i < 2; i++) {
        await trainStep(a.net, optA, x, y);
        await trainStep(b.net, optB, x, y);
      }
      const pa = await Promise.all(a.net.parameters().map((p) => p.read()));
      const pb = await Promise.all(b.net.parameters().map((p) => p.read()));
      pa.forEach((v, i) =>
        assertClose(pb[i], v, { rtol: 1e-5, atol: 1e-7, what: `parameter ${i}` })
      );
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
);

Deno.test({
  name: "examples/custom_optimizer.ts trains MNIST with Adagrad through the Trainer",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const accuracy = await runCustomOptimizer({ trainLimit: 1000, testLimit: 300 });
    assert.ok(accuracy > 0.5, `accuracy ${accuracy}`);
  },
});
