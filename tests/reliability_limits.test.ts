/**
 * A device whose limits cannot hold a layer: the error names the layer, the
 * limit and the excess, and suggests the procedural hash or a smaller batch,
 * instead of WebGPU skipping the kernels silently (a too-large binding only
 * raises an asynchronous validation error, after which every result read
 * back is zeros). Small limits are simulated by a Gpu whose `limits` report
 * less than the adapter has.
 * @module
 */

import assert from "node:assert/strict";
import { Gpu } from "../lib/gpu/device.ts";
import { hashes } from "../lib/hash/mod.ts";
import { ArbLinear, Sequential } from "../lib/nn/mod.ts";
import { SGD } from "../lib/optim/mod.ts";
import { Trainer } from "../lib/train/mod.ts";
import { gpuTest, randomF32 } from "./_util.ts";
import { rejectsArbnet, throwsArbnet } from "./_reliability.ts";

const BINDING = 64 * 1024;
const BUFFER = 128 * 1024;

/** The shared device, reporting a 64 KiB storage binding and a 128 KiB buffer limit. */
class SmallGpu extends Gpu {
  override get limits(): GPUSupportedLimits {
    const real = this.device.limits;
    return {
      maxStorageBufferBindingSize: BINDING,
      maxBufferSize: BUFFER,
      maxUniformBufferBindingSize: real.maxUniformBufferBindingSize,
      maxComputeWorkgroupsPerDimension: real.maxComputeWorkgroupsPerDimension,
    } as GPUSupportedLimits;
  }
}

gpuTest(
  "reliability: a layer too large for the device's limits names the layer and the fix",
  async (shared) => {
    const gpu = new SmallGpu(shared.device, shared.adapter);
    const h = hashes.uniform();
    // 200 × 100 positions: a 80,000-byte slot buffer, over the 65,536-byte binding limit.
    throwsArbnet(
      "slot buffer over maxStorageBufferBindingSize",
      () => new ArbLinear(gpu, { inFeatures: 200, outFeatures: 100, hash: h, name: "big" }),
      "ArbLinear big (200×100, uniform hash): its slot buffer (4 bytes per position of the " +
        "virtual matrix) needs 80000 bytes, over this device's maxStorageBufferBindingSize " +
        "(65536) by 14464 bytes",
      "use the procedural hash (procedural: true, --procedural)",
    );
    throwsArbnet(
      "dense table over the limit",
      () => new ArbLinear(gpu, { inFeatures: 200, outFeatures: 100, hash: hashes.dense() }),
      "its weight table (4 bytes per weight) needs 80004 bytes",
      "share weights through a hash with a smaller table",
    );
    throwsArbnet(
      "conv2d slots over the limit: no procedural form",
      () =>
        new ArbLinear(gpu, {
          inFeatures: 1 * 16 * 16,
          outFeatures: 8 * 16 * 16,
          tableSize: 8 * 9,
          hash: hashes.conv2d({
            inChannels: 1,
            outChannels: 8,
            kernel: 3,
            padding: 1,
            height: 16,
            width: 16,
          }),
        }),
      "use a smaller layer (the conv2d hash has no procedural form)",
    );
    throwsArbnet(
      "table over the limit (procedural)",
      () =>
        new ArbLinear(gpu, {
          inFeatures: 200,
          outFeatures: 100,
          tableSize: 20_000,
          procedural: true,
          hash: h,
        }),
      "its table (4 bytes per slot) needs 80008 bytes, over this device's " +
        "maxStorageBufferBindingSize (65536) by 14472 bytes; use a smaller tableSize",
    );

    // Procedural, the same layer fits: its memory is the table (2,500 slots).
    const layer = new ArbLinear(gpu, {
      inFeatures: 200,
      outFeatures: 100,
      tableFraction: 1 / 8,
      procedural: true,
      hash: h,
      name: "big",
    });
    const net = new Sequential([layer]);
    const trainer = new Trainer(net, new SGD(net.parameters(), { lr: 0.01 }), {
      features: 200,
      classes: 100,
    });
    // A batch of 100: inputs 80,000 bytes.
    await rejectsArbnet(
      "batch inputs over the limit",
      () => trainer.step(randomF32(100 * 200, 1, 0, 1), new Uint32Array(100)),
      "a batch of 100 examples × 200 features needs 80000 bytes, over this device's " +
        "maxStorageBufferBindingSize (65536) by 14464 bytes; use a batch of at most 81 examples",
    );
    // A batch of 200 rows of the layer's 100 outputs: 80,000 bytes of output.
    const input = { buffer: gpu.buffer(4, "x"), grad: null, rows: 200, features: 200 };
    await rejectsArbnet(
      "layer output over the limit",
      () => layer.plan(input),
      "ArbLinear big (200×100, uniform hash, procedural): its output for a batch of 200 rows " +
        "needs 80000 bytes, over this device's maxStorageBufferBindingSize (65536) by 14464 " +
        "bytes; use a batch of at most 163 rows",
    );
    // A batch that fits trains.
    await trainer.step(randomF32(50 * 200, 2, 0, 1), new Uint32Array(50));
    const m = await trainer.readMetrics();
    assert.equal(m.rows, 50);
    assert.ok(Number.isFinite(m.loss));

    throwsArbnet(
      "Gpu.buffer over maxBufferSize",
      () => gpu.buffer(BUFFER + 4, "huge"),
      `buffer huge needs ${BUFFER + 4} bytes, over this device's maxBufferSize ${BUFFER} by 4`,
    );
    // Any binding is checked where it is bound, whoever allocated it.
    const program = await gpu.program(
      "copy",
      "@group(0) @binding(0) var<storage, read_write> v: array<f32>;\n" +
        "@compute @workgroup_size(1) fn main() { v[0] = 1.0; }",
    );
    const wide = gpu.buffer(BINDING + 8, "wide");
    throwsArbnet(
      "Gpu.bind over maxStorageBufferBindingSize",
      () => gpu.bind(program, [wide], [1, 1, 1]),
      `copy: buffer wide (binding 0) is ${BINDING + 8} bytes, over this device's ` +
        `maxStorageBufferBindingSize ${BINDING} by 8`,
    );
    gpu.release(wide);
  },
);
