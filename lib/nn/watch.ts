/**
 * The divergence watch: flags on the GPU that record, per layer output and
 * per parameter, the first training step at which it held a NaN or an
 * infinity. Recording costs one small dispatch per watched tensor per step
 * and no readback; a parameter handed over to its optimizer
 * (`Optimizer.watchUpdates`: SGD and Adam) costs nothing extra, its update
 * testing the values it writes instead of a pass of its own over the
 * weights (docs/performance.md). The flags are read only when someone asks (`fit`
 * does at each metrics read), and then say where a run went bad and when.
 *
 * Layer: nn; imports `lib/gpu` and the `nonfinite` kernel.
 * @module
 */

import type { Gpu, Launch } from "../gpu/device.ts";
import { ArbnetError } from "../errors.ts";
import { NEVER, nonFiniteLaunch } from "../../shaders/nonfinite.ts";
import type { LayerOutput, Parameter } from "./module.ts";

/** Where and when non-finite values first appeared. */
export interface NonFiniteReport {
  /** The step (as set by {@linkcode NonFiniteWatch.setStep}) at which they were first recorded. */
  step: number;
  /** What held them, e.g. `"the output of layer 2 of 2, ArbLinear layer1 (16×4, uniform hash)"`. */
  where: string;
}

function describe(m: LayerOutput["module"]): string {
  const d = (m as { description?: unknown }).description;
  return typeof d === "string" ? d : m.constructor.name;
}

/**
 * Watches a network's layer outputs (for every batch size it is planned
 * for) and its parameters. Build with {@linkcode NonFiniteWatch.create}.
 */
export class NonFiniteWatch {
  /** Word 0: the current step; word 1 + i: first bad step of watched tensor i. */
  readonly buffer: GPUBuffer;
  readonly #gpu: Gpu;
  readonly #labels: string[];
  readonly #layers: number;
  /** The watched parameters, in flag order after the layers. */
  readonly #paramOrder: readonly Parameter[];
  /** The watch of each parameter not handed over to its optimizer's update. */
  readonly #params = new Map<Parameter, Launch>();
  readonly #step = new Uint32Array(1);
  readonly #cleared: Uint32Array;

  private constructor(
    gpu: Gpu,
    buffer: GPUBuffer,
    labels: string[],
    layers: number,
    params: readonly Parameter[],
  ) {
    this.#paramOrder = [...params];
    this.#gpu = gpu;
    this.buffer = buffer;
    this.#labels = labels;
    this.#layers = layers;
    this.#cleared = new Uint32Array(1 + labels.length).fill(NEVER);
    this.#cleared[0] = 0;
  }

  /**
   * Allocates the flags for the layers of `outputs` (their order is the
   * forward order, fixed for every batch size) and binds the watch of every
   * parameter.
   */
  static async create(
    gpu: Gpu,
    outputs: readonly LayerOutput[],
    params: readonly Parameter[],
  ): Promise<NonFiniteWatch> {
    const n = outputs.length;
    const labels = [
      ...outputs.map((o, i) => `the output of layer ${i + 1} of ${n}, ${describe(o.module)}`),
      ...params.map((p) => `parameter ${p.name} (checked after the optimizer update)`),
    ];
    const buffer = gpu.buffer((1 + labels.length) * 4, "nonfinite.flags");
    const watch = new NonFiniteWatch(gpu, buffer, labels, n, params);
    watch.reset();
    for (let i = 0; i < params.length; i++) {
      watch.#params.set(
        params[i],
        await nonFiniteLaunch(gpu, params[i].size, n + i, params[i].data, buffer),
      );
    }
    return watch;
  }

  /** Binds the watch of one planned batch size's layer outputs. */
  async bindOutputs(outputs: readonly LayerOutput[]): Promise<Launch[]> {
    if (outputs.length !== this.#layers) {
      throw new ArbnetError(
        `the network has ${outputs.length} layers for this batch size but ${this.#layers} before`,
      );
    }
    const out: Launch[] = [];
    for (let i = 0; i < outputs.length; i++) {
      const a = outputs[i].activation;
      out.push(await nonFiniteLaunch(this.#gpu, a.rows * a.features, i, a.buffer, this.buffer));
    }
    return out;
  }

  /** Sets the step number recorded by the work recorded next (lands before the next submit). */
  setStep(step: number): void {
    this.#step[0] = step;
    this.#gpu.write(this.buffer, this.#step, 0, false);
  }

  /** Records the watch of the parameters not handed over (after the optimizer's update). */
  recordParameters(): void {
    for (const l of this.#params.values()) this.#gpu.dispatch(l);
  }

  /** The flag slot of a parameter (its word is `1 + slot`), or -1 if it is not watched. */
  slotOf(p: Parameter): number {
    const i = this.#paramOrder.indexOf(p);
    return i < 0 ? -1 : this.#layers + i;
  }

  /**
   * Stops recording `p` here: its optimizer's update now records the same
   * flag as it writes (`Optimizer.watchUpdates`), saving a pass over `p`.
   */
  handOver(p: Parameter): void {
    this.#params.delete(p);
  }

  /** Forgets everything recorded so far. */
  reset(): void {
    this.#gpu.write(this.buffer, this.#cleared);
  }

  /**
   * Reads the flags (waits for the GPU): the earliest step at which any
   * watched tensor went non-finite and which one, or null if none has. Within
   * a step, layer outputs come in forward order and before the update.
   */
  async read(): Promise<NonFiniteReport | null> {
    const flags = await this.#gpu.readU32(this.buffer, 1 + this.#labels.length);
    let best = -1;
    for (let i = 0; i < this.#labels.length; i++) {
      if (flags[1 + i] !== NEVER && (best < 0 || flags[1 + i] < flags[1 + best])) best = i;
    }
    return best < 0 ? null : { step: flags[1 + best], where: this.#labels[best] };
  }
}
