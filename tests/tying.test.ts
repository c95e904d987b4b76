/**
 * Weight tying around the gradients (which tests/gradcheck.test.ts checks):
 * a tied parameter is listed and updated once, a shared table is checked,
 * and a plan built before its layer was tied refuses to run as a later use.
 */
import assert from "node:assert/strict";
import { gpuTest, randomF32 } from "./_util.ts";
import { hashes } from "../lib/hash/mod.ts";
import { type Activation, ArbLinear, Sequential } from "../lib/nn/mod.ts";
import { SGD } from "../lib/optim/mod.ts";
import { ArbnetError } from "../lib/errors.ts";
import type { Gpu } from "../lib/gpu/device.ts";

const layer = (gpu: Gpu, more: Record<string, unknown> = {}) =>
  new ArbLinear(gpu, {
    inFeatures: 4,
    outFeatures: 4,
    hash: hashes.uniform(),
    tableFraction: 0.5,
    deterministic: false,
    ...more,
  });

function input(gpu: Gpu, rows: number): Activation {
  return { buffer: gpu.upload(randomF32(rows * 4, rows), "x"), grad: null, rows, features: 4 };
}

gpuTest(
  "an optimizer given a tied parameter twice updates it once, from its gradient",
  async (gpu) => {
    const a = layer(gpu, { seed: 1 });
    const b = layer(gpu, { seed: 2, table: a.table });
    const net = new Sequential([a, b]);
    const out = await net.forward(input(gpu, 3));
    // Any output gradient will do.
    gpu.write(out.grad!, randomF32(3 * 4, 5));
    net.backward();
    const before = await a.table.read(), grad = await a.table.readGrad();
    const opt = new SGD([...a.parameters(), ...b.parameters()], { lr: 0.5 });
    assert.equal(opt.stateBuffers().length, 3, "one velocity per distinct parameter");
    await opt.step();
    const after = await a.table.read();
    for (let k = 0; k < after.length; k++) {
      assert.ok(Math.abs(after[k] - (before[k] - 0.5 * grad[k])) < 1e-6, `slot ${k}`);
    }
  },
);

gpuTest(
  "a shared table must fit: its size, and a zero slot for a hashed layer",
  (gpu) => {
    const a = layer(gpu);
    assert.throws(
      () => layer(gpu, { table: a.table, tableSize: 3 }),
      /tableSize.*shared table's size, 8/,
    );
    assert.throws(() => layer(gpu, { table: {} }), /table/);
    const dense = new ArbLinear(gpu, { inFeatures: 2, outFeatures: 4, hash: hashes.dense() });
    assert.throws(() => layer(gpu, { table: dense.table }), /no zero slot/);
    // A table larger than this layer's matrix: the other slots are other layers'.
    const big = new ArbLinear(gpu, {
      inFeatures: 8,
      outFeatures: 8,
      hash: hashes.uniform(),
      tableSize: 40,
    });
    assert.equal(layer(gpu, { table: big.table }).config.tableSize, 40);
  },
);

gpuTest(
  "a plan built before its layer was reused refuses to add to the other uses' gradient",
  async (gpu) => {
    const l = layer(gpu, { seed: 4 });
    const x = input(gpu, 2);
    await l.plan(x); // planned alone, untied
    const net = new Sequential([l, l]);
    const out = await net.forward(x); // the first use reuses that plan
    gpu.write(out.grad!, randomF32(2 * 4, 6));
    assert.throws(
      () => net.backward(),
      (e) => e instanceof ArbnetError && /tied.*after this plan/.test(e.message),
    );
  },
);
