/**
 * The adapter policies and ArbLinear's kernel plans (`lib/nn/plan_policy.ts`)
 * as plain functions: no WebGPU device is requested here. Known plans for
 * the default training run on each adapter class, the thresholds at their
 * edges, option checks, and properties every plan must keep.
 */
import assert from "node:assert/strict";
import { ArbnetError } from "../lib/errors.ts";
import { Rng } from "../lib/util/random.ts";
import {
  activationRows,
  adapterPolicy,
  type ArbLinearPlanInput,
  CPU_ADAPTER_POLICY,
  GPU_ADAPTER_POLICY,
  MATERIALIZE_MIN_ROWS,
  planArbLinear,
  resolveLayerModes,
  TRANSPOSE_WEIGHTS_MIN_ROWS,
} from "../lib/nn/plan_policy.ts";

/** A hashed layer of the default run (784→1000 or 1000→10), batch 50, modes as "auto" resolves them. */
function layer(
  policy = CPU_ADAPTER_POLICY,
  over: Partial<ArbLinearPlanInput> = {},
): ArbLinearPlanInput {
  const kind = { dense: over.dense ?? false, procedural: over.procedural ?? false };
  return {
    rows: 50,
    inFeatures: 784,
    outFeatures: 1000,
    tableSize: 98000,
    relu: true,
    inputGrad: false,
    ...kind,
    ...resolveLayerModes({}, kind, policy),
    ...over,
  };
}

Deno.test("adapterPolicy: CPU adapters get the CPU policy, the others the GPU one", () => {
  assert.equal(adapterPolicy({ isFallbackAdapter: true }), CPU_ADAPTER_POLICY);
  assert.equal(adapterPolicy({ isFallbackAdapter: false }), GPU_ADAPTER_POLICY);
});

Deno.test("plan: the default run's hashed first layer on a CPU adapter", () => {
  const plan = planArbLinear(layer(), CPU_ADAPTER_POLICY);
  assert.deepEqual(plan, {
    materialize: true,
    forward: {
      variant: { a: "rows", weights: "dense", b: "rows", store: "bias_relu" },
      shape: { M: 50, N: 1000, K: 784 },
    },
    tableGrad: {
      variant: { a: "rows", weights: "dense", b: "rows", store: "permuted" },
      shape: { M: 784, N: 1000, K: 52, zeroSlot: 98000 },
    },
    transposeInput: true,
    xStride: 52,
    transposeWeights: false,
    inputGrad: null,
  });
});

Deno.test("plan: the default run's output layer on a CPU adapter (10 columns: W not transposed)", () => {
  const plan = planArbLinear(
    layer(CPU_ADAPTER_POLICY, {
      inFeatures: 1000,
      outFeatures: 10,
      tableSize: 1250,
      relu: false,
      inputGrad: true,
    }),
    CPU_ADAPTER_POLICY,
  );
  assert.equal(plan.materialize, true);
  assert.equal(plan.forward.variant.store, "bias");
  assert.equal(plan.transposeWeights, false);
  assert.deepEqual(plan.inputGrad, {
    variant: { a: "rows", weights: "dense", b: "cols", store: "plain" },
    shape: { M: 50, N: 1000, K: 10 },
  });
});

Deno.test("plan: a hashed layer on a GPU adapter gathers in the tiles and scatters with atomics", () => {
  const plan = planArbLinear(layer(GPU_ADAPTER_POLICY, { inputGrad: true }), GPU_ADAPTER_POLICY);
  assert.deepEqual(plan, {
    materialize: false,
    forward: {
      variant: { a: "rows", weights: "hashed", b: "rows", store: "bias_relu" },
      shape: { M: 50, N: 1000, K: 784 },
    },
    tableGrad: {
      variant: { a: "cols", weights: "dense", b: "rows", store: "scatter" },
      shape: { M: 784, N: 1000, K: 50, zeroSlot: 98000 },
    },
    transposeInput: false,
    xStride: 50,
    transposeWeights: false,
    inputGrad: {
      variant: { a: "rows", weights: "hashed", b: "cols", store: "plain" },
      shape: { M: 50, N: 784, K: 1000 },
    },
  });
});

Deno.test("plan: thresholds of materialised and transposed weights, at their edges", () => {
  for (
    const [rows, expected] of [[MATERIALIZE_MIN_ROWS - 1, false], [MATERIALIZE_MIN_ROWS, true]]
  ) {
    const plan = planArbLinear(
      layer(CPU_ADAPTER_POLICY, { rows: rows as number }),
      CPU_ADAPTER_POLICY,
    );
    assert.equal(plan.materialize, expected, `materialize at ${rows} rows`);
    assert.equal(plan.forward.variant.weights, expected ? "dense" : "hashed");
  }
  for (
    const [rows, expected] of [[TRANSPOSE_WEIGHTS_MIN_ROWS - 1, false], [
      TRANSPOSE_WEIGHTS_MIN_ROWS,
      true,
    ]]
  ) {
    const dense = layer(CPU_ADAPTER_POLICY, {
      rows: rows as number,
      dense: true,
      inverseIndex: false,
      inputGrad: true,
    });
    const plan = planArbLinear(dense, CPU_ADAPTER_POLICY);
    assert.equal(plan.transposeWeights, expected, `transpose W at ${rows} rows`);
    assert.equal(plan.inputGrad!.variant.b, expected ? "rows" : "cols");
    assert.equal(plan.tableGrad.variant.store, "plain");
  }
  // Feature counts off multiples of 4 keep W as it is.
  const odd = layer(CPU_ADAPTER_POLICY, { rows: 64, inFeatures: 30, inputGrad: true });
  assert.equal(planArbLinear(odd, CPU_ADAPTER_POLICY).transposeWeights, false);
});

Deno.test("plan: explicit materialize and deterministic override the policy", () => {
  const kind = { dense: false, procedural: false };
  const onGpu = resolveLayerModes(
    { materialize: true, deterministic: true },
    kind,
    GPU_ADAPTER_POLICY,
  );
  assert.deepEqual(onGpu, { inverseIndex: true, materialize: true });
  const plan = planArbLinear(layer(GPU_ADAPTER_POLICY, { ...onGpu, rows: 4 }), GPU_ADAPTER_POLICY);
  assert.equal(plan.materialize, true);
  assert.equal(plan.tableGrad.variant.store, "permuted");
  assert.equal(plan.transposeInput, false);
  const offCpu = resolveLayerModes(
    { materialize: false, deterministic: false },
    kind,
    CPU_ADAPTER_POLICY,
  );
  assert.deepEqual(offCpu, { inverseIndex: false, materialize: false });
  const cpuPlan = planArbLinear(layer(CPU_ADAPTER_POLICY, offCpu), CPU_ADAPTER_POLICY);
  assert.equal(cpuPlan.materialize, false);
  // Atomics admit no transposed X, whatever the adapter.
  assert.equal(cpuPlan.tableGrad.variant.store, "scatter");
  assert.equal(cpuPlan.transposeInput, false);
  assert.equal(cpuPlan.tableGrad.variant.a, "cols");
});

Deno.test("plan: procedural layers never materialise, stay atomic and name their slot rule", () => {
  const kind = { dense: false, procedural: true };
  const modes = resolveLayerModes({}, kind, CPU_ADAPTER_POLICY);
  assert.deepEqual(modes, { inverseIndex: false, materialize: "auto" });
  const plan = planArbLinear(
    layer(CPU_ADAPTER_POLICY, { ...kind, ...modes, slots: "uniform", rows: 128, inputGrad: true }),
    CPU_ADAPTER_POLICY,
  );
  assert.equal(plan.materialize, false);
  assert.equal(plan.tableGrad.variant.store, "scatter");
  for (const p of [plan.forward, plan.tableGrad, plan.inputGrad!]) {
    assert.equal(p.variant.slots, "uniform");
  }
  assert.throws(
    () => resolveLayerModes({ deterministic: true }, kind, CPU_ADAPTER_POLICY),
    ArbnetError,
  );
  assert.throws(
    () => resolveLayerModes({ materialize: true }, kind, GPU_ADAPTER_POLICY),
    ArbnetError,
  );
});

Deno.test('resolveLayerModes: refuses values that are neither booleans nor "auto"', () => {
  const kind = { dense: false, procedural: false };
  for (const bad of ["yes", 1, 0]) {
    assert.throws(
      () => resolveLayerModes({ deterministic: bad }, kind, CPU_ADAPTER_POLICY),
      /deterministic/,
    );
    assert.throws(
      () => resolveLayerModes({ materialize: bad }, kind, CPU_ADAPTER_POLICY),
      /materialize/,
    );
  }
  // A dense layer needs no inverse index even when asked to be deterministic.
  const dense = resolveLayerModes(
    { deterministic: true },
    { dense: true, procedural: false },
    GPU_ADAPTER_POLICY,
  );
  assert.equal(dense.inverseIndex, false);
});

Deno.test("plan: every plan's shapes agree with the layer and its batch (random layers)", () => {
  const rng = new Rng(28);
  const int = (lo: number, hi: number) => lo + Math.floor(rng.next() * (hi - lo + 1));
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rng.next() * xs.length)];
  for (let trial = 0; trial < 300; trial++) {
    const policy = pick([CPU_ADAPTER_POLICY, GPU_ADAPTER_POLICY]);
    const dense = rng.next() < 0.3;
    const procedural = !dense && rng.next() < 0.3;
    const kind = { dense, procedural };
    const modes = resolveLayerModes(
      {
        deterministic: procedural ? pick([false, "auto"]) : pick([true, false, "auto"]),
        materialize: procedural ? pick([false, "auto"]) : pick([true, false, "auto"]),
      },
      kind,
      policy,
    );
    const input: ArbLinearPlanInput = {
      rows: int(1, 200),
      inFeatures: int(1, 64),
      outFeatures: int(1, 64),
      tableSize: int(1, 100),
      relu: rng.next() < 0.5,
      inputGrad: rng.next() < 0.5,
      ...kind,
      ...modes,
    };
    const p = planArbLinear(input, policy);
    const { rows, inFeatures: i, outFeatures: o } = input;
    const what = JSON.stringify({ policy: policy.name, input });
    assert.deepEqual(p.forward.shape, { M: rows, N: o, K: i }, what);
    assert.deepEqual(
      p.tableGrad.shape,
      { M: i, N: o, K: p.xStride, zeroSlot: input.tableSize },
      what,
    );
    assert.ok(p.xStride >= rows && p.xStride < rows + 4, what);
    if (p.transposeInput) assert.equal(p.xStride % 4, 0, what);
    else assert.equal(p.xStride, rows, what);
    assert.equal(p.tableGrad.variant.a, p.transposeInput ? "rows" : "cols", what);
    if (p.tableGrad.variant.store === "scatter") assert.equal(p.transposeInput, false, what);
    assert.equal(p.materialize && (dense || procedural), false, what);
    if (p.transposeWeights) assert.ok(dense || p.materialize, what);
    assert.equal(p.inputGrad === null, !input.inputGrad, what);
    if (p.inputGrad) assert.deepEqual(p.inputGrad.shape, { M: rows, N: i, K: o }, what);
    const store = dense ? "plain" : modes.inverseIndex ? "permuted" : "scatter";
    assert.equal(p.tableGrad.variant.store, store, what);
    if (policy === GPU_ADAPTER_POLICY) {
      assert.equal(p.transposeInput || p.transposeWeights, false, what);
    }
  }
});

Deno.test("activationRows: whole 16-row blocks, never fewer rows than asked", () => {
  assert.deepEqual([1, 15, 16, 17, 50, 64].map(activationRows), [16, 16, 16, 32, 64, 64]);
});
