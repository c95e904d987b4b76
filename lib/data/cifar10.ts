/**
 * CIFAR-10 (32×32 colour, 10 classes) from the standard binary version:
 * `data_batch_1.bin` … `data_batch_5.bin` and `test_batch.bin`, each a run
 * of 3073-byte records (1 label byte, then 1024 R, 1024 G, 1024 B bytes, each
 * plane row-major). The record layout is already channel-major, so features
 * keep it: `(c, y, x)`, scaled to [0, 1].
 *
 * May import only `lib/errors.ts`, `lib/data/*` and `node:` built-ins.
 * @module
 */

import { join } from "node:path";
import { ArbnetError, invalidOption } from "../errors.ts";
import type { Dataset, Split } from "./dataset.ts";
import { BYTE_TO_UNIT, checkLimit, openSource, requireDir, statOrNull } from "./files.ts";

/** Options of {@linkcode loadCifar10}. */
export interface Cifar10Options {
  /** `"train"` (the five data batches, 50,000 examples) or `"test"` (10,000). */
  split: Split;
  /**
   * The folder holding the `.bin` files, or its parent holding
   * `cifar-10-batches-bin/` (as unpacked from `cifar-10-binary.tar.gz`).
   */
  dir: string;
  /** Load at most this many examples, in file order. Default: all. */
  limit?: number;
}

/** The files {@linkcode loadCifar10} reads for each split, in order. */
export const CIFAR10_FILES: { readonly [S in Split]: readonly string[] } = {
  train: [1, 2, 3, 4, 5].map((i) => `data_batch_${i}.bin`),
  test: ["test_batch.bin"],
};

/** The sub-folder name the official archive unpacks to. */
export const CIFAR10_SUBDIR = "cifar-10-batches-bin";

const SIDE = 32;
const FEATURES = 3 * SIDE * SIDE;
const RECORD = 1 + FEATURES;
const CLASSES = 10;

/**
 * Loads one split of CIFAR-10 (binary version). `shape` is `[3, 32, 32]`.
 *
 * @throws {ArbnetError} if the folder is missing, files are missing (all of
 * them are listed), a file's size is not a multiple of 3073 bytes, or a label
 * is not in 0-9; messages name the file.
 *
 * @example
 * ```ts ignore
 * const test = await loadCifar10({ split: "test", dir: "data/cifar-10-batches-bin" });
 * ```
 */
export async function loadCifar10(options: Cifar10Options): Promise<Dataset> {
  const { split, dir } = options;
  if (split !== "train" && split !== "test") invalidOption("split", split, '"train" or "test"');
  if (typeof dir !== "string" || dir === "") {
    invalidOption("dir", dir, `a folder holding the CIFAR-10 .bin files or ${CIFAR10_SUBDIR}/`);
  }
  const limit = checkLimit(options.limit);
  const names = CIFAR10_FILES[split];
  const { folder, looked } = await findFolder(dir, names);

  // Size-check every file up front, so a bad download fails even with a small limit.
  const sizes: number[] = [];
  const missing: string[] = [];
  for (const name of names) {
    const info = await statOrNull(join(folder, name), "CIFAR-10 file");
    if (info === null) missing.push(name);
    else sizes.push(info.size);
  }
  if (missing.length > 0) {
    throw new ArbnetError(
      `CIFAR-10 ${split} files missing: ${missing.join(", ")} (looked in ${looked.join(" and ")})`,
    );
  }
  names.forEach((name, i) => {
    const size = sizes[i];
    if (size === 0 || size % RECORD !== 0) {
      throw new ArbnetError(
        `${join(folder, name)}: size ${size} bytes is not a positive multiple of the ` +
          `${RECORD}-byte CIFAR-10 record (is this the binary version?)`,
      );
    }
  });

  const total = sizes.reduce((a, s) => a + s / RECORD, 0);
  const count = Math.min(total, limit);
  const x = new Float32Array(count * FEATURES);
  const y = new Uint32Array(count);
  let done = 0;
  for (let f = 0; f < names.length && done < count; f++) {
    const path = join(folder, names[f]);
    const records = Math.min(sizes[f] / RECORD, count - done);
    const src = await openSource(path, "CIFAR-10 file");
    let bytes: Uint8Array;
    try {
      bytes = await src.read(0, records * RECORD);
    } finally {
      src.close();
    }
    for (let r = 0; r < records; r++) {
      const at = r * RECORD;
      const label = bytes[at];
      if (label >= CLASSES) {
        throw new ArbnetError(
          `${path}: record ${r} has label ${label}, expected 0-9 (is this CIFAR-100?)`,
        );
      }
      y[done] = label;
      const out = done * FEATURES;
      for (let k = 0; k < FEATURES; k++) x[out + k] = BYTE_TO_UNIT[bytes[at + 1 + k]];
      done++;
    }
  }

  return {
    name: `cifar10-${split}`,
    x,
    y,
    count,
    features: FEATURES,
    classes: CLASSES,
    shape: [3, SIDE, SIDE],
  };
}

/**
 * `dir` itself if it holds any of the split's files, else `dir/cifar-10-batches-bin`
 * if that folder exists, else `dir`; `looked` lists the folders tried, for errors.
 */
async function findFolder(
  dir: string,
  names: readonly string[],
): Promise<{ folder: string; looked: string[] }> {
  await requireDir(dir, "CIFAR-10", names);
  for (const name of names) {
    if (await statOrNull(join(dir, name), "CIFAR-10 file")) return { folder: dir, looked: [dir] };
  }
  const sub = join(dir, CIFAR10_SUBDIR);
  const info = await statOrNull(sub, "CIFAR-10 folder");
  return info?.isDirectory ? { folder: sub, looked: [sub] } : { folder: dir, looked: [dir, sub] };
}
