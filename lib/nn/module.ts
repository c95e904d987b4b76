/**
 * The Module API: parameters, activations and the plan a module builds for
 * one batch shape. Training here is a static graph per batch size: the first
 * forward pass for an input allocates every buffer and binds every launch;
 * later passes only record dispatches, so a training loop allocates no GPU
 * objects per step.
 *
 * Over ~350 lines on purpose: `Parameter`, `Module`, `Plan` and the gradient-write protocol of
 * tied parameters are one API.
 *
 * Layer: nn; imports `lib/gpu`, the kernels and `lib/errors.ts`.
 * @module
 */

import type { Gpu } from "../gpu/device.ts";
import { ArbnetError } from "../errors.ts";
import { activationRows } from "./plan_policy.ts";
import { elementwiseLaunch } from "../../shaders/elementwise.ts";

// Backward passes, counted so that a tied parameter's uses can tell which of
// them writes its gradient first in a pass (it overwrites; later ones add).
// A pass is the outermost plan.backward() call; nested ones (a Sequential's
// layers) belong to it.
let backwardPass = 0;
let backwardDepth = 0;

/** A trainable tensor on the GPU with its gradient. */
export class Parameter {
  /** Name for logs and checkpoints, e.g. `"0.table"`. */
  name: string;
  /** Trainable elements (the optimizer updates elements `[0, size)`). */
  readonly size: number;
  /** Values; may be longer than `size` (a table's zero slot follows its trainable slots). */
  readonly data: GPUBuffer;
  /**
   * Gradient, `size` elements, overwritten by every backward pass: the sum
   * over every use of the parameter in that pass when it is tied (see
   * {@linkcode Parameter.tied}).
   */
  readonly grad: GPUBuffer;
  readonly #gpu: Gpu;
  #tied = false;
  #gradPass = -1;
  #partial: GPUBuffer | null = null;

  /** Uploads `initial` (its length may exceed `size`) and allocates the gradient. */
  constructor(gpu: Gpu, name: string, initial: Float32Array, size = initial.length) {
    this.#gpu = gpu;
    this.name = name;
    this.size = size;
    this.data = gpu.upload(initial, name);
    // One extra element so a scatter that targets the zero slot stays in bounds.
    this.grad = gpu.buffer((initial.length + 1) * 4, `${name}.grad`);
  }

  /** The device holding this parameter. */
  get gpuDevice(): Gpu {
    return this.#gpu;
  }

  /**
   * Whether the parameter may be used more than once in a backward pass: a
   * table shared by several layers (`ArbLinearOptions.table`), or a module
   * applied more than once (a Sequential listing it twice, an RNN's
   * recurrent layer). Plans built while it is tied write its gradient
   * through {@linkcode gradWrite}, which sums the uses.
   */
  get tied(): boolean {
    return this.#tied;
  }

  /**
   * Marks the parameter as used more than once per backward pass. Plans
   * built before this call cannot add to its gradient: they refuse to run
   * as a later use.
   */
  tie(): void {
    this.#tied = true;
  }

  /**
   * Records that a plan writes the gradient in the current backward pass:
   * true for the pass's first write (which must overwrite), false for later
   * ones (which must add).
   */
  claimGrad(): boolean {
    const first = this.#gradPass !== backwardPass;
    this.#gradPass = backwardPass;
    return first;
  }

  /** Scratch for one use's gradient of a tied parameter, added into `grad` after. */
  get partialGrad(): GPUBuffer {
    return this.#partial ??= this.#gpu.buffer(this.grad.size, `${this.name}.grad_partial`);
  }

  /** Reads the trainable values back to the host. */
  read(): Promise<Float32Array> {
    return this.#gpu.readF32(this.data, this.size);
  }

  /** Reads the gradient back to the host. */
  readGrad(): Promise<Float32Array> {
    return this.#gpu.readF32(this.grad, this.size);
  }

  /**
   * Overwrites the trainable values: a Float32Array of exactly `size`
   * finite values (anything else would be written as raw bytes, or poison
   * training).
   */
  write(values: Float32Array): void {
    if (!(values instanceof Float32Array)) {
      const type = (values as { constructor?: { name?: string } } | null)?.constructor?.name;
      throw new ArbnetError(
        `parameter ${this.name} takes a Float32Array of ${this.size} values, got ${
          type ?? String(values)
        }`,
      );
    }
    if (values.length !== this.size) {
      throw new ArbnetError(
        `parameter ${this.name} has ${this.size} values, got ${values.length}`,
      );
    }
    for (let i = 0; i < values.length; i++) {
      // NaN fails both comparisons.
      if (!(values[i] > -Infinity && values[i] < Infinity)) {
        throw new ArbnetError(
          `parameter ${this.name}: value ${i} is ${values[i]}; parameters must be finite`,
        );
      }
    }
    this.#gpu.write(this.data, values);
  }
}

/**
 * A batch of activations on the GPU: `rows × features`, row-major, with the
 * buffer that receives its gradient (`null` when nobody needs it, e.g. the
 * network input, which saves the first layer's input-gradient product).
 */
export interface Activation {
  /** Values. */
  readonly buffer: GPUBuffer;
  /** Where the gradient with respect to these values is written, if wanted. */
  readonly grad: GPUBuffer | null;
  /** Batch rows. */
  readonly rows: number;
  /** Features per row. */
  readonly features: number;
}

/** A module bound to one input: its output and the dispatches of each direction. */
export interface Plan {
  /** The output activation (its `grad` is filled by whoever consumes it). */
  readonly output: Activation;
  /** Records the forward dispatches. */
  forward(): void;
  /** Records the backward dispatches: reads `output.grad`, writes parameter grads and `input.grad`. */
  backward(): void;
  /**
   * Every layer's output in forward order, for watching them (a Sequential
   * lists its layers'); absent means this module's `output` alone.
   */
  readonly outputs?: readonly LayerOutput[];
}

/** One layer's output activation within a plan (see {@linkcode Plan.outputs}). */
export interface LayerOutput {
  /** The layer (a fused ReLU is part of the layer before it). */
  readonly module: Module;
  /** Its output. */
  readonly activation: Activation;
}

/** Options for {@linkcode Module.plan}. */
export interface PlanOptions {
  /** Fuse a ReLU into this module's output, when it supports that. */
  fuseRelu?: boolean;
  /**
   * Bind the forward pass only (evaluation, inference): no gradient buffers
   * are allocated and no backward kernel is tuned, compiled or bound, and the
   * plan's `backward()` throws. A plan is built once per input, with the
   * options of its first use.
   */
  forwardOnly?: boolean;
}

/** The error of `backward()` on a plan bound with {@linkcode PlanOptions.forwardOnly}. */
export function forwardOnlyError(who: string): ArbnetError {
  return new ArbnetError(
    `${who}: backward() on a plan bound forward-only (PlanOptions.forwardOnly, e.g. the ` +
      "evaluation batches of a Trainer); plan the input without it to train on it",
  );
}

/** A layer or a composition of layers. */
export abstract class Module {
  readonly #plans = new WeakMap<Activation, Promise<Plan>>();
  #last: Plan | null = null;

  /** Trainable parameters, in a stable order (optimizers and checkpoints rely on it). */
  abstract parameters(): Parameter[];

  /** Whether this module can absorb a following ReLU into its epilogue. */
  get fusesRelu(): boolean {
    return false;
  }

  /** Builds the plan for `input` (allocations and bindings happen here, once). */
  protected abstract build(gpu: Gpu, input: Activation, options: PlanOptions): Promise<Plan>;

  /** The device this module lives on. */
  abstract get gpu(): Gpu;

  /** The cached plan for `input`, built on first use. */
  plan(input: Activation, options: PlanOptions = {}): Promise<Plan> {
    let p = this.#plans.get(input);
    if (!p) {
      p = this.build(this.gpu, input, options).then(countingPasses);
      this.#plans.set(input, p);
    }
    return p;
  }

  /** Records the forward pass for `input` and returns the output activation. */
  async forward(input: Activation): Promise<Activation> {
    const plan = await this.plan(input);
    plan.forward();
    this.#last = plan;
    return plan.output;
  }

  /** Records the backward pass of the last forward (its output's `grad` must be filled first). */
  backward(): void {
    if (!this.#last) throw new ArbnetError("backward() called before forward()");
    this.#last.backward();
  }
}

/** `plan` with its backward() counted as a backward pass when it is the outermost call. */
function countingPasses(plan: Plan): Plan {
  return {
    ...plan,
    backward: () => {
      if (backwardDepth === 0) backwardPass++;
      backwardDepth++;
      try {
        plan.backward();
      } finally {
        backwardDepth--;
      }
    },
  };
}

/** Each parameter once, in order of first appearance. */
export function uniqueParameters(params: readonly Parameter[]): Parameter[] {
  return [...new Set(params)];
}

/**
 * Ties ({@linkcode Parameter.tie}) every parameter that `uses` lists more
 * than once: a container calls it with its children's parameters, one list
 * entry per use, before planning them.
 */
export function tieRepeated(uses: readonly Parameter[]): void {
  const seen = new Set<Parameter>();
  for (const p of uses) {
    if (seen.has(p)) p.tie();
    seen.add(p);
  }
}

/**
 * How a plan writes one parameter's gradient: its kernel writes `target`,
 * with `before()` recorded just ahead of it and `after()` just behind. For
 * an untied parameter `target` is the gradient itself. For a tied one, a
 * kernel that overwrites (`mode` "overwrite") writes the scratch
 * {@linkcode Parameter.partialGrad}, which `after()` copies into the
 * gradient for the pass's first use and adds to it for the others; a kernel
 * that adds (`mode` "add", the atomic scatter) writes the gradient, which
 * `before()` clears for the pass's first use only.
 */
export interface GradWrite {
  /** The buffer the gradient kernel writes. */
  readonly target: GPUBuffer;
  /** Records what must precede the kernel. */
  before(): void;
  /** Records what must follow it. */
  after(): void;
}

/** Binds the gradient write of `p` for a plan built now (see {@linkcode GradWrite}). */
export async function gradWrite(
  gpu: Gpu,
  p: Parameter,
  mode: "overwrite" | "add",
  who: string,
): Promise<GradWrite> {
  if (!p.tied) {
    // Tied after this plan was built: right only as the pass's first use.
    const check = () => {
      if (p.tied && !p.claimGrad()) {
        throw new ArbnetError(
          `${who}: parameter ${p.name} was tied (shared or reused) after this plan was built, ` +
            "so the plan cannot add its gradient to the other uses'; share tables and compose " +
            "modules before their first forward pass",
        );
      }
    };
    return mode === "add"
      ? { target: p.grad, before: () => (check(), gpu.clear(p.grad)), after: () => {} }
      : { target: p.grad, before: check, after: () => {} };
  }
  if (mode === "add") {
    return {
      target: p.grad,
      before: () => {
        if (p.claimGrad()) gpu.clear(p.grad);
      },
      after: () => {},
    };
  }
  const partial = p.partialGrad;
  const add = await elementwiseLaunch(gpu, "accumulate", p.size, { x: partial, y: p.grad });
  return {
    target: partial,
    before: () => {},
    after: () => {
      if (p.claimGrad()) gpu.copy(partial, p.grad, p.size * 4);
      else gpu.dispatch(add.launch);
    },
  };
}

/**
 * Bytes of an activation's buffer: the rows the adapter policy asks for
 * ({@linkcode activationRows}: whole blocks for window tiles), which stay
 * zero past `rows`.
 */
export function activationBytes(rows: number, features: number): number {
  return activationRows(rows) * features * 4;
}

/** Allocates an activation (and its gradient buffer when `withGrad`). */
export function allocActivation(
  gpu: Gpu,
  rows: number,
  features: number,
  label: string,
  withGrad = true,
): Activation {
  return {
    buffer: gpu.buffer(activationBytes(rows, features), label),
    grad: withGrad ? gpu.buffer(activationBytes(rows, features), `${label}.grad`) : null,
    rows,
    features,
  };
}

/** Throws unless `input` has the feature count a module expects. */
export function expectFeatures(input: Activation, features: number, who: string): void {
  if (input.features !== features) {
    throw new ArbnetError(
      `${who} expects ${features} input features, got ${input.features}: each layer's ` +
        "inFeatures must equal the previous layer's outFeatures (the first layer's, the data's " +
        "features)",
    );
  }
}
