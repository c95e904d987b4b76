/**
 * The `conv2d` family: a 2-D convolution (cross-correlation, zero padding,
 * square kernel) written as an ArbNet, showing that CNNs are ArbNets whose
 * hash is fixed by geometry.
 *
 * Layout: row `i = (c·H + y)·W + x` is input pixel `(c, y, x)`
 * (`rows = inC·H·W`, channel-major, as a flattened `C×H×W` image); column
 * `j = (o·H' + y')·W' + x'` is output pixel `(o, y', x')` (`cols = outC·H'·W'`,
 * `H' = floor((H + 2·padding − kernel) / stride) + 1`, same for `W'`). With
 * `dy = y + padding − y'·stride` and `dx = x + padding − x'·stride`, the
 * position is inside the receptive field iff `0 ≤ dy, dx < kernel`; its slot
 * is then kernel entry `((o·inC + c)·kernel + dy)·kernel + dx` (PyTorch's
 * `weight[o][c][dy][dx]` order), else the zero slot `tableSize`
 * (`= outC·inC·kernel²`). No sign hash; sparsity, if given, applies on top.
 * The hash's `fanIn` is `inC·kernel²` (one receptive field), so ArbLinear
 * initialises the kernel as a convolution, not as a `rows`-input layer.
 * Then `x · V` (x a flattened input image) is the flattened output image.
 * @module
 */

import { ArbnetError, invalidOption } from "../errors.ts";
import { makeHash } from "./family.ts";
import type { Hash } from "./types.ts";
import { checkInt, checkKeys, U32_MAX, U32_RANGE } from "./validate.ts";

/** Options of {@linkcode conv2d}: the convolution's geometry. */
export interface Conv2dOptions {
  /** Input channels, a positive integer. */
  inChannels: number;
  /** Output channels, a positive integer. */
  outChannels: number;
  /** Kernel side (square kernel), a positive integer. */
  kernel: number;
  /** Stride, a positive integer. Default 1. */
  stride?: number;
  /** Zero padding on every side, an integer ≥ 0. Default 0. */
  padding?: number;
  /** Input height `H`, a positive integer. */
  height: number;
  /** Input width `W`, a positive integer. */
  width: number;
}

/**
 * The virtual-matrix shape of a convolution: exactly the shape fields of an
 * `IndexSpec`, so `{ ...conv2dShape(o), seed }` is a valid spec.
 */
export interface Conv2dGeometry {
  /** `inChannels · height · width`. */
  rows: number;
  /** `outChannels · H' · W'`. */
  cols: number;
  /** `outChannels · inChannels · kernel²`. */
  tableSize: number;
}

/** Conv2d options with defaults filled in, plus the geometry. */
type Conv2dResolved = Required<Conv2dOptions> & Conv2dGeometry & {
  outHeight: number;
  outWidth: number;
};

const KEYS = ["inChannels", "outChannels", "kernel", "stride", "padding", "height", "width"];
const BIG = Number.MAX_SAFE_INTEGER;

function resolve(options: Conv2dOptions): Conv2dResolved {
  const o = checkKeys("hashes.conv2d options", options, KEYS);
  const inChannels = checkInt("inChannels", o.inChannels, 1, BIG);
  const outChannels = checkInt("outChannels", o.outChannels, 1, BIG);
  const kernel = checkInt("kernel", o.kernel, 1, BIG);
  const stride = checkInt("stride", o.stride ?? 1, 1, BIG);
  const padding = checkInt("padding", o.padding ?? 0, 0, BIG);
  const height = checkInt("height", o.height, 1, BIG);
  const width = checkInt("width", o.width, 1, BIG);
  if (kernel > height + 2 * padding || kernel > width + 2 * padding) {
    invalidOption(
      "kernel",
      kernel,
      `at most height + 2·padding = ${height + 2 * padding} and width + 2·padding = ` +
        `${width + 2 * padding}; otherwise the convolution has no output pixels`,
    );
  }
  const outHeight = Math.floor((height + 2 * padding - kernel) / stride) + 1;
  const outWidth = Math.floor((width + 2 * padding - kernel) / stride) + 1;
  const rows = inChannels * height * width;
  const cols = outChannels * outHeight * outWidth;
  if (!(rows * cols <= U32_RANGE)) {
    throw new ArbnetError(
      `invalid conv2d geometry: rows × cols = ${rows} × ${cols} positions, more than 2^32; ` +
        `positions must fit in a u32, so use fewer channels or a smaller image`,
    );
  }
  const tableSize = outChannels * inChannels * kernel * kernel;
  if (tableSize > U32_MAX) {
    invalidOption("kernel", kernel, "outChannels · inChannels · kernel² < 2^32");
  }
  return {
    inChannels,
    outChannels,
    kernel,
    stride,
    padding,
    height,
    width,
    rows,
    cols,
    tableSize,
    outHeight,
    outWidth,
  };
}

/**
 * The virtual-matrix shape and table size of a convolution.
 *
 * @param options the convolution's geometry
 * @returns `{ rows, cols, tableSize }`
 *
 * @example
 * ```ts
 * import { conv2dShape } from "./conv2d.ts";
 * conv2dShape({ inChannels: 1, outChannels: 4, kernel: 3, height: 28, width: 28 });
 * // { rows: 784, cols: 2704, tableSize: 36 }
 * ```
 */
export function conv2dShape(options: Conv2dOptions): Conv2dGeometry {
  const r = resolve(options);
  return { rows: r.rows, cols: r.cols, tableSize: r.tableSize };
}

/**
 * The output image size `H' × W'` of a convolution.
 *
 * @param options the convolution's geometry
 * @returns `{ height: H', width: W' }`, `H' = floor((H + 2·padding − kernel) / stride) + 1`
 */
export function conv2dOutputSize(options: Conv2dOptions): { height: number; width: number } {
  const r = resolve(options);
  return { height: r.outHeight, width: r.outWidth };
}

/**
 * The slot of one position (the per-position rule, for procedural evaluation).
 *
 * @param p the position, a u32 below `rows · cols`
 * @param options the convolution's geometry
 * @returns a kernel entry in `[0, tableSize)`, or `tableSize` outside the receptive field
 */
export function conv2dSlot(p: number, options: Conv2dOptions): number {
  const g = resolve(options);
  const i = Math.floor(p / g.cols);
  const j = p % g.cols;
  const x = i % g.width;
  const y = Math.floor(i / g.width) % g.height;
  const c = Math.floor(i / (g.width * g.height));
  const xo = j % g.outWidth;
  const yo = Math.floor(j / g.outWidth) % g.outHeight;
  const o = Math.floor(j / (g.outWidth * g.outHeight));
  // Compared before subtracting so a u32 port never goes negative.
  const ty = y + g.padding;
  const tx = x + g.padding;
  if (ty < yo * g.stride || tx < xo * g.stride) return g.tableSize;
  const dy = ty - yo * g.stride;
  const dx = tx - xo * g.stride;
  if (dy >= g.kernel || dx >= g.kernel) return g.tableSize;
  return ((o * g.inChannels + c) * g.kernel + dy) * g.kernel + dx;
}

/**
 * A convolution as an ArbNet (see the module doc for the layout).
 *
 * @param options the convolution's geometry
 * @returns the hash; `indices()` requires `rows`, `cols` and `tableSize` from
 *   {@linkcode conv2dShape}
 *
 * @example
 * ```ts
 * import { conv2d, conv2dShape } from "./conv2d.ts";
 * const opts = { inChannels: 1, outChannels: 4, kernel: 3, height: 28, width: 28 };
 * const { rows, cols, tableSize } = conv2dShape(opts);
 * const idx = conv2d(opts).indices({ rows, cols, tableSize, seed: 0 });
 * ```
 */
export function conv2d(options: Conv2dOptions): Hash {
  const g = resolve(options);
  return makeHash({
    family: "conv2d",
    options: {
      inChannels: g.inChannels,
      outChannels: g.outChannels,
      kernel: g.kernel,
      stride: g.stride,
      padding: g.padding,
      height: g.height,
      width: g.width,
    },
    sign: false,
    check(s) {
      const want = `for hashes.conv2d(${JSON.stringify(options)})`;
      if (s.rows !== g.rows) {
        invalidOption("rows", s.rows, `${g.rows} = inChannels·height·width ${want}`);
      }
      if (s.cols !== g.cols) invalidOption("cols", s.cols, `${g.cols} = outChannels·H'·W' ${want}`);
      if (s.tableSize !== g.tableSize) {
        invalidOption(
          "tableSize",
          s.tableSize,
          `${g.tableSize} = outChannels·inChannels·kernel² ${want}`,
        );
      }
    },
    fill(s, out) {
      const { inChannels, outChannels, kernel: k, stride, padding, height, width } = g;
      const { outHeight, outWidth, cols } = g;
      out.fill(s.tableSize);
      for (let c = 0; c < inChannels; c++) {
        for (let y = 0; y < height; y++) {
          for (let x = 0; x < width; x++) {
            const base = ((c * height + y) * width + x) * cols;
            for (let o = 0; o < outChannels; o++) {
              for (let dy = 0; dy < k; dy++) {
                const ty = y + padding - dy;
                if (ty < 0 || ty % stride !== 0 || ty / stride >= outHeight) continue;
                const yo = ty / stride;
                for (let dx = 0; dx < k; dx++) {
                  const tx = x + padding - dx;
                  if (tx < 0 || tx % stride !== 0 || tx / stride >= outWidth) continue;
                  const xo = tx / stride;
                  out[base + (o * outHeight + yo) * outWidth + xo] =
                    ((o * inChannels + c) * k + dy) * k + dx;
                }
              }
            }
          }
        }
      }
    },
    // A receptive field: PyTorch's fan-in, also for the border outputs that
    // padding leaves with fewer inputs.
  }, { fanIn: () => g.inChannels * g.kernel * g.kernel });
}
