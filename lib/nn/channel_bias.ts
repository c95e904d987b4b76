/**
 * `ChannelBias`: one learned bias per channel of a channel-major activation
 * (feature `c·pixels + p`), as a convolution has. An ArbLinear's own bias is
 * per output feature, i.e. per output *pixel* of a conv2d layer; a CNN
 * layer is an ArbLinear with `bias: false` and the conv2d hash followed by
 * a ChannelBias (see {@linkcode conv2dLayer}).
 *
 * Layer: nn; imports `lib/gpu`, the kernels, `lib/hash`.
 * @module
 */

import type { Gpu } from "../gpu/device.ts";
import { invalidOption } from "../errors.ts";
import { type Conv2dOptions, conv2dOutputSize, conv2dShape } from "../hash/conv2d.ts";
import { hashes } from "../hash/registry.ts";
import type { Hash } from "../hash/types.ts";
import { channelBiasGradLaunch, channelBiasLaunch } from "../../shaders/channel_bias.ts";
import { ArbLinear, type ArbLinearOptions } from "./arb_linear.ts";
import { Sequential } from "./layers.ts";
import {
  type Activation,
  activationBytes,
  allocActivation,
  expectFeatures,
  forwardOnlyError,
  Module,
  Parameter,
  type Plan,
  type PlanOptions,
} from "./module.ts";

/** Options of {@linkcode ChannelBias}. */
export interface ChannelBiasOptions {
  /** Channels: bias entries, a positive integer. */
  channels: number;
  /** Pixels per channel, a positive integer; the layer takes `channels · pixels` features. */
  pixels: number;
  /** Label prefix of the parameter and buffers. Default `"channelbias"`. */
  name?: string;
}

/**
 * `y[m, c·pixels + p] = x[m, c·pixels + p] + bias[c]`: a bias shared by every
 * pixel of a channel. Starts at zero.
 *
 * @example
 * ```ts
 * import { requestDevice } from "../gpu/device.ts";
 * import { ChannelBias } from "./channel_bias.ts";
 * const gpu = await requestDevice();
 * const b = new ChannelBias(gpu, { channels: 8, pixels: 12 * 12 });
 * console.log(b.features); // 1152
 * gpu.destroy();
 * ```
 */
export class ChannelBias extends Module {
  /** The layer's name (option `name`). */
  readonly name: string;
  /** Channels. */
  readonly channels: number;
  /** Pixels per channel. */
  readonly pixels: number;
  /** The bias, one value per channel. */
  readonly bias: Parameter;
  readonly #gpu: Gpu;

  /** Allocates a zero bias of `channels` values. */
  constructor(gpu: Gpu, options: ChannelBiasOptions) {
    super();
    const { channels, pixels } = options ?? {};
    for (const [key, v] of [["channels", channels], ["pixels", pixels]] as const) {
      if (!Number.isSafeInteger(v) || v < 1) invalidOption(key, v, "a positive integer");
    }
    const name = options.name ?? "channelbias";
    if (typeof name !== "string" || name === "") invalidOption("name", name, "a non-empty string");
    this.#gpu = gpu;
    this.name = name;
    this.channels = channels;
    this.pixels = pixels;
    this.bias = new Parameter(gpu, `${name}.bias`, new Float32Array(channels));
  }

  /** The device this layer lives on. */
  get gpu(): Gpu {
    return this.#gpu;
  }

  /** Features in and out: `channels · pixels`. */
  get features(): number {
    return this.channels * this.pixels;
  }

  /** How errors name this layer. */
  get description(): string {
    return `ChannelBias ${this.name} (${this.channels} channels × ${this.pixels} pixels)`;
  }

  /** The bias. */
  parameters(): Parameter[] {
    return [this.bias];
  }

  /** Allocates this module's buffers for `x` and binds its launches. */
  protected async build(gpu: Gpu, x: Activation, options: PlanOptions): Promise<Plan> {
    expectFeatures(x, this.features, this.description);
    const forwardOnly = options.forwardOnly === true;
    const out = allocActivation(gpu, x.rows, x.features, `${this.name}.out`, !forwardOnly);
    const shape = { rows: x.rows, channels: this.channels, pixels: this.pixels };
    const forward = await channelBiasLaunch(gpu, shape, {
      x: x.buffer,
      bias: this.bias.data,
      y: out.buffer,
    });
    const grad = forwardOnly
      ? null
      : await channelBiasGradLaunch(gpu, shape, { dy: out.grad!, db: this.bias.grad });
    const bytes = activationBytes(x.rows, x.features);
    return {
      output: out,
      forward: () => gpu.dispatch(forward),
      backward: () => {
        if (!grad) throw forwardOnlyError(this.description);
        gpu.dispatch(grad);
        // The input's gradient is the output's: dy/dx is the identity.
        if (x.grad) gpu.copy(out.grad!, x.grad, bytes);
      },
    };
  }
}

/** Options of {@linkcode conv2dLayer}: the geometry plus the ArbLinear options that still apply. */
export interface Conv2dLayerOptions
  extends Conv2dOptions, Pick<ArbLinearOptions, "seed" | "tile" | "deterministic" | "materialize"> {
  /**
   * The weight-sharing pattern at the convolution's virtual shape. Default
   * `hashes.conv2d(geometry)`; `hashes.dense()` gives a dense layer of the
   * same shape (the fully connected baseline), any other family a hashed one.
   */
  hash?: Hash;
  /** Table size. Default: the kernel's (`outChannels·inChannels·kernel²`) for the conv2d family, else ArbLinear's rule. */
  tableSize?: number;
  /** A per-channel bias after the product. Default true. */
  bias?: boolean;
  /** Name prefix of the two layers. Default `"conv"`. */
  name?: string;
}

/**
 * A convolution layer as an ArbNet: an ArbLinear with the conv2d hash (no
 * per-pixel bias), initialised for the receptive field, then a
 * {@linkcode ChannelBias}. Input and output are flattened channel-major
 * images (`C×H×W`).
 *
 * @param gpu the device
 * @param options the geometry (`inChannels`, `outChannels`, `kernel`,
 *   `stride`, `padding`, `height`, `width`) and layer options
 * @returns a Sequential of the two layers; its output has
 *   `outChannels · H' · W'` features ({@linkcode conv2dOutputSize})
 *
 * @example
 * ```ts
 * import { requestDevice } from "../gpu/device.ts";
 * import { conv2dLayer } from "./channel_bias.ts";
 * const gpu = await requestDevice();
 * const conv = conv2dLayer(gpu, {
 *   inChannels: 1, outChannels: 8, kernel: 5, stride: 2, height: 28, width: 28,
 * });
 * console.log(conv.parameters().map((p) => p.size)); // [200, 8]
 * gpu.destroy();
 * ```
 */
export function conv2dLayer(gpu: Gpu, options: Conv2dLayerOptions): Sequential {
  const geometry: Conv2dOptions = {
    inChannels: options.inChannels,
    outChannels: options.outChannels,
    kernel: options.kernel,
    stride: options.stride,
    padding: options.padding,
    height: options.height,
    width: options.width,
  };
  const shape = conv2dShape(geometry);
  const out = conv2dOutputSize(geometry);
  const name = options.name ?? "conv";
  const hash = options.hash ?? hashes.conv2d(geometry);
  const linear = new ArbLinear(gpu, {
    inFeatures: shape.rows,
    outFeatures: shape.cols,
    hash,
    // The conv2d family needs its kernel's size; others follow their own rule.
    tableSize: options.tableSize ?? (hash.family === "conv2d" ? shape.tableSize : undefined),
    seed: options.seed,
    tile: options.tile,
    deterministic: options.deterministic,
    materialize: options.materialize,
    bias: false,
    name: `${name}.weight`,
  });
  const layers: Module[] = [linear];
  if (options.bias ?? true) {
    layers.push(
      new ChannelBias(gpu, {
        channels: options.outChannels,
        pixels: out.height * out.width,
        name: `${name}.bias`,
      }),
    );
  }
  return new Sequential(layers);
}
