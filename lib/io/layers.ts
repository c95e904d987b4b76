/**
 * The layers the file formats record (checkpoints, ONNX export): a network
 * as the ordered list of its layers, nested Sequentials flattened, as the
 * state dict numbers them.
 *
 * Layer: io; imports `lib/nn`.
 * @module
 */

import { ArbnetError } from "../errors.ts";
import { ArbLinear } from "../nn/arb_linear.ts";
import { ChannelBias } from "../nn/channel_bias.ts";
import { ReLU, Sequential, Tanh } from "../nn/layers.ts";
import type { Module } from "../nn/module.ts";
import { RNN } from "../nn/rnn.ts";

/** A layer checkpoints and ONNX export know. */
export type RecordedLayer = ArbLinear | ReLU | Tanh | ChannelBias | RNN;

/**
 * `net`'s layers in order, nested Sequentials flattened; throws naming the
 * first module no format knows, with `action` (e.g. `"checkpoint"`) in the
 * message.
 */
export function recordedLayers(net: Module, action: string): RecordedLayer[] {
  return layersOf(net, action, false) as RecordedLayer[];
}

/**
 * `net`'s layers in order, nested Sequentials flattened, modules no format
 * knows (a researcher's own layers) among them as they are.
 */
export function layersWithOwn(net: Module): (RecordedLayer | Module)[] {
  return layersOf(net, "", true);
}

function layersOf(net: Module, action: string, own: boolean): (RecordedLayer | Module)[] {
  if (
    net instanceof ArbLinear || net instanceof ReLU || net instanceof Tanh ||
    net instanceof ChannelBias || net instanceof RNN
  ) return [net];
  if (net instanceof Sequential) return net.layers.flatMap((l) => layersOf(l, action, own));
  if (own) return [net];
  throw new ArbnetError(
    `cannot ${action} a ${net.constructor.name}: only Sequential, ArbLinear (or Linear), ` +
      "ChannelBias, RNN, ReLU and Tanh are supported",
  );
}
