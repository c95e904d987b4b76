/**
 * examples/custom_layer.ts: a layer written outside the library (its own
 * WGSL kernels) matches its CPU definition forward and backward on an odd
 * shape, trains inside a network, and round-trips through a checkpoint,
 * which records it by class name and parameter sizes.
 * @module
 */

import assert from "node:assert/strict";
import { LayerScale, layerScaleMlp, runCustomLayer } from "../examples/custom_layer.ts";
import { buildFromCheckpoint, saveCheckpoint } from "../lib/io/mod.ts";
import { readCheckpointInfo } from "../lib/io/checkpoint.ts";
import { ArbnetError } from "../lib/errors.ts";
import { assertClose, gpuTest, randomF32 } from "./_util.ts";

gpuTest("LayerScale: forward, scale gradient and input gradient match the CPU", async (gpu) => {
  const [rows, features] = [5, 131]; // more features than one workgroup
  const layer = new LayerScale(gpu, features);
  const s = randomF32(features, 1);
  layer.scale.write(s);
  const x = randomF32(rows * features, 2);
  const input = {
    buffer: gpu.upload(x, "x"),
    grad: gpu.buffer(rows * features * 4, "dx"),
    rows,
    features,
  };
  const plan = await layer.plan(input);
  plan.forward();
  const y = Float64Array.from(x, (v, i) => v * s[i % features]);
  assertClose(await gpu.readF32(plan.output.buffer, rows * features), y, { what: "y" });
  const dy = randomF32(rows * features, 3);
  gpu.write(plan.output.grad!, dy);
  plan.backward();
  const ds = new Float64Array(features);
  for (let i = 0; i < dy.length; i++) ds[i % features] += dy[i] * x[i];
  const dx = Float64Array.from(dy, (v, i) => v * s[i % features]);
  assertClose(await layer.scale.readGrad(), ds, { rtol: 1e-5, atol: 1e-6, what: "ds" });
  assertClose(await gpu.readF32(input.grad, rows * features), dx, { what: "dx" });
});

Deno.test({
  name:
    "examples/custom_layer.ts trains, and a checkpoint restores the layer into the same code's network",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const dir = await Deno.makeTempDir({ prefix: "arbnet-layer-" });
    try {
      const r = await runCustomLayer({
        trainLimit: 1000,
        testLimit: 300,
        checkpoint: `${dir}/net.safetensors`,
      });
      assert.ok(r.testAccuracy > 0.5, `accuracy ${r.testAccuracy}`);
      assert.equal(r.reloadedAccuracy, r.testAccuracy);
      const info = await readCheckpointInfo(`${dir}/net.safetensors`);
      assert.deepEqual(info.layers[2], { kind: "module", type: "LayerScale", parameters: [100] });
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

gpuTest(
  "a checkpoint with a layer of one's own: buildFromCheckpoint says to build it in code",
  async (gpu) => {
    const dir = await Deno.makeTempDir({ prefix: "arbnet-layer-" });
    try {
      const path = `${dir}/net.safetensors`;
      await saveCheckpoint(path, { net: layerScaleMlp(gpu) });
      await assert.rejects(buildFromCheckpoint(gpu, path), (e: unknown) => {
        assert.ok(e instanceof ArbnetError);
        assert.match((e as Error).message, /layer 2 is a LayerScale, a module of your own: build/);
        return true;
      });
      // Another width of the layer is refused by name and sizes.
      const { loadCheckpoint } = await import("../lib/io/checkpoint.ts");
      await assert.rejects(loadCheckpoint(path, { net: layerScaleMlp(gpu, 64) }), ArbnetError);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
);
