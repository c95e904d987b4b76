/**
 * `RNN`: an Elman recurrent network as an ArbNet, `h_t = tanh(x_t·W_x +
 * h_{t−1}·W_h + b)` from `h_{−1} = 0`, whose output is the last state. `W_x`
 * and `W_h` are ArbLinear layers, so any hash shares their weights; `W_h`
 * is one layer applied at every step (a tied module: its gradient sums the
 * steps), and the products `x_t·W_x` of all steps run as one matmul.
 *
 * Layer: nn.
 * @module
 */

import type { Gpu, Launch } from "../gpu/device.ts";
import { ArbnetError } from "../errors.ts";
import { elementwiseLaunch, rnnStepLaunch } from "../../shaders/elementwise.ts";
import type { ArbLinear } from "./arb_linear.ts";
import {
  type Activation,
  activationBytes,
  allocActivation,
  expectFeatures,
  forwardOnlyError,
  Module,
  type Parameter,
  type Plan,
  type PlanOptions,
  tieRepeated,
  uniqueParameters,
} from "./module.ts";

/** Options of {@linkcode RNN}. */
export interface RnnOptions {
  /**
   * `W_x` (and `b`): features per step → hidden size. Its bias is the
   * RNN's `b`.
   */
  input: ArbLinear;
  /** `W_h`: hidden → hidden, applied at every step; usually without a bias (`b` is the input's). */
  recurrent: ArbLinear;
  /** Time steps `T` of each sequence (≥ 1). */
  steps: number;
}

/**
 * An Elman RNN over sequences of `steps` frames. Its input rows hold the
 * frames one after the other (`steps × input.inFeatures` values, e.g. an
 * MNIST image read row by row: 28 frames of 28 pixels); its output is the
 * last hidden state, `recurrent.outFeatures` per row.
 *
 * @example
 * ```ts
 * import { requestDevice } from "../gpu/device.ts";
 * import { hashes } from "../hash/mod.ts";
 * import { ArbLinear } from "./arb_linear.ts";
 * import { Sequential } from "./layers.ts";
 * import { RNN } from "./rnn.ts";
 * const gpu = await requestDevice();
 * const hash = hashes.uniform();
 * const rnn = new RNN({
 *   input: new ArbLinear(gpu, { inFeatures: 28, outFeatures: 64, hash, tableFraction: 1 / 4 }),
 *   recurrent: new ArbLinear(gpu, {
 *     inFeatures: 64, outFeatures: 64, hash, tableFraction: 1 / 4, bias: false, seed: 1,
 *   }),
 *   steps: 28,
 * });
 * const net = new Sequential([
 *   rnn,
 *   new ArbLinear(gpu, { inFeatures: 64, outFeatures: 10, hash: hashes.dense(), seed: 2 }),
 * ]);
 * console.log(net.parameters().length); // 4: W_x, b, W_h, and the head's table and bias
 * gpu.destroy();
 * ```
 */
export class RNN extends Module {
  /** `W_x` and `b`. */
  readonly input: ArbLinear;
  /** `W_h`, applied at every step. */
  readonly recurrent: ArbLinear;
  /** Time steps per sequence. */
  readonly steps: number;

  /** Checks that the layers' shapes chain: `input.out = recurrent.in = recurrent.out`. */
  constructor(options: RnnOptions) {
    super();
    const { input, recurrent, steps } = options;
    if (!Number.isInteger(steps) || steps < 1) {
      throw new ArbnetError(`invalid steps: ${steps}; expected a positive integer`);
    }
    const hidden = recurrent.config.outFeatures;
    if (recurrent.config.inFeatures !== hidden || input.config.outFeatures !== hidden) {
      throw new ArbnetError(
        `an RNN needs input.outFeatures = recurrent.inFeatures = recurrent.outFeatures (the ` +
          `hidden size); got ${input.description} and ${recurrent.description}`,
      );
    }
    if (input.gpu !== recurrent.gpu) {
      throw new ArbnetError("an RNN's input and recurrent layers must live on one device");
    }
    this.input = input;
    this.recurrent = recurrent;
    this.steps = steps;
  }

  /** The layers' device. */
  get gpu(): Gpu {
    return this.input.gpu;
  }

  /** Hidden size (the output features). */
  get hidden(): number {
    return this.recurrent.config.outFeatures;
  }

  /** `W_x`, `b` and `W_h` (and `W_h`'s bias, if any), each once. */
  parameters(): Parameter[] {
    return uniqueParameters([...this.input.parameters(), ...this.recurrent.parameters()]);
  }

  /** Allocates this module's buffers for `x` and binds its launches. */
  protected async build(gpu: Gpu, x: Activation, options: PlanOptions): Promise<Plan> {
    const T = this.steps, F = this.input.config.inFeatures, H = this.hidden, B = x.rows;
    expectFeatures(x, T * F, `RNN (${T} steps of ${F} features)`);
    const forwardOnly = options.forwardOnly === true;
    const training = !forwardOnly;
    // W_h runs at steps 1 … T−1; the input layer's table may be shared with it.
    tieRepeated([
      ...this.input.parameters(),
      ...Array.from({ length: T - 1 }, () => this.recurrent.parameters()).flat(),
    ]);
    // Frames by step, so the input products of all steps are one matmul and
    // each step's block of them lies together.
    const frames = allocActivation(gpu, B * T, F, "rnn.frames", training && x.grad !== null);
    const order = { batch: B, steps: T, features: F };
    const toSteps = await elementwiseLaunch(gpu, "time_major", B * T * F, {
      x: x.buffer,
      y: frames.buffer,
    }, order);
    const fromSteps = frames.grad
      ? await elementwiseLaunch(gpu, "time_major", B * T * F, {
        x: frames.grad,
        y: x.grad!,
      }, { batch: T, steps: B, features: F })
      : null;
    const inputs = await this.input.plan(frames, { forwardOnly });
    const u = inputs.output;
    // h_{−1}·W_h = 0: step 0 adds zeros, and its `da` goes nowhere.
    const zeros = gpu.buffer(activationBytes(B, H), "rnn.zeros");
    const sink = training ? gpu.buffer(activationBytes(B, H), "rnn.da0") : null;
    const n = B * H;
    const steps: { plan: Plan | null; forward: Launch; backward: Launch | null }[] = [];
    let h: Activation | null = null;
    for (let t = 0; t < T; t++) {
      const plan: Plan | null = h ? await this.recurrent.plan(h, { forwardOnly }) : null;
      const next = allocActivation(gpu, B, H, `rnn.h${t}`, training);
      const forward = await rnnStepLaunch(gpu, "rnn_step_forward", n, t * n, {
        a: plan?.output.buffer ?? zeros,
        u: u.buffer,
        h: next.buffer,
      });
      const backward = training
        ? await rnnStepLaunch(gpu, "rnn_step_backward", n, t * n, {
          h: next.buffer,
          dh: next.grad!,
          da: plan?.output.grad ?? sink!,
          du: u.grad!,
        })
        : null;
      steps.push({ plan, forward, backward });
      h = next;
    }
    return {
      output: h!,
      forward: () => {
        gpu.dispatch(toSteps.launch);
        inputs.forward();
        for (const s of steps) {
          s.plan?.forward();
          gpu.dispatch(s.forward);
        }
      },
      backward: () => {
        if (forwardOnly) throw forwardOnlyError("RNN");
        for (let t = T - 1; t >= 0; t--) {
          gpu.dispatch(steps[t].backward!);
          steps[t].plan?.backward();
        }
        inputs.backward();
        if (fromSteps) gpu.dispatch(fromSteps.launch);
      },
    };
  }
}
