/**
 * The CIFAR-10 binary loader on small fake batch files: exact values, labels
 * and channel order, folder discovery, limit, and malformed-input errors.
 * @module
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { CIFAR10_FILES, CIFAR10_SUBDIR, loadCifar10 } from "../lib/data/mod.ts";
import { rejectsWith, withTempDir } from "./_util.ts";

const RECORD = 3073;
const PER_FILE = 7;

/** Label of global example `g`, spread over all classes. */
const label = (g: number) => (g * 3) % 10;

/** Pixel byte of global example `g`, channel `c`, row `y`, column `x`: distinct per channel. */
const pixel = (g: number, c: number, y: number, x: number) => (g * 13 + c * 85 + y * 7 + x) % 256;

/** A batch file of `n` records for global examples `first … first+n-1`. */
function batchFile(first: number, n: number): Uint8Array {
  const out = new Uint8Array(n * RECORD);
  for (let r = 0; r < n; r++) {
    const g = first + r;
    out[r * RECORD] = label(g);
    for (let c = 0; c < 3; c++) {
      for (let y = 0; y < 32; y++) {
        for (let x = 0; x < 32; x++) {
          out[r * RECORD + 1 + c * 1024 + y * 32 + x] = pixel(g, c, y, x);
        }
      }
    }
  }
  return out;
}

async function writeSplit(dir: string, split: "train" | "test") {
  for (const [f, name] of CIFAR10_FILES[split].entries()) {
    await Deno.writeFile(join(dir, name), batchFile(f * PER_FILE, PER_FILE));
  }
}

function checkExample(ds: { x: Float32Array; y: Uint32Array }, i: number, g: number) {
  assert.equal(ds.y[i], label(g), `label of example ${i}`);
  for (let c = 0; c < 3; c++) {
    for (let y = 0; y < 32; y++) {
      for (let x = 0; x < 32; x++) {
        const got = ds.x[i * 3072 + c * 1024 + y * 32 + x];
        const want = Math.fround(pixel(g, c, y, x) / 255);
        if (got !== want) assert.fail(`example ${i} (c=${c}, y=${y}, x=${x}): ${got} ≠ ${want}`);
      }
    }
  }
}

Deno.test("cifar10: train split concatenates the 5 batches, channel-major, in [0, 1]", async () => {
  await withTempDir(async (dir) => {
    await writeSplit(dir, "train");
    const ds = await loadCifar10({ split: "train", dir });
    assert.equal(ds.name, "cifar10-train");
    assert.equal(ds.count, 5 * PER_FILE);
    assert.equal(ds.features, 3072);
    assert.equal(ds.classes, 10);
    assert.deepEqual(ds.shape, [3, 32, 32]);
    assert.equal(ds.x.length, ds.count * 3072);
    for (let g = 0; g < ds.count; g++) checkExample(ds, g, g);
    // A hand-checked value: example 8, green channel, row 2, column 5.
    assert.equal(
      ds.x[8 * 3072 + 1024 + 2 * 32 + 5],
      Math.fround(((8 * 13 + 85 + 14 + 5) % 256) / 255),
    );
  });
});

Deno.test("cifar10: test split, parent folder, limit across files", async () => {
  await withTempDir(async (parent) => {
    const dir = join(parent, CIFAR10_SUBDIR);
    await Deno.mkdir(dir);
    await writeSplit(dir, "test");
    await writeSplit(dir, "train");
    const test = await loadCifar10({ split: "test", dir: parent });
    assert.equal(test.name, "cifar10-test");
    assert.equal(test.count, PER_FILE);
    for (let g = 0; g < PER_FILE; g++) checkExample(test, g, g);

    const some = await loadCifar10({ split: "train", dir, limit: 10 });
    assert.equal(some.count, 10);
    for (let g = 0; g < 10; g++) checkExample(some, g, g);
    const all = await loadCifar10({ split: "train", dir: parent, limit: 1000 });
    assert.equal(all.count, 5 * PER_FILE);
    await rejectsWith(loadCifar10({ split: "train", dir, limit: -1 }), "limit");
  });
});

Deno.test("cifar10: a size that is not a multiple of 3073 names the file and its size", async () => {
  await withTempDir(async (dir) => {
    await writeSplit(dir, "train");
    const bad = join(dir, "data_batch_3.bin");
    await Deno.writeFile(bad, batchFile(0, PER_FILE).subarray(0, PER_FILE * RECORD - 1));
    await rejectsWith(loadCifar10({ split: "train", dir, limit: 1 }), bad, String(21510));
    await Deno.writeFile(bad, new Uint8Array(0));
    await rejectsWith(loadCifar10({ split: "train", dir }), bad, "size 0");
  });
});

Deno.test("cifar10: missing files are all listed by name", async () => {
  await withTempDir(async (dir) => {
    await writeSplit(dir, "train");
    await Deno.remove(join(dir, "data_batch_2.bin"));
    await Deno.remove(join(dir, "data_batch_5.bin"));
    await rejectsWith(
      loadCifar10({ split: "train", dir }),
      "data_batch_2.bin, data_batch_5.bin",
      dir,
    );
    await rejectsWith(loadCifar10({ split: "test", dir }), "test_batch.bin", CIFAR10_SUBDIR);
    const gone = join(dir, "nowhere");
    await rejectsWith(loadCifar10({ split: "test", dir: gone }), gone, "test_batch.bin");
  });
});

Deno.test("cifar10: a label ≥ 10 names the file and the record", async () => {
  await withTempDir(async (dir) => {
    const bytes = batchFile(0, PER_FILE);
    bytes[4 * RECORD] = 10;
    const path = join(dir, "test_batch.bin");
    await Deno.writeFile(path, bytes);
    await rejectsWith(loadCifar10({ split: "test", dir }), path, "record 4", "label 10");
    // Records past the limit are not read, so not checked.
    const ok = await loadCifar10({ split: "test", dir, limit: 4 });
    assert.equal(ok.count, 4);
  });
});
