import assert from "node:assert/strict";
import { ArbnetError } from "../lib/errors.ts";
import {
  balanceSweep,
  canonicalJson,
  defaultRadii,
  firstLayerTableSize,
  hashesSweep,
  type HashSpec,
  noiseSweep,
  runId,
  type RunSpec,
} from "../lib/experiment/mod.ts";

function spec(): RunSpec {
  return {
    experiment: "balance",
    dataset: "mnist",
    hash: { family: "dirichlet", options: { alpha: 0.01 } },
    sparsity: 0.5,
    seed: 2,
    epochs: 3,
    hidden: [1000],
    tableFraction: 0.125,
    lr: 0.01,
    batch: 50,
  };
}

function reverseKeys<T>(v: T): T {
  if (Array.isArray(v)) return v.map(reverseKeys) as T;
  if (typeof v === "object" && v !== null) {
    return Object.fromEntries(
      Object.keys(v).reverse().map((k) => [k, reverseKeys((v as Record<string, unknown>)[k])]),
    ) as T;
  }
  return v;
}

Deno.test("runId is pinned: results files written today must match ids computed later", () => {
  assert.equal(runId(spec()), "balance-a0.01-s0.5-seed2-9df892b2");
});

Deno.test("runId ignores key order at every depth and absent-vs-undefined keys", () => {
  const a = spec();
  const b = reverseKeys(spec());
  assert.notEqual(JSON.stringify(a), JSON.stringify(b));
  assert.equal(runId(b), runId(a));
  assert.equal(runId({ ...a, trainLimit: undefined }), runId(a));
});

Deno.test("runId changes with every field", () => {
  const base = runId(spec());
  const variants: RunSpec[] = [
    { ...spec(), dataset: "cifar10" },
    { ...spec(), experiment: "noise" },
    { ...spec(), hash: { family: "dirichlet", options: { alpha: 0.1 } } },
    { ...spec(), hash: { family: "uniform", options: { alpha: 0.01 } } },
    { ...spec(), sparsity: 0.9 },
    { ...spec(), seed: 3 },
    { ...spec(), epochs: 4 },
    { ...spec(), trainLimit: 100 },
    { ...spec(), hidden: [1000, 10] },
    { ...spec(), tableFraction: 1 / 64 },
    { ...spec(), lr: 0.1 },
    { ...spec(), batch: 64 },
    { ...spec(), momentum: 0.9 },
  ];
  const ids = variants.map(runId);
  assert.equal(new Set([base, ...ids]).size, variants.length + 1);
});

Deno.test("canonicalJson sorts keys (integer-like ones too) and rejects what JSON cannot carry", () => {
  assert.equal(
    canonicalJson({ b: 1, a: { d: [1, { z: 0, y: -0 }], c: null } }),
    '{"a":{"c":null,"d":[1,{"y":0,"z":0}]},"b":1}',
  );
  assert.equal(canonicalJson({ 10: 1, 2: 2, a: 3 }), '{"10":1,"2":2,"a":3}');
  assert.throws(() => canonicalJson({ x: NaN }), /\$\.x.*finite/);
  assert.throws(() => canonicalJson({ x: [1, Infinity] }), /\$\.x\[1\]/);
  assert.throws(() => canonicalJson({ when: new Date(0) }), ArbnetError);
  assert.throws(() => canonicalJson([undefined]), ArbnetError);
});

Deno.test("balanceSweep: 6 α × 3 s × 3 seeds = 54 runs in full, 16 in quick, distinct ids", () => {
  const full = balanceSweep({ profile: "full" });
  assert.equal(full.length, 54);
  assert.equal(new Set(full.map(runId)).size, 54);
  assert.deepEqual([...new Set(full.map((r) => r.hash.options.alpha))], [
    1e-3,
    1e-2,
    0.1,
    1,
    10,
    100,
  ]);
  assert.deepEqual([...new Set(full.map((r) => r.sparsity))], [0, 0.5, 0.9]);
  assert.deepEqual([...new Set(full.map((r) => r.seed))], [1, 2, 3]);
  assert.ok(full.every((r) => r.experiment === "balance" && r.hash.family === "dirichlet"));
  assert.ok(full.every((r) => r.trainLimit === undefined && r.profile === "full"));
  // Seed outermost: a sweep cut short holds whole seeds.
  assert.ok(full.slice(0, 18).every((r) => r.seed === 1));

  const quick = balanceSweep({ profile: "quick", dataset: "cifar10" });
  assert.equal(quick.length, 16);
  assert.ok(quick.every((r) => r.dataset === "cifar10" && r.trainLimit === 6000));
  const quickIds = new Set(quick.map(runId));
  assert.ok(full.every((r) => !quickIds.has(runId(r))));

  assert.equal(balanceSweep({ alphas: [1], sparsities: [0], seeds: [7, 9] }).length, 2);
  assert.match(
    runId(balanceSweep({ alphas: [0.01], sparsities: [0.5], seeds: [2] })[0]),
    /^balance-a0\.01-s0\.5-seed2-[0-9a-f]{8}$/,
  );
});

Deno.test("noiseSweep: radii from 0 to ≥ K/2 on a log scale; K from the layer sizes", () => {
  assert.equal(
    firstLayerTableSize({ dataset: "mnist", hidden: [1000], tableFraction: 1 / 8 }),
    98_000,
  );
  assert.deepEqual(defaultRadii(98_000), [0, 1, 10, 100, 1000, 10_000, 49_000]);
  assert.deepEqual(defaultRadii(1), [0, 1]);
  const full = noiseSweep({ profile: "full" });
  assert.equal(full.length, 7 * 3 * 3);
  assert.ok(full.every((r) => r.experiment === "noise" && r.hash.family === "neighborhood"));
  const radii = [...new Set(full.map((r) => r.hash.options.radius as number))];
  assert.ok(Math.max(...radii) >= 98_000 / 2);
  const quick = noiseSweep({ profile: "quick" });
  assert.deepEqual([...new Set(quick.map((r) => r.hash.options.radius))], [
    0,
    1,
    100,
    10_000,
    49_000,
  ]);
  assert.equal(quick.length, 20);
  const cifar = noiseSweep({ dataset: "cifar10", sparsities: [0], seeds: 1 });
  assert.equal(Math.max(...cifar.map((r) => r.hash.options.radius as number)), 3072 * 1000 / 16);
  const smallK = noiseSweep({ k: 100, sparsities: [0], seeds: 1 });
  assert.deepEqual(smallK.map((r) => r.hash.options.radius), [0, 1, 10, 50]);
  const sized = noiseSweep({ base: { hidden: [300, 100] }, sparsities: [0], seeds: 1 });
  assert.equal(
    Math.max(...sized.map((r) => r.hash.options.radius as number)),
    Math.ceil(29_400 / 2),
  );
});

Deno.test("builders name the bad option", () => {
  assert.throws(() => balanceSweep({ alphas: [-1] }), /invalid alphas/);
  assert.throws(() => balanceSweep({ alphas: [1, 1] }), /invalid alphas.*no repeated/);
  assert.throws(() => balanceSweep({ sparsities: [1] }), /invalid sparsities/);
  assert.throws(() => balanceSweep({ seeds: 0 }), /invalid seeds/);
  // deno-lint-ignore no-explicit-any
  assert.throws(() => balanceSweep({ profile: "medium" as any }), /invalid profile/);
  // deno-lint-ignore no-explicit-any
  assert.throws(() => noiseSweep({ dataset: "svhn" as any }), /invalid dataset/);
  assert.throws(() => noiseSweep({ radii: [0.5] }), /invalid radii/);
  assert.throws(() => noiseSweep({ base: { seed: 3 } }), /invalid base\.seed/);
  assert.throws(() => noiseSweep({ base: { epochs: 0 } }), /invalid base\.epochs/);
});

Deno.test("hashesSweep: each hash × sparsity × seed, descriptors checked, none repeated", () => {
  const hashes: HashSpec[] = [
    { family: "uniform", options: {} },
    { family: "mine", options: { block: 2, sign: false } },
  ];
  const runs = hashesSweep({ profile: "quick", hashes });
  assert.equal(runs.length, 2 * 2 * 2);
  assert.ok(runs.every((r) => r.experiment === "hashes"));
  assert.deepEqual(runs.slice(0, 2).map((r) => r.hash), hashes);
  assert.equal(new Set(runs.map(runId)).size, runs.length);
  assert.match(runId(runs[1]), /^hashes-mine-s0-seed1-[0-9a-f]{8}$/);
  const bad: unknown[] = [
    [],
    [{ family: "", options: {} }],
    [{ family: "uniform" }],
    [{ family: "uniform", options: { nested: { x: 1 } } }],
    [{ family: "uniform", options: {} }, { options: {}, family: "uniform" }],
  ];
  for (const h of bad) {
    assert.throws(
      () => hashesSweep({ profile: "quick", hashes: h as never }),
      ArbnetError,
      JSON.stringify(h),
    );
  }
});
