/**
 * The idx binary format of MNIST (unsigned-byte variant): a big-endian magic
 * `0x000008RR` (`08` = ubyte, `RR` = rank), `RR` big-endian u32 sizes, then
 * the bytes in row-major order. Owns reading with full validation (magic,
 * sizes, exact file length) and writing, which tests use to make fixtures.
 *
 * May import only `lib/errors.ts` and `lib/data/files.ts`.
 * @module
 */

import { ArbnetError, invalidOption } from "../errors.ts";
import { type ByteSource, memorySource, openSource, readGzip } from "./files.ts";

const UBYTE = 0x08;
const GZIP_MAGIC = 0x1f8b;

/** What the caller requires of an idx file; anything else is an error naming the file. */
export interface IdxExpect {
  /** Number of dimensions: 1 for a label file, 3 for an image file. */
  rank: number;
  /**
   * Required size of each dimension, `null` for any: e.g. `[null, 28, 28]` for
   * MNIST images. Length must equal `rank`.
   */
  dims?: readonly (number | null)[];
  /**
   * Read at most this many items along the first dimension. The whole file
   * is still size-checked, so a corrupt file fails even with a small limit.
   */
  limit?: number;
}

/** The contents of an idx file. */
export interface IdxData {
  /** The file it came from. */
  path: string;
  /** Sizes from the header (the whole file, regardless of `limit`). */
  dims: readonly number[];
  /** Items read along the first dimension: `min(dims[0], limit)`. */
  items: number;
  /** `items × dims[1] × …` bytes, row-major. */
  data: Uint8Array;
}

/** The magic number of an unsigned-byte idx file of the given rank (`0x801` labels, `0x803` images). */
export function idxMagic(rank: number): number {
  return (UBYTE << 8) | rank;
}

function hex(n: number): string {
  return "0x" + n.toString(16).padStart(8, "0");
}

function shape(dims: readonly (number | null)[]): string {
  return dims.map((d) => (d === null ? "N" : String(d))).join("×");
}

/**
 * Reads an unsigned-byte idx file. A path ending in `.gz` is gunzipped first.
 *
 * @throws {ArbnetError} naming the file if it is missing or unreadable, has
 * the wrong magic number or dimensions, or is shorter or longer than its
 * header says.
 *
 * @example
 * ```ts ignore
 * const labels = await readIdx("t10k-labels-idx1-ubyte", { rank: 1 });
 * const images = await readIdx("t10k-images-idx3-ubyte", { rank: 3, dims: [null, 28, 28] });
 * ```
 */
export async function readIdx(path: string, expect: IdxExpect): Promise<IdxData> {
  checkExpect(expect);
  const src = path.endsWith(".gz")
    ? memorySource(`${path} (decompressed)`, await readGzip(path, "idx file"))
    : await openSource(path, "idx file");
  try {
    return await decode(src, expect);
  } finally {
    src.close();
  }
}

/**
 * Like {@linkcode readIdx} but for bytes already in memory; `path` is used in
 * messages. The returned `data` is a view of `bytes`, not a copy.
 */
export function parseIdx(bytes: Uint8Array, path: string, expect: IdxExpect): Promise<IdxData> {
  checkExpect(expect);
  return decode(memorySource(path, bytes), expect);
}

/**
 * Encodes an unsigned-byte idx file. `data.length` must equal the product of `dims`.
 *
 * @example
 * ```ts
 * import { encodeIdx } from "./idx.ts";
 * const bytes = encodeIdx([3], new Uint8Array([7, 2, 1])); // a 3-label file
 * ```
 */
export function encodeIdx(dims: readonly number[], data: Uint8Array): Uint8Array {
  if (dims.length < 1 || dims.length > 255) {
    invalidOption("dims.length", dims.length, "1 to 255 dimensions");
  }
  let n = 1;
  for (const d of dims) {
    if (!Number.isInteger(d) || d < 0 || d > 0xffffffff) {
      invalidOption("dims", `[${dims.join(", ")}]`, "integers in [0, 2^32)");
    }
    n *= d;
  }
  if (data.length !== n) invalidOption("data.length", data.length, `${n} (product of dims)`);
  const head = 4 + 4 * dims.length;
  const out = new Uint8Array(head + n);
  const view = new DataView(out.buffer);
  view.setUint32(0, idxMagic(dims.length), false);
  dims.forEach((d, i) => view.setUint32(4 + 4 * i, d, false));
  out.set(data, head);
  return out;
}

function checkExpect(expect: IdxExpect) {
  const { rank, dims, limit } = expect;
  if (!Number.isInteger(rank) || rank < 1 || rank > 255) {
    invalidOption("rank", rank, "an integer in [1, 255]");
  }
  if (dims !== undefined && dims.length !== rank) {
    invalidOption("dims.length", dims.length, `rank (${rank})`);
  }
  if (limit !== undefined && (!Number.isSafeInteger(limit) || limit < 1)) {
    invalidOption("limit", limit, "an integer ≥ 1, or omitted");
  }
}

async function decode(src: ByteSource, expect: IdxExpect): Promise<IdxData> {
  const { path, size } = src;
  const { rank } = expect;
  const head = 4 + 4 * rank;
  if (size < 4) {
    throw new ArbnetError(
      `${path}: truncated idx file: ${size} bytes, too short for the 4-byte magic number`,
    );
  }
  const magic = new DataView((await src.read(0, 4)).slice().buffer).getUint32(0, false);
  const want = idxMagic(rank);
  if (magic !== want) {
    const hint = magic >>> 16 === GZIP_MAGIC
      ? "; the file looks gzip-compressed: decompress it or name it *.gz"
      : "";
    throw new ArbnetError(
      `${path}: wrong idx magic number ${hex(magic)}, expected ${hex(want)} ` +
        `(unsigned bytes, ${rank}-D)${hint}`,
    );
  }
  if (size < head) {
    throw new ArbnetError(
      `${path}: truncated idx file: header of a ${rank}-D file needs ${head} bytes, ` +
        `the file has ${size}`,
    );
  }
  const hv = new DataView((await src.read(4, 4 * rank)).slice().buffer);
  const dims: number[] = [];
  for (let i = 0; i < rank; i++) dims.push(hv.getUint32(4 * i, false));

  if (expect.dims?.some((d, i) => d !== null && d !== dims[i])) {
    throw new ArbnetError(
      `${path}: idx dimensions are ${shape(dims)}, expected ${shape(expect.dims)}`,
    );
  }
  const itemBytes = dims.slice(1).reduce((a, b) => a * b, 1);
  const expected = head + dims[0] * itemBytes;
  if (size !== expected) {
    const what = size < expected
      ? `truncated idx file (${expected - size} bytes missing)`
      : `idx file has ${size - expected} trailing bytes`;
    throw new ArbnetError(
      `${path}: ${what}: header says ${shape(dims)}, which needs ${expected} bytes, ` +
        `but the file has ${size}`,
    );
  }
  const items = Math.min(dims[0], expect.limit ?? Infinity);
  const data = await src.read(head, items * itemBytes);
  return { path: src.path, dims, items, data };
}
