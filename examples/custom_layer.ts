/**
 * A layer of your own, in one file, without editing the library:
 * `LayerScale`, a learned scale per feature (`y[m, f] = x[m, f] · s[f]`),
 * with its own WGSL kernels, trained between ArbLinear layers and saved in
 * a checkpoint like the library's layers.
 *
 * What a layer needs (see `Module` in `lib/nn/module.ts`):
 * - `parameters()`: its `Parameter`s (here the scale, initialised to 1);
 * - `build(gpu, x, options)`: allocate the output with `allocActivation`
 *   (it pads rows as the matmul tiles of the next layer read them), bind the
 *   kernels once, and return a `Plan` whose `forward()` and `backward()`
 *   record them. `backward()` writes (overwrites) its parameters' gradients
 *   and, when `x.grad` exists, the input's gradient from `output.grad`.
 *
 * Run (MNIST 784-100-10 with a LayerScale after the hidden ReLU, 1 epoch):
 *
 *   deno run --allow-read --allow-write --allow-env examples/custom_layer.ts
 *
 * `tests/example_custom_layer.test.ts` checks its output and gradients
 * against its CPU definition, trains it a little, and round-trips it
 * through a checkpoint.
 *
 * @module
 */

import {
  type Activation,
  ArbLinear,
  evaluateClasses,
  fit,
  type Gpu,
  hashes,
  loadCheckpoint,
  loadMnist,
  Module,
  Parameter,
  ReLU,
  requestDevice,
  saveCheckpoint,
  Sequential,
  SGD,
  Trainer,
} from "../mod.ts";
import { allocActivation, expectFeatures, type Plan, type PlanOptions } from "../internals.ts";

/** Invocations per workgroup of the three kernels. */
const WORKGROUP = 64;

/** The WGSL shared by the kernels: the shape, and x (or dy), s and y (or dx). */
const HEADER = /* wgsl */ `
struct Dims { rows: u32, features: u32 }
@group(0) @binding(0) var<uniform> dims: Dims;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> s: array<f32>;
@group(0) @binding(3) var<storage, read_write> y: array<f32>;
`;

/** `y = x · s` (forward) and `dx = dy · s` (backward): one element per invocation. */
const SCALE = HEADER + /* wgsl */ `
@compute @workgroup_size(${WORKGROUP})
fn main(@builtin(global_invocation_id) id: vec3u) {
  let i = id.x;
  if (i >= dims.rows * dims.features) { return; }
  y[i] = x[i] * s[i % dims.features];
}`;

/**
 * `ds[f] = Σ_m dy[m, f] · x[m, f]`: one invocation per feature, rows summed
 * in order, so the gradient is the same bit for bit on every run. Bindings:
 * x → dy, s → the layer's input, y → ds.
 */
const SCALE_GRAD = HEADER + /* wgsl */ `
@compute @workgroup_size(${WORKGROUP})
fn main(@builtin(global_invocation_id) id: vec3u) {
  let f = id.x;
  if (f >= dims.features) { return; }
  var sum = 0.0;
  for (var m = 0u; m < dims.rows; m++) {
    sum += x[m * dims.features + f] * s[m * dims.features + f];
  }
  y[f] = sum;
}`;

/** A learned scale per feature: `y[m, f] = x[m, f] · s[f]`, `s` initialised to 1. */
export class LayerScale extends Module {
  /** The scale, one value per feature. */
  readonly scale: Parameter;
  readonly #gpu: Gpu;
  readonly #features: number;

  /** A scale of 1 for each of `features` features. */
  constructor(gpu: Gpu, features: number, name = "layerscale") {
    super();
    if (!Number.isSafeInteger(features) || features < 1) {
      throw new RangeError(`LayerScale: features must be a positive integer, got ${features}`);
    }
    this.#gpu = gpu;
    this.#features = features;
    this.scale = new Parameter(gpu, `${name}.scale`, new Float32Array(features).fill(1));
  }

  /** The device the layer lives on. */
  get gpu(): Gpu {
    return this.#gpu;
  }

  /** The scale. */
  parameters(): Parameter[] {
    return [this.scale];
  }

  /** Allocates the output for `x`'s batch and binds the kernels. */
  protected async build(gpu: Gpu, x: Activation, options: PlanOptions): Promise<Plan> {
    expectFeatures(x, this.#features, "LayerScale");
    const training = options.forwardOnly !== true;
    const out = allocActivation(gpu, x.rows, x.features, "layerscale.out", training);
    const dims = gpu.uniform([x.rows, x.features], "layerscale.dims");
    const elements = Math.ceil((x.rows * x.features) / WORKGROUP);
    const scale = await gpu.program("layer_scale", SCALE);
    const forward = gpu.bind(scale, [dims, x.buffer, this.scale.data, out.buffer], [
      elements,
      1,
      1,
    ]);
    const grad = training
      ? gpu.bind(
        await gpu.program("layer_scale_grad", SCALE_GRAD),
        [dims, out.grad!, x.buffer, this.scale.grad],
        [Math.ceil(x.features / WORKGROUP), 1, 1],
      )
      : null;
    const inputGrad = training && x.grad
      ? gpu.bind(scale, [dims, out.grad!, this.scale.data, x.grad], [elements, 1, 1])
      : null;
    return {
      output: out,
      forward: () => gpu.dispatch(forward),
      backward: () => {
        if (!grad) throw new Error("LayerScale: this plan was built forward-only");
        gpu.dispatch(grad);
        if (inputGrad) gpu.dispatch(inputGrad);
      },
    };
  }
}

/** The example's network: 784-hidden-10, a LayerScale after the hidden ReLU. */
export function layerScaleMlp(gpu: Gpu, hidden = 100): Sequential {
  const layer = (inFeatures: number, outFeatures: number, seed: number) =>
    new ArbLinear(gpu, {
      inFeatures,
      outFeatures,
      hash: hashes.uniform(),
      tableFraction: 1 / 8,
      seed,
    });
  return new Sequential([
    layer(784, hidden, 1),
    new ReLU(),
    new LayerScale(gpu, hidden),
    layer(hidden, 10, 2),
  ]);
}

/** Options of {@linkcode runCustomLayer}. */
export interface CustomLayerRun {
  /** Epochs. Default 1. */
  epochs?: number;
  /** Training examples (default all). */
  trainLimit?: number;
  /** Test examples (default all). */
  testLimit?: number;
  /** Where the checkpoint goes. Default `out/custom_layer.safetensors`. */
  checkpoint?: string;
}

/**
 * Trains {@linkcode layerScaleMlp} on MNIST, saves it, and restores the
 * checkpoint into a second network built by the same code.
 *
 * @returns test accuracy before and after the round trip
 */
export async function runCustomLayer(
  run: CustomLayerRun = {},
): Promise<{ testAccuracy: number; reloadedAccuracy: number }> {
  const train = await loadMnist({ split: "train", limit: run.trainLimit });
  const test = await loadMnist({ split: "test", limit: run.testLimit });
  const gpu = await requestDevice();
  try {
    const net = layerScaleMlp(gpu);
    const opt = new SGD(net.parameters(), { lr: 0.05, momentum: 0.9 });
    const trainer = new Trainer(net, opt, { features: 784, classes: 10 });
    const history = await fit(trainer, {
      train,
      test,
      epochs: run.epochs ?? 1,
      batchSize: 50,
      seed: 1,
      lr: 0.05,
    });
    const path = run.checkpoint ?? "out/custom_layer.safetensors";
    await Deno.mkdir(path.slice(0, Math.max(0, path.lastIndexOf("/"))) || ".", { recursive: true });
    await saveCheckpoint(path, { net, opt });
    // A checkpoint records your layer by class name and parameter sizes:
    // your code builds the network, loadCheckpoint fills it.
    const again = layerScaleMlp(gpu);
    await loadCheckpoint(path, { net: again });
    const reloaded = await evaluateClasses(again, test);
    return { testAccuracy: history.at(-1)!.testAccuracy!, reloadedAccuracy: reloaded.accuracy };
  } finally {
    gpu.destroy();
  }
}

if (import.meta.main) {
  const r = await runCustomLayer();
  console.log(
    `test accuracy ${(100 * r.testAccuracy).toFixed(2)}%, ` +
      `${(100 * r.reloadedAccuracy).toFixed(2)}% after the checkpoint round trip`,
  );
}
