/**
 * Seeded property test of the three layer products an ArbLinear runs (the
 * forward gather-matmul, the input gradient, the table-gradient scatter) and
 * the bias gradient, against a float64 computation from the layer's own
 * `indices`/`signs`: random shapes (1..70 each side, batch 1..9), hash
 * families (uniform, dirichlet with α in [1e-3, 1e2], neighborhood with a
 * random radius, dense), sparsity in [0, 0.95), signs on/off, tiles,
 * materialised and procedural slots, deterministic on/off, fused ReLU and
 * bias on/off.
 *
 * A failure prints the seed, the case index and the case, and how to rerun
 * just that case:
 *
 *   ARBNET_FUZZ_SEED=<seed> ARBNET_FUZZ_CASE=<index> deno test -A tests/reliability_fuzz.test.ts
 *
 * `ARBNET_FUZZ_CASES=<n>` runs more (or fewer) cases.
 * @module
 */

import assert from "node:assert/strict";
import { requestDevice } from "../lib/gpu/device.ts";
import { type Hash, hashes } from "../lib/hash/mod.ts";
import { allocActivation, ArbLinear } from "../lib/nn/mod.ts";
import { TILE_CANDIDATES } from "../shaders/matmul_tile_policy.ts";
import { DEFAULT_TILE, type Tile } from "../shaders/matmul.ts";
import { Rng } from "../lib/util/random.ts";

const DEFAULT_SEED = 20250607;
const DEFAULT_CASES = 300;
// The first contiguous 4×4 candidate and the default tile (interleaved, 8×8):
// the tile changes only loop bounds and index arithmetic, which these two
// layouts cover. Lavapipe takes seconds (the default) to a minute (16×8) to
// compile each variant of a larger tile, and with a cold shader cache that
// dominates this test's time, so procedural cases, which have the most
// variants, use the 4×4 tile only.
const TILES: readonly Tile[] = [
  TILE_CANDIDATES.find((t) => t.tm * t.tn <= 16 && !t.interleave) ?? DEFAULT_TILE,
  DEFAULT_TILE,
];

function env(name: string): number | undefined {
  const v = Deno.env.get(name);
  return v === undefined || v === "" ? undefined : Number(v);
}

/** Everything that decides one case; JSON, so a failure can print it. */
interface FuzzCase {
  inFeatures: number;
  outFeatures: number;
  batch: number;
  family: "uniform" | "dirichlet" | "neighborhood" | "dense";
  alpha?: number;
  radius?: number;
  sign?: boolean;
  sparsity: number;
  tableSize: number;
  tile: number;
  procedural: boolean;
  deterministic: boolean;
  relu: boolean;
  bias: boolean;
  seed: number;
}

/** Case `index` of `seed`: a pure function of both, so one case can be rerun alone. */
function makeCase(seed: number, index: number): FuzzCase {
  const rng = new Rng((Math.imul(seed, 0x9e3779b1) ^ Math.imul(index + 1, 0x85ebca6b)) >>> 0);
  const side = () => 1 + rng.int(70);
  const inFeatures = side();
  const outFeatures = side();
  const n = inFeatures * outFeatures;
  const family = (["uniform", "dirichlet", "neighborhood", "dense"] as const)[rng.int(4)];
  const sparsity = rng.next() < 0.3 ? 0 : 0.95 * rng.next();
  // Log-uniform table fraction, from a single slot to the whole matrix.
  const tableSize = family === "dense" ? n : Math.max(1, Math.min(n, Math.round(n ** rng.next())));
  const c: FuzzCase = {
    inFeatures,
    outFeatures,
    batch: 1 + rng.int(9),
    family,
    sparsity,
    tableSize,
    tile: 0,
    procedural: family !== "dense" && rng.next() < 0.4,
    deterministic: false,
    relu: rng.next() < 0.5,
    bias: rng.next() < 0.8,
    seed: rng.int(2 ** 32),
  };
  c.deterministic = !c.procedural && rng.next() < 0.4;
  c.tile = c.procedural ? 0 : rng.int(TILES.length);
  if (family !== "dense") c.sign = rng.next() < 0.5;
  if (family === "dirichlet") c.alpha = 10 ** (-3 + 5 * rng.next());
  if (family === "neighborhood") {
    const r = rng.next();
    c.radius = r < 0.25 ? 0 : r < 0.9 ? rng.int(2 * tableSize + 2) : 2 ** 31 - 1 - rng.int(10);
  }
  return c;
}

function hashOf(c: FuzzCase): Hash {
  switch (c.family) {
    case "uniform":
      return hashes.uniform({ sign: c.sign });
    case "dirichlet":
      return hashes.dirichlet({ alpha: c.alpha!, sign: c.sign });
    case "neighborhood":
      return hashes.neighborhood({ radius: c.radius!, sign: c.sign });
    case "dense":
      return hashes.dense();
  }
}

/** Uniform floats in [−1, 1). */
function randoms(rng: Rng, n: number): Float32Array {
  return Float32Array.from({ length: n }, () => 2 * rng.next() - 1);
}

/**
 * Compares with a tolerance scaled by the sum of the absolute terms of each
 * output (float32 rounding grows with it), and reports the worst element.
 */
let worstSeen = 0;

function compare(what: string, got: Float32Array, want: Float64Array, absSum: Float64Array) {
  assert.equal(got.length, want.length, `${what}: length`);
  let worst = -1;
  let worstRatio = 0;
  for (let i = 0; i < got.length; i++) {
    const tol = 1e-6 + 2e-6 * absSum[i];
    const ratio = Math.abs(got[i] - want[i]) / tol;
    if (!(ratio <= 1) && (worst < 0 || !(ratio <= worstRatio))) {
      worst = i;
      worstRatio = ratio;
    }
    if (ratio > worstSeen) worstSeen = ratio;
  }
  if (worst >= 0) {
    throw new Error(
      `${what}: element ${worst} is ${got[worst]}, expected ${want[worst]} ` +
        `(|terms| sum ${absSum[worst]}, ${worstRatio.toFixed(1)}× the tolerance)`,
    );
  }
}

Deno.test({
  name: "fuzz: forward, input gradient, table and bias gradients match a float64 reference",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const seed = env("ARBNET_FUZZ_SEED") ?? DEFAULT_SEED;
    const only = env("ARBNET_FUZZ_CASE");
    const count = env("ARBNET_FUZZ_CASES") ?? DEFAULT_CASES;
    const indices = only !== undefined ? [only] : Array.from({ length: count }, (_, i) => i);
    const gpu = await requestDevice({ label: "arbnet fuzz" });
    const t0 = performance.now();
    const tally = new Map<string, number>();
    try {
      for (const index of indices) {
        const c = makeCase(seed, index);
        try {
          await runCase(c);
        } catch (e) {
          throw new Error(
            `fuzz case ${index} of seed ${seed} failed: ${JSON.stringify(c)}\n` +
              `rerun it alone: ARBNET_FUZZ_SEED=${seed} ARBNET_FUZZ_CASE=${index} ` +
              `deno test -A tests/reliability_fuzz.test.ts\n${(e as Error).message}`,
            { cause: e },
          );
        }
        const key = `${c.family}${c.procedural ? "/procedural" : ""}` +
          `${c.deterministic ? "/deterministic" : ""}${c.tile === 0 ? "" : "/default-tile"}`;
        tally.set(key, (tally.get(key) ?? 0) + 1);
      }
    } finally {
      gpu.destroy();
    }
    const seconds = ((performance.now() - t0) / 1000).toFixed(1);
    console.log(
      `fuzz seed ${seed}: ${indices.length} cases in ${seconds} s, worst error ` +
        `${(100 * worstSeen).toFixed(1)}% of the tolerance; ` +
        [...tally].sort().map(([k, v]) => `${k} ${v}`).join(", "),
    );

    async function runCase(c: FuzzCase): Promise<void> {
      const rng = new Rng(c.seed);
      const layer = new ArbLinear(gpu, {
        inFeatures: c.inFeatures,
        outFeatures: c.outFeatures,
        tableSize: c.tableSize,
        sparsity: c.sparsity,
        hash: hashOf(c),
        seed: c.seed,
        bias: c.bias,
        tile: TILES[c.tile],
        procedural: c.procedural,
        deterministic: c.deterministic,
        name: "fuzz",
      });
      const { inFeatures: nIn, outFeatures: nOut, batch: B, tableSize: K } = c;
      const table = randoms(rng, K);
      layer.table.write(table);
      const bias = c.bias ? randoms(rng, nOut) : new Float32Array(nOut);
      if (c.bias) layer.bias!.write(bias);
      const x = randoms(rng, B * nIn);
      const dy = randoms(rng, B * nOut);
      const input = allocActivation(gpu, B, nIn, "fuzz.x");
      gpu.write(input.buffer, x);
      const plan = await layer.plan(input, { fuseRelu: c.relu });
      plan.forward();
      const y = await gpu.readF32(plan.output.buffer, B * nOut);
      gpu.write(plan.output.grad!, dy);
      plan.backward();
      const tableGrad = await layer.table.readGrad();
      const biasGrad = c.bias ? await layer.bias!.readGrad() : null;
      const dx = await gpu.readF32(input.grad!, B * nIn);
      gpu.release(input.buffer);
      gpu.release(input.grad);

      // The virtual matrix, from what the layer says its hash is.
      const idx = layer.indices;
      const signs = layer.signs;
      const w = new Float64Array(nIn * nOut);
      for (let p = 0; p < w.length; p++) {
        assert.ok(idx[p] <= K, `slot ${idx[p]} of position ${p} is past the zero slot ${K}`);
        w[p] = idx[p] === K ? 0 : (signs && signs[p] < 0 ? -1 : 1) * table[idx[p]];
      }
      const wantY = new Float64Array(B * nOut);
      const absY = new Float64Array(B * nOut);
      for (let b = 0; b < B; b++) {
        for (let j = 0; j < nOut; j++) {
          let s = bias[j];
          let a = Math.abs(bias[j]);
          for (let i = 0; i < nIn; i++) {
            s += x[b * nIn + i] * w[i * nOut + j];
            a += Math.abs(x[b * nIn + i] * w[i * nOut + j]);
          }
          wantY[b * nOut + j] = c.relu ? Math.max(s, 0) : s;
          absY[b * nOut + j] = a;
        }
      }
      compare("forward output", y, wantY, absY);
      // The ReLU mask comes from the GPU's own output, as its backward does.
      const dPre = Float64Array.from(dy, (v, k) => (!c.relu || y[k] > 0 ? v : 0));
      const wantDx = new Float64Array(B * nIn);
      const absDx = new Float64Array(B * nIn);
      for (let b = 0; b < B; b++) {
        for (let i = 0; i < nIn; i++) {
          let s = 0;
          let a = 0;
          for (let j = 0; j < nOut; j++) {
            s += dPre[b * nOut + j] * w[i * nOut + j];
            a += Math.abs(dPre[b * nOut + j] * w[i * nOut + j]);
          }
          wantDx[b * nIn + i] = s;
          absDx[b * nIn + i] = a;
        }
      }
      compare("input gradient", dx, wantDx, absDx);
      const wantG = new Float64Array(K);
      const absG = new Float64Array(K);
      for (let i = 0; i < nIn; i++) {
        for (let j = 0; j < nOut; j++) {
          const p = i * nOut + j;
          if (idx[p] === K) continue;
          let s = 0;
          let a = 0;
          for (let b = 0; b < B; b++) {
            s += x[b * nIn + i] * dPre[b * nOut + j];
            a += Math.abs(x[b * nIn + i] * dPre[b * nOut + j]);
          }
          wantG[idx[p]] += signs && signs[p] < 0 ? -s : s;
          absG[idx[p]] += a;
        }
      }
      compare("table gradient", tableGrad, wantG, absG);
      if (biasGrad) {
        const wantB = new Float64Array(nOut);
        const absB = new Float64Array(nOut);
        for (let b = 0; b < B; b++) {
          for (let j = 0; j < nOut; j++) {
            wantB[j] += dPre[b * nOut + j];
            absB[j] += Math.abs(dPre[b * nOut + j]);
          }
        }
        compare("bias gradient", biasGrad, wantB, absB);
      }
    }
  },
});
