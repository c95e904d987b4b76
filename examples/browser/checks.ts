/**
 * Kernels against their CPU oracles, inside the page: the matmul variants a
 * training step runs (`shaders/matmul_ref.ts`), softmax cross-entropy
 * (`softmaxXentRef`), ReLU and SGD (`shaders/elementwise_ref.ts`), and the
 * procedural slot words against the CPU hash. The Deno tests check the same
 * on Deno's WebGPU; here they run on the browser's (Chromium's Dawn, e.g.
 * over SwiftShader), whose shader compiler and rounding are its own.
 * @module
 */

import { type Gpu, hashes, type IndexSpec, packSlotWords, proceduralHash } from "../../browser.ts";
import { Rng } from "../../lib/util/random.ts";
import { matmulLaunch, type MatmulShape, type MatmulVariant } from "../../shaders/matmul.ts";
import { matmulRef } from "../../shaders/matmul_ref.ts";
import { softmaxXentLaunch, softmaxXentRef } from "../../shaders/softmax_xent.ts";
import { elementwiseLaunch } from "../../shaders/elementwise.ts";
import { reluForwardRef, sgdRef } from "../../shaders/elementwise_ref.ts";
import { type ProceduralSlotBuffers, slotWordsLaunch } from "../../shaders/hash.ts";

/** One comparison of a kernel with its oracle. */
export interface CheckResult {
  /** What ran, e.g. `matmul rows/hashed/rows/bias_relu 37×113×29`. */
  name: string;
  /** Whether every element is within tolerance. */
  ok: boolean;
  /** Largest |GPU − CPU| over all elements (0 for exact comparisons). */
  maxError: number;
  /** The first element out of tolerance, when one is. */
  detail?: string;
}

function randomF32(n: number, seed: number, lo = -1, hi = 1): Float32Array {
  const rng = new Rng(seed);
  return Float32Array.from({ length: n }, () => lo + (hi - lo) * rng.next());
}

/** `got` against `want` within `atol + rtol·|want|` per element. */
function compare(
  name: string,
  got: ArrayLike<number>,
  want: ArrayLike<number>,
  rtol: number,
  atol: number,
): CheckResult {
  if (got.length !== want.length) {
    return { name, ok: false, maxError: Infinity, detail: `${got.length} ≠ ${want.length} values` };
  }
  let maxError = 0;
  let detail: string | undefined;
  for (let i = 0; i < want.length; i++) {
    const err = Math.abs(got[i] - want[i]);
    if (!(err <= maxError)) maxError = err; // NaN sticks
    if (detail === undefined && !(err <= atol + rtol * Math.abs(want[i]))) {
      detail = `element ${i}: GPU ${got[i]}, CPU ${want[i]}`;
    }
  }
  return { name, ok: detail === undefined, maxError, detail };
}

/** The products of a training step: hashed forward (bias, ReLU), input and table gradients. */
const MATMUL_VARIANTS: MatmulVariant[] = [
  { a: "rows", weights: "hashed", b: "rows", store: "bias_relu" },
  { a: "rows", weights: "hashed", b: "cols", store: "plain" },
  { a: "rows", weights: "dense", b: "rows", store: "bias" },
  { a: "cols", weights: "dense", b: "rows", store: "scatter" },
];

/** Awkward shapes: primes and a single row, nothing a multiple of the default tile. */
const MATMUL_SHAPES: MatmulShape[] = [
  { M: 37, N: 113, K: 29 },
  { M: 1, N: 10, K: 64 },
  { M: 50, N: 10, K: 97 },
];

async function checkMatmul(
  gpu: Gpu,
  v: MatmulVariant,
  s: MatmulShape,
  seed: number,
): Promise<CheckResult> {
  const tableSize = 7;
  const shape = { ...s, zeroSlot: tableSize };
  const scatter = v.store === "scatter";
  const rng = new Rng(seed);
  const words = Uint32Array.from(
    { length: Math.max(s.M * s.N, s.K * s.N) },
    () => (rng.int(tableSize + 1) | (rng.next() < 0.5 ? 0x80000000 : 0)) >>> 0,
  );
  const inputs = {
    a: randomF32(s.M * s.K, seed + 1),
    b: scatter || v.weights === "dense"
      ? randomF32(s.K * s.N, seed + 2)
      : randomF32(tableSize + 1, seed + 2).fill(0, tableSize),
    slots: words,
    bias: randomF32(s.N, seed + 3),
    grad: new Float32Array(tableSize + 1),
  };
  const outLen = scatter ? tableSize + 1 : s.M * s.N;
  const bufs = {
    a: gpu.upload(inputs.a, "a"),
    b: gpu.upload(inputs.b, "b"),
    slots: gpu.upload(inputs.slots, "slots"),
    bias: gpu.upload(inputs.bias, "bias"),
    c: gpu.buffer(outLen * 4, "c"),
  };
  const launch = await matmulLaunch(gpu, v, shape, bufs);
  gpu.clear(bufs.c);
  gpu.dispatch(launch);
  const got = await gpu.readF32(bufs.c, outLen);
  for (const b of Object.values(bufs)) gpu.release(b);
  const want = matmulRef(v, shape, inputs);
  const name = `matmul ${v.a}/${v.weights}/${v.b}/${v.store} ${s.M}×${s.N}×${s.K}`;
  return compare(name, got, want, 1e-4, 1e-4 * Math.sqrt(s.K));
}

async function checkSoftmaxXent(gpu: Gpu, rows: number, classes: number): Promise<CheckResult> {
  const logits = randomF32(rows * classes, rows * 7 + classes, -20, 20);
  const rng = new Rng(rows);
  const labels = Uint32Array.from({ length: rows }, () => rng.int(classes));
  const bufs = {
    logits: gpu.upload(logits, "logits"),
    labels: gpu.upload(labels, "labels"),
    dlogits: gpu.buffer(rows * classes * 4, "dlogits"),
    rowStats: gpu.buffer(rows * 8, "rowStats"),
  };
  gpu.dispatch(await softmaxXentLaunch(gpu, rows, classes, bufs));
  const dlogits = await gpu.readF32(bufs.dlogits);
  const stats = await gpu.readF32(bufs.rowStats);
  for (const b of Object.values(bufs)) gpu.release(b);
  const want = softmaxXentRef(logits, labels, rows, classes);
  // Gradient, then per-row loss and correctness (interleaved in rowStats).
  const got = [...dlogits, ...stats];
  const expected = [...want.dlogits, ...[...want.loss].flatMap((l, r) => [l, want.correct[r]])];
  return compare(`softmax cross-entropy ${rows}×${classes}`, got, expected, 1e-4, 1e-5);
}

async function checkElementwise(gpu: Gpu, n: number): Promise<CheckResult[]> {
  const x = randomF32(n, 71);
  const bx = gpu.upload(x, "x");
  const by = gpu.buffer(n * 4, "y");
  gpu.dispatch((await elementwiseLaunch(gpu, "relu_forward", n, { x: bx, y: by })).launch);
  const relu = compare(`relu ${n}`, await gpu.readF32(by), reluForwardRef(x), 0, 0);

  const p = { lr: 0.05, momentum: 0.9, weight_decay: 1e-3, nesterov: 0 };
  const grad = randomF32(n, 72);
  const weight = randomF32(n, 73);
  const velocity = randomF32(n, 74, -0.1, 0.1);
  const bufs = {
    grad: gpu.upload(grad, "grad"),
    weight: gpu.upload(weight, "weight"),
    velocity: gpu.upload(velocity, "velocity"),
  };
  gpu.dispatch((await elementwiseLaunch(gpu, "sgd", n, bufs, p)).launch);
  const got = [...await gpu.readF32(bufs.weight), ...await gpu.readF32(bufs.velocity)];
  sgdRef(grad, weight, velocity, p);
  const sgd = compare(`sgd ${n}`, got, [...weight, ...velocity], 1e-6, 1e-7);
  for (const b of [bx, by, ...Object.values(bufs)]) gpu.release(b);
  return [relu, sgd];
}

/** The GPU's procedural slot words against the CPU hash's, bit for bit. */
async function checkSlotWords(
  gpu: Gpu,
  label: string,
  hash: ReturnType<typeof hashes.uniform>,
): Promise<CheckResult> {
  const spec: IndexSpec = { rows: 37, cols: 113, tableSize: 500, sparsity: 0.1, seed: 5 };
  const n = spec.rows * spec.cols;
  const p = proceduralHash(hash, spec);
  const buffers: ProceduralSlotBuffers = { hashParams: gpu.uniform(p.params, "hash params") };
  if (p.alias) {
    buffers.aliasThreshold = gpu.upload(p.alias.threshold, "alias threshold");
    buffers.aliasTarget = gpu.upload(p.alias.alias, "alias target");
  }
  const out = gpu.buffer(n * 4, "words");
  gpu.dispatch(await slotWordsLaunch(gpu, p.family, n, { ...buffers, out }));
  const got = await gpu.readU32(out, n);
  for (const b of [out, ...Object.values(buffers)]) gpu.release(b);
  const want = packSlotWords(hash.indices(spec), hash.signs(spec));
  return compare(`slot words ${label} ${spec.rows}×${spec.cols}`, got, want, 0, 0);
}

/** Runs every check on `gpu`; the page shows the list and the browser test asserts on it. */
export async function runKernelChecks(gpu: Gpu): Promise<CheckResult[]> {
  const results: CheckResult[] = [];
  let seed = 1;
  for (const v of MATMUL_VARIANTS) {
    for (const s of MATMUL_SHAPES) results.push(await checkMatmul(gpu, v, s, seed += 10));
  }
  results.push(await checkSoftmaxXent(gpu, 37, 10));
  results.push(...await checkElementwise(gpu, 1003));
  results.push(await checkSlotWords(gpu, "uniform", hashes.uniform()));
  results.push(await checkSlotWords(gpu, "neighborhood r=3", hashes.neighborhood({ radius: 3 })));
  results.push(await checkSlotWords(gpu, "dirichlet α=0.5", hashes.dirichlet({ alpha: 0.5 })));
  return results;
}
