/**
 * Parameter-free layers and composition: `ReLU`, `Tanh` and `Sequential` (which
 * fuses a ReLU into the preceding layer's matmul epilogue when it can).
 *
 * Layer: nn.
 * @module
 */

import type { Gpu } from "../gpu/device.ts";
import { ArbnetError } from "../errors.ts";
import { elementwiseLaunch, type ElementwiseName } from "../../shaders/elementwise.ts";
import {
  type Activation,
  allocActivation,
  forwardOnlyError,
  type LayerOutput,
  Module,
  type Parameter,
  type Plan,
  type PlanOptions,
  tieRepeated,
  uniqueParameters,
} from "./module.ts";

/**
 * A parameter-free element-wise layer whose backward reads its forward
 * output (ReLU, tanh): one op of `shaders/elementwise.ts` each way.
 */
export abstract class ElementwiseLayer extends Module {
  #gpu: Gpu | null = null;
  readonly #ops: { name: string; forward: ElementwiseName; backward: ElementwiseName };

  /** The layer named `name` running the two ops. */
  protected constructor(name: string, forward: ElementwiseName, backward: ElementwiseName) {
    super();
    this.#ops = { name, forward, backward };
  }

  /** No parameters. */
  parameters(): Parameter[] {
    return [];
  }

  /** The device of the last input (an element-wise layer is device-agnostic until planned). */
  get gpu(): Gpu {
    if (!this.#gpu) {
      throw new ArbnetError(`${this.#ops.name} has no device yet: use it inside a Sequential`);
    }
    return this.#gpu;
  }

  /** Attaches the device (Sequential does this). */
  attach(gpu: Gpu): void {
    this.#gpu = gpu;
  }

  /** Allocates this module's buffers for `x` and binds its launches. */
  protected async build(gpu: Gpu, x: Activation, options: PlanOptions): Promise<Plan> {
    const { name, forward, backward } = this.#ops;
    const n = x.rows * x.features;
    const forwardOnly = options.forwardOnly === true;
    const label = name.toLowerCase();
    const out = allocActivation(gpu, x.rows, x.features, `${label}.out`, !forwardOnly);
    const fwd = await elementwiseLaunch(gpu, forward, n, { x: x.buffer, y: out.buffer });
    const bwd = x.grad && !forwardOnly
      ? await elementwiseLaunch(gpu, backward, n, { y: out.buffer, dy: out.grad!, dx: x.grad })
      : null;
    return {
      output: out,
      forward: () => gpu.dispatch(fwd.launch),
      backward: () => {
        if (forwardOnly) throw forwardOnlyError(name);
        if (bwd) gpu.dispatch(bwd.launch);
      },
    };
  }
}

/** Element-wise max(x, 0). Inside a {@linkcode Sequential} it is fused into the layer before it. */
export class ReLU extends ElementwiseLayer {
  /** A ReLU. */
  constructor() {
    super("ReLU", "relu_forward", "relu_backward");
  }
}

/** Element-wise tanh (its input clamped to ±15, where tanh is ±1 in float32). */
export class Tanh extends ElementwiseLayer {
  /** A tanh. */
  constructor() {
    super("Tanh", "tanh_forward", "tanh_backward");
  }
}

/**
 * Layers applied in order.
 *
 * @example
 * ```ts
 * import { requestDevice } from "../gpu/device.ts";
 * import { hashes } from "../hash/mod.ts";
 * import { ArbLinear } from "./arb_linear.ts";
 * import { ReLU, Sequential } from "./layers.ts";
 * const gpu = await requestDevice();
 * const net = new Sequential([
 *   new ArbLinear(gpu, { inFeatures: 784, outFeatures: 100, hash: hashes.uniform(), tableFraction: 1 / 8 }),
 *   new ReLU(),
 *   new ArbLinear(gpu, { inFeatures: 100, outFeatures: 10, hash: hashes.uniform(), tableFraction: 1 / 8 }),
 * ]);
 * console.log(net.parameters().length); // 4
 * gpu.destroy();
 * ```
 */
export class Sequential extends Module {
  /** The layers, in order. */
  readonly layers: readonly Module[];
  readonly #gpu: Gpu;

  /** Composes `layers`; at least one must have a device (e.g. an ArbLinear). */
  constructor(layers: Module[]) {
    super();
    this.layers = layers;
    const owner = layers.find((l) =>
      !(l instanceof ElementwiseLayer) && !(l instanceof Sequential &&
        l.layers.length === 0)
    );
    if (!owner) throw new ArbnetError("Sequential needs at least one layer with parameters");
    this.#gpu = owner.gpu;
    for (const l of layers) if (l instanceof ElementwiseLayer) l.attach(this.#gpu);
  }

  /** The device of the layers. */
  get gpu(): Gpu {
    return this.#gpu;
  }

  /**
   * All layers' parameters in layer order, each once: a layer listed twice,
   * or a table two layers share, is one parameter (its gradient sums the uses).
   */
  parameters(): Parameter[] {
    return uniqueParameters(this.layers.flatMap((l) => l.parameters()));
  }

  /** Allocates this module's buffers for `x` and binds its launches. */
  protected async build(_gpu: Gpu, x: Activation, options: PlanOptions): Promise<Plan> {
    // A layer listed twice: its plans must sum their gradients.
    tieRepeated(this.layers.flatMap((l) => l.parameters()));
    const plans: Plan[] = [];
    const outputs: LayerOutput[] = [];
    let input = x;
    for (let i = 0; i < this.layers.length; i++) {
      const layer = this.layers[i];
      const next = this.layers[i + 1];
      const fuse = next instanceof ReLU && layer.fusesRelu;
      const last = i === this.layers.length - 1;
      const plan = await layer.plan(input, {
        fuseRelu: fuse || (last && options.fuseRelu),
        forwardOnly: options.forwardOnly,
      });
      plans.push(plan);
      outputs.push(...(plan.outputs ?? [{ module: layer, activation: plan.output }]));
      input = plan.output;
      if (fuse) i++; // the ReLU is done
    }
    return {
      output: input,
      outputs,
      forward: () => {
        for (const p of plans) p.forward();
      },
      backward: () => {
        for (let i = plans.length - 1; i >= 0; i--) plans[i].backward();
      },
    };
  }
}
