/**
 * Optimizers that update parameters on the GPU: {@linkcode SGD} (momentum,
 * Nesterov, weight decay) and {@linkcode Adam}. Shaped like candle's
 * optimizers: built from the parameters and a config, `step()` records one
 * update of every parameter from its gradient, `learningRate` is settable.
 *
 * Over ~350 lines on purpose: `SGD` and `Adam` share the `Optimizer` interface, its options checks
 * and the update-watch hooks.
 *
 * Layer: optim; imports `lib/gpu`, the kernels and `lib/nn`'s Parameter.
 * @module
 */

import type { Gpu } from "../gpu/device.ts";
import { ArbnetError, invalidOption } from "../errors.ts";
import {
  type ElementwiseLaunch,
  elementwiseLaunch,
  type ElementwiseWatch,
} from "../../shaders/elementwise.ts";
import { type Parameter, uniqueParameters } from "../nn/module.ts";

/** Common optimizer surface. */
export interface Optimizer {
  /** Current learning rate; setting it takes effect at the next step. */
  learningRate: number;
  /** Completed steps. */
  readonly steps: number;
  /** Records one update of every parameter from its gradient. */
  step(): Promise<void>;
  /** Optimizer state buffers per parameter, in parameter order (for checkpoints). */
  stateBuffers(): { name: string; buffer: GPUBuffer; size: number }[];
  /** Restores the step count (checkpoint resume). */
  setSteps(steps: number): void;
  /**
   * Optional: the parameters this optimizer updates, so a `Trainer` can
   * refuse an optimizer built over another network's parameters.
   */
  parameters?(): readonly Parameter[];
  /**
   * Optional: from the next step on, each update also records into `watch`
   * whether it wrote a NaN or an infinity, and takes that job over from the
   * watch (one pass over the parameters instead of two). The `Trainer`
   * calls it when it builds its divergence watch. A later watch replaces
   * the earlier one.
   */
  watchUpdates?(watch: UpdateWatch): void;
}

/**
 * Where an optimizer's updates record non-finite values as they write them.
 * The trainer's divergence watch (`lib/nn/watch.ts` NonFiniteWatch) has
 * this shape.
 */
export interface UpdateWatch {
  /** Flag words: word 0 the current step, word `1 + slot` a tensor's first bad step. */
  readonly buffer: GPUBuffer;
  /** The flag slot of a parameter, or -1 if it is not watched. */
  slotOf(p: Parameter): number;
  /** Says the optimizer records `p` from now on, so the watch stops reading it itself. */
  handOver(p: Parameter): void;
}

/** Hands every watched parameter of `params` over to the optimizer; their fused watches. */
function takeOver(
  watch: UpdateWatch,
  params: readonly Parameter[],
): Map<Parameter, ElementwiseWatch> {
  const fused = new Map<Parameter, ElementwiseWatch>();
  for (const p of params) {
    const slot = watch.slotOf(p);
    if (slot < 0) continue;
    fused.set(p, { flags: watch.buffer, slot });
    watch.handOver(p);
  }
  return fused;
}

/** Options of {@linkcode SGD}. */
export interface SgdOptions {
  /** Learning rate (> 0). */
  lr: number;
  /** Momentum μ in [0, 1). Default 0. */
  momentum?: number;
  /** Nesterov momentum. Default false. */
  nesterov?: boolean;
  /** L2 weight decay (≥ 0). Default 0. */
  weightDecay?: number;
}

/** Options of {@linkcode Adam}. */
export interface AdamOptions {
  /** Learning rate (> 0). Default 1e-3. */
  lr?: number;
  /** β1 in [0, 1). Default 0.9. */
  beta1?: number;
  /** β2 in [0, 1). Default 0.999. */
  beta2?: number;
  /** ε > 0. Default 1e-8. */
  eps?: number;
  /** L2 weight decay (≥ 0). Default 0. */
  weightDecay?: number;
}

function gpuOf(params: Parameter[]): Gpu {
  if (params.length === 0) throw new ArbnetError("an optimizer needs at least one parameter");
  return params[0].gpuDevice;
}

function zeros(gpu: Gpu, p: Parameter, what: string): GPUBuffer {
  const b = gpu.buffer(p.size * 4, `${p.name}.${what}`);
  gpu.clear(b);
  return b;
}

function checkLr(lr: number): void {
  if (!(lr > 0 && Number.isFinite(lr))) invalidOption("lr", lr, "a finite number > 0");
}

/**
 * Checks an options object: an object whose keys are all known (a typo such
 * as `weight_decay` would otherwise be ignored silently), a finite
 * `weightDecay` ≥ 0 (Infinity would wipe every weight in one step).
 */
function checkOptions(what: string, o: unknown, known: readonly string[]): void {
  if (o === null || typeof o !== "object") invalidOption(`${what} options`, o, "an object");
  for (const k of Object.keys(o as object)) {
    if (!known.includes(k)) {
      throw new ArbnetError(
        `unknown option ${JSON.stringify(k)} in ${what} options (known options: ${
          known.join(", ")
        })`,
      );
    }
  }
  const wd = (o as { weightDecay?: unknown }).weightDecay;
  if (wd !== undefined && !(typeof wd === "number" && wd >= 0 && Number.isFinite(wd))) {
    invalidOption("weightDecay", wd, "a finite number ≥ 0");
  }
}

function checkSteps(steps: number): void {
  if (!Number.isSafeInteger(steps) || steps < 0) invalidOption("steps", steps, "an integer ≥ 0");
}

/**
 * Stochastic gradient descent with momentum.
 *
 * @example
 * ```ts ignore
 * const opt = new SGD(net.parameters(), { lr: 0.01, momentum: 0.9 });
 * await opt.step();
 * ```
 */
export class SGD implements Optimizer {
  readonly #params: Parameter[];
  readonly #velocity: GPUBuffer[];
  readonly #options: Required<SgdOptions>;
  #launches: Promise<ElementwiseLaunch[]> | null = null;
  #watched = new Map<Parameter, ElementwiseWatch>();
  #dirty = false;
  #steps = 0;

  /** Allocates a zeroed velocity per parameter. */
  constructor(params: Parameter[], options: SgdOptions) {
    checkOptions("SGD", options, ["lr", "momentum", "nesterov", "weightDecay"]);
    checkLr(options.lr);
    const momentum = options.momentum ?? 0;
    if (!(momentum >= 0 && momentum < 1)) invalidOption("momentum", momentum, "a number in [0, 1)");
    if (options.nesterov !== undefined && typeof options.nesterov !== "boolean") {
      invalidOption("nesterov", options.nesterov, "true or false");
    }
    const weightDecay = options.weightDecay ?? 0;
    const gpu = gpuOf(params);
    // A tied parameter listed twice is updated once, from its summed gradient.
    params = uniqueParameters(params);
    this.#params = params;
    this.#options = { lr: options.lr, momentum, nesterov: options.nesterov ?? false, weightDecay };
    this.#velocity = params.map((p) => zeros(gpu, p, "velocity"));
  }

  #values() {
    const o = this.#options;
    return {
      lr: o.lr,
      momentum: o.momentum,
      weight_decay: o.weightDecay,
      nesterov: o.nesterov ? 1 : 0,
    };
  }

  /** Current learning rate. */
  get learningRate(): number {
    return this.#options.lr;
  }

  /** Sets the learning rate from the next step on. */
  set learningRate(lr: number) {
    checkLr(lr);
    this.#options.lr = lr;
    this.#dirty = true;
  }

  /** Completed steps. */
  get steps(): number {
    return this.#steps;
  }

  /** Restores the step count. */
  setSteps(steps: number): void {
    checkSteps(steps);
    this.#steps = steps;
  }

  /** Records `v ← μv + g + λw; w ← w − lr·v` (or Nesterov's variant) for every parameter. */
  async step(): Promise<void> {
    const launches = await (this.#launches ??= Promise.all(
      this.#params.map((p, i) =>
        elementwiseLaunch(
          p.gpuDevice,
          "sgd",
          p.size,
          {
            grad: p.grad,
            weight: p.data,
            velocity: this.#velocity[i],
          },
          this.#values(),
          this.#watched.get(p),
        )
      ),
    ));
    if (this.#dirty) {
      for (const l of launches) l.setParams(this.#values());
      this.#dirty = false;
    }
    for (const l of launches) this.#params[0].gpuDevice.dispatch(l.launch);
    this.#steps++;
  }

  /** Records the divergence watch of the updated parameters in the updates themselves. */
  watchUpdates(watch: UpdateWatch): void {
    this.#watched = takeOver(watch, this.#params);
    this.#launches = null; // rebound with the watch at the next step
  }

  /** The parameters it updates. */
  parameters(): readonly Parameter[] {
    return this.#params;
  }

  /** The velocity buffers. */
  stateBuffers(): { name: string; buffer: GPUBuffer; size: number }[] {
    return this.#params.map((p, i) => ({
      name: `${p.name}.velocity`,
      buffer: this.#velocity[i],
      size: p.size,
    }));
  }
}

/** Adam with optional L2 weight decay. */
export class Adam implements Optimizer {
  readonly #params: Parameter[];
  readonly #m1: GPUBuffer[];
  readonly #m2: GPUBuffer[];
  readonly #options: Required<AdamOptions>;
  #launches: Promise<ElementwiseLaunch[]> | null = null;
  #watched = new Map<Parameter, ElementwiseWatch>();
  #steps = 0;

  /** Allocates zeroed moment estimates per parameter. */
  constructor(params: Parameter[], options: AdamOptions = {}) {
    checkOptions("Adam", options, ["lr", "beta1", "beta2", "eps", "weightDecay"]);
    const o = {
      lr: options.lr ?? 1e-3,
      beta1: options.beta1 ?? 0.9,
      beta2: options.beta2 ?? 0.999,
      eps: options.eps ?? 1e-8,
      weightDecay: options.weightDecay ?? 0,
    };
    checkLr(o.lr);
    if (!(o.beta1 >= 0 && o.beta1 < 1)) invalidOption("beta1", o.beta1, "a number in [0, 1)");
    if (!(o.beta2 >= 0 && o.beta2 < 1)) invalidOption("beta2", o.beta2, "a number in [0, 1)");
    if (!(o.eps > 0 && Number.isFinite(o.eps))) invalidOption("eps", o.eps, "a finite number > 0");
    const gpu = gpuOf(params);
    // A tied parameter listed twice is updated once, from its summed gradient.
    params = uniqueParameters(params);
    this.#params = params;
    this.#options = o;
    this.#m1 = params.map((p) => zeros(gpu, p, "m1"));
    this.#m2 = params.map((p) => zeros(gpu, p, "m2"));
  }

  #values(t: number) {
    const o = this.#options;
    return {
      lr: o.lr,
      beta1: o.beta1,
      beta2: o.beta2,
      eps: o.eps,
      weight_decay: o.weightDecay,
      correction1: 1 - o.beta1 ** t,
      correction2: 1 - o.beta2 ** t,
    };
  }

  /** Current learning rate. */
  get learningRate(): number {
    return this.#options.lr;
  }

  /** Sets the learning rate from the next step on. */
  set learningRate(lr: number) {
    checkLr(lr);
    this.#options.lr = lr;
  }

  /** Completed steps. */
  get steps(): number {
    return this.#steps;
  }

  /** Restores the step count (bias corrections depend on it). */
  setSteps(steps: number): void {
    checkSteps(steps);
    this.#steps = steps;
  }

  /** Records one Adam update of every parameter. */
  async step(): Promise<void> {
    const t = this.#steps + 1;
    const launches = await (this.#launches ??= Promise.all(
      this.#params.map((p, i) =>
        elementwiseLaunch(
          p.gpuDevice,
          "adam",
          p.size,
          {
            grad: p.grad,
            weight: p.data,
            m1: this.#m1[i],
            m2: this.#m2[i],
          },
          this.#values(t),
          this.#watched.get(p),
        )
      ),
    ));
    // The bias corrections change every step. The uniform is only read by
    // this step's updates, which are recorded after this write.
    for (const l of launches) l.setParams(this.#values(t));
    for (const l of launches) this.#params[0].gpuDevice.dispatch(l.launch);
    this.#steps = t;
  }

  /** Records the divergence watch of the updated parameters in the updates themselves. */
  watchUpdates(watch: UpdateWatch): void {
    this.#watched = takeOver(watch, this.#params);
    this.#launches = null; // rebound with the watch at the next step
  }

  /** The parameters it updates. */
  parameters(): readonly Parameter[] {
    return this.#params;
  }

  /** The first- and second-moment buffers. */
  stateBuffers(): { name: string; buffer: GPUBuffer; size: number }[] {
    return this.#params.flatMap((p, i) => [
      { name: `${p.name}.m1`, buffer: this.#m1[i], size: p.size },
      { name: `${p.name}.m2`, buffer: this.#m2[i], size: p.size },
    ]);
  }
}
