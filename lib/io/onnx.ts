/**
 * ONNX export of a trained ArbNet, so it runs in any ONNX runtime.
 *
 * The virtual matrix stays virtual in the file: each ArbLinear becomes
 * `W = Gather(table ‖ 0, indices)` (indices shaped `[nIn, nOut]`, so the
 * gather already has the matrix's shape, and the zero slot reads the
 * appended 0), then `W · Cast(signs)` when the hash has signs, then
 * `MatMul(x, W)` and `Add(bias)`. A dense layer stores its table as the
 * `[nIn, nOut]` matrix. ReLU becomes `Relu`; `Softmax` is optional at the
 * end. Opset 13, IR version 7.
 *
 * The protobuf encoding is hand-rolled: the export needs eight messages and
 * a handful of fields (numbers from onnx/onnx.proto), far less than a
 * protobuf library.
 *
 * Layer: io; imports `lib/nn` and `lib/errors.ts`.
 * @module
 */

import { ArbnetError } from "../errors.ts";
import { ArbLinear } from "../nn/arb_linear.ts";
import { ReLU, Sequential } from "../nn/layers.ts";
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

// TensorProto.DataType values.
const FLOAT = 1;
const INT8 = 3;
const INT64 = 7;

/** A protobuf message under construction: fields are appended in order. */
class Pb {
  readonly #chunks: Uint8Array[] = [];
  #length = 0;

  #push(b: Uint8Array): void {
    this.#chunks.push(b);
    this.#length += b.length;
  }

  #key(field: number, wire: number): void {
    this.#push(varint(BigInt(field * 8 + wire)));
  }

  /** A varint field (int32, int64, enum); negatives as 64-bit two's complement. */
  int(field: number, value: number): this {
    this.#key(field, 0);
    this.#push(varint(BigInt.asUintN(64, BigInt(value))));
    return this;
  }

  /** A length-delimited field. */
  bytes(field: number, data: Uint8Array): this {
    this.#key(field, 2);
    this.#push(varint(BigInt(data.length)));
    this.#push(data);
    return this;
  }

  /** A UTF-8 string field. */
  string(field: number, s: string): this {
    return this.bytes(field, new TextEncoder().encode(s));
  }

  /** An embedded message field. */
  message(field: number, m: Pb): this {
    return this.bytes(field, m.finish());
  }

  /** The encoded message. */
  finish(): Uint8Array {
    const out = new Uint8Array(this.#length);
    let at = 0;
    for (const c of this.#chunks) {
      out.set(c, at);
      at += c.length;
    }
    return out;
  }
}

function varint(v: bigint): Uint8Array {
  const out: number[] = [];
  while (v >= 0x80n) {
    out.push(Number(v & 0x7fn) | 0x80);
    v >>= 7n;
  }
  out.push(Number(v));
  return new Uint8Array(out);
}

function rawBytes(a: Float32Array | BigInt64Array | Int8Array): Uint8Array {
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
}

/** TensorProto: dims = 1, data_type = 2, name = 8, raw_data = 9. */
function tensor(
  name: string,
  dataType: number,
  dims: number[],
  data: Float32Array | BigInt64Array | Int8Array,
): Pb {
  const t = new Pb();
  for (const d of dims) t.int(1, d);
  return t.int(2, dataType).string(8, name).bytes(9, rawBytes(data));
}

/** NodeProto: input = 1, output = 2, name = 3, op_type = 4, attribute = 5. */
function node(
  op: string,
  inputs: string[],
  output: string,
  attributes: Pb[] = [],
): Pb {
  const n = new Pb();
  for (const i of inputs) n.string(1, i);
  n.string(2, output).string(3, output).string(4, op);
  for (const a of attributes) n.message(5, a);
  return n;
}

/** AttributeProto of type INT: name = 1, i = 3, type = 20 (INT = 2). */
function intAttribute(name: string, value: number): Pb {
  return new Pb().string(1, name).int(3, value).int(20, 2);
}

/** ValueInfoProto of a float tensor `[batch, features]`. */
function floatValueInfo(name: string, batch: number | "dynamic", features: number): Pb {
  const dim = (d: number | string) =>
    typeof d === "string" ? new Pb().string(2, d) : new Pb().int(1, d);
  const shape = new Pb()
    .message(1, dim(batch === "dynamic" ? "batch" : batch))
    .message(1, dim(features));
  const tensorType = new Pb().int(1, FLOAT).message(2, shape);
  return new Pb().string(1, name).message(2, new Pb().message(1, tensorType));
}

function flatten(net: Module): (ArbLinear | ReLU)[] {
  if (net instanceof ArbLinear || net instanceof ReLU) return [net];
  if (net instanceof Sequential) return net.layers.flatMap(flatten);
  throw new ArbnetError(
    `cannot export a ${net.constructor.name} to ONNX: only Sequential, ArbLinear (or Linear) ` +
      "and ReLU are supported",
  );
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
  const layers = flatten(net);
  const first = layers.find((l) => l instanceof ArbLinear) as ArbLinear | undefined;
  if (!first) throw new ArbnetError("the network has no ArbLinear layer to export");
  const graph = new Pb();
  const initializers: Pb[] = [];
  let x = "input";
  let features = first.config.inFeatures;
  for (let i = 0; i < layers.length; i++) {
    const l = layers[i];
    const p = `layers.${i}`;
    if (l instanceof ReLU) {
      graph.message(1, node("Relu", [x], `${p}.relu`));
      x = `${p}.relu`;
      continue;
    }
    const c = l.config;
    if (c.inFeatures !== features) {
      throw new ArbnetError(
        `layer ${i} expects ${c.inFeatures} features but receives ${features}`,
      );
    }
    const table = await l.table.read();
    let w: string;
    if (l.isDense) {
      w = `${p}.weight`;
      initializers.push(tensor(w, FLOAT, [c.inFeatures, c.outFeatures], table));
    } else {
      const withZero = new Float32Array(c.tableSize + 1);
      withZero.set(table);
      const indices = new BigInt64Array(l.indices.length);
      for (let k = 0; k < indices.length; k++) indices[k] = BigInt(l.indices[k]);
      initializers.push(tensor(`${p}.table`, FLOAT, [c.tableSize + 1], withZero));
      initializers.push(tensor(`${p}.indices`, INT64, [c.inFeatures, c.outFeatures], indices));
      w = `${p}.gathered`;
      graph.message(
        1,
        node("Gather", [`${p}.table`, `${p}.indices`], w, [intAttribute("axis", 0)]),
      );
      if (l.signs) {
        initializers.push(tensor(`${p}.signs`, INT8, [c.inFeatures, c.outFeatures], l.signs));
        graph.message(
          1,
          node("Cast", [`${p}.signs`], `${p}.signs_f32`, [intAttribute("to", FLOAT)]),
        );
        graph.message(1, node("Mul", [w, `${p}.signs_f32`], `${p}.weight`));
        w = `${p}.weight`;
      }
    }
    graph.message(1, node("MatMul", [x, w], `${p}.matmul`));
    x = `${p}.matmul`;
    if (l.bias) {
      initializers.push(tensor(`${p}.bias`, FLOAT, [c.outFeatures], await l.bias.read()));
      graph.message(1, node("Add", [x, `${p}.bias`], `${p}.out`));
      x = `${p}.out`;
    }
    features = c.outFeatures;
  }
  const output = options.softmax ? "probabilities" : "logits";
  // Opset 13's Softmax normalises over the last axis by default.
  graph.message(1, node(options.softmax ? "Softmax" : "Identity", [x], output));
  graph.string(2, options.name ?? "arbnet");
  for (const t of initializers) graph.message(5, t);
  graph.message(11, floatValueInfo("input", batch, first.config.inFeatures));
  graph.message(12, floatValueInfo(output, batch, features));

  const meta = (key: string, value: string) => new Pb().string(1, key).string(2, value);
  const configs = layers.map((l) =>
    l instanceof ArbLinear ? { kind: "arblinear", config: l.config } : { kind: "relu" }
  );
  return new Pb()
    .int(1, ONNX_IR_VERSION)
    .string(2, "arbnet")
    .string(3, "0.1.0")
    .string(6, "An ArbNet MLP: hashed virtual weight matrices, gathered from small tables.")
    .message(7, graph)
    .message(8, new Pb().int(2, ONNX_OPSET))
    .message(14, meta("arbnet.layers", JSON.stringify(configs)))
    .finish();
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
