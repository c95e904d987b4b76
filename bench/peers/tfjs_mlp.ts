/**
 * TensorFlow.js WebGPU peer: trains a 784-1000-1000-10 ReLU MLP (softmax
 * cross-entropy, SGD with momentum 0.9) on TensorFlow.js 4.22.0's `webgpu`
 * backend under Deno's `navigator.gpu`, in `dense` or `hashed` (HashedNets)
 * mode, and times whole training steps. It is the outside reference that the
 * arbnet benchmarks compare against; run it in its own process (see
 * `runTfjsPeer` in `./mod.ts`) so that tfjs's GPUDevice never shares a
 * process with ours.
 *
 * Usage:
 *
 *     deno run -A bench/peers/tfjs_mlp.ts --batch 50 --mode hashed --steps 20 --warmup 3
 *     deno run -A bench/peers/tfjs_mlp.ts --check
 *
 * Options: `--mode dense|hashed` (default hashed), `--batch N` (default 50),
 * `--steps N` timed steps (default 20), `--warmup N` untimed steps, the first of
 * which compiles the shaders (default 3, at least 1),
 * `--lr X` (default 0.01), `--seed N` (default 1), `--check` (validate against
 * a plain-TS CPU reference on a 7-5-3 network, both modes, then exit).
 *
 * Output: exactly one line of JSON on stdout (see `PeerResult` in `./mod.ts`,
 * or `{"peer":"tfjs-webgpu","check":...}` with `--check`); everything else
 * goes to stderr. Exit code 1, with a message on stderr, if WebGPU or the
 * tfjs `webgpu` backend is unavailable, or if the check fails.
 *
 * Model. Layer `l` computes `z = a·V + b` (`V` is `nIn×nOut`, `b` a trainable
 * bias, ReLU on all but the last layer).
 * - `dense`: `V` is a `tf.Variable`.
 * - `hashed`: a trainable table `w` of `K = round(nIn·nOut/8)` floats, a
 *   constant int32 tensor `h` of `nIn·nOut` uniformly random slots in
 *   `[0, K)` and a constant float tensor `ξ` of ±1 signs;
 *   `V = reshape(gather(w, h) * ξ, [nIn, nOut])`, i.e. `V[i,j] = ξ(p)·w[h(p)]`
 *   with `p = i·nOut + j`. tfjs's autodiff sends the gradient to `w` through
 *   gather's gradient (an `UnsortedSegmentSum`, an atomic scatter-add on
 *   WebGPU): `g[k] = Σ_{p: h(p)=k} ξ(p)·(aᵀ·dz)[p]`.
 *
 * The input batch (uniform [0,1)) and labels (uniform in 0..9) are drawn once
 * from a fixed seed and reused every step; they live on the GPU, so a step
 * uploads nothing.
 *
 * Timing: one step is `optimizer.minimize(loss)` (forward, backward, momentum
 * update) followed by `await loss.data()`, which resolves only once the GPU
 * has finished the step's work (tfjs flushes its pending command encoder and
 * maps the loss buffer), so each step is measured to completion. Then the
 * same number of steps run back to back without reading the loss, with one
 * wait at the end (`msPerStepPipelined`): what a training loop that reads
 * its metrics now and then pays per step.
 *
 * FLOP convention: `6·B·Σ nIn·nOut` per step, i.e. three matmuls per layer
 * (forward, input gradient, weight gradient), the same count for both modes.
 * tfjs's tape actually skips the first layer's input gradient (the input is
 * not a variable), so it executes `2·B·784·1000` fewer matmul FLOPs than
 * counted; the hashed mode's gather/scatter work is not counted either.
 *
 * Running under Deno 2.x (what was needed, and why):
 * - No global shims. tfjs-backend-webgpu 4.22.0 detects WebGPU with
 *   `!!globalThis.navigator?.gpu` (no `window`/`self`/`document` test), Deno
 *   provides `navigator.gpu`, and tfjs-core takes its Node platform path (the
 *   packages load through their CommonJS `main`), which fetches nothing here.
 * - Gradients: the CommonJS bundle of `@tensorflow/tfjs-core` registers the
 *   kernels' ops but not their gradients (they live in the ESM-only
 *   `dist/register_all_gradients.js`, whose extension-less relative imports
 *   Deno's npm ESM resolver rejects), so autodiff fails with "gradient
 *   function not found for RealDiv". The union package `@tensorflow/tfjs`
 *   (same pinned 4.22.0; its Node bundle inlines the gradient registrations on
 *   top of the same tfjs-core) is imported instead of bare tfjs-core. It also
 *   registers the `cpu` and `webgl` backends, hence the explicit
 *   `setBackend("webgpu")` and the assertion that `tf.getBackend()` is
 *   `webgpu` afterwards: no silent fallback. (Deno prints a harmless warning
 *   about core-js's ignored build script, a dependency of the union package.)
 * - Chained tensor methods (`t.toFloat()`, ...) are not registered by the
 *   CommonJS tfjs-core either; only functional ops (`tf.cast`, ...) are used.
 * - `console.log` is redirected to stderr so that nothing tfjs prints can
 *   corrupt the JSON line.
 *
 * @module
 */

// Inline pinned npm: specifiers on purpose: this standalone peer must not add
// dependencies to the project's deno.json (which it does not own).
// deno-lint-ignore no-import-prefix
import * as tf from "npm:@tensorflow/tfjs@4.22.0";
// deno-lint-ignore no-import-prefix
import "npm:@tensorflow/tfjs-backend-webgpu@4.22.0";
import { parseArgs } from "node:util";

/** tfjs version loaded by this script (both packages are pinned to it). */
export const TFJS_VERSION = "4.22.0";

/** Layer widths of the benchmarked network. */
export const BENCH_SIZES: readonly number[] = [784, 1000, 1000, 10];

/** Fraction of `nIn·nOut` used as the hashed table size `K`. */
export const TABLE_FRACTION = 1 / 8;

/** Weight storage of the MLP: one matrix per layer, or a hashed table. */
export type PeerMode = "dense" | "hashed";

/** Small seeded PRNG (mulberry32): same seed, same sequence. */
function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** One layer: its trainable variables, host copies for the CPU check, and how to build `V`. */
interface PeerLayer {
  nIn: number;
  nOut: number;
  /** dense: `V` itself (nIn×nOut); hashed: the table (K). */
  param: tf.Variable;
  bias: tf.Variable;
  /** hashed only: host copies of the slot and sign arrays. */
  idxHost: Int32Array | null;
  signHost: Float32Array | null;
  idx: tf.Tensor1D | null;
  sign: tf.Tensor1D | null;
  /** The virtual weight matrix `V` (to be called inside a tape). */
  weight(): tf.Tensor2D;
}

/** Builds the layers of an MLP with the given widths; all randomness comes from `rand`. */
function buildLayers(sizes: readonly number[], mode: PeerMode, rand: () => number): PeerLayer[] {
  const layers: PeerLayer[] = [];
  for (let l = 0; l + 1 < sizes.length; l++) {
    const nIn = sizes[l], nOut = sizes[l + 1], n = nIn * nOut;
    // Glorot-uniform scale for the virtual weights (table entries for hashed).
    const limit = Math.sqrt(6 / (nIn + nOut));
    const biasInit = new Float32Array(nOut);
    for (let j = 0; j < nOut; j++) biasInit[j] = 0.1 * (rand() - 0.5);
    const bias = tf.variable(tf.tensor1d(biasInit), true, `${mode}_b${l}`);
    if (mode === "dense") {
      const w = new Float32Array(n);
      for (let p = 0; p < n; p++) w[p] = (2 * rand() - 1) * limit;
      const param = tf.variable(tf.tensor2d(w, [nIn, nOut]), true, `${mode}_W${l}`);
      layers.push({
        nIn,
        nOut,
        param,
        bias,
        idxHost: null,
        signHost: null,
        idx: null,
        sign: null,
        weight: () => param as tf.Tensor as tf.Tensor2D,
      });
    } else {
      const k = Math.max(1, Math.round(n * TABLE_FRACTION));
      const table = new Float32Array(k);
      for (let s = 0; s < k; s++) table[s] = (2 * rand() - 1) * limit;
      const idxHost = new Int32Array(n);
      const signHost = new Float32Array(n);
      for (let p = 0; p < n; p++) {
        idxHost[p] = Math.min(k - 1, Math.floor(rand() * k));
        signHost[p] = rand() < 0.5 ? -1 : 1;
      }
      const param = tf.variable(tf.tensor1d(table), true, `${mode}_table${l}`);
      const idx = tf.tensor1d(idxHost, "int32");
      const sign = tf.tensor1d(signHost, "float32");
      layers.push({
        nIn,
        nOut,
        param,
        bias,
        idxHost,
        signHost,
        idx,
        sign,
        weight: () => tf.reshape(tf.mul(tf.gather(param, idx), sign), [nIn, nOut]) as tf.Tensor2D,
      });
    }
  }
  return layers;
}

/** Logits of the MLP for input `x` (B×nIn0). */
function forward(layers: PeerLayer[], x: tf.Tensor2D): tf.Tensor2D {
  let a: tf.Tensor2D = x;
  for (let l = 0; l < layers.length; l++) {
    const z = tf.add(tf.matMul(a, layers[l].weight()), layers[l].bias) as tf.Tensor2D;
    a = l + 1 < layers.length ? tf.relu(z) : z;
  }
  return a;
}

/** Mean softmax cross-entropy over the batch. */
function lossOf(layers: PeerLayer[], x: tf.Tensor2D, onehot: tf.Tensor2D): tf.Scalar {
  return tf.losses.softmaxCrossEntropy(onehot, forward(layers, x)) as tf.Scalar;
}

/** Random inputs in [0,1) and labels in [0, nClasses). */
function makeBatch(
  batch: number,
  nIn: number,
  nClasses: number,
  rand: () => number,
): { x: Float32Array; labels: Int32Array } {
  const x = new Float32Array(batch * nIn);
  for (let i = 0; i < x.length; i++) x[i] = rand();
  const labels = new Int32Array(batch);
  for (let b = 0; b < batch; b++) labels[b] = Math.min(nClasses - 1, Math.floor(rand() * nClasses));
  return { x, labels };
}

/** Writes one line to stdout, bypassing `console.log` (which is redirected to stderr). */
function emit(obj: unknown): void {
  Deno.stdout.writeSync(new TextEncoder().encode(JSON.stringify(obj) + "\n"));
}

function fail(msg: string): never {
  console.error(`tfjs_mlp: ${msg}`);
  Deno.exit(1);
}

/** Finds an adapter and switches tfjs to `webgpu`; returns the adapter description. */
async function initWebGpu(): Promise<string> {
  const gpu = (globalThis.navigator as Navigator | undefined)?.gpu;
  if (!gpu) fail("navigator.gpu is not available: WebGPU is unsupported in this runtime");
  const adapter = await gpu.requestAdapter({ powerPreference: "high-performance" });
  if (!adapter) fail("navigator.gpu.requestAdapter() returned null: no WebGPU adapter");
  const info = adapter.info;
  // lavapipe reports numeric vendor/architecture ids and a readable description.
  const adapterDesc = info.description ||
    [info.vendor, info.architecture, info.device].filter((s) => s).join(" / ") ||
    "unknown adapter";
  if (!tf.findBackendFactory("webgpu")) {
    fail("tfjs-backend-webgpu did not register the 'webgpu' backend (navigator.gpu not seen)");
  }
  let ok = false;
  try {
    ok = await tf.setBackend("webgpu");
    await tf.ready();
  } catch (e) {
    fail(`tf.setBackend('webgpu') threw: ${e instanceof Error ? e.message : e}`);
  }
  if (!ok || tf.getBackend() !== "webgpu") {
    fail(`tfjs backend is '${tf.getBackend()}', not 'webgpu' (setBackend returned ${ok})`);
  }
  console.error(`tfjs ${tf.version_core}: backend = ${tf.getBackend()}; adapter = ${adapterDesc}`);
  return adapterDesc;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** Options of one benchmark run. */
interface BenchOptions {
  mode: PeerMode;
  batch: number;
  steps: number;
  warmup: number;
  lr: number;
  seed: number;
}

async function bench(opts: BenchOptions, adapter: string): Promise<void> {
  const { mode, batch, steps, warmup, lr, seed } = opts;
  const sizes = BENCH_SIZES;
  const rand = mulberry32(seed);
  const tBuild = performance.now();
  const layers = buildLayers(sizes, mode, rand);
  const data = makeBatch(batch, sizes[0], sizes[sizes.length - 1], rand);
  const x = tf.tensor2d(data.x, [batch, sizes[0]]);
  const onehot = tf.cast(
    tf.oneHot(tf.tensor1d(data.labels, "int32"), sizes[sizes.length - 1]),
    "float32",
  ) as tf.Tensor2D;
  const varList = layers.flatMap((l) => [l.param, l.bias]);
  const optimizer = tf.train.momentum(lr, 0.9);
  await onehot.data(); // uploads done
  const buildMs = performance.now() - tBuild;

  const step = async (): Promise<number> => {
    const loss = optimizer.minimize(() => lossOf(layers, x, onehot), true, varList);
    if (!loss) throw new Error("optimizer.minimize returned no loss");
    const v = (await loss.data())[0];
    loss.dispose();
    return v;
  };

  const t0 = performance.now();
  let lossVal = await step();
  const firstStepMs = performance.now() - t0;
  console.error(
    `${mode} B=${batch}: build ${buildMs.toFixed(0)} ms, first step ${firstStepMs.toFixed(0)} ms ` +
      `(shader compile), loss ${lossVal.toFixed(4)}`,
  );
  for (let i = 1; i < warmup; i++) lossVal = await step();
  const tensorsBefore = tf.memory().numTensors;
  const times: number[] = [];
  for (let i = 0; i < steps; i++) {
    const t = performance.now();
    lossVal = await step();
    times.push(performance.now() - t);
  }
  if (!Number.isFinite(lossVal)) fail(`loss is not finite (${lossVal})`);
  // Throughput: the same steps back to back without reading the loss, one
  // wait at the end (reading a bias finishes every queued step first).
  const tPipe = performance.now();
  for (let i = 0; i < steps; i++) {
    optimizer.minimize(() => lossOf(layers, x, onehot), false, varList);
  }
  await layers[0].bias.data();
  const pipelinedMs = (performance.now() - tPipe) / steps;
  const leaked = tf.memory().numTensors - tensorsBefore;
  const med = median(times);
  const mean = times.reduce((a, b) => a + b, 0) / times.length;
  let weights = 0;
  for (let l = 0; l + 1 < sizes.length; l++) weights += sizes[l] * sizes[l + 1];
  const gflopPerStep = (6 * batch * weights) / 1e9;
  console.error(
    `${mode} B=${batch}: ${steps} steps, median ${med.toFixed(1)} ms, mean ${
      mean.toFixed(1)
    } ms, ` +
      `min ${Math.min(...times).toFixed(1)} ms, ${
        (gflopPerStep / (med / 1e3)).toFixed(2)
      } GFLOP/s, ` +
      `pipelined ${pipelinedMs.toFixed(1)} ms/step, ` +
      `final loss ${lossVal.toFixed(4)}, tensors leaked/step ${leaked / Math.max(1, 2 * steps)}`,
  );
  console.error(`step ms: ${times.map((t) => t.toFixed(0)).join(" ")}`);
  emit({
    peer: "tfjs-webgpu",
    version: tf.version_core,
    mode,
    batch,
    msPerStep: { median: med, mean, min: Math.min(...times), max: Math.max(...times) },
    msPerStepPipelined: pipelinedMs,
    steps,
    warmup,
    gflopPerStep,
    gflops: gflopPerStep / (med / 1e3),
    firstStepMs,
    finalLoss: lossVal,
    backend: tf.getBackend(),
    adapter,
  });
}

/** Plain-TS float64 reference of loss, logits and gradients for the same model. */
function cpuReference(
  sizes: readonly number[],
  layers: {
    param: Float32Array;
    bias: Float32Array;
    idx: Int32Array | null;
    sign: Float32Array | null;
  }[],
  x: Float32Array,
  labels: Int32Array,
  batch: number,
): { logits: Float64Array; loss: number; gParam: Float64Array[]; gBias: Float64Array[] } {
  const L = layers.length;
  const V: Float64Array[] = layers.map((ly, l) => {
    const n = sizes[l] * sizes[l + 1];
    const v = new Float64Array(n);
    for (let p = 0; p < n; p++) {
      v[p] = ly.idx && ly.sign ? ly.sign[p] * ly.param[ly.idx[p]] : ly.param[p];
    }
    return v;
  });
  const acts: Float64Array[] = [Float64Array.from(x)];
  const zs: Float64Array[] = [];
  for (let l = 0; l < L; l++) {
    const nIn = sizes[l], nOut = sizes[l + 1], a = acts[l];
    const z = new Float64Array(batch * nOut);
    for (let b = 0; b < batch; b++) {
      for (let j = 0; j < nOut; j++) {
        let s = layers[l].bias[j];
        for (let i = 0; i < nIn; i++) s += a[b * nIn + i] * V[l][i * nOut + j];
        z[b * nOut + j] = s;
      }
    }
    zs.push(z);
    acts.push(l + 1 < L ? z.map((v) => (v > 0 ? v : 0)) : z);
  }
  const nC = sizes[L];
  const logits = zs[L - 1];
  let dz = new Float64Array(batch * nC);
  let loss = 0;
  for (let b = 0; b < batch; b++) {
    let mx = -Infinity;
    for (let c = 0; c < nC; c++) mx = Math.max(mx, logits[b * nC + c]);
    let se = 0;
    for (let c = 0; c < nC; c++) se += Math.exp(logits[b * nC + c] - mx);
    for (let c = 0; c < nC; c++) {
      const pr = Math.exp(logits[b * nC + c] - mx) / se;
      dz[b * nC + c] = (pr - (c === labels[b] ? 1 : 0)) / batch;
    }
    loss += -(logits[b * nC + labels[b]] - mx - Math.log(se)) / batch;
  }
  const gParam: Float64Array[] = new Array(L);
  const gBias: Float64Array[] = new Array(L);
  for (let l = L - 1; l >= 0; l--) {
    const nIn = sizes[l], nOut = sizes[l + 1], a = acts[l], ly = layers[l];
    const gb = new Float64Array(nOut);
    const g = new Float64Array(ly.param.length);
    for (let b = 0; b < batch; b++) for (let j = 0; j < nOut; j++) gb[j] += dz[b * nOut + j];
    for (let i = 0; i < nIn; i++) {
      for (let j = 0; j < nOut; j++) {
        let s = 0; // (aᵀ dz)[i, j]
        for (let b = 0; b < batch; b++) s += a[b * nIn + i] * dz[b * nOut + j];
        const p = i * nOut + j;
        if (ly.idx && ly.sign) g[ly.idx[p]] += ly.sign[p] * s;
        else g[p] += s;
      }
    }
    gParam[l] = g;
    gBias[l] = gb;
    if (l > 0) {
      const z = zs[l - 1];
      const dPrev = new Float64Array(batch * nIn);
      for (let b = 0; b < batch; b++) {
        for (let i = 0; i < nIn; i++) {
          let s = 0;
          for (let j = 0; j < nOut; j++) s += dz[b * nOut + j] * V[l][i * nOut + j];
          dPrev[b * nIn + i] = z[b * nIn + i] > 0 ? s : 0;
        }
      }
      dz = dPrev;
    }
  }
  return { logits, loss, gParam, gBias };
}

/** Largest `|a-b| / (atol + rtol·|b|)` over the arrays (≤ 1 means within tolerance). */
function errRatio(a: ArrayLike<number>, b: ArrayLike<number>, atol = 1e-5, rtol = 1e-4): number {
  if (a.length !== b.length) return Infinity;
  let worst = 0;
  for (let i = 0; i < a.length; i++) {
    worst = Math.max(worst, Math.abs(a[i] - b[i]) / (atol + rtol * Math.abs(b[i])));
  }
  return worst;
}

/** Validates logits, loss, gradients and one momentum step against the CPU reference. */
async function checkMode(mode: PeerMode, seed: number): Promise<Record<string, number | boolean>> {
  const sizes = [7, 5, 3], batch = 4, lr = 0.1;
  const rand = mulberry32(seed);
  const layers = buildLayers(sizes, mode, rand);
  const data = makeBatch(batch, sizes[0], sizes[2], rand);
  const x = tf.tensor2d(data.x, [batch, sizes[0]]);
  const onehot = tf.cast(
    tf.oneHot(tf.tensor1d(data.labels, "int32"), sizes[2]),
    "float32",
  ) as tf.Tensor2D;
  const host = await Promise.all(layers.map(async (l) => ({
    param: (await l.param.data()) as Float32Array,
    bias: (await l.bias.data()) as Float32Array,
    idx: l.idxHost,
    sign: l.signHost,
  })));
  const ref = cpuReference(sizes, host, data.x, data.labels, batch);

  const logits = await forward(layers, x).data();
  const varList = layers.flatMap((l) => [l.param, l.bias]);
  const { value, grads } = tf.variableGrads(() => lossOf(layers, x, onehot), varList);
  const loss = (await value.data())[0];
  const res: Record<string, number | boolean> = {
    logits: errRatio(logits, ref.logits),
    loss: errRatio([loss], [ref.loss]),
  };
  for (let l = 0; l < layers.length; l++) {
    res[`grad_${layers[l].param.name}`] = errRatio(
      await grads[layers[l].param.name].data(),
      ref.gParam[l],
    );
    res[`grad_${layers[l].bias.name}`] = errRatio(
      await grads[layers[l].bias.name].data(),
      ref.gBias[l],
    );
  }
  // One momentum step from zero accumulators is plain SGD: w ← w − lr·g.
  const opt = tf.train.momentum(lr, 0.9);
  opt.minimize(() => lossOf(layers, x, onehot), false, varList);
  for (let l = 0; l < layers.length; l++) {
    const expect = host[l].param.map((w, k) => w - lr * ref.gParam[l][k]);
    res[`step_${layers[l].param.name}`] = errRatio(await layers[l].param.data(), expect);
  }
  const worst = Math.max(...Object.values(res).map(Number));
  res.ok = worst <= 1;
  console.error(`check ${mode}: ${JSON.stringify(res)}`);
  return res;
}

async function main(): Promise<void> {
  // Keep stdout for the single JSON line: anything tfjs logs goes to stderr.
  console.log = (...args: unknown[]) => console.error(...args);
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      mode: { type: "string", default: "hashed" },
      batch: { type: "string", default: "50" },
      steps: { type: "string", default: "20" },
      warmup: { type: "string", default: "3" },
      lr: { type: "string", default: "0.01" },
      seed: { type: "string", default: "1" },
      check: { type: "boolean", default: false },
    },
  });
  const mode = values.mode;
  if (mode !== "dense" && mode !== "hashed") fail(`--mode must be dense or hashed, got ${mode}`);
  const int = (name: string, s: string, min: number): number => {
    const v = Number(s);
    if (!Number.isInteger(v) || v < min) fail(`--${name} must be an integer >= ${min}, got ${s}`);
    return v;
  };
  const opts: BenchOptions = {
    mode,
    batch: int("batch", values.batch, 1),
    steps: int("steps", values.steps, 1),
    warmup: int("warmup", values.warmup, 1),
    lr: Number(values.lr),
    seed: int("seed", values.seed, 0),
  };
  const adapter = await initWebGpu();
  if (values.check) {
    const dense = await checkMode("dense", opts.seed);
    const hashed = await checkMode("hashed", opts.seed);
    const ok = dense.ok === true && hashed.ok === true;
    emit({ peer: "tfjs-webgpu", version: tf.version_core, check: { dense, hashed }, ok, adapter });
    if (!ok) fail("check failed: tfjs results differ from the CPU reference");
    return;
  }
  await bench(opts, adapter);
}

if (import.meta.main) {
  await main();
  // The WebGPU device would keep the event loop alive on some setups; exit explicitly.
  Deno.exit(0);
}
