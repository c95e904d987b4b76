/**
 * MNIST from idx bytes already in memory: the half of the loader that needs
 * no file system, so a browser page can fetch the four files and build the
 * same {@linkcode Dataset} as `loadMnist`.
 *
 * May import only `lib/errors.ts` and `lib/data/*` (no `node:` built-ins, no
 * `Deno` API: it is part of the browser build).
 * @module
 */

import { ArbnetError } from "../errors.ts";
import type { Dataset, Split } from "./dataset.ts";
import { BYTE_TO_UNIT, checkLimit } from "./files.ts";
import { type IdxData, parseIdx } from "./idx.ts";

/** Side of an MNIST image in pixels. */
export const MNIST_SIDE = 28;
const CLASSES = 10;

/**
 * The dataset of one MNIST split from its decoded label and image files
 * (pixels scaled to [0, 1], `shape` `[1, 28, 28]`).
 *
 * @throws {ArbnetError} naming the files if their counts differ, they hold
 * no image, or a label is not a digit.
 */
export function mnistFromIdx(split: Split, images: IdxData, labels: IdxData): Dataset {
  if (images.dims[0] !== labels.dims[0]) {
    throw new ArbnetError(
      `MNIST ${split} files disagree: ${images.path} has ${images.dims[0]} images but ` +
        `${labels.path} has ${labels.dims[0]} labels`,
    );
  }
  const count = images.items;
  if (count === 0) throw new ArbnetError(`MNIST file ${images.path} holds no images`);

  const y = new Uint32Array(count);
  for (let i = 0; i < count; i++) {
    const label = labels.data[i];
    if (label >= CLASSES) {
      throw new ArbnetError(
        `${labels.path}: label ${i} is ${label}, expected a digit 0-9 (is this an MNIST label file?)`,
      );
    }
    y[i] = label;
  }
  const px = images.data;
  const x = new Float32Array(px.length);
  for (let i = 0; i < px.length; i++) x[i] = BYTE_TO_UNIT[px[i]];

  return {
    name: `mnist-${split}`,
    x,
    y,
    count,
    features: MNIST_SIDE * MNIST_SIDE,
    classes: CLASSES,
    shape: [1, MNIST_SIDE, MNIST_SIDE],
  };
}

/** The two files of one split, as bytes, with names for error messages. */
export interface MnistBytes {
  /** The image file (`*-images-idx3-ubyte`), uncompressed. */
  images: Uint8Array;
  /** The label file (`*-labels-idx1-ubyte`), uncompressed. */
  labels: Uint8Array;
  /** Names of the two files in messages. Default: the standard file names. */
  names?: { images: string; labels: string };
}

/**
 * One MNIST split from the bytes of its idx files (e.g. fetched by a web
 * page), validated like `loadMnist`; `limit` keeps the first examples.
 *
 * @example
 * ```ts ignore
 * const get = async (f: string) => new Uint8Array(await (await fetch(f)).arrayBuffer());
 * const test = await parseMnist("test", {
 *   images: await get("t10k-images-idx3-ubyte"),
 *   labels: await get("t10k-labels-idx1-ubyte"),
 * });
 * ```
 */
export async function parseMnist(
  split: Split,
  files: MnistBytes,
  limit?: number,
): Promise<Dataset> {
  const lim = Number.isFinite(checkLimit(limit)) ? limit : undefined;
  const prefix = split === "train" ? "train" : "t10k";
  const names = files.names ??
    { images: `${prefix}-images-idx3-ubyte`, labels: `${prefix}-labels-idx1-ubyte` };
  const labels = await parseIdx(files.labels, names.labels, { rank: 1, limit: lim });
  const images = await parseIdx(files.images, names.images, {
    rank: 3,
    dims: [null, MNIST_SIDE, MNIST_SIDE],
    limit: lim,
  });
  return mnistFromIdx(split, images, labels);
}
