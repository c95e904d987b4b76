/**
 * The safetensors container, in memory: an 8-byte little-endian header
 * length `N`, `N` bytes of JSON (`{ name: { dtype, shape, data_offsets },
 * "__metadata__": { string: string } }`), then the raw little-endian tensor
 * bytes. Encoding and strict decoding only; no files, no GPU (the checkpoint
 * module does the I/O).
 *
 * Decoding refuses anything that could silently yield a wrong model: a short
 * file, a header longer than the file, invalid JSON, an unknown dtype, a
 * shape whose size disagrees with its byte range, and byte ranges that are
 * out of bounds, overlap or leave holes (the reference implementation's rules).
 *
 * Over ~350 lines on purpose: the encoder and the strict decoder side by side, each decoding rule
 * next to the format it enforces.
 *
 * Layer: io; imports only `lib/errors.ts`.
 * @module
 */

import { ArbnetError } from "../errors.ts";

/** Element types this module reads and writes, with their sizes in bytes. */
export const SAFETENSORS_DTYPES: Readonly<Record<SafetensorsDtype, number>> = Object.freeze({
  F64: 8,
  F32: 4,
  I64: 8,
  I32: 4,
  U32: 4,
  I16: 2,
  U16: 2,
  I8: 1,
  U8: 1,
});

/** A safetensors element type supported here. */
export type SafetensorsDtype = "F64" | "F32" | "I64" | "I32" | "U32" | "I16" | "U16" | "I8" | "U8";

/** Typed arrays that map onto a {@linkcode SafetensorsDtype}. */
export type TensorArray =
  | Float64Array
  | Float32Array
  | BigInt64Array
  | Int32Array
  | Uint32Array
  | Int16Array
  | Uint16Array
  | Int8Array
  | Uint8Array;

/** A tensor to encode: its values and shape (the dtype follows from the array type). */
export interface TensorInput {
  /** Row-major values; `data.length` must equal the product of `shape`. */
  data: TensorArray;
  /** Dimensions; `[]` is a scalar. */
  shape: readonly number[];
}

/** A decoded tensor: a view of the file's bytes plus its dtype and shape. */
export interface DecodedTensor {
  /** Element type. */
  dtype: SafetensorsDtype;
  /** Dimensions. */
  shape: number[];
  /** The tensor's bytes (a view into the decoded buffer; copy before mutating it). */
  bytes: Uint8Array;
}

/** What a header says, before any tensor bytes are touched. */
export interface SafetensorsHeader {
  /** Tensors in file order, with byte ranges relative to the data section. */
  tensors: { name: string; dtype: SafetensorsDtype; shape: number[]; begin: number; end: number }[];
  /** The `__metadata__` map (empty when absent). */
  metadata: Record<string, string>;
  /** Offset of the data section from the start of the file (8 + header length). */
  dataOffset: number;
}

/** A decoded file. */
export interface Safetensors {
  /** Tensors by name. */
  tensors: Map<string, DecodedTensor>;
  /** The `__metadata__` map. */
  metadata: Record<string, string>;
  /** The data section (all tensors' bytes), e.g. for a checksum. */
  data: Uint8Array;
}

/** Largest header accepted, as in the reference implementation: a guard against garbage lengths. */
export const MAX_HEADER_BYTES = 100_000_000;

// Safetensors is little-endian; so are the platforms Deno and WebGPU run on.
// Refusing a big-endian host beats writing byte-swapped weights.
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

function dtypeOf(a: TensorArray): SafetensorsDtype {
  if (a instanceof Float64Array) return "F64";
  if (a instanceof Float32Array) return "F32";
  if (a instanceof BigInt64Array) return "I64";
  if (a instanceof Int32Array) return "I32";
  if (a instanceof Uint32Array) return "U32";
  if (a instanceof Int16Array) return "I16";
  if (a instanceof Uint16Array) return "U16";
  if (a instanceof Int8Array) return "I8";
  if (a instanceof Uint8Array) return "U8";
  throw new ArbnetError(`cannot store a ${typeName(a)} in safetensors`);
}

function checkHost(): void {
  if (!LITTLE_ENDIAN) {
    throw new ArbnetError("safetensors I/O needs a little-endian host");
  }
}

function elements(shape: readonly number[], what: string): number {
  let n = 1;
  for (const d of shape) {
    if (!Number.isSafeInteger(d) || d < 0) {
      throw new ArbnetError(`${what}: shape ${JSON.stringify(shape)} has an invalid dimension`);
    }
    n *= d;
  }
  if (!Number.isSafeInteger(n)) {
    throw new ArbnetError(`${what}: shape ${JSON.stringify(shape)} is too large`);
  }
  return n;
}

/**
 * Encodes tensors and string metadata as a safetensors file. Tensors are laid
 * out in the order given; the header is padded with spaces to a multiple of
 * 8 bytes so every tensor starts 8-byte aligned in the file.
 *
 * @example
 * ```ts
 * import { decodeSafetensors, encodeSafetensors } from "./safetensors.ts";
 * const bytes = encodeSafetensors(
 *   { w: { data: new Float32Array([1, 2, 3, 4]), shape: [2, 2] } },
 *   { note: "hello" },
 * );
 * const file = decodeSafetensors(bytes);
 * console.log(file.tensors.get("w")!.shape, file.metadata.note); // [2, 2] "hello"
 * ```
 */
export function encodeSafetensors(
  tensors: Record<string, TensorInput>,
  metadata: Record<string, string> = {},
): Uint8Array {
  checkHost();
  const header: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(metadata)) {
    if (typeof v !== "string") {
      throw new ArbnetError(
        `safetensors metadata values must be strings; ${JSON.stringify(k)} is ${typeof v}`,
      );
    }
  }
  if (Object.keys(metadata).length > 0) header.__metadata__ = metadata;
  let offset = 0;
  const parts: Uint8Array[] = [];
  for (const [name, t] of Object.entries(tensors)) {
    if (name === "__metadata__") throw new ArbnetError(`"__metadata__" is not a tensor name`);
    const dtype = dtypeOf(t.data);
    const n = elements(t.shape, `tensor ${name}`);
    if (n !== t.data.length) {
      throw new ArbnetError(
        `tensor ${name}: shape ${
          JSON.stringify(t.shape)
        } has ${n} elements, data has ${t.data.length}`,
      );
    }
    const bytes = new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);
    header[name] = { dtype, shape: [...t.shape], data_offsets: [offset, offset + bytes.length] };
    parts.push(bytes);
    offset += bytes.length;
  }
  const json = new TextEncoder().encode(JSON.stringify(header));
  const padded = Math.ceil(json.length / 8) * 8;
  const out = new Uint8Array(8 + padded + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(padded), true);
  out.set(json, 8);
  out.fill(0x20, 8 + json.length, 8 + padded);
  let at = 8 + padded;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/**
 * Parses and validates a header. `prefix` must hold at least the first
 * `8 + N` bytes of the file; `fileSize` is the whole file's length, so byte
 * ranges are checked against it even when only the header was read.
 *
 * @param source names the file in error messages
 */
export function parseSafetensorsHeader(
  prefix: Uint8Array,
  fileSize: number,
  source = "safetensors data",
): SafetensorsHeader {
  if (fileSize < 8 || prefix.length < 8) {
    throw new ArbnetError(
      `${source} is not a safetensors file: ${fileSize} bytes, shorter than the 8-byte header length`,
    );
  }
  const n = new DataView(prefix.buffer, prefix.byteOffset, 8).getBigUint64(0, true);
  if (n > BigInt(MAX_HEADER_BYTES)) {
    throw new ArbnetError(
      `${source} is not a safetensors file (or is corrupt): header length ${n} exceeds ` +
        `the ${MAX_HEADER_BYTES}-byte limit`,
    );
  }
  const headerLength = Number(n);
  if (8 + headerLength > fileSize) {
    throw new ArbnetError(
      `${source} is truncated or not a safetensors file: the header claims ${headerLength} ` +
        `bytes but the file has only ${fileSize - 8} after the length`,
    );
  }
  if (prefix.length < 8 + headerLength) {
    throw new ArbnetError(`${source}: only ${prefix.length} bytes of the header were given`);
  }
  let raw: unknown;
  try {
    const text = new TextDecoder("utf-8", { fatal: true }).decode(
      prefix.subarray(8, 8 + headerLength),
    );
    raw = JSON.parse(text);
  } catch (e) {
    throw new ArbnetError(
      `${source} is not a safetensors file (or is corrupt): its header is not valid JSON ` +
        `(${(e as Error).message})`,
    );
  }
  if (raw === null || typeof raw !== "object" || Array.isArray(raw)) {
    throw new ArbnetError(`${source}: the safetensors header must be a JSON object`);
  }
  const dataOffset = 8 + headerLength;
  const dataSize = fileSize - dataOffset;
  const metadata: Record<string, string> = {};
  const tensors: SafetensorsHeader["tensors"] = [];
  for (const [name, entry] of Object.entries(raw as Record<string, unknown>)) {
    if (name === "__metadata__") {
      if (entry === null || typeof entry !== "object" || Array.isArray(entry)) {
        throw new ArbnetError(`${source}: __metadata__ must be an object of strings`);
      }
      for (const [k, v] of Object.entries(entry as Record<string, unknown>)) {
        if (typeof v !== "string") {
          throw new ArbnetError(
            `${source}: __metadata__ value ${JSON.stringify(k)} is not a string`,
          );
        }
        metadata[k] = v;
      }
      continue;
    }
    tensors.push(parseEntry(name, entry, dataSize, source));
  }
  tensors.sort((a, b) => a.begin - b.begin || a.end - b.end);
  let expected = 0;
  for (const t of tensors) {
    if (t.begin < expected) {
      throw new ArbnetError(
        `${source}: tensor ${t.name}'s bytes [${t.begin}, ${t.end}) overlap the previous tensor's`,
      );
    }
    if (t.begin > expected) {
      throw new ArbnetError(
        `${source}: bytes [${expected}, ${t.begin}) of the data section belong to no tensor`,
      );
    }
    expected = t.end;
  }
  if (expected !== dataSize) {
    throw new ArbnetError(
      `${source}: the tensors cover ${expected} bytes but the data section has ${dataSize} ` +
        "(trailing bytes: corrupt or not written by a safetensors writer)",
    );
  }
  return { tensors, metadata, dataOffset };
}

function parseEntry(
  name: string,
  entry: unknown,
  dataSize: number,
  source: string,
): SafetensorsHeader["tensors"][number] {
  const e = entry as { dtype?: unknown; shape?: unknown; data_offsets?: unknown } | null;
  if (e === null || typeof e !== "object") {
    throw new ArbnetError(`${source}: header entry ${name} is not an object`);
  }
  const dtype = e.dtype;
  if (typeof dtype !== "string" || !Object.hasOwn(SAFETENSORS_DTYPES, dtype)) {
    throw new ArbnetError(
      `${source}: tensor ${name} has dtype ${JSON.stringify(dtype)} (supported: ${
        Object.keys(SAFETENSORS_DTYPES).join(", ")
      })`,
    );
  }
  if (!Array.isArray(e.shape)) {
    throw new ArbnetError(`${source}: tensor ${name} has no shape array`);
  }
  const shape = e.shape as number[];
  const count = elements(shape, `${source}: tensor ${name}`);
  const offsets = e.data_offsets;
  if (
    !Array.isArray(offsets) || offsets.length !== 2 ||
    !offsets.every((o) => Number.isSafeInteger(o) && o >= 0)
  ) {
    throw new ArbnetError(`${source}: tensor ${name} needs data_offsets [begin, end]`);
  }
  const [begin, end] = offsets as [number, number];
  if (begin > end || end > dataSize) {
    throw new ArbnetError(
      `${source}: tensor ${name}'s data_offsets [${begin}, ${end}] lie outside the ` +
        `${dataSize}-byte data section (truncated or corrupt file)`,
    );
  }
  const size = SAFETENSORS_DTYPES[dtype as SafetensorsDtype];
  if (end - begin !== count * size) {
    throw new ArbnetError(
      `${source}: tensor ${name} is ${dtype} ${JSON.stringify(shape)} = ${count * size} bytes, ` +
        `but its data_offsets span ${end - begin}`,
    );
  }
  return { name, dtype: dtype as SafetensorsDtype, shape: [...shape], begin, end };
}

/**
 * Decodes a whole safetensors file held in memory, validating the header and
 * every byte range (see the module doc).
 *
 * @param source names the file in error messages
 */
export function decodeSafetensors(bytes: Uint8Array, source = "safetensors data"): Safetensors {
  checkHost();
  const header = parseSafetensorsHeader(bytes, bytes.length, source);
  const data = bytes.subarray(header.dataOffset);
  const tensors = new Map<string, DecodedTensor>();
  for (const t of header.tensors) {
    tensors.set(t.name, { dtype: t.dtype, shape: t.shape, bytes: data.subarray(t.begin, t.end) });
  }
  return { tensors, metadata: header.metadata, data };
}

/**
 * A decoded F32 tensor's values, checked against an expected shape. Copies,
 * so the result is aligned and independent of the file buffer.
 *
 * @param what names the tensor in error messages
 */
export function tensorF32(t: DecodedTensor, shape: readonly number[], what: string): Float32Array {
  if (t.dtype !== "F32") throw new ArbnetError(`${what} has dtype ${t.dtype}, expected F32`);
  if (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i])) {
    throw new ArbnetError(
      `${what} has shape ${JSON.stringify(t.shape)}, expected ${JSON.stringify(shape)}`,
    );
  }
  const out = new Float32Array(t.bytes.length / 4);
  new Uint8Array(out.buffer).set(t.bytes);
  return out;
}

function typeName(v: unknown): string {
  return (v as { constructor?: { name?: string } } | null)?.constructor?.name ?? String(v);
}
