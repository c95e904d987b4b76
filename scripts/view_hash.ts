/**
 * Draws a hash's structure as a PNG, so a person can see balance and
 * determinism: (a) the distribution of slot occupancy (how many slots hold
 * how many positions) and (b) the slots of the first rows × columns of the
 * virtual matrix, slot index as a colour, the zero slot black. The title
 * carries the occupancy entropy.
 *
 *   deno task view-hash --hash neighborhood --radius 0 --out out/nbr0.png
 *   deno task view-hash --hash dirichlet --alpha 0.01
 *   deno task view-hash --hash-module examples/custom_hash.ts --hash pixelBlocks \
 *     --hash-options '{"block":4}' --cols 100
 *
 * The PNG is written here (RGB scanlines, `node:zlib` deflate, CRC-32
 * chunks) with a built-in 5×7 pixel font, so the script needs no image or
 * font package.
 * @module
 */

import { deflateSync } from "node:zlib";
import { dirname } from "node:path";
import { parseFlags, runMain } from "../lib/cli.ts";
import { ArbnetError } from "../lib/errors.ts";
import { checkHashOutput, isDenseHash, occupancyEntropy, slotCounts } from "../lib/hash/mod.ts";
import { HASH_OPTION_FLAGS, hashFromFlags } from "./common.ts";

const FLAGS = {
  // conv2d, recurrent and user families take their options by --hash-options.
  ...HASH_OPTION_FLAGS,
  rows: { type: "int", min: 1, default: 784, help: "rows of the virtual matrix (input features)" },
  cols: { type: "int", min: 1, default: 1000, help: "columns (output features)" },
  "table-fraction": {
    type: "number",
    min: 1e-9,
    max: 1,
    default: 1 / 8,
    help: "table size K as a fraction of rows × cols (ignored by --hash dense)",
  },
  sparsity: { type: "number", min: 0, max: 0.999999, default: 0, help: "zero-slot fraction" },
  seed: { type: "int", min: 0, max: 2 ** 32 - 1, default: 1, help: "seed of the hash" },
  "view-rows": { type: "int", min: 1, max: 1024, default: 64, help: "rows shown in panel (b)" },
  "view-cols": { type: "int", min: 1, max: 2048, default: 256, help: "columns shown in panel (b)" },
  scale: { type: "int", min: 1, max: 16, default: 3, help: "screen pixels per matrix entry" },
  out: { type: "string", help: "PNG path (default out/hash-<family>.png)" },
} as const;

type Rgb = readonly [number, number, number];

/** An RGB canvas with the few drawing primitives the figure needs. */
class Canvas {
  readonly width: number;
  readonly height: number;
  readonly pixels: Uint8Array;

  constructor(width: number, height: number, background: Rgb = [255, 255, 255]) {
    this.width = width;
    this.height = height;
    this.pixels = new Uint8Array(width * height * 3);
    this.rect(0, 0, width, height, background);
  }

  set(x: number, y: number, c: Rgb): void {
    if (x < 0 || y < 0 || x >= this.width || y >= this.height) return;
    const i = (y * this.width + x) * 3;
    this.pixels[i] = c[0];
    this.pixels[i + 1] = c[1];
    this.pixels[i + 2] = c[2];
  }

  rect(x: number, y: number, w: number, h: number, c: Rgb): void {
    for (let yy = Math.max(0, y); yy < Math.min(this.height, y + h); yy++) {
      for (let xx = Math.max(0, x); xx < Math.min(this.width, x + w); xx++) this.set(xx, yy, c);
    }
  }

  /** Draws text in the 5×7 font; returns the width used. Lowercase is drawn as uppercase. */
  text(x: number, y: number, s: string, scale = 1, c: Rgb = [20, 20, 20]): number {
    let at = x;
    for (const ch of s.toUpperCase()) {
      const g = glyph(ch);
      for (let row = 0; row < 7; row++) {
        for (let col = 0; col < 5; col++) {
          if (g[row * 5 + col]) this.rect(at + col * scale, y + row * scale, scale, scale, c);
        }
      }
      at += 6 * scale;
    }
    return at - x;
  }
}

/** A 5×7 font: seven rows of five pixels per glyph ('#' on). Uppercase, digits, punctuation. */
const FONT: Record<string, string> = {
  A: ".###. #...# #...# ##### #...# #...# #...#",
  B: "####. #...# #...# ####. #...# #...# ####.",
  C: ".###. #...# #.... #.... #.... #...# .###.",
  D: "####. #...# #...# #...# #...# #...# ####.",
  E: "##### #.... #.... ####. #.... #.... #####",
  F: "##### #.... #.... ####. #.... #.... #....",
  G: ".###. #...# #.... #.### #...# #...# .####",
  H: "#...# #...# #...# ##### #...# #...# #...#",
  I: ".###. ..#.. ..#.. ..#.. ..#.. ..#.. .###.",
  J: "..### ...#. ...#. ...#. ...#. #..#. .##..",
  K: "#...# #..#. #.#.. ##... #.#.. #..#. #...#",
  L: "#.... #.... #.... #.... #.... #.... #####",
  M: "#...# ##.## #.#.# #.#.# #...# #...# #...#",
  N: "#...# #...# ##..# #.#.# #..## #...# #...#",
  O: ".###. #...# #...# #...# #...# #...# .###.",
  P: "####. #...# #...# ####. #.... #.... #....",
  Q: ".###. #...# #...# #...# #.#.# #..#. .##.#",
  R: "####. #...# #...# ####. #.#.. #..#. #...#",
  S: ".#### #.... #.... .###. ....# ....# ####.",
  T: "##### ..#.. ..#.. ..#.. ..#.. ..#.. ..#..",
  U: "#...# #...# #...# #...# #...# #...# .###.",
  V: "#...# #...# #...# #...# #...# .#.#. ..#..",
  W: "#...# #...# #...# #.#.# #.#.# #.#.# .#.#.",
  X: "#...# #...# .#.#. ..#.. .#.#. #...# #...#",
  Y: "#...# #...# .#.#. ..#.. ..#.. ..#.. ..#..",
  Z: "##### ....# ...#. ..#.. .#... #.... #####",
  "0": ".###. #...# #..## #.#.# ##..# #...# .###.",
  "1": "..#.. .##.. ..#.. ..#.. ..#.. ..#.. .###.",
  "2": ".###. #...# ....# ...#. ..#.. .#... #####",
  "3": "####. ....# ....# .###. ....# ....# ####.",
  "4": "...#. ..##. .#.#. #..#. ##### ...#. ...#.",
  "5": "##### #.... ####. ....# ....# #...# .###.",
  "6": "..##. .#... #.... ####. #...# #...# .###.",
  "7": "##### ....# ...#. ..#.. .#... .#... .#...",
  "8": ".###. #...# #...# .###. #...# #...# .###.",
  "9": ".###. #...# #...# .#### ....# ...#. .##..",
  " ": "..... ..... ..... ..... ..... ..... .....",
  ".": "..... ..... ..... ..... ..... .##.. .##..",
  ",": "..... ..... ..... ..... .##.. ..#.. .#...",
  ":": "..... .##.. .##.. ..... .##.. .##.. .....",
  ";": "..... .##.. .##.. ..... .##.. ..#.. .#...",
  "=": "..... ..... ##### ..... ##### ..... .....",
  "-": "..... ..... ..... ##### ..... ..... .....",
  "+": "..... ..#.. ..#.. ##### ..#.. ..#.. .....",
  "/": "....# ....# ...#. ..#.. .#... #.... #....",
  "(": "...#. ..#.. .#... .#... .#... ..#.. ...#.",
  ")": ".#... ..#.. ...#. ...#. ...#. ..#.. .#...",
  "%": "##..# ##..# ...#. ..#.. .#... #..## #..##",
  "<": "...#. ..#.. .#... #.... .#... ..#.. ...#.",
  ">": ".#... ..#.. ...#. ....# ...#. ..#.. .#...",
  "_": "..... ..... ..... ..... ..... ..... #####",
  "×": "..... #...# .#.#. ..#.. .#.#. #...# .....",
  "·": "..... ..... ..... ..#.. ..... ..... .....",
  "?": ".###. #...# ....# ...#. ..#.. ..... ..#..",
};

const glyphs = new Map<string, boolean[]>();

function glyph(ch: string): boolean[] {
  let g = glyphs.get(ch);
  if (!g) {
    g = [...(FONT[ch] ?? FONT["?"]).replaceAll(" ", "")].map((c) => c === "#");
    glyphs.set(ch, g);
  }
  return g;
}

/** Hue in [0, 300°) (red → magenta, no wrap back to red), as RGB. */
function hue(t: number): Rgb {
  const h = (t * 300) / 60;
  const s = 0.85;
  const v = 0.95;
  const i = Math.floor(h) % 6;
  const f = h - Math.floor(h);
  const p = v * (1 - s);
  const q = v * (1 - s * f);
  const u = v * (1 - s * (1 - f));
  const rgb = [[v, u, p], [q, v, p], [p, v, u], [p, q, v], [u, p, v], [v, p, q]][i];
  return rgb.map((x) => Math.round(255 * x)) as unknown as Rgb;
}

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

function crc32(parts: Uint8Array[]): number {
  let c = 0xffffffff;
  for (const b of parts) {
    for (let i = 0; i < b.length; i++) c = CRC_TABLE[(c ^ b[i]) & 0xff] ^ (c >>> 8);
  }
  return (c ^ 0xffffffff) >>> 0;
}

function chunk(type: string, data: Uint8Array): Uint8Array {
  const t = new TextEncoder().encode(type);
  const out = new Uint8Array(12 + data.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, data.length);
  out.set(t, 4);
  out.set(data, 8);
  view.setUint32(8 + data.length, crc32([t, data]));
  return out;
}

/** Encodes the canvas as an 8-bit RGB PNG (filter 0 on every scanline). */
function encodePng(c: Canvas): Uint8Array {
  const ihdr = new Uint8Array(13);
  const v = new DataView(ihdr.buffer);
  v.setUint32(0, c.width);
  v.setUint32(4, c.height);
  ihdr.set([8, 2, 0, 0, 0], 8); // bit depth 8, colour type 2 (RGB), deflate, filter 0, no interlace
  const stride = c.width * 3;
  const raw = new Uint8Array((stride + 1) * c.height);
  for (let y = 0; y < c.height; y++) {
    raw.set(c.pixels.subarray(y * stride, (y + 1) * stride), y * (stride + 1) + 1);
  }
  const parts = [
    new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk("IHDR", ihdr),
    chunk("IDAT", new Uint8Array(deflateSync(raw, { level: 9 }))),
    chunk("IEND", new Uint8Array(0)),
  ];
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

function fmt(n: number): string {
  if (Number.isInteger(n)) return String(n);
  return n.toPrecision(4).replace(/\.?0+$/, "");
}

await runMain(async () => {
  const f = parseFlags(
    Deno.args,
    FLAGS,
    "deno task view-hash",
    "Draw a hash's slot occupancy and slot map as a PNG.",
  );
  if (!f) return;
  const hash = await hashFromFlags(f);
  const virtual = f.rows * f.cols;
  if (virtual > 2 ** 32) throw new ArbnetError("--rows × --cols must be at most 2^32 positions");
  const tableSize = isDenseHash(hash)
    ? virtual
    : Math.max(1, Math.round(virtual * f["table-fraction"]));
  const spec = { rows: f.rows, cols: f.cols, tableSize, sparsity: f.sparsity, seed: f.seed };
  const indices = hash.indices(spec);
  const signs = hash.signs(spec);
  checkHashOutput(hash.family, spec, indices, signs);
  const entropy = occupancyEntropy(indices, tableSize);
  const counts = slotCounts(indices, tableSize);
  const zero = counts[tableSize];
  let maxOcc = 0;
  let empty = 0;
  for (let k = 0; k < tableSize; k++) {
    if (counts[k] > maxOcc) maxOcc = counts[k];
    if (counts[k] === 0) empty++;
  }
  const mean = (virtual - zero) / tableSize;
  const optionText = Object.entries(hash.options).map(([k, v]) => `${k}=${v}`).join(" ");

  const viewRows = Math.min(f["view-rows"], f.rows);
  const viewCols = Math.min(f["view-cols"], f.cols);
  const s = f.scale;
  const margin = 16;
  const width = Math.max(800, 2 * margin + viewCols * s);
  const plotW = width - 2 * margin;
  const histH = 180;
  const titleY = margin;
  const histLabelY = titleY + 62;
  const histY = histLabelY + 26;
  const mapLabelY = histY + histH + 40;
  const mapY = mapLabelY + 16;
  const barY = mapY + viewRows * s + 8;
  const height = barY + 40;
  const canvas = new Canvas(width, height);
  const ink: Rgb = [20, 20, 20];
  const grey: Rgb = [110, 110, 110];

  canvas.text(margin, titleY, `${hash.family} ${optionText}`.trim(), 2);
  canvas.text(
    margin,
    titleY + 20,
    `H = ${entropy.nats.toFixed(4)} nats   H/ln K = ${entropy.normalized.toFixed(5)}`,
    2,
  );
  canvas.text(
    margin,
    titleY + 40,
    `${f.rows} × ${f.cols} virtual matrix, K = ${tableSize} slots, sparsity ${
      fmt(f.sparsity)
    } (zero slot ${(100 * zero / virtual).toFixed(1)}%), seed ${f.seed}, signs ${
      signs ? "on" : "off"
    }`,
    1,
    grey,
  );

  // (a) How many slots hold n positions, n = 0 … max (bins when max is large), log scale.
  const bins = Math.min(maxOcc + 1, Math.floor(plotW / 3));
  const per = Math.ceil((maxOcc + 1) / bins);
  const hist = new Float64Array(Math.ceil((maxOcc + 1) / per));
  for (let k = 0; k < tableSize; k++) hist[Math.floor(counts[k] / per)]++;
  const top = Math.max(...hist);
  canvas.text(
    margin,
    histLabelY,
    `(a) slot occupancy: slots (log scale, max ${top}) by positions per slot` +
      (per > 1 ? ` (bins of ${per})` : ""),
    1,
    ink,
  );
  const barW = plotW / hist.length;
  for (let b = 0; b < hist.length; b++) {
    if (hist[b] === 0) continue;
    const h = Math.max(1, Math.round(histH * Math.log1p(hist[b]) / Math.log1p(top)));
    const x0 = margin + Math.round(b * barW);
    const x1 = margin + Math.round((b + 1) * barW);
    canvas.rect(x0, histY + histH - h, Math.max(1, x1 - x0 - (barW >= 3 ? 1 : 0)), h, [
      70,
      110,
      180,
    ]);
  }
  canvas.rect(margin, histY + histH, plotW, 1, ink);
  const meanX = margin + Math.round(((mean / per) + 0.5) * barW);
  canvas.rect(meanX, histY - 4, 1, histH + 4, [220, 40, 40]);
  const meanText = `mean ${fmt(mean)}`;
  canvas.text(
    Math.max(margin, Math.min(meanX - 3 * meanText.length, width - margin - 6 * meanText.length)),
    histY - 13,
    meanText,
    1,
    [220, 40, 40],
  );
  // Tick labels under bin starts, spaced so they never overlap.
  const digits = String(maxOcc).length;
  const every = Math.max(1, Math.ceil((6 * digits + 12) / barW));
  for (let b = 0; b < hist.length; b += every) {
    const x = margin + Math.round((b + 0.5) * barW);
    const label = String(b * per);
    canvas.rect(x, histY + histH, 1, 4, ink);
    canvas.text(x - 3 * label.length + 1, histY + histH + 6, label, 1, ink);
  }
  canvas.text(
    margin,
    histY + histH + 18,
    `positions per slot (max ${maxOcc}); empty slots ${(100 * empty / tableSize).toFixed(2)}%`,
    1,
    grey,
  );

  // (b) The slot of each of the first rows × columns: colour = slot / K, black = zero slot.
  canvas.text(
    margin,
    mapLabelY,
    `(b) slots of rows 0-${viewRows - 1} × columns 0-${viewCols - 1}: colour = slot / K, ` +
      "black = zero slot",
    1,
    ink,
  );
  for (let i = 0; i < viewRows; i++) {
    for (let j = 0; j < viewCols; j++) {
      const k = indices[i * f.cols + j];
      const c: Rgb = k === tableSize ? [0, 0, 0] : hue(k / tableSize);
      canvas.rect(margin + j * s, mapY + i * s, s, s, c);
    }
  }
  const barLen = viewCols * s;
  for (let x = 0; x < barLen; x++) canvas.rect(margin + x, barY, 1, 10, hue(x / barLen));
  canvas.text(margin, barY + 14, "slot 0", 1, ink);
  const lastText = `slot ${tableSize - 1}`;
  canvas.text(margin + barLen - lastText.length * 6, barY + 14, lastText, 1, ink);

  const out = f.out ?? `out/hash-${hash.family}.png`;
  await Deno.mkdir(dirname(out), { recursive: true });
  await Deno.writeFile(out, encodePng(canvas));
  console.log(
    `${out}: ${hash.family} ${optionText} K=${tableSize}, occupancy entropy ` +
      `${entropy.nats.toFixed(4)} nats, normalized ${entropy.normalized.toFixed(5)}, ` +
      `max ${maxOcc} positions/slot, mean ${fmt(mean)}, empty ${empty}`,
  );
});
