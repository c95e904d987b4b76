/**
 * xxHash32 (Yann Collet's XXH32), the one source of per-position randomness in
 * arbnet. Everything here is u32 integer arithmetic (`Math.imul`, `>>>`) so a
 * WGSL shader can recompute the same bits with `u32` multiplies and shifts.
 *
 * Owns: the general byte-string hash (checked against xxHash's published
 * vectors) and the specialised 4-byte version used per position.
 * @module
 */

/** xxHash32 prime 1 (`0x9E3779B1`). */
export const XXH_PRIME32_1 = 0x9e3779b1;
/** xxHash32 prime 2 (`0x85EBCA77`). */
export const XXH_PRIME32_2 = 0x85ebca77;
/** xxHash32 prime 3 (`0xC2B2AE3D`). */
export const XXH_PRIME32_3 = 0xc2b2ae3d;
/** xxHash32 prime 4 (`0x27D4EB2F`). */
export const XXH_PRIME32_4 = 0x27d4eb2f;
/** xxHash32 prime 5 (`0x165667B1`). */
export const XXH_PRIME32_5 = 0x165667b1;

function rotl(x: number, r: number): number {
  return (x << r) | (x >>> (32 - r));
}

function round(acc: number, lane: number): number {
  acc = (acc + Math.imul(lane, XXH_PRIME32_2)) | 0;
  return Math.imul(rotl(acc, 13), XXH_PRIME32_1);
}

function avalanche(h: number): number {
  h ^= h >>> 15;
  h = Math.imul(h, XXH_PRIME32_2);
  h ^= h >>> 13;
  h = Math.imul(h, XXH_PRIME32_3);
  h ^= h >>> 16;
  return h >>> 0;
}

function readLe32(b: Uint8Array, i: number): number {
  return b[i] | (b[i + 1] << 8) | (b[i + 2] << 16) | (b[i + 3] << 24);
}

/**
 * xxHash32 of a byte string.
 *
 * @param bytes the input
 * @param seed a u32 seed (other numbers are reduced with `>>> 0`)
 * @returns the hash as a u32 in `[0, 2^32)`
 *
 * @example
 * ```ts
 * import { xxh32 } from "./xxhash32.ts";
 * xxh32(new Uint8Array(0), 0); // 0x02CC5D05
 * ```
 */
export function xxh32(bytes: Uint8Array, seed: number): number {
  const len = bytes.length;
  seed = seed | 0;
  let i = 0;
  let h: number;
  if (len >= 16) {
    let v1 = (seed + XXH_PRIME32_1 + XXH_PRIME32_2) | 0;
    let v2 = (seed + XXH_PRIME32_2) | 0;
    let v3 = seed;
    let v4 = (seed - XXH_PRIME32_1) | 0;
    const limit = len - 16;
    while (i <= limit) {
      v1 = round(v1, readLe32(bytes, i));
      v2 = round(v2, readLe32(bytes, i + 4));
      v3 = round(v3, readLe32(bytes, i + 8));
      v4 = round(v4, readLe32(bytes, i + 12));
      i += 16;
    }
    h = (rotl(v1, 1) + rotl(v2, 7) + rotl(v3, 12) + rotl(v4, 18)) | 0;
  } else {
    h = (seed + XXH_PRIME32_5) | 0;
  }
  // The length is mixed in mod 2^32, as the reference does with its u32 cast.
  h = (h + len) | 0;
  while (i + 4 <= len) {
    h = (h + Math.imul(readLe32(bytes, i), XXH_PRIME32_3)) | 0;
    h = Math.imul(rotl(h, 17), XXH_PRIME32_4);
    i += 4;
  }
  while (i < len) {
    h = (h + Math.imul(bytes[i], XXH_PRIME32_5)) | 0;
    h = Math.imul(rotl(h, 11), XXH_PRIME32_1);
    i++;
  }
  return avalanche(h);
}

/**
 * xxHash32 of the 4-byte little-endian encoding of the u32 `p`: exactly
 * `xxh32(le32(p), seed)`, unrolled so it costs a handful of integer ops. This
 * is the per-position primitive the WGSL shaders must reproduce:
 *
 * ```
 * h = seed + PRIME5 + 4;  h += p * PRIME3;  h = rotl(h, 17) * PRIME4;
 * h ^= h >> 15;  h *= PRIME2;  h ^= h >> 13;  h *= PRIME3;  h ^= h >> 16;
 * ```
 *
 * @param p a u32 (a position, or a purpose constant when deriving seeds)
 * @param seed a u32 seed
 * @returns the hash as a u32 in `[0, 2^32)`
 */
export function xxh32U32(p: number, seed: number): number {
  let h = (seed + (XXH_PRIME32_5 + 4)) | 0;
  h = (h + Math.imul(p, XXH_PRIME32_3)) | 0;
  h = Math.imul((h << 17) | (h >>> 15), XXH_PRIME32_4);
  h ^= h >>> 15;
  h = Math.imul(h, XXH_PRIME32_2);
  h ^= h >>> 13;
  h = Math.imul(h, XXH_PRIME32_3);
  h ^= h >>> 16;
  return h >>> 0;
}

/**
 * The 4-byte little-endian encoding of a u32, the input {@linkcode xxh32U32} hashes.
 *
 * @param p a u32
 * @returns 4 bytes, least significant first
 */
export function le32(p: number): Uint8Array {
  return new Uint8Array([p & 0xff, (p >>> 8) & 0xff, (p >>> 16) & 0xff, (p >>> 24) & 0xff]);
}
