/**
 * A probe, not a kernel of the library: how the way a dense product loads
 * its operands changes its speed on this adapter. Mesa 25.0's lavapipe
 * loads a storage-buffer value lane by lane, each behind a branch on the
 * lane's execution mask (its LLVM IR, `GALLIVM_DEBUG=ir`), but a
 * uniform-buffer value with a gather and no branch. So the probe times
 * C = A·B (A M×K rows, B K×N rows, as the materialised forward) three ways:
 *
 * - `library`: `shaders/matmul.wgsl` with the tile the library picks;
 * - `vec4 B`: B read as vec4s along N (4 columns per load), A from storage;
 * - `A windows + vec4 B`: the same, with A's rows read from a uniform
 *   buffer bound as one window of TM rows per dispatch (one dispatch per row
 *   block; here A is padded to whole blocks, which the library's buffers are
 *   not).
 *
 * Every variant is checked against the CPU oracle first, then the variants
 * are timed in interleaved rounds (a shared VM drifts), 16 launches per wait,
 * the round trip subtracted; medians are printed. What it measured is in
 * docs/performance.md ("Window tiles").
 *
 *   deno run -A bench/lavapipe_loads.ts [--m 50] [--k 784] [--n 1000] [--rounds 7]
 * @module
 */

import { parseFlags, runMain } from "../lib/cli.ts";
import { type Gpu, type Launch, requestDevice } from "../lib/gpu/device.ts";
import { matmulLaunch, type MatmulVariant } from "../shaders/matmul.ts";
import { matmulRef } from "../shaders/matmul_ref.ts";
import { chooseTile } from "../shaders/matmul_tune.ts";
import { median } from "../lib/experiment/stats.ts";
import { Rng } from "../lib/util/random.ts";

const FLAGS = {
  m: { type: "int", min: 1, default: 50, help: "rows of A (batch)" },
  k: { type: "int", min: 4, default: 784, help: "inner dimension (a multiple of 4)" },
  n: { type: "int", min: 4, default: 1000, help: "columns of C (a multiple of 4)" },
  rounds: { type: "int", min: 1, default: 7, help: "timed rounds over all variants" },
} as const;

const LAUNCHES = 16;
/** Rows per invocation (and per window) and vec4 columns per invocation of the probe variants. */
const TM = 8, TN4 = 2, WG_X = 8;

/** The probe's WGSL: one invocation computes TM rows × TN4 vec4 columns. */
function probeSource(k: number, windowed: boolean): string {
  const rows = [...Array(TM).keys()], cols = [...Array(TN4).keys()];
  const each = (f: (i: number, j: number) => string) =>
    rows.flatMap((i) => cols.map((j) => f(i, j))).join("\n");
  const aDecl = windowed
    ? `@group(0) @binding(1) var<uniform> a_win: array<vec4<f32>, ${(TM * k) / 4}>;`
    : "@group(0) @binding(1) var<storage, read> a_buf: array<f32>;";
  const loadA = (i: number) =>
    windowed
      ? `let ai${i} = ${i}u * dims.K + k; let a${i} = a_win[ai${i} >> 2u][ai${i} & 3u];`
      : `let a${i} = a_buf[min(row0 + ${i}u, dims.M - 1u) * dims.K + k];`;
  return `
struct Dims { M: u32, N: u32, K: u32, row0: u32 }
@group(0) @binding(0) var<uniform> dims: Dims;
${aDecl}
@group(0) @binding(2) var<storage, read> b_buf: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read_write> c_buf: array<vec4<f32>>;
@compute @workgroup_size(${WG_X}, 1, 1)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let n4 = dims.N / 4u;
  let row0 = dims.row0 + wg.y * ${TM}u;
  let col0 = wg.x * ${WG_X * TN4}u + lid.x;
  if (row0 >= dims.M || col0 >= n4) { return; }
  ${cols.map((j) => `let c${j} = min(col0 + ${j * WG_X}u, n4 - 1u);`).join("\n  ")}
  ${each((i, j) => `var acc${i}_${j} = vec4<f32>(0.0);`)}
  for (var k = 0u; k < dims.K; k++) {
    ${rows.map(loadA).join("\n    ")}
    ${cols.map((j) => `let b${j} = b_buf[k * n4 + c${j}];`).join("\n    ")}
    ${each((i, j) => `acc${i}_${j} = fma(vec4<f32>(a${i}), b${j}, acc${i}_${j});`)}
  }
  ${
    each((i, j) =>
      `if (row0 + ${i}u < dims.M && col0 + ${j * WG_X}u < n4) ` +
      `{ c_buf[(row0 + ${i}u) * n4 + col0 + ${j * WG_X}u] = acc${i}_${j}; }`
    )
  }
}`;
}

/** Binds the probe: one launch, or one per row block with A's window at its offset. */
async function probeLaunches(
  gpu: Gpu,
  s: { M: number; N: number; K: number },
  bufs: { a: GPUBuffer; aWindows: GPUBuffer; b: GPUBuffer; c: GPUBuffer },
  windowed: boolean,
): Promise<Launch[]> {
  const label = windowed ? "probe A windows + vec4 B" : "probe vec4 B";
  const program = await gpu.program(label, probeSource(s.K, windowed));
  const cols = Math.ceil(s.N / 4 / (WG_X * TN4));
  const blocks = windowed ? Math.ceil(s.M / TM) : 1;
  return [...Array(blocks).keys()].map((blk) => {
    const dims = gpu.uniform([s.M, s.N, s.K, blk * TM], `${label} dims`);
    const a = windowed
      ? { buffer: bufs.aWindows, offset: blk * TM * s.K * 4, size: TM * s.K * 4 }
      : { buffer: bufs.a };
    const bindGroup = gpu.device.createBindGroup({
      label,
      layout: program.pipeline.getBindGroupLayout(0),
      entries: [
        { binding: 0, resource: { buffer: dims } },
        { binding: 1, resource: a },
        { binding: 2, resource: { buffer: bufs.b } },
        { binding: 3, resource: { buffer: bufs.c } },
      ],
    });
    return { program, bindGroup, workgroups: [cols, windowed ? 1 : Math.ceil(s.M / TM), 1] };
  });
}

await runMain(async () => {
  const f = parseFlags(Deno.args, FLAGS, "deno run -A bench/lavapipe_loads.ts");
  if (!f) return;
  if (f.k % 4 !== 0 || f.n % 4 !== 0) throw new Error("--k and --n must be multiples of 4");
  const gpu = await requestDevice({ label: "lavapipe loads probe" });
  const align = gpu.limits.minUniformBufferOffsetAlignment;
  if ((TM * f.k * 4) % align !== 0 || TM * f.k * 4 > gpu.limits.maxUniformBufferBindingSize) {
    throw new Error(`A's ${TM}-row window of K=${f.k} does not fit or align in a uniform binding`);
  }
  const s = { M: f.m, N: f.n, K: f.k };
  const rng = new Rng(1);
  const host = {
    a: Float32Array.from({ length: Math.ceil(s.M / TM) * TM * s.K }, () => rng.next() - 0.5),
    b: Float32Array.from({ length: s.K * s.N }, () => rng.next() - 0.5),
  };
  const bufs = {
    a: gpu.upload(host.a, "a"),
    // The same values in a buffer that uniform bindings may window.
    aWindows: gpu.upload(host.a, "a windows", GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST),
    b: gpu.upload(host.b, "b"),
    c: gpu.buffer(s.M * s.N * 4, "c"),
  };
  const v: MatmulVariant = { a: "rows", weights: "dense", b: "rows", store: "plain" };
  const tile = await chooseTile(gpu, v, s);
  const variants: [string, Launch[]][] = [
    [`library (tile ${tile.tm}x${tile.tn})`, [await matmulLaunch(gpu, { ...v, tile }, s, bufs)]],
    [`vec4 B (${TM}x${TN4}x4)`, await probeLaunches(gpu, s, bufs, false)],
    [`A windows + vec4 B (${TM}x${TN4}x4)`, await probeLaunches(gpu, s, bufs, true)],
  ];
  const want = matmulRef(v, s, { a: host.a.subarray(0, s.M * s.K), b: host.b });
  for (const [name, launches] of variants) {
    gpu.clear(bufs.c);
    launches.forEach((l) => gpu.dispatch(l));
    const got = await gpu.readF32(bufs.c);
    const err = got.reduce((e, x, i) => Math.max(e, Math.abs(x - want[i])), 0);
    if (!(err <= 1e-4 * Math.sqrt(s.K))) throw new Error(`${name} is wrong: max error ${err}`);
  }
  const trip: number[] = [];
  const times: number[][] = variants.map(() => []);
  for (let r = 0; r < f.rounds; r++) {
    let t0 = performance.now();
    await gpu.sync();
    trip.push(performance.now() - t0);
    for (const [i, [, launches]] of variants.entries()) {
      t0 = performance.now();
      for (let n = 0; n < LAUNCHES; n++) launches.forEach((l) => gpu.dispatch(l));
      await gpu.sync();
      times[i].push(performance.now() - t0);
    }
  }
  const rt = median(trip);
  console.log(`adapter: ${gpu.adapter.description}; C = A·B, ${s.M}×${s.K} · ${s.K}×${s.N}`);
  console.log(`GPU round trip ${rt.toFixed(2)} ms; median of ${f.rounds} interleaved rounds\n`);
  console.log("| variant | ms per product | GFLOP/s | speed-up over the library |");
  console.log("| --- | ---: | ---: | ---: |");
  const ms = times.map((t) => (median(t) - rt) / LAUNCHES);
  for (const [i, [name]] of variants.entries()) {
    const gflops = (2 * s.M * s.N * s.K) / ms[i] / 1e6;
    console.log(
      `| ${name} | ${ms[i].toFixed(2)} | ${gflops.toFixed(2)} | ${(ms[0] / ms[i]).toFixed(2)} |`,
    );
  }
  gpu.destroy();
});
