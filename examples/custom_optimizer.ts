/**
 * An optimizer of your own, in one file, without editing the library:
 * Adagrad (`G ← G + g²; w ← w − lr · g / (√G + ε)`), with its own WGSL
 * kernel, trained with the library's `Trainer` and checkpointed with its
 * state like SGD and Adam.
 *
 * What an optimizer needs is the `Optimizer` interface (`lib/optim/optimizer.ts`):
 * `step()` records one update of every parameter from its gradient,
 * `learningRate` is settable (the schedules set it every step),
 * `stateBuffers()` lists the state a checkpoint stores, `setSteps()` restores
 * the step count, and `parameters()` lets a `Trainer` check that the
 * optimizer belongs to its network.
 *
 * Run (MNIST 784-100-10, uniform hash, 1 epoch):
 *
 *   deno run --allow-read --allow-write --allow-env examples/custom_optimizer.ts
 *
 * `tests/example_custom_optimizer.test.ts` checks its updates against the
 * CPU and resumes a run from a checkpoint.
 *
 * @module
 */

import {
  buildMlp,
  fit,
  type Gpu,
  hashes,
  loadMnist,
  type Optimizer,
  type Parameter,
  requestDevice,
  Trainer,
} from "../mod.ts";
import type { Launch } from "../internals.ts";

/** Invocations per workgroup. */
const WORKGROUP = 64;

/** One Adagrad update of one parameter: an invocation per value. */
const ADAGRAD = /* wgsl */ `
struct Settings { n: u32, lr: f32, eps: f32 }
@group(0) @binding(0) var<uniform> settings: Settings;
@group(0) @binding(1) var<storage, read> grad: array<f32>;
@group(0) @binding(2) var<storage, read_write> weight: array<f32>;
@group(0) @binding(3) var<storage, read_write> sum: array<f32>;

@compute @workgroup_size(${WORKGROUP})
fn main(@builtin(global_invocation_id) id: vec3u) {
  let i = id.x;
  if (i >= settings.n) { return; }
  let g = grad[i];
  let s = sum[i] + g * g;
  sum[i] = s;
  weight[i] -= settings.lr * g / (sqrt(s) + settings.eps);
}`;

/** Options of {@linkcode Adagrad}. */
export interface AdagradOptions {
  /** Learning rate (> 0). */
  lr: number;
  /** Added to √G in the denominator. Default 1e-10. */
  eps?: number;
}

/** Adagrad: each value's step shrinks with the sum of its squared gradients. */
export class Adagrad implements Optimizer {
  readonly #params: Parameter[];
  readonly #sums: GPUBuffer[];
  readonly #settings: GPUBuffer[];
  readonly #gpu: Gpu;
  readonly #eps: number;
  #lr: number;
  #steps = 0;
  #launches: Launch[] | null = null;

  /** Zeroed sums of squared gradients, one per parameter (a tied one listed once). */
  constructor(params: Parameter[], options: AdagradOptions) {
    if (!(options.lr > 0 && Number.isFinite(options.lr))) {
      throw new RangeError(`Adagrad: lr must be a finite number > 0, got ${options.lr}`);
    }
    this.#params = [...new Set(params)];
    if (this.#params.length === 0) throw new RangeError("Adagrad: no parameters");
    this.#gpu = this.#params[0].gpuDevice;
    this.#lr = options.lr;
    this.#eps = options.eps ?? 1e-10;
    this.#sums = this.#params.map((p) => this.#gpu.buffer(p.size * 4, `${p.name}.adagrad_sum`));
    // n as u32, then lr and eps as f32 (words from index 1 on are floats).
    this.#settings = this.#params.map((p) =>
      this.#gpu.uniform([p.size, this.#lr, this.#eps], `${p.name}.adagrad`, 1)
    );
  }

  /** Current learning rate. */
  get learningRate(): number {
    return this.#lr;
  }

  /** Sets the learning rate from the next step on (steps recorded before keep theirs). */
  set learningRate(lr: number) {
    if (!(lr > 0 && Number.isFinite(lr))) {
      throw new RangeError(`Adagrad: lr must be a finite number > 0, got ${lr}`);
    }
    this.#lr = lr;
    for (const u of this.#settings) this.#gpu.write(u, new Float32Array([lr]), 4);
  }

  /** Completed steps. */
  get steps(): number {
    return this.#steps;
  }

  /** Restores the step count (Adagrad's update does not depend on it). */
  setSteps(steps: number): void {
    this.#steps = steps;
  }

  /** Records one update of every parameter. */
  async step(): Promise<void> {
    if (!this.#launches) {
      const program = await this.#gpu.program("adagrad", ADAGRAD);
      this.#launches = this.#params.map((p, i) =>
        this.#gpu.bind(program, [this.#settings[i], p.grad, p.data, this.#sums[i]], [
          Math.ceil(p.size / WORKGROUP),
          1,
          1,
        ])
      );
    }
    for (const l of this.#launches) this.#gpu.dispatch(l);
    this.#steps++;
  }

  /** The sums of squared gradients, which a checkpoint stores. */
  stateBuffers(): { name: string; buffer: GPUBuffer; size: number }[] {
    return this.#params.map((p, i) => ({
      name: `${p.name}.sum`,
      buffer: this.#sums[i],
      size: p.size,
    }));
  }

  /** The parameters it updates. */
  parameters(): readonly Parameter[] {
    return this.#params;
  }
}

/** Trains 784-100-10 (uniform hash, table 1/8) on MNIST with Adagrad; returns the test accuracy. */
export async function runCustomOptimizer(
  run: { epochs?: number; trainLimit?: number; testLimit?: number } = {},
): Promise<number> {
  const train = await loadMnist({ split: "train", limit: run.trainLimit });
  const test = await loadMnist({ split: "test", limit: run.testLimit });
  const gpu = await requestDevice();
  try {
    const { net } = buildMlp(gpu, { layers: [784, 100, 10], hash: hashes.uniform(), seed: 1 });
    const lr = 0.02;
    const trainer = new Trainer(net, new Adagrad(net.parameters(), { lr }), {
      features: 784,
      classes: 10,
    });
    // fit sets the learning rate every step (a cosine schedule from lr to 0).
    const history = await fit(trainer, {
      train,
      test,
      epochs: run.epochs ?? 1,
      batchSize: 50,
      seed: 1,
      lr,
    });
    return history.at(-1)!.testAccuracy!;
  } finally {
    gpu.destroy();
  }
}

if (import.meta.main) {
  const accuracy = await runCustomOptimizer();
  console.log(`test accuracy ${(100 * accuracy).toFixed(2)}% with Adagrad`);
}
