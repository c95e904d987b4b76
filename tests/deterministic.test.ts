import assert from "node:assert/strict";
import { assertClose, gpuTest, randomF32 } from "./_util.ts";
import { hashes } from "../lib/hash/mod.ts";
import { SGD } from "../lib/optim/mod.ts";
import { buildMlp, Trainer } from "../lib/train/mod.ts";
import type { Gpu } from "../lib/gpu/device.ts";
import type { Hash } from "../lib/hash/types.ts";

const X = randomF32(16 * 30, 1, 0, 1);
const Y = Uint32Array.from({ length: 16 }, (_, i) => i % 5);

async function run(gpu: Gpu, hash: Hash, deterministic: boolean, steps = 8) {
  const { net, layers } = buildMlp(gpu, {
    layers: [30, 40, 5],
    hash,
    tableFraction: 0.05, // crowded slots: many positions per slot
    sparsity: 0.2,
    seed: 3,
    deterministic,
  });
  const trainer = new Trainer(net, new SGD(net.parameters(), { lr: 0.05, momentum: 0.9 }), {
    features: 30,
    classes: 5,
  });
  for (let i = 0; i < steps; i++) await trainer.step(X, Y);
  return Promise.all(layers.map((l) => l.table.read()));
}

for (
  const [name, hash] of [
    ["uniform", hashes.uniform()],
    ["dirichlet α=0.01", hashes.dirichlet({ alpha: 0.01 })],
  ] as const
) {
  gpuTest(`deterministic mode: two runs give bit-identical tables (${name})`, async (gpu) => {
    const a = await run(gpu, hash, true);
    const b = await run(gpu, hash, true);
    for (let i = 0; i < a.length; i++) assert.deepEqual(a[i], b[i], `layer ${i}`);
  });

  gpuTest(`deterministic and atomic table gradients agree (${name})`, async (gpu) => {
    const det = await run(gpu, hash, true);
    const atomic = await run(gpu, hash, false);
    for (let i = 0; i < det.length; i++) {
      assertClose(atomic[i], det[i], { rtol: 1e-4, atol: 1e-5, what: `layer ${i}` });
    }
  });
}

gpuTest("deterministic mode and materialised weights are refused for procedural layers", (gpu) => {
  for (const option of ["deterministic", "materialize"] as const) {
    assert.throws(
      () =>
        buildMlp(gpu, {
          layers: [30, 5],
          hash: hashes.uniform(),
          procedural: true,
          [option]: true,
        }),
      new RegExp(option),
    );
  }
  return Promise.resolve();
});

gpuTest(
  `deterministic "auto" (the default) follows the adapter; procedural layers stay atomic`,
  (gpu) => {
    const materialised = buildMlp(gpu, { layers: [30, 5], hash: hashes.uniform() }).layers[0];
    assert.equal(materialised.deterministic, gpu.adapter.isFallbackAdapter);
    const procedural = buildMlp(gpu, { layers: [30, 5], hash: hashes.uniform(), procedural: true });
    assert.equal(procedural.layers[0].deterministic, false);
    const forced = buildMlp(gpu, { layers: [30, 5], hash: hashes.uniform(), deterministic: false });
    assert.equal(forced.layers[0].deterministic, false);
    return Promise.resolve();
  },
);

// Materialising the virtual weights changes how the products read them, not
// what they compute: a batch of 40 (over MATERIALIZE_MIN_ROWS) both ways,
// deterministic so that the table gradients add in a fixed order too.
gpuTest(
  "materialised and gathered weights train alike",
  async (gpu) => {
    const x = randomF32(40 * 30, 21, 0, 1);
    const y = Uint32Array.from({ length: 40 }, (_, i) => i % 5);
    const tables = async (materialize: boolean) => {
      const { net, layers } = buildMlp(gpu, {
        layers: [30, 40, 5],
        hash: hashes.uniform(),
        tableFraction: 0.3,
        sparsity: 0.2,
        seed: 4,
        deterministic: true,
        materialize,
      });
      const trainer = new Trainer(net, new SGD(net.parameters(), { lr: 0.05, momentum: 0.9 }), {
        features: 30,
        classes: 5,
      });
      for (let i = 0; i < 5; i++) await trainer.step(x, y);
      return Promise.all(layers.map((l) => l.table.read()));
    };
    // Bit for bit: every output sums the same products in the same k order,
    // whichever tile computes it.
    const on = await tables(true), off = await tables(false);
    for (let i = 0; i < on.length; i++) assert.deepEqual(on[i], off[i], `layer ${i}`);
  },
);
