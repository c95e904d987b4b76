/**
 * ONNX export of a trained ArbNet, so it runs in any ONNX runtime.
 *
 * The virtual matrix stays virtual in the file: each ArbLinear becomes
 * `W = Gather(table ‖ 0, indices)` (indices shaped `[nIn, nOut]`, so the
 * gather already has the matrix's shape, and the zero slot reads the
 * appended 0), then `W · Cast(signs)` when the hash has signs, then
 * `MatMul(x, W)` and `Add(bias)`. A dense layer stores its table as the
 * `[nIn, nOut]` matrix. ReLU and Tanh become `Relu` and `Tanh`; a
 * ChannelBias adds its bias over a `[batch, channels, pixels]` view; an RNN
 * is unrolled over its steps, each slicing its frame from the input row.
 * `Softmax` is optional at the end. Opset 13, IR version 7.
 *
 * The protobuf encoding is hand-rolled (`onnx_proto.ts`).
 *
 * Layer: io; imports `lib/nn` and `lib/errors.ts`.
 * @module
 */

import { ArbnetError } from "../errors.ts";
import { ArbLinear } from "../nn/arb_linear.ts";
import { ReLU, Tanh } from "../nn/layers.ts";
import { ChannelBias } from "../nn/channel_bias.ts";
import { RNN } from "../nn/rnn.ts";
import { type RecordedLayer, recordedLayers } from "./layers.ts";
import {
  FLOAT,
  floatValueInfo,
  INT64,
  INT8,
  intAttribute,
  node,
  Pb,
  tensor,
} from "./onnx_proto.ts";
import type { Module } from "../nn/module.ts";

/** Options of {@linkcode exportOnnx}. */
export interface OnnxExportOptions {
  /** End with a Softmax (output `probabilities`) instead of raw `logits`. Default false. */
  softmax?: boolean;
  /** Batch dimension: a fixed size, or `"dynamic"` (a symbolic `batch`). Default `"dynamic"`. */
  batch?: number | "dynamic";
  /** Graph name. Default `"arbnet"`. */
  name?: string;
}

/** The ONNX opset the export targets. */
export const ONNX_OPSET = 13;
/** The ONNX IR version written (the one that goes with opset 13). */
export const ONNX_IR_VERSION = 7;

type Layer = RecordedLayer;

/** The graph's nodes and initializers as they are emitted, in order. */
class Graph {
  readonly nodes: Pb[] = [];
  readonly initializers: Pb[] = [];

  /** Appends a node; returns its output's name. */
  node(op: string, inputs: string[], output: string, attributes: Pb[] = []): string {
    this.nodes.push(node(op, inputs, output, attributes));
    return output;
  }

  /** Appends an initializer; returns its name. */
  init(
    name: string,
    dataType: number,
    dims: number[],
    data: Float32Array | BigInt64Array | Int8Array,
  ): string {
    this.initializers.push(tensor(name, dataType, dims, data));
    return name;
  }

  /** An int64 vector initializer (shapes, slice bounds). */
  ints(name: string, values: number[]): string {
    return this.init(name, INT64, [values.length], BigInt64Array.from(values, BigInt));
  }
}

/**
 * The `[nIn, nOut]` weight matrix of an ArbLinear: its table for a dense
 * layer, else `Gather(table ‖ 0, indices)`, times the signs when it has
 * them. Returns the matrix's name.
 */
async function weightOf(g: Graph, l: ArbLinear, p: string): Promise<string> {
  const c = l.config;
  const table = await l.table.read();
  if (l.isDense) return g.init(`${p}.weight`, FLOAT, [c.inFeatures, c.outFeatures], table);
  const withZero = new Float32Array(c.tableSize + 1);
  withZero.set(table);
  const indices = BigInt64Array.from(l.indices, BigInt);
  g.init(`${p}.table`, FLOAT, [c.tableSize + 1], withZero);
  g.init(`${p}.indices`, INT64, [c.inFeatures, c.outFeatures], indices);
  const w = g.node("Gather", [`${p}.table`, `${p}.indices`], `${p}.gathered`, [
    intAttribute("axis", 0),
  ]);
  if (!l.signs) return w;
  g.init(`${p}.signs`, INT8, [c.inFeatures, c.outFeatures], l.signs);
  g.node("Cast", [`${p}.signs`], `${p}.signs_f32`, [intAttribute("to", FLOAT)]);
  return g.node("Mul", [w, `${p}.signs_f32`], `${p}.weight`);
}

/**
 * An ArbLinear as `x · W (+ bias)`: its matrix and bias become initializers
 * once (named under `p`), and the returned function adds the product for an
 * input `x` under the node names `q`.
 */
async function linearOf(
  g: Graph,
  l: ArbLinear,
  p: string,
): Promise<(x: string, q: string) => string> {
  const w = await weightOf(g, l, p);
  const bias = l.bias
    ? g.init(`${p}.bias`, FLOAT, [l.config.outFeatures], await l.bias.read())
    : null;
  return (x, q) => {
    const y = g.node("MatMul", [x, w], `${q}.matmul`);
    return bias ? g.node("Add", [y, bias], `${q}.out`) : y;
  };
}

/**
 * An RNN unrolled over its steps: frame `t` sliced from the input row,
 * `h_0 = tanh(x_0·W_x + b)`, `h_t = tanh(x_t·W_x + b + h_{t−1}·W_h)`, as
 * the module computes it (`lib/nn/rnn.ts`). Returns the last state's name.
 */
async function unrollRnn(g: Graph, l: RNN, x: string, p: string): Promise<string> {
  const F = l.input.config.inFeatures;
  const input = await linearOf(g, l.input, `${p}.input`);
  const recurrent = await linearOf(g, l.recurrent, `${p}.recurrent`);
  const axes = g.ints(`${p}.axes`, [1]);
  let h = "";
  for (let t = 0; t < l.steps; t++) {
    const q = `${p}.t${t}`;
    const start = g.ints(`${q}.start`, [t * F]);
    const end = g.ints(`${q}.end`, [(t + 1) * F]);
    const frame = g.node("Slice", [x, start, end, axes], `${q}.frame`);
    const u = input(frame, `${q}.input`);
    const a = t === 0 ? u : g.node("Add", [u, recurrent(h, `${q}.recurrent`)], `${q}.sum`);
    h = g.node("Tanh", [a], `${q}.h`);
  }
  return h;
}

/**
 * Encodes `net` as an ONNX model (see the module doc for the graph). Reads
 * the parameters from the GPU. Input `input` is `[batch, inFeatures]`
 * float32; the output is `logits` (or `probabilities` with `softmax`).
 */
export async function encodeOnnx(
  net: Module,
  options: OnnxExportOptions = {},
): Promise<Uint8Array> {
  const batch = options.batch ?? "dynamic";
  if (batch !== "dynamic" && !(Number.isSafeInteger(batch) && batch >= 1)) {
    throw new ArbnetError(`invalid ONNX batch ${batch}: expected a positive integer or "dynamic"`);
  }
  const layers = recordedLayers(net, "export to ONNX");
  const inputs = inFeaturesOf(layers);
  const g = new Graph();
  let x = "input";
  let features = inputs;
  for (let i = 0; i < layers.length; i++) {
    const l = layers[i];
    const p = `layers.${i}`;
    if (l instanceof ReLU || l instanceof Tanh) {
      x = g.node(
        l instanceof ReLU ? "Relu" : "Tanh",
        [x],
        `${p}.${l instanceof ReLU ? "relu" : "tanh"}`,
      );
      continue;
    }
    const expected = inFeatures(l);
    if (expected !== features) {
      throw new ArbnetError(`layer ${i} expects ${expected} features but receives ${features}`);
    }
    if (l instanceof ChannelBias) {
      // [batch, C·P] → [batch, C, P] + bias[C, 1] → back.
      const grid = g.node(
        "Reshape",
        [x, g.ints(`${p}.grid`, [-1, l.channels, l.pixels])],
        `${p}.grid_x`,
      );
      g.init(`${p}.bias`, FLOAT, [l.channels, 1], await l.bias.read());
      const y = g.node("Add", [grid, `${p}.bias`], `${p}.biased`);
      x = g.node("Reshape", [y, g.ints(`${p}.flat`, [-1, features])], `${p}.out`);
      continue;
    }
    if (l instanceof RNN) {
      x = await unrollRnn(g, l, x, p);
      features = l.hidden;
      continue;
    }
    x = (await linearOf(g, l, p))(x, p);
    features = l.config.outFeatures;
  }
  const output = options.softmax ? "probabilities" : "logits";
  // Opset 13's Softmax normalises over the last axis by default.
  g.node(options.softmax ? "Softmax" : "Identity", [x], output);
  const graph = new Pb();
  for (const n of g.nodes) graph.message(1, n);
  graph.string(2, options.name ?? "arbnet");
  for (const t of g.initializers) graph.message(5, t);
  graph.message(11, floatValueInfo("input", batch, inputs));
  graph.message(12, floatValueInfo(output, batch, features));

  const meta = (key: string, value: string) => new Pb().string(1, key).string(2, value);
  return new Pb()
    .int(1, ONNX_IR_VERSION)
    .string(2, "arbnet")
    .string(3, "0.1.0")
    .string(6, "An ArbNet: hashed virtual weight matrices, gathered from small tables.")
    .message(7, graph)
    .message(8, new Pb().int(2, ONNX_OPSET))
    .message(14, meta("arbnet.layers", JSON.stringify(layers.map(describe))))
    .finish();
}

/** The features a layer reads, or null for an activation (it reads what it gets). */
function inFeatures(l: Layer): number | null {
  if (l instanceof ArbLinear) return l.config.inFeatures;
  if (l instanceof RNN) return l.steps * l.input.config.inFeatures;
  if (l instanceof ChannelBias) return l.channels * l.pixels;
  return null;
}

/** The network's input features: its first layer's. */
function inFeaturesOf(layers: readonly Layer[]): number {
  for (const l of layers) {
    const n = inFeatures(l);
    if (n !== null) return n;
  }
  throw new ArbnetError("the network has no ArbLinear layer to export");
}

/** A layer as the model's `arbnet.layers` metadata records it. */
function describe(l: Layer): Record<string, unknown> {
  if (l instanceof ArbLinear) return { kind: "arblinear", config: l.config };
  if (l instanceof RNN) {
    return { kind: "rnn", steps: l.steps, input: l.input.config, recurrent: l.recurrent.config };
  }
  if (l instanceof ChannelBias) {
    return { kind: "channelbias", channels: l.channels, pixels: l.pixels };
  }
  return { kind: l instanceof ReLU ? "relu" : "tanh" };
}

/**
 * Writes `net` as an ONNX model to `path` (see {@linkcode encodeOnnx}).
 *
 * @example
 * ```ts ignore
 * await exportOnnx(net, "out/mnist.onnx", { softmax: true });
 * ```
 */
export async function exportOnnx(
  net: Module,
  path: string,
  options: OnnxExportOptions = {},
): Promise<void> {
  const bytes = await encodeOnnx(net, options);
  try {
    await Deno.writeFile(path, bytes);
  } catch (e) {
    throw new ArbnetError(`cannot write ONNX model ${path}: ${(e as Error).message}`);
  }
}
