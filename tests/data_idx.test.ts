/**
 * The idx reader and the MNIST loader on small files written to a temp dir:
 * round trips, and every malformed-input case producing an ArbnetError that
 * names the offending file.
 * @module
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { encodeIdx, loadMnist, MNIST_FILES, readIdx } from "../lib/data/mod.ts";
import { rejectsWith, withTempDir } from "./_util.ts";

async function gzip(bytes: Uint8Array): Promise<Uint8Array> {
  const stream = new Blob([bytes.slice()]).stream().pipeThrough(new CompressionStream("gzip"));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

/** `n` deterministic 28×28 images (pixel = (31·i + 7·k) mod 256) and labels `i mod 10`. */
function fakeMnist(n: number) {
  const px = new Uint8Array(n * 784);
  for (let i = 0; i < n; i++) {
    for (let k = 0; k < 784; k++) px[i * 784 + k] = (31 * i + 7 * k) % 256;
  }
  const labels = new Uint8Array(n).map((_, i) => i % 10);
  return { images: encodeIdx([n, 28, 28], px), labels: encodeIdx([n], labels), px, raw: labels };
}

async function writeMnist(dir: string, split: "train" | "test", n: number, nLabels = n) {
  const f = fakeMnist(Math.max(n, nLabels));
  await Deno.writeFile(
    join(dir, MNIST_FILES[split].images),
    encodeIdx([n, 28, 28], f.px.subarray(0, n * 784)),
  );
  await Deno.writeFile(
    join(dir, MNIST_FILES[split].labels),
    encodeIdx([nLabels], f.raw.subarray(0, nLabels)),
  );
  return f;
}

Deno.test("idx: a hand-written label file reads back exactly", async () => {
  await withTempDir(async (dir) => {
    const path = join(dir, "labels");
    // magic 0x00000801, one dimension of size 3, then the bytes
    await Deno.writeFile(path, new Uint8Array([0, 0, 8, 1, 0, 0, 0, 3, 7, 2, 1]));
    const got = await readIdx(path, { rank: 1 });
    assert.deepEqual(got.dims, [3]);
    assert.equal(got.items, 3);
    assert.deepEqual([...got.data], [7, 2, 1]);
    assert.equal(got.path, path);
  });
});

Deno.test("idx: encodeIdx writes big-endian headers and round-trips, with limit", async () => {
  await withTempDir(async (dir) => {
    const data = new Uint8Array(2 * 3 * 4).map((_, i) => (i * 11) % 256);
    const bytes = encodeIdx([2, 3, 4], data);
    assert.deepEqual([...bytes.subarray(0, 16)], [0, 0, 8, 3, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0, 4]);
    const path = join(dir, "cube");
    await Deno.writeFile(path, bytes);
    const all = await readIdx(path, { rank: 3, dims: [null, 3, 4] });
    assert.deepEqual(all.dims, [2, 3, 4]);
    assert.deepEqual([...all.data], [...data]);
    const one = await readIdx(path, { rank: 3, limit: 1 });
    assert.equal(one.items, 1);
    assert.deepEqual(one.dims, [2, 3, 4], "dims describe the file, not the limit");
    assert.deepEqual([...one.data], [...data.subarray(0, 12)]);
  });
});

Deno.test("idx: a .gz file is decompressed", async () => {
  await withTempDir(async (dir) => {
    const path = join(dir, "labels.gz");
    await Deno.writeFile(path, await gzip(encodeIdx([4], new Uint8Array([9, 8, 7, 6]))));
    const got = await readIdx(path, { rank: 1 });
    assert.deepEqual([...got.data], [9, 8, 7, 6]);
    const bad = join(dir, "corrupt.gz");
    await Deno.writeFile(bad, (await gzip(encodeIdx([4], new Uint8Array(4)))).subarray(0, 12));
    await rejectsWith(readIdx(bad, { rank: 1 }), bad, "decompress");
  });
});

Deno.test("idx: wrong magic names the file, the magic found and the one expected", async () => {
  await withTempDir(async (dir) => {
    const path = join(dir, "labels");
    await Deno.writeFile(path, encodeIdx([3], new Uint8Array(3)));
    await rejectsWith(readIdx(path, { rank: 3 }), path, "0x00000801", "0x00000803");
    const gz = join(dir, "compressed-without-suffix");
    await Deno.writeFile(gz, await gzip(encodeIdx([3], new Uint8Array(3))));
    await rejectsWith(readIdx(gz, { rank: 1 }), gz, "magic", "gzip");
  });
});

Deno.test("idx: truncated data, truncated header and trailing bytes are errors", async () => {
  await withTempDir(async (dir) => {
    const good = encodeIdx([2, 28, 28], new Uint8Array(2 * 784)); // 16 + 1568 = 1584 bytes
    const short = join(dir, "short");
    await Deno.writeFile(short, good.subarray(0, good.length - 1));
    await rejectsWith(readIdx(short, { rank: 3 }), short, "truncated", "1584", "1583");
    // A limit must not hide a bad file.
    await rejectsWith(readIdx(short, { rank: 3, limit: 1 }), short, "truncated");

    const long = join(dir, "long");
    await Deno.writeFile(long, new Uint8Array([...good, 0, 0]));
    await rejectsWith(readIdx(long, { rank: 3 }), long, "trailing", "1584", "1586");

    const header = join(dir, "header");
    await Deno.writeFile(header, good.subarray(0, 10));
    await rejectsWith(readIdx(header, { rank: 3 }), header, "truncated", "16", "10");

    const tiny = join(dir, "tiny");
    await Deno.writeFile(tiny, new Uint8Array([0, 0]));
    await rejectsWith(readIdx(tiny, { rank: 1 }), tiny, "truncated");
  });
});

Deno.test("idx: dimensions other than expected are an error", async () => {
  await withTempDir(async (dir) => {
    const path = join(dir, "images");
    await Deno.writeFile(path, encodeIdx([2, 28, 27], new Uint8Array(2 * 28 * 27)));
    await rejectsWith(readIdx(path, { rank: 3, dims: [null, 28, 28] }), path, "2×28×27", "N×28×28");
  });
});

Deno.test("idx: a missing file is an ArbnetError naming it", async () => {
  await withTempDir(async (dir) => {
    const path = join(dir, "nope");
    await rejectsWith(readIdx(path, { rank: 1 }), path, "not found");
    await rejectsWith(readIdx(dir, { rank: 1 }), dir, "not a regular file");
  });
});

Deno.test("mnist: loads hand-made idx files, scaled to [0, 1], with limit", async () => {
  await withTempDir(async (dir) => {
    const f = await writeMnist(dir, "test", 5);
    const ds = await loadMnist({ split: "test", dir });
    assert.equal(ds.name, "mnist-test");
    assert.equal(ds.count, 5);
    assert.equal(ds.features, 784);
    assert.equal(ds.classes, 10);
    assert.deepEqual(ds.shape, [1, 28, 28]);
    assert.deepEqual([...ds.y], [0, 1, 2, 3, 4]);
    assert.equal(ds.x.length, 5 * 784);
    for (let i = 0; i < ds.x.length; i++) {
      if (ds.x[i] !== Math.fround(f.px[i] / 255)) assert.fail(`pixel ${i}: ${ds.x[i]}`);
    }
    const few = await loadMnist({ split: "test", dir, limit: 2 });
    assert.equal(few.count, 2);
    assert.deepEqual([...few.x], [...ds.x.subarray(0, 2 * 784)]);
    const more = await loadMnist({ split: "test", dir, limit: 99 });
    assert.equal(more.count, 5, "a limit above the count loads everything");
    await rejectsWith(loadMnist({ split: "test", dir, limit: 0 }), "limit");
    await rejectsWith(loadMnist({ split: "valid" as "test", dir }), "split");
  });
});

Deno.test("mnist: gzipped files are read when the plain ones are absent", async () => {
  await withTempDir(async (dir) => {
    const f = fakeMnist(3);
    await Deno.writeFile(join(dir, MNIST_FILES.train.images + ".gz"), await gzip(f.images));
    await Deno.writeFile(join(dir, MNIST_FILES.train.labels + ".gz"), await gzip(f.labels));
    const ds = await loadMnist({ split: "train", dir });
    assert.equal(ds.count, 3);
    assert.deepEqual([...ds.y], [0, 1, 2]);
    assert.equal(ds.x[784 + 1], Math.fround(f.px[784 + 1] / 255));
  });
});

Deno.test("mnist: image/label count mismatch names both files", async () => {
  await withTempDir(async (dir) => {
    await writeMnist(dir, "train", 4, 3);
    await rejectsWith(
      loadMnist({ split: "train", dir }),
      join(dir, MNIST_FILES.train.images),
      join(dir, MNIST_FILES.train.labels),
      "4",
      "3",
    );
  });
});

Deno.test("mnist: a label ≥ 10 names the label file", async () => {
  await withTempDir(async (dir) => {
    await writeMnist(dir, "test", 3);
    const labels = join(dir, MNIST_FILES.test.labels);
    await Deno.writeFile(labels, encodeIdx([3], new Uint8Array([1, 10, 2])));
    await rejectsWith(loadMnist({ split: "test", dir }), labels, "10");
  });
});

Deno.test("mnist: wrong image size names the image file", async () => {
  await withTempDir(async (dir) => {
    await writeMnist(dir, "test", 2);
    const images = join(dir, MNIST_FILES.test.images);
    await Deno.writeFile(images, encodeIdx([2, 32, 32], new Uint8Array(2 * 1024)));
    await rejectsWith(loadMnist({ split: "test", dir }), images, "32×32");
  });
});

Deno.test("mnist: missing file, missing folder and a file as folder are errors", async () => {
  await withTempDir(async (dir) => {
    const f = fakeMnist(2);
    await Deno.writeFile(join(dir, MNIST_FILES.test.images), f.images);
    await rejectsWith(loadMnist({ split: "test", dir }), join(dir, MNIST_FILES.test.labels));
    // The test files being present does not help the train split.
    await rejectsWith(loadMnist({ split: "train", dir }), MNIST_FILES.train.images);

    const gone = join(dir, "no-such-dir");
    await rejectsWith(loadMnist({ split: "test", dir: gone }), gone, MNIST_FILES.test.images);
    const file = join(dir, MNIST_FILES.test.images);
    await rejectsWith(loadMnist({ split: "test", dir: file }), file, "not a folder");
  });
});

Deno.test({
  name: "mnist: an unreadable folder is an error naming the path",
  // root reads through any permission bits, so this can only fail for other users.
  ignore: Deno.uid() === 0,
  fn: async () => {
    await withTempDir(async (dir) => {
      const locked = join(dir, "locked");
      await Deno.mkdir(locked);
      await writeMnist(locked, "test", 2);
      await Deno.chmod(locked, 0o000);
      try {
        await rejectsWith(loadMnist({ split: "test", dir: locked }), locked);
      } finally {
        await Deno.chmod(locked, 0o700);
      }
    });
  },
});
