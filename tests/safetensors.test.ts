/**
 * The safetensors codec: round trips, the exact byte layout of the format,
 * and a clear error for every kind of malformed file.
 * @module
 */

import assert from "node:assert/strict";
import { ArbnetError } from "../lib/errors.ts";
import {
  decodeSafetensors,
  encodeSafetensors,
  parseSafetensorsHeader,
  tensorF32,
} from "../lib/io/safetensors.ts";

/** A file from a header object and a data section, as another writer might produce it. */
function handmade(header: unknown, data: Uint8Array, headerText?: string): Uint8Array {
  const json = new TextEncoder().encode(headerText ?? JSON.stringify(header));
  const out = new Uint8Array(8 + json.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  out.set(data, 8 + json.length);
  return out;
}

function throwsArbnet(fn: () => unknown, pattern: RegExp): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof ArbnetError, `expected ArbnetError, got ${e}`);
    assert.match((e as Error).message, pattern);
    return true;
  });
}

Deno.test("safetensors: round trip of several dtypes and metadata", () => {
  const a = new Float32Array([1.5, -2, 3.25, 0, Number.MIN_VALUE, -0]);
  const b = new Int32Array([-7, 8, 2 ** 31 - 1]);
  const c = new Uint8Array([1, 2, 3]);
  const d = new BigInt64Array([-1n, 2n ** 62n]);
  const bytes = encodeSafetensors({
    a: { data: a, shape: [2, 3] },
    b: { data: b, shape: [3] },
    c: { data: c, shape: [3, 1] },
    d: { data: d, shape: [2] },
    empty: { data: new Float32Array(0), shape: [0, 4] },
  }, { note: "hello", json: JSON.stringify({ x: 1 }) });
  const f = decodeSafetensors(bytes);
  assert.deepEqual(f.metadata, { note: "hello", json: '{"x":1}' });
  assert.deepEqual(tensorF32(f.tensors.get("a")!, [2, 3], "a"), a);
  const tb = f.tensors.get("b")!;
  assert.equal(tb.dtype, "I32");
  assert.deepEqual(new Int32Array(tb.bytes.slice().buffer), b);
  assert.deepEqual(f.tensors.get("c")!.bytes, c);
  assert.deepEqual(new BigInt64Array(f.tensors.get("d")!.bytes.slice().buffer), d);
  assert.deepEqual(f.tensors.get("empty")!.shape, [0, 4]);
  // The header is space-padded so the data section starts 8-byte aligned.
  const n = Number(new DataView(bytes.buffer).getBigUint64(0, true));
  assert.equal(n % 8, 0);
  assert.equal(bytes[8 + n - 1], 0x20);
});

Deno.test("safetensors: reads a file laid out by another writer", () => {
  const values = new Float32Array([1, 2, 3, 4]);
  const file = handmade(
    {
      __metadata__: { format: "pt" },
      w: { dtype: "F32", shape: [2, 2], data_offsets: [0, 16] },
    },
    new Uint8Array(values.buffer),
  );
  const f = decodeSafetensors(file);
  assert.deepEqual(f.metadata, { format: "pt" });
  assert.deepEqual(tensorF32(f.tensors.get("w")!, [2, 2], "w"), values);
});

Deno.test("safetensors: the bytes of a known file", () => {
  const bytes = encodeSafetensors({ x: { data: new Float32Array([1]), shape: [1] } });
  const json = '{"x":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}';
  const padded = Math.ceil(json.length / 8) * 8;
  assert.equal(bytes.length, 8 + padded + 4);
  assert.equal(new DataView(bytes.buffer).getBigUint64(0, true), BigInt(padded));
  assert.equal(new TextDecoder().decode(bytes.subarray(8, 8 + json.length)), json);
  assert.deepEqual([...bytes.subarray(8 + padded)], [0, 0, 0x80, 0x3f]);
});

Deno.test("safetensors: encoding rejects bad input", () => {
  throwsArbnet(
    () => encodeSafetensors({ x: { data: new Float32Array(3), shape: [2, 2] } }),
    /shape \[2,2\] has 4 elements, data has 3/,
  );
  throwsArbnet(
    () => encodeSafetensors({}, { n: 1 as unknown as string }),
    /metadata values must be strings/,
  );
});

Deno.test("safetensors: malformed files give clear errors", () => {
  const good = encodeSafetensors({
    a: { data: new Float32Array([1, 2, 3, 4]), shape: [4] },
    b: { data: new Float32Array([5, 6]), shape: [2] },
  });
  const f4 = new Uint8Array(16);
  throwsArbnet(() => decodeSafetensors(new Uint8Array(5), "x.st"), /x\.st .*shorter than the 8/);
  throwsArbnet(() => decodeSafetensors(good.subarray(0, good.length - 3)), /outside|cover/);
  throwsArbnet(() => decodeSafetensors(good.subarray(0, 40)), /truncated/);
  const huge = good.slice();
  new DataView(huge.buffer).setBigUint64(0, 2n ** 40n, true);
  throwsArbnet(() => decodeSafetensors(huge), /exceeds/);
  throwsArbnet(() => decodeSafetensors(handmade(null, f4, "{not json")), /not valid JSON/);
  throwsArbnet(() => decodeSafetensors(handmade(null, f4, "[1,2]")), /must be a JSON object/);
  throwsArbnet(
    () => decodeSafetensors(new TextEncoder().encode("# just a text file, not a checkpoint\n")),
    /exceeds|truncated|not a safetensors/,
  );
  throwsArbnet(
    () =>
      decodeSafetensors(handmade({
        a: { dtype: "F32", shape: [2], data_offsets: [0, 8] },
        b: { dtype: "F32", shape: [2], data_offsets: [4, 12] },
      }, f4)),
    /overlap/,
  );
  throwsArbnet(
    () =>
      decodeSafetensors(handmade({
        a: { dtype: "F32", shape: [2], data_offsets: [0, 8] },
        b: { dtype: "F32", shape: [1], data_offsets: [12, 16] },
      }, f4)),
    /belong to no tensor/,
  );
  throwsArbnet(
    () =>
      decodeSafetensors(handmade({ a: { dtype: "F32", shape: [8], data_offsets: [0, 32] } }, f4)),
    /outside the 16-byte data section/,
  );
  throwsArbnet(
    () =>
      decodeSafetensors(handmade({ a: { dtype: "F32", shape: [3], data_offsets: [0, 16] } }, f4)),
    /= 12 bytes, but its data_offsets span 16/,
  );
  throwsArbnet(
    () =>
      decodeSafetensors(handmade({ a: { dtype: "Q4", shape: [4], data_offsets: [0, 16] } }, f4)),
    /dtype "Q4"/,
  );
  throwsArbnet(
    () =>
      decodeSafetensors(handmade({
        __metadata__: { n: 3 },
        a: { dtype: "F32", shape: [4], data_offsets: [0, 16] },
      }, f4)),
    /not a string/,
  );
  throwsArbnet(
    () => decodeSafetensors(handmade({ a: { dtype: "F32", shape: [2] } }, f4)),
    /data_offsets/,
  );
});

Deno.test("safetensors: tensorF32 checks dtype and shape", () => {
  const f = decodeSafetensors(encodeSafetensors({
    a: { data: new Float32Array(6), shape: [2, 3] },
    i: { data: new Int32Array(2), shape: [2] },
  }));
  throwsArbnet(
    () => tensorF32(f.tensors.get("a")!, [3, 2], "a"),
    /shape \[2,3\], expected \[3,2\]/,
  );
  throwsArbnet(() => tensorF32(f.tensors.get("i")!, [2], "i"), /dtype I32, expected F32/);
});

Deno.test("safetensors: a header can be parsed from a prefix of the file", () => {
  const bytes = encodeSafetensors({ a: { data: new Float32Array(100), shape: [10, 10] } }, {
    k: "v",
  });
  const n = Number(new DataView(bytes.buffer).getBigUint64(0, true));
  const h = parseSafetensorsHeader(bytes.subarray(0, 8 + n), bytes.length);
  assert.deepEqual(h.metadata, { k: "v" });
  assert.deepEqual(h.tensors, [{ name: "a", dtype: "F32", shape: [10, 10], begin: 0, end: 400 }]);
  assert.equal(h.dataOffset, 8 + n);
});
