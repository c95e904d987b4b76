/**
 * ArbLinear binds what its plan says: a training step's matmuls are, in
 * order, the variants `planArbLinear` gives under the adapter's policy, on
 * this adapter flagged as a CPU adapter and as a GPU. Both policies train
 * the same network to the same tables (within float tolerance).
 */
import assert from "node:assert/strict";
import { assertClose, testGpu } from "./_util.ts";
import { Gpu, type Launch } from "../lib/gpu/device.ts";
import { hashes } from "../lib/hash/mod.ts";
import {
  adapterPolicy,
  planArbLinear,
  type PlannedProduct,
  resolveLayerModes,
} from "../lib/nn/plan_policy.ts";
import { matmulLabel } from "../shaders/matmul.ts";
import { SGD } from "../lib/optim/mod.ts";
import { buildMlp, Trainer } from "../lib/train/mod.ts";

const WIDTHS = [36, 44, 6];
const BATCH = 40; // over both policy thresholds: materialised weights on CPU adapters
const X = Float32Array.from({ length: BATCH * WIDTHS[0] }, (_, i) => Math.sin(i * 0.37));
const Y = Uint32Array.from({ length: BATCH }, (_, i) => i % WIDTHS[2]);

function matmulLabels(launches: readonly Launch[], out: string[] = []): string[] {
  for (const l of launches) {
    if (l.program.label.startsWith("matmul[")) out.push(l.program.label);
    if (l.more) matmulLabels(l.more, out);
  }
  return out;
}

async function stepOn(isFallbackAdapter: boolean) {
  const base = await testGpu();
  const adapter = await navigator.gpu.requestAdapter();
  assert.ok(adapter);
  const gpu = new Gpu(await adapter.requestDevice(), { ...base.adapter, isFallbackAdapter });
  try {
    const { net, layers } = buildMlp(gpu, {
      layers: WIDTHS,
      hash: hashes.uniform(),
      tableFraction: 0.25,
      seed: 5,
    });
    const trainer = new Trainer(net, new SGD(net.parameters(), { lr: 0.05 }), {
      features: WIDTHS[0],
      classes: WIDTHS[2],
    });
    await trainer.step(X, Y);
    const tables = await Promise.all(layers.map((l) => l.table.read()));
    const launches = await gpu.capture(() => trainer.step(X, Y));
    return { labels: matmulLabels(launches), tables, layers };
  } finally {
    gpu.destroy();
  }
}

for (const isFallbackAdapter of [true, false]) {
  Deno.test({
    name: `ArbLinear binds its plan's matmuls (isFallbackAdapter: ${isFallbackAdapter})`,
    sanitizeOps: false,
    sanitizeResources: false,
    fn: async () => {
      const { labels, layers } = await stepOn(isFallbackAdapter);
      const policy = adapterPolicy({ isFallbackAdapter });
      const plans = layers.map((l, i) => {
        const kind = { dense: l.isDense, procedural: l.procedural };
        return planArbLinear({
          rows: BATCH,
          inFeatures: l.config.inFeatures,
          outFeatures: l.config.outFeatures,
          tableSize: l.config.tableSize,
          ...kind,
          ...resolveLayerModes({}, kind, policy),
          relu: i < layers.length - 1,
          inputGrad: i > 0,
        }, policy);
      });
      const label = (p: PlannedProduct | null) => p ? [matmulLabel(p.variant)] : [];
      const expected = [
        ...plans.flatMap((p) => label(p.forward)),
        ...plans.toReversed().flatMap((p) => [...label(p.tableGrad), ...label(p.inputGrad)]),
      ];
      assert.equal(expected.length, 5); // 2 forwards, 2 table gradients, 1 input gradient
      assert.deepEqual(labels, expected);
      assert.equal(plans[0].materialize, isFallbackAdapter);
    },
  });
}

Deno.test({
  name: "ArbLinear: CPU and GPU policies train to the same tables",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const cpu = await stepOn(true);
    const gpu = await stepOn(false);
    for (let i = 0; i < cpu.tables.length; i++) {
      assertClose(gpu.tables[i], cpu.tables[i], { rtol: 1e-4, atol: 1e-6, what: `layer ${i}` });
    }
  },
});
