/**
 * The `blocks` family: a structured, deterministic, perfectly balanced hash
 * for layers whose inputs are images. Nearby pixels share a weight for the
 * same output unit: the input pixels are ranked tile by tile (tiles of
 * `tileRows × tileCols` pixels, in raster order inside each channel, the
 * pixels of a tile in raster order), position `p = i·cols + j` gets the rank
 * `q = j·rows + π(i)`, and the `n = rows·cols` ranks are cut into `K`
 * consecutive runs: `h(p) = ⌊q·K / n⌋`. Every slot holds `⌊n/K⌋` or `⌈n/K⌉`
 * positions. When `n/K` is the tile's area (784-1000 at table fraction 1/8
 * with 2×4 tiles), each slot is exactly one tile of pixels for one output
 * unit; otherwise runs straddle neighbouring tiles, still local.
 *
 * It is the deterministic end of the study's noise axis: `swap` noise on top
 * of it moves positions between slots without changing any slot's count.
 * @module
 */

import { ArbnetError } from "../errors.ts";
import { makeHash } from "./family.ts";
import type { Hash } from "./types.ts";
import { checkBool, checkInt, checkKeys } from "./validate.ts";

/** Options of {@linkcode blocks}. */
export interface BlocksOptions {
  /** Image width in pixels. Default: `√(rows / channels)` when that is an integer. */
  width?: number;
  /** Image channels (inputs are channel-major `(c, y, x)`). Default 1. */
  channels?: number;
  /** Tile height in pixels. Default 2. */
  tileRows?: number;
  /** Tile width in pixels. Default 4. */
  tileCols?: number;
  /** Use the sign hash `ξ(p)`. Default `false`. */
  sign?: boolean;
}

/**
 * The tile-raster rank of every input pixel: `rank[i]` for pixel `i` of a
 * `channels × height × width` image, tiles of `tileRows × tileCols` (smaller
 * at the right and bottom edges when they do not divide the image).
 */
export function tileRanks(
  channels: number,
  height: number,
  width: number,
  tileRows: number,
  tileCols: number,
): Uint32Array {
  const rank = new Uint32Array(channels * height * width);
  let next = 0;
  for (let c = 0; c < channels; c++) {
    for (let ty = 0; ty < height; ty += tileRows) {
      for (let tx = 0; tx < width; tx += tileCols) {
        for (let y = ty; y < Math.min(ty + tileRows, height); y++) {
          for (let x = tx; x < Math.min(tx + tileCols, width); x++) {
            rank[(c * height + y) * width + x] = next++;
          }
        }
      }
    }
  }
  return rank;
}

/**
 * Pixel blocks: nearby pixels share a slot for each output unit, every slot
 * holds the same number of positions (±1), no randomness.
 *
 * @param options image geometry, tile shape and `sign`
 * @returns the hash
 *
 * @example
 * ```ts
 * import { blocks } from "./blocks.ts";
 * const h = blocks({ width: 28, tileRows: 2, tileCols: 4 });
 * const idx = h.indices({ rows: 784, cols: 1000, tableSize: 98_000, seed: 1 });
 * ```
 */
export function blocks(options?: BlocksOptions): Hash {
  const o = checkKeys("hashes.blocks options", options, [
    "width",
    "channels",
    "tileRows",
    "tileCols",
    "sign",
  ]);
  const channels = checkInt("channels", o.channels ?? 1, 1, 65535);
  const tileRows = checkInt("tileRows", o.tileRows ?? 2, 1, 65535);
  const tileCols = checkInt("tileCols", o.tileCols ?? 4, 1, 65535);
  const width = o.width === undefined ? undefined : checkInt("width", o.width, 1, 65535);
  const sign = checkBool("sign", o.sign, false);
  const geometry = (rows: number) => {
    const w = width ?? Math.round(Math.sqrt(rows / channels));
    if (rows % (channels * w) !== 0) {
      throw new ArbnetError(
        `hashes.blocks: ${rows} input features are not ${channels} channel(s) of images ` +
          `${w} pixels wide (give width and channels so that rows = channels × height × width)`,
      );
    }
    return { w, h: rows / (channels * w) };
  };
  return makeHash({
    family: "blocks",
    options: {
      ...(width === undefined ? {} : { width }),
      channels,
      tileRows,
      tileCols,
      sign,
    },
    sign,
    check: (s) => void geometry(s.rows),
    fill(s, out) {
      const { w, h } = geometry(s.rows);
      const rank = tileRanks(channels, h, w, tileRows, tileCols);
      const order = new Uint32Array(s.rows);
      for (let i = 0; i < s.rows; i++) order[rank[i]] = i;
      // h = ⌊q·K/n⌋ in exact integers: walk q in order, carrying q·K mod n.
      const k = s.tableSize;
      let slot = 0;
      let carry = 0;
      for (let j = 0; j < s.cols; j++) {
        for (let r = 0; r < s.rows; r++) {
          out[order[r] * s.cols + j] = slot;
          carry += k;
          while (carry >= s.n) {
            carry -= s.n;
            slot++;
          }
        }
      }
    },
  });
}
