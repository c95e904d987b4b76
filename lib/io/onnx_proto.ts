/**
 * The few ONNX protobuf messages the export writes (field numbers from
 * onnx/onnx.proto), encoded by hand: eight messages and a handful of
 * fields, far less than a protobuf library.
 *
 * Layer: io; no imports.
 * @module
 */

// TensorProto.DataType values.
export const FLOAT = 1;
export const INT8 = 3;
export const INT64 = 7;

/** A protobuf message under construction: fields are appended in order. */
export class Pb {
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
export function tensor(
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
export function node(
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
export function intAttribute(name: string, value: number): Pb {
  return new Pb().string(1, name).int(3, value).int(20, 2);
}

/** ValueInfoProto of a float tensor `[batch, features]`. */
export function floatValueInfo(name: string, batch: number | "dynamic", features: number): Pb {
  const dim = (d: number | string) =>
    typeof d === "string" ? new Pb().string(2, d) : new Pb().int(1, d);
  const shape = new Pb()
    .message(1, dim(batch === "dynamic" ? "batch" : batch))
    .message(1, dim(features));
  const tensorType = new Pb().int(1, FLOAT).message(2, shape);
  return new Pb().string(1, name).message(2, new Pb().message(1, tensorType));
}
