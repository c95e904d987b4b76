import assert from "node:assert/strict";
import { assertClose, gpuTest, randomF32 } from "./_util.ts";
import { type Gpu, requestDevice } from "../lib/gpu/device.ts";
import { ArbnetError } from "../lib/errors.ts";
import {
  type Hash,
  hashes,
  type IndexSpec,
  MAX_RADIUS,
  proceduralHash,
  recurrentShape,
} from "../lib/hash/mod.ts";
import { ArbLinear, packSlotWords } from "../lib/nn/arb_linear.ts";
import { ReLU, Sequential } from "../lib/nn/layers.ts";
import { SGD } from "../lib/optim/mod.ts";
import { Trainer, trainStep } from "../lib/train/mod.ts";
import { type ProceduralSlotBuffers, slotWordsLaunch } from "../shaders/hash.ts";
import {
  DEFAULT_TILE,
  matmulLaunch,
  type MatmulShape,
  matmulSource,
  type MatmulVariant,
  type Tile,
} from "../shaders/matmul.ts";
import { matmulRef } from "../shaders/matmul_ref.ts";

/** A hash's procedural buffers on the GPU, and how to free them. */
function uploadHash(gpu: Gpu, hash: Hash, spec: IndexSpec) {
  const p = proceduralHash(hash, spec);
  const buffers: ProceduralSlotBuffers = { hashParams: gpu.uniform(p.params, "hash params") };
  if (p.alias) {
    buffers.aliasThreshold = gpu.upload(p.alias.threshold, "alias threshold");
    buffers.aliasTarget = gpu.upload(p.alias.alias, "alias target");
  }
  const release = () => Object.values(buffers).forEach((b) => gpu.release(b));
  return { family: p.family, buffers, release };
}

async function gpuWords(gpu: Gpu, hash: Hash, spec: IndexSpec): Promise<Uint32Array> {
  const n = spec.rows * spec.cols;
  const h = uploadHash(gpu, hash, spec);
  const out = gpu.buffer(n * 4, "words");
  gpu.dispatch(await slotWordsLaunch(gpu, h.family, n, { ...h.buffers, out }));
  const words = await gpu.readU32(out, n);
  gpu.release(out);
  h.release();
  return words;
}

function cpuWords(hash: Hash, spec: IndexSpec): Uint32Array {
  return packSlotWords(hash.indices(spec), hash.signs(spec));
}

function assertSameWords(got: Uint32Array, want: Uint32Array, what: string): void {
  assert.equal(got.length, want.length, what);
  for (let p = 0; p < want.length; p++) {
    if (got[p] !== want[p]) {
      assert.fail(`${what}: position ${p} has word ${got[p]}, the CPU says ${want[p]}`);
    }
  }
}

// Odd shapes: a single position, primes, a single row longer than a workgroup.
const SHAPES = [
  { rows: 1, cols: 1 },
  { rows: 37, cols: 113 },
  { rows: 101, cols: 3 },
  { rows: 1, cols: 4099 },
];
const TABLE_SIZES = [1, 7, 50, 997];
const SPARSITIES = [0, 0.3, 0.9];

const FAMILIES: Record<string, Hash[]> = {
  uniform: [hashes.uniform(), hashes.uniform({ sign: false })],
  // Radius 0 (round-robin), small, ≥ K/2 for the larger tables, and the largest.
  neighborhood: [0, 3, 25, 1000, MAX_RADIUS].map((radius, i) =>
    hashes.neighborhood({ radius, sign: i % 2 === 1 })
  ),
  dirichlet: [0.01, 1, 100].flatMap((alpha) => [
    hashes.dirichlet({ alpha }),
    hashes.dirichlet({ alpha, sign: true }),
  ]),
};

for (const [family, hs] of Object.entries(FAMILIES)) {
  gpuTest(`procedural ${family} slot words equal the CPU's bit for bit`, async (gpu) => {
    let seed = 0;
    for (const h of hs) {
      for (const shape of SHAPES) {
        for (const tableSize of TABLE_SIZES) {
          for (const sparsity of SPARSITIES) {
            // Cover the ends of the seed range too.
            const s = seed++ % 5 === 0 ? 2 ** 32 - 1 - seed : seed * 7919;
            const spec = { ...shape, tableSize, sparsity, seed: s };
            const what = `${family} ${JSON.stringify(h.options)} ${JSON.stringify(spec)}`;
            assertSameWords(await gpuWords(gpu, h, spec), cpuWords(h, spec), what);
          }
        }
      }
    }
    // A million positions, so the hashes take values all over the u32 range.
    const spec = { rows: 1000, cols: 1009, tableSize: 98_765, sparsity: 0.5, seed: 2 ** 32 - 1 };
    const h = hs.at(-1)!;
    assertSameWords(await gpuWords(gpu, h, spec), cpuWords(h, spec), `${family} large`);
  });
}

Deno.test("slot-buffer variants keep their exact source; procedural ones add only the hash", () => {
  const v: MatmulVariant = { a: "rows", weights: "hashed", b: "rows", store: "bias" };
  const buffer = matmulSource(v);
  assert.equal(matmulSource({ ...v, slots: "buffer" }), buffer);
  assert.ok(!buffer.includes("hash_params"));
  for (const slots of ["uniform", "neighborhood", "dirichlet"] as const) {
    const src = matmulSource({ ...v, slots });
    assert.ok(!src.includes("var<storage, read> slots"), slots);
    assert.ok(src.includes("fn xxh32_u32") && src.includes("fn slot_word"), slots);
  }
  // Dense products read no slots, so the option changes nothing.
  const dense: MatmulVariant = { a: "rows", weights: "dense", b: "rows", store: "plain" };
  assert.equal(matmulSource({ ...dense, slots: "uniform" }), matmulSource(dense));
});

const TILES: Tile[] = [
  DEFAULT_TILE,
  { tm: 4, tn: 2, wgX: 8, wgY: 4, interleave: true },
  { tm: 1, tn: 1, wgX: 8, wgY: 8 },
];

// The three products of a layer (inF × outF virtual matrix, batch B).
function products(inF: number, outF: number, batch: number, tableSize: number) {
  return [
    {
      name: "forward",
      v: { a: "rows", weights: "hashed", b: "rows", store: "bias_relu" } as MatmulVariant,
      s: { M: batch, N: outF, K: inF } as MatmulShape,
    },
    {
      name: "input gradient",
      v: { a: "rows", weights: "hashed", b: "cols", store: "plain" } as MatmulVariant,
      s: { M: batch, N: inF, K: outF } as MatmulShape,
    },
    {
      name: "table gradient",
      v: { a: "cols", weights: "dense", b: "rows", store: "scatter" } as MatmulVariant,
      s: { M: inF, N: outF, K: batch, zeroSlot: tableSize } as MatmulShape,
    },
  ];
}

async function runProduct(
  gpu: Gpu,
  v: MatmulVariant,
  s: MatmulShape,
  slots: { slots?: GPUBuffer } & Partial<ProceduralSlotBuffers>,
  host: { a: Float32Array; b: Float32Array; bias: Float32Array },
  outLen: number,
): Promise<Float32Array> {
  const bufs = {
    a: gpu.upload(host.a, "a"),
    b: gpu.upload(host.b, "b"),
    bias: gpu.upload(host.bias, "bias"),
    c: gpu.buffer(outLen * 4, "c"),
  };
  const launch = await matmulLaunch(gpu, v, s, { ...bufs, ...slots });
  gpu.clear(bufs.c);
  gpu.dispatch(launch);
  const got = await gpu.readF32(bufs.c, outLen);
  Object.values(bufs).forEach((b) => gpu.release(b));
  return got;
}

const PRODUCT_HASHES: Hash[] = [
  hashes.uniform(),
  hashes.neighborhood({ radius: 4, sign: true }),
  hashes.dirichlet({ alpha: 0.5 }),
];

for (const hash of PRODUCT_HASHES) {
  gpuTest(
    `procedural ${hash.family} forward, input and table gradients match the materialised slots`,
    async (gpu) => {
      const [inF, outF, batch] = [37, 29, 5];
      let seed = 100;
      for (const tableSize of [7, 50]) {
        for (const sparsity of [0, 0.5]) {
          const spec = { rows: inF, cols: outF, tableSize, sparsity, seed: seed++ };
          const words = cpuWords(hash, spec);
          const proc = uploadHash(gpu, hash, spec);
          const materialised = gpu.upload(words, "slots");
          for (const tile of TILES) {
            for (const { name, v, s } of products(inF, outF, batch, tableSize)) {
              const scatter = v.store === "scatter";
              const host = {
                a: randomF32(s.M * s.K, seed + 1),
                b: scatter
                  ? randomF32(s.K * s.N, seed + 2)
                  : randomF32(tableSize + 1, seed + 2).fill(0, tableSize),
                bias: randomF32(s.N, seed + 3),
              };
              const outLen = scatter ? tableSize + 1 : s.M * s.N;
              const what = `${name} ${JSON.stringify(spec)} tile ${JSON.stringify(tile)}`;
              const got = await runProduct(
                gpu,
                { ...v, tile, slots: proc.family },
                s,
                proc.buffers,
                host,
                outLen,
              );
              const base = await runProduct(
                gpu,
                { ...v, tile },
                s,
                { slots: materialised },
                host,
                outLen,
              );
              const grad = new Float32Array(tableSize + 1);
              const want = matmulRef(v, s, { ...host, slots: words, grad });
              const tol = { rtol: 1e-4, atol: 1e-4 * Math.sqrt(s.K) };
              assertClose(got, want, { ...tol, what: `${what} vs reference` });
              assertClose(got, base, { ...tol, what: `${what} vs materialised` });
            }
          }
          proc.release();
          gpu.release(materialised);
        }
      }
    },
  );
}

// A two-layer net, so the second layer's input gradient is exercised too.
function net(gpu: Gpu, hash: Hash, procedural: boolean) {
  const common = { hash, sparsity: 0.25, procedural };
  return new Sequential([
    new ArbLinear(gpu, { inFeatures: 37, outFeatures: 29, tableSize: 61, seed: 3, ...common }),
    new ReLU(),
    new ArbLinear(gpu, { inFeatures: 29, outFeatures: 5, tableSize: 23, seed: 4, ...common }),
  ]);
}

for (const hash of PRODUCT_HASHES) {
  gpuTest(`ArbLinear procedural: true trains like the materialised ${hash.family}`, async (gpu) => {
    const x = randomF32(4 * 37, 7, 0, 1);
    const y = new Uint32Array([0, 3, 4, 1]);
    const results = [];
    for (const procedural of [false, true]) {
      const n = net(gpu, hash, procedural);
      const opt = new SGD(n.parameters(), { lr: 0.1, momentum: 0.9 });
      const losses = [];
      for (let step = 0; step < 3; step++) losses.push(await trainStep(n, opt, x, y, 5));
      const params = await Promise.all(n.parameters().map((p) => p.read()));
      results.push({ losses, params });
    }
    const [mat, proc] = results;
    assertClose(proc.losses, mat.losses, { rtol: 1e-4, atol: 1e-5, what: "losses" });
    mat.params.forEach((p, i) =>
      assertClose(proc.params[i], p, { rtol: 1e-4, atol: 1e-5, what: `parameter ${i}` })
    );
  });
}

gpuTest("a procedural layer computes its indices on the CPU only when read", async (gpu) => {
  const base = hashes.dirichlet({ alpha: 0.3, sign: true });
  let calls = 0;
  // The spy must stay the library's own hash (a copy made by spreading is a
  // hand-made hash, which gets no built-in procedural form): count calls on it.
  const spy: Hash = hashes.dirichlet({ alpha: 0.3, sign: true });
  const indices = spy.indices;
  spy.indices = (spec) => {
    calls++;
    return indices(spec);
  };
  const spec = { rows: 40, cols: 30, tableSize: 100, sparsity: 0.1, seed: 9 };
  const before = gpu.stats.liveBytes;
  const layer = new ArbLinear(gpu, {
    inFeatures: 40,
    outFeatures: 30,
    tableSize: 100,
    sparsity: 0.1,
    seed: 9,
    hash: spy,
    procedural: true,
  });
  const used = gpu.stats.liveBytes - before;
  assert.equal((await layer.table.read()).length, 100);
  assert.equal(calls, 0);
  assert.ok(layer.procedural);
  // Table and gradient (K + 1 floats each, + 1), bias and its gradient, the
  // alias table, the parameter uniform: nothing per position.
  assert.ok(used < 4 * (2 * 102 + 2 * 30 + 2 * 100 + 16), `${used} bytes`);
  assert.deepEqual(layer.indices, base.indices(spec));
  assert.deepEqual(layer.signs, base.signs(spec));
  assert.equal(calls, 1);
  void layer.indices;
  assert.equal(calls, 1);
});

Deno.test("procedural: true is rejected, naming the option, for families without a procedural form", async () => {
  const gpu = await requestDevice();
  try {
    const rec = { hidden: 4, steps: 3 };
    const cases: [Hash, number, number, number?][] = [
      [hashes.dense(), 3, 4, 12],
      [hashes.conv2d({ inChannels: 1, outChannels: 2, height: 4, width: 4, kernel: 3 }), 16, 8],
      [hashes.recurrent(rec), recurrentShape(rec).rows, recurrentShape(rec).cols, 16],
    ];
    for (const [hash, inFeatures, outFeatures, tableSize] of cases) {
      assert.throws(
        () =>
          new ArbLinear(gpu, {
            inFeatures,
            outFeatures,
            tableSize: tableSize ?? 18,
            hash,
            procedural: true,
          }),
        (e: unknown) =>
          e instanceof ArbnetError && /procedural/.test(e.message) &&
          e.message.includes(hash.family),
        hash.family,
      );
    }
    assert.throws(
      () =>
        new ArbLinear(gpu, {
          inFeatures: 3,
          outFeatures: 4,
          hash: hashes.uniform(),
          procedural: "yes" as unknown as boolean,
        }),
      /invalid procedural/,
    );
    assert.throws(() =>
      proceduralHash(hashes.dense(), { rows: 2, cols: 2, tableSize: 4, seed: 0 })
    );
  } finally {
    gpu.destroy();
  }
});

Deno.test({
  name: "a procedural layer with 10^8 virtual weights trains a step in under 64 MB of GPU memory",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    // Its own device, so liveBytes counts this network only. Materialised,
    // the slots alone would take 4 · 10^8 bytes.
    const gpu = await requestDevice();
    try {
      const [inF, outF, tableSize, batch] = [10_000, 10_000, 1_000_000, 2];
      const layer = new ArbLinear(gpu, {
        inFeatures: inF,
        outFeatures: outF,
        tableSize,
        hash: hashes.uniform(),
        seed: 1,
        procedural: true,
      });
      const n = new Sequential([layer]);
      const opt = new SGD(n.parameters(), { lr: 0.01, momentum: 0.9 });
      const trainer = new Trainer(n, opt, { features: inF, classes: outF });
      const x = randomF32(batch * inF, 1, 0, 1);
      const y = new Uint32Array([17, 9_999]);
      const before = await gpu.readF32(layer.table.data, 1000);
      const t0 = performance.now();
      await trainer.step(x, y);
      const m = await trainer.readMetrics();
      const ms = performance.now() - t0;
      const bytes = gpu.stats.liveBytes;
      console.log(
        `10^8 virtual weights, K = 10^6, batch ${batch}: one step (with compile) ` +
          `${ms.toFixed(0)} ms, GPU memory ${(bytes / 2 ** 20).toFixed(1)} MiB`,
      );
      assert.ok(Number.isFinite(m.loss), `loss ${m.loss}`);
      assert.ok(bytes < 64 * 2 ** 20, `${bytes} bytes live`);
      const after = await gpu.readF32(layer.table.data, 1000);
      assert.ok(after.some((v, i) => v !== before[i]), "the step changed the table");
    } finally {
      gpu.destroy();
    }
  },
});
