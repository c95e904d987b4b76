/**
 * xxHash32 against published known-answer vectors and, where the system
 * library is installed, against libxxhash itself; the 4-byte fast path
 * against the general one; and the seed-derivation rule.
 * @module
 */

import assert from "node:assert/strict";
import { deriveSeed, deriveSeeds, le32, SEED_PURPOSES, xxh32, xxh32U32 } from "../lib/hash/mod.ts";
import { Rng } from "../lib/util/random.ts";

const enc = new TextEncoder();

// Published vectors (xxHash's own tests and widely used ports, e.g. the
// pierrec/lz4 Go package's xxh32 tests); they cover the < 16-byte path,
// the 16-byte stripe path, the byte tail and non-zero seeds.
const VECTORS: [string, number, number][] = [
  ["", 0, 0x02cc5d05],
  ["", 1, 0x0b2cb792],
  ["a", 0, 0x550d7456],
  ["abc", 0, 0x32d153ff],
  ["abcd", 0, 0xa3643705],
  ["abcd", 42, 0xe37d5ac5],
  ["abcdefghijklmnop", 0, 0x9d2d8b62],
  ["abcd0123efgh4567ijkl", 42, 0xc890e852],
  ["abcdefghijklmnopqrstuvwxyz0123456789", 0, 0x42ae804d],
  ["Nobody inspects the spammish repetition", 0, 0xe2293b2f],
  ["The quick brown fox jumps over the lazy dog", 0, 0xe85ea4de],
];

Deno.test("xxh32 matches the published known-answer vectors", () => {
  for (const [text, seed, want] of VECTORS) {
    const got = xxh32(enc.encode(text), seed);
    assert.equal(got, want, `xxh32(${JSON.stringify(text)}, ${seed}) = 0x${got.toString(16)}`);
  }
});

Deno.test("xxh32 returns u32 values for any seed in [0, 2^32)", () => {
  for (const seed of [0, 1, 0x7fffffff, 0x80000000, 0xffffffff]) {
    const h = xxh32(enc.encode("seed range"), seed);
    assert.ok(Number.isInteger(h) && h >= 0 && h <= 0xffffffff);
  }
});

function findLibxxhash(): string | undefined {
  for (const dir of ["/usr/lib/x86_64-linux-gnu", "/usr/lib/aarch64-linux-gnu", "/usr/lib"]) {
    const path = `${dir}/libxxhash.so.0`;
    try {
      Deno.statSync(path);
      return path;
    } catch {
      // not here
    }
  }
  return undefined;
}

const LIBXXHASH = findLibxxhash();

Deno.test({
  name: "xxh32 and xxh32U32 agree with the system libxxhash (when installed)",
  ignore: LIBXXHASH === undefined,
  fn() {
    const lib = Deno.dlopen(LIBXXHASH!, {
      XXH32: { parameters: ["buffer", "usize", "u32"], result: "u32" },
    });
    try {
      const rng = new Rng(7);
      for (let len = 0; len < 80; len++) {
        for (let t = 0; t < 8; t++) {
          const bytes = new Uint8Array(len);
          for (let i = 0; i < len; i++) bytes[i] = rng.nextU32() & 0xff;
          const seed = rng.nextU32();
          assert.equal(xxh32(bytes, seed), lib.symbols.XXH32(bytes, BigInt(len), seed));
        }
      }
      for (let t = 0; t < 5000; t++) {
        const p = rng.nextU32();
        const seed = rng.nextU32();
        assert.equal(xxh32U32(p, seed), lib.symbols.XXH32(le32(p), 4n, seed));
      }
    } finally {
      lib.close();
    }
  },
});

Deno.test("xxh32U32(p, s) === xxh32(le32(p), s) for random and edge p, s", () => {
  const rng = new Rng(12345);
  const edges = [0, 1, 2, 255, 256, 65535, 65536, 0x7fffffff, 0x80000000, 0xfffffffe, 0xffffffff];
  for (const p of edges) {
    for (const s of edges) assert.equal(xxh32U32(p, s), xxh32(le32(p), s), `p=${p} s=${s}`);
  }
  for (let t = 0; t < 20000; t++) {
    const p = rng.nextU32();
    const s = rng.nextU32();
    assert.equal(xxh32U32(p, s), xxh32(le32(p), s), `p=${p} s=${s}`);
  }
});

Deno.test("le32 is little-endian", () => {
  assert.deepEqual([...le32(0x04030201)], [1, 2, 3, 4]);
  assert.deepEqual([...le32(0xffffffff)], [255, 255, 255, 255]);
});

Deno.test("seed rule: purpose seed = xxh32(le32(purpose constant), user seed)", () => {
  const tags: Record<string, string> = {
    slot: "SLOT",
    sign: "SIGN",
    sparsity: "SPRS",
    aliasColumn: "ACOL",
    aliasCoin: "ACOI",
    offset: "OFFS",
    gamma: "GAMM",
    swap: "SWAP",
  };
  const values = new Set<number>();
  for (const [purpose, tag] of Object.entries(tags)) {
    const constant = SEED_PURPOSES[purpose as keyof typeof SEED_PURPOSES];
    // The constant is the four ASCII letters read big-endian.
    const bytes = enc.encode(tag);
    assert.equal(
      constant,
      ((bytes[0] << 24) | (bytes[1] << 16) | (bytes[2] << 8) | bytes[3]) >>> 0,
    );
    values.add(constant);
    for (const seed of [0, 1, 42, 0xffffffff]) {
      const want = xxh32(le32(constant), seed);
      assert.equal(deriveSeed(purpose as keyof typeof SEED_PURPOSES, seed), want);
      assert.equal(deriveSeeds(seed)[purpose as keyof typeof SEED_PURPOSES], want);
    }
  }
  assert.equal(values.size, Object.keys(SEED_PURPOSES).length, "purpose constants are distinct");
  const seeds = Object.values(deriveSeeds(1));
  assert.equal(new Set(seeds).size, seeds.length, "derived seeds are distinct");
});
