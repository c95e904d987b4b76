/**
 * A probe, not a kernel of the library: a forward product for small
 * batches whose uniform windows hold Xᵀ instead of X. The library's window
 * tile (`shaders/matmul_window.wgsl`) binds rows of X, at most 16 a window,
 * so at batch 50 every weight is read once per block of 10 rows. Here X is
 * transposed (Xᵀ: K rows of the whole padded batch), Xᵀ is cut along K into
 * chunks that each fit a uniform binding, every chunk is bound at once (one
 * binding each, one dispatch), and each invocation keeps every row of the
 * batch for its TN4 vec4 columns: B is read once, the batch comes from
 * uniform loads, four rows per vec4. B is either dense (materialised weights
 * V) or gathered in the loads from the table through the slot words.
 *
 * Timed against the library's dense product (the roofline of
 * `bench/kernel_ratios.ts`) and its weight gather, on the device clock, in
 * interleaved rounds; every variant is first checked against the CPU oracle.
 *
 * Kept as a record: alone it ran 1.1-1.8× the library's product, but the
 * same form wired into `ArbLinear` gained nothing inside a training step
 * (docs/performance.md, "Tried and left out"), where the library's product
 * ran faster than in this probe's measure.
 *
 *   deno run -A bench/column_windows.ts [--m 50] [--k 784] [--n 1000] [--tn4 2] [--rounds 9]
 * @module
 */

import { parseFlags, runMain } from "../lib/cli.ts";
import { type Gpu, type Launch, requestDevice } from "../lib/gpu/device.ts";
import { median } from "../lib/experiment/stats.ts";
import { Rng } from "../lib/util/random.ts";
import { hashes } from "../lib/hash/mod.ts";
import { packSlotWords } from "../lib/nn/mod.ts";
import { elementwiseLaunch, transposeLaunch } from "../shaders/elementwise.ts";
import { matmulLaunch, type MatmulVariant, windowRows } from "../shaders/matmul.ts";
import { matmulRef } from "../shaders/matmul_ref.ts";
import { chooseTile } from "../shaders/matmul_tune.ts";
import { piece } from "../shaders/pieces.ts";
import { medianRange } from "./format.ts";

const FLAGS = {
  // Every row is an accumulator of every invocation, so the code (and
  // lavapipe's compile time) grows with the batch: small batches only.
  m: { type: "int", min: 1, max: 64, default: 50, help: "rows of X (the batch)" },
  k: { type: "int", min: 4, default: 784, help: "inner dimension (input features)" },
  n: { type: "int", min: 4, default: 1000, help: "columns (output features, a multiple of 4)" },
  tn4: { type: "int", min: 1, max: 4, default: 2, help: "vec4 columns per invocation" },
  rounds: { type: "int", min: 1, default: 9, help: "timed rounds over all variants" },
} as const;

const WG_X = 8;
/** Launches per measure. */
const REPEATS = 4;

/** How Xᵀ (K rows of `stride` floats) is cut into uniform windows. */
interface Chunks {
  /** Floats per row of Xᵀ: the batch padded to a multiple of 4. */
  stride: number;
  /** First row of k of each chunk, and one past the last chunk. */
  starts: number[];
}

function chunks(gpu: Gpu, m: number, k: number): Chunks {
  const stride = Math.ceil(m / 4) * 4;
  // Window offsets must be multiples of the uniform offset alignment.
  let rows = Math.floor(gpu.limits.maxUniformBufferBindingSize / (stride * 4));
  while (rows > 0 && (rows * stride * 4) % gpu.limits.minUniformBufferOffsetAlignment !== 0) rows--;
  if (rows === 0) throw new Error(`a batch of ${m} does not fit a uniform window`);
  const starts = [];
  for (let k0 = 0; k0 < k; k0 += rows) starts.push(k0);
  starts.push(k);
  const windows = starts.length - 1;
  if (windows > gpu.limits.maxUniformBuffersPerShaderStage) {
    throw new Error(`K = ${k} needs ${windows} windows of Xᵀ, over the uniform binding limit`);
  }
  return { stride, starts };
}

/** The probe's WGSL: one dispatch, one loop over k per window of Xᵀ. */
function source(m: number, n: number, c: Chunks, tn4: number, gathered: boolean): string {
  const s4 = c.stride / 4;
  const rows = [...Array(m).keys()], cols = [...Array(tn4).keys()];
  const each = (f: (i: number, j: number) => string) =>
    rows.flatMap((i) => cols.map((j) => f(i, j))).join("\n  ");
  const windows = c.starts.slice(0, -1).map((k0, w) => ({ k0, rows: c.starts[w + 1] - k0 }));
  const loadB = (j: number) =>
    gathered
      ? `let w${j} = slots[row + c${j}];
    let b${j} = vec4<f32>(${["x", "y", "z", "w"].map((e) => `lane(w${j}.${e})`).join(", ")});`
      : `let b${j} = b_buf[row + c${j}];`;
  const loop = (w: number, k0: number, kRows: number) => `
  for (var kk = 0u; kk < ${kRows}u; kk++) {
    let row = (${k0}u + kk) * ${n / 4}u;
    ${cols.map(loadB).join("\n    ")}
    ${
    [...Array(s4).keys()].map((q) =>
      [`let a${q} = xt${w}[kk * ${s4}u + ${q}u];`].concat(
        [0, 1, 2, 3].filter((e) => 4 * q + e < m).flatMap((e) =>
          cols.map((j) => `acc${4 * q + e}_${j} = acc${4 * q + e}_${j} + b${j} * a${q}[${e}];`)
        ),
      ).join("\n    ")
    ).join("\n    ")
  }
  }`;
  return `
${
    gathered
      ? `${piece("matmul_pieces.wgsl", "slot_codec")}
@group(0) @binding(1) var<storage, read> table: array<f32>;
@group(0) @binding(2) var<storage, read> slots: array<vec4<u32>>;
fn lane(word: u32) -> f32 {
  return apply_sign(table[word & SLOT_MASK], word);
}`
      : "@group(0) @binding(1) var<storage, read> b_buf: array<vec4<f32>>;"
  }
@group(0) @binding(3) var<storage, read_write> c_buf: array<vec4<f32>>;
${
    windows.map((w, i) =>
      `@group(0) @binding(${4 + i}) var<uniform> xt${i}: array<vec4<f32>, ${w.rows * s4}>;`
    ).join("\n")
  }
@compute @workgroup_size(${WG_X}, 1, 1)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let col0 = wg.x * ${WG_X * tn4}u + lid.x;
  if (col0 >= ${n / 4}u) { return; }
  ${cols.map((j) => `let c${j} = min(col0 + ${j * WG_X}u, ${n / 4 - 1}u);`).join("\n  ")}
  ${each((i, j) => `var acc${i}_${j} = vec4<f32>(0.0);`)}
  ${windows.map((w, i) => loop(i, w.k0, w.rows)).join("\n")}
  ${
    each((i, j) =>
      `if (col0 + ${j * WG_X}u < ${n / 4}u) { c_buf[${i}u * ${n / 4}u + c${j}] = acc${i}_${j}; }`
    )
  }
}`;
}

async function probeLaunch(
  gpu: Gpu,
  s: { M: number; N: number; K: number },
  c: Chunks,
  tn4: number,
  b: { dense: GPUBuffer } | { table: GPUBuffer; slots: GPUBuffer },
  xt: GPUBuffer,
  out: GPUBuffer,
): Promise<Launch> {
  const gathered = "table" in b;
  const label = `column windows, ${gathered ? "gathered" : "dense"} B`;
  const program = await gpu.program(label, source(s.M, s.N, c, tn4, gathered));
  const windows = c.starts.slice(0, -1).map((k0, w) => ({
    buffer: xt,
    offset: k0 * c.stride * 4,
    size: (c.starts[w + 1] - k0) * c.stride * 4,
  }));
  const entries = gathered
    ? [null, b.table, b.slots, out, ...windows]
    : [null, b.dense, null, out, ...windows];
  return gpu.bind(program, entries, [Math.ceil(s.N / 4 / (WG_X * tn4)), 1, 1]);
}

await runMain(async () => {
  const f = parseFlags(Deno.args, FLAGS, "deno run -A bench/column_windows.ts");
  if (!f) return;
  if (f.n % 4 !== 0) throw new Error("--n must be a multiple of 4");
  const gpu = await requestDevice({ label: "column windows probe" });
  const s = { M: f.m, N: f.n, K: f.k };
  const c = chunks(gpu, s.M, s.K);
  const rng = new Rng(1);
  const rand = (n: number) => Float32Array.from({ length: n }, () => rng.next() - 0.5);
  // A hashed layer at table fraction 1/8, and its virtual weights on the CPU.
  const hash = hashes.uniform();
  const tableSize = Math.round(s.K * s.N / 8);
  const spec = { rows: s.K, cols: s.N, tableSize, seed: 1 };
  const [indices, signs] = [hash.indices(spec), hash.signs(spec)];
  const table = rand(tableSize + 1).fill(0, tableSize);
  const v = Float32Array.from(indices, (slot, p) => table[slot] * (signs?.[p] ?? 1));
  const x = rand(windowRows(s.M) * s.K);
  const bufs = {
    x: gpu.upload(x, "x"),
    xt: gpu.buffer(s.K * c.stride * 4, "xt"),
    table: gpu.upload(table, "table"),
    slots: gpu.upload(packSlotWords(indices, signs), "slots"),
    v: gpu.buffer(s.K * s.N * 4, "v"),
    c: gpu.buffer(windowRows(s.M) * s.N * 4, "c"),
  };
  const dense: MatmulVariant = { a: "rows", weights: "dense", b: "rows", store: "plain" };
  const tile = await chooseTile(gpu, dense, s);
  const gather = await elementwiseLaunch(gpu, "gather_weights", s.K * s.N, {
    slots: bufs.slots,
    table: bufs.table,
    weights: bufs.v,
  });
  const variants: [string, Launch][] = [
    [
      `library dense product (tile ${tile.tm}x${tile.tn})`,
      await matmulLaunch(gpu, { ...dense, tile }, s, { a: bufs.x, b: bufs.v, c: bufs.c }),
    ],
    ["library weight gather (V written)", gather.launch],
    ["library transpose (Xᵀ)", await transposeLaunch(gpu, bufs.x, bufs.xt, s.M, s.K, c.stride)],
    [
      `column windows, dense B (${f.tn4} vec4 columns)`,
      await probeLaunch(gpu, s, c, f.tn4, { dense: bufs.v }, bufs.xt, bufs.c),
    ],
    [
      `column windows, gathered B (${f.tn4} vec4 columns)`,
      await probeLaunch(gpu, s, c, f.tn4, bufs, bufs.xt, bufs.c),
    ],
  ];
  const want = matmulRef(dense, s, { a: x.subarray(0, s.M * s.K), b: v });
  gpu.dispatch(variants[1][1]);
  gpu.dispatch(variants[2][1]);
  for (const i of [0, 3, 4]) {
    gpu.clear(bufs.c);
    gpu.dispatch(variants[i][1]);
    const got = (await gpu.readF32(bufs.c)).subarray(0, s.M * s.N);
    const err = got.reduce((e, y, j) => Math.max(e, Math.abs(y - want[j])), 0);
    if (!(err <= 1e-4 * Math.sqrt(s.K))) {
      throw new Error(`${variants[i][0]} is wrong: max error ${err}`);
    }
  }
  const times: number[][] = variants.map(() => []);
  for (let r = 0; r < f.rounds; r++) {
    const t = await gpu.timeLaunches(variants.map(([, l]) => l), REPEATS);
    if (!t) throw new Error("this adapter has no timestamp queries");
    t.forEach((ms, i) => times[i].push(ms));
  }
  const ratio = (f: (r: number) => number) => medianRange(times[0].map((_, r) => f(r)));
  const [product, gatherMs, transposeMs, colDense, colGathered] = times;
  console.log(
    `adapter: ${gpu.adapter.description}; Y = X·V, ${s.M}×${s.K} · ${s.K}×${s.N}; ` +
      `Xᵀ in ${c.starts.length - 1} windows; ${f.rounds} rounds on the device clock\n`,
  );
  console.log("| variant | ms (median) |\n| --- | ---: |");
  variants.forEach(([name], i) => console.log(`| ${name} | ${median(times[i]).toFixed(3)} |`));
  console.log("\n| throughput against the library's dense product | median (lowest-highest) |");
  console.log("| --- | ---: |");
  const rows: [string, (r: number) => number][] = [
    ["materialised: gather + library dense", (r) => product[r] / (product[r] + gatherMs[r])],
    ["column windows, dense B, + transpose", (r) => product[r] / (colDense[r] + transposeMs[r])],
    [
      "column windows, gathered B, + transpose",
      (r) => product[r] / (colGathered[r] + transposeMs[r]),
    ],
    [
      "materialised on column windows: gather + column windows, dense B, + transpose",
      (r) => product[r] / (gatherMs[r] + colDense[r] + transposeMs[r]),
    ],
  ];
  for (const [name, f] of rows) console.log(`| ${name} | ${ratio(f)} |`);
  gpu.destroy();
});
