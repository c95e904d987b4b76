/**
 * User hash families as first-class citizens: a family defined by its slot
 * rule gets sparsity and signs exactly as a built-in does, is rebuilt by
 * name (checkpoints, the training CLI, view-hash, ONNX via the layer), and
 * every hash's output is checked before training: a bad one is refused
 * naming the family and the first bad position. A family's WGSL rule must
 * agree with its TypeScript rule; a built-in's name cannot be taken.
 * @module
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import {
  checkHashOutput,
  defineHashFamily,
  type Hash,
  hashes,
  hashFromDescriptor,
  isDenseHash,
  registeredHashFamilies,
  registerHashFamily,
  unregisterHashFamily,
  xxh32U32,
} from "../lib/hash/mod.ts";
import { ArbLinear } from "../lib/nn/arb_linear.ts";
import { Sequential } from "../lib/nn/layers.ts";
import { SGD } from "../lib/optim/mod.ts";
import { buildMlp, trainStep } from "../lib/train/mod.ts";
import { buildFromCheckpoint, readCheckpointInfo, saveCheckpoint } from "../lib/io/checkpoint.ts";
import { pixelBlocks, runCustomHash } from "../examples/custom_hash.ts";
import { TrainRunner } from "../lib/experiment/train_run.ts";
import {
  assertScriptError,
  rejectsArbnet,
  runTrain,
  tempDir,
  throwsArbnet,
  writeFakeMnist,
} from "./_reliability.ts";
import { assertClose, forwardHost, gpuTest, randomF32 } from "./_util.ts";

const SPEC = { rows: 37, cols: 29, tableSize: 101, seed: 7 };
const EXAMPLE = new URL("../examples/custom_hash.ts", import.meta.url).pathname;

/** The uniform rule written as a user family: it must equal hashes.uniform() bit for bit. */
const myUniform = defineHashFamily({
  name: "myUniform",
  defaults: { sign: true },
  sign: (o) => o.sign,
  slot: (p, s) => xxh32U32(p, s.slotSeed) % s.tableSize,
  wgsl: "fn family_slot(p: u32) -> u32 {\n" +
    "  return xxh32_u32(p, hash_params.slot_seed) % hash_params.table_size;\n}",
});
registerHashFamily("myUniform", myUniform);

Deno.test("user family: sparsity and signs are applied exactly as for the built-ins", () => {
  for (const sparsity of [0, 0.3, 0.9]) {
    for (const sign of [true, false]) {
      const spec = { ...SPEC, sparsity };
      const mine = myUniform({ sign }), theirs = hashes.uniform({ sign });
      assert.deepEqual(mine.indices(spec), theirs.indices(spec), `sparsity ${sparsity}`);
      assert.deepEqual(mine.signs(spec), theirs.signs(spec), `sign ${sign}`);
    }
  }
  const h = myUniform({ sign: false });
  assert.equal(h.family, "myUniform");
  assert.deepEqual({ ...h.options }, { sign: false });
});

Deno.test("user family: rebuilt by name from its descriptor, listed among the families", () => {
  const h = pixelBlocks({ block: 4 });
  const again = hashFromDescriptor({ family: h.family, options: { ...h.options } });
  const spec = { rows: 784, cols: 10, tableSize: 490, sparsity: 0.2, seed: 3 };
  assert.deepEqual(again.indices(spec), h.indices(spec));
  assert.ok(registeredHashFamilies().includes("pixelBlocks"));
  assert.ok(registeredHashFamilies().includes("myUniform"));
  // Known answer: the 4×4 block of pixels (0..3, 0..3) shares output 0's slot.
  const idx = h.indices({ ...spec, sparsity: 0 });
  for (const i of [0, 1, 3, 28, 31, 87]) assert.equal(idx[i * 10], 0, `pixel ${i}`);
  assert.equal(idx[4 * 10], 10, "pixel 4 starts the next block");
  assert.equal(idx[4 * 28 * 10 + 3], 7 * 10 + 3, "block row 1, output 3");
});

Deno.test("user family: a built-in's name, a malformed name or a taken one is refused", () => {
  for (const name of ["dense", "uniform", "dirichlet", "neighborhood", "conv2d", "recurrent"]) {
    throwsArbnet(
      `define ${name}`,
      () => defineHashFamily({ name, defaults: {}, slot: () => 0 }),
      `${JSON.stringify(name)} belongs to a built-in family`,
    );
    throwsArbnet(
      `register ${name}`,
      () => registerHashFamily(name, () => hashes.dense()),
      "belongs to a built-in family",
    );
  }
  throwsArbnet("bad name", () => registerHashFamily("my hash", myUniform), "hash family name");
  throwsArbnet(
    "taken",
    () => registerHashFamily("myUniform", defineHashFamily(myUniformDef())),
    'a different hash family is already registered as "myUniform"',
  );
  registerHashFamily("myUniform", myUniform); // the same factory again: fine
  // A hand-made hash calling itself "dense" is not the identity hash.
  const fake: Hash = { ...hashes.dense() };
  assert.equal(fake.family, "dense");
  assert.equal(isDenseHash(fake), false);
  assert.equal(isDenseHash(hashes.dense()), true);
  assert.equal(isDenseHash(hashFromDescriptor({ family: "dense", options: {} })), true);
});

function myUniformDef() {
  return { name: "myUniform", defaults: {}, slot: () => 0 };
}

Deno.test("user family: bad options and a factory that lies about its family are refused", () => {
  throwsArbnet("unknown option", () => pixelBlocks({ blok: 2 } as never), 'unknown option "blok"');
  throwsArbnet("wrong type", () => pixelBlocks({ block: "2" } as never), "invalid option block");
  throwsArbnet("checkOptions", () => pixelBlocks({ block: 0 }), "invalid pixelBlocks option block");
  registerHashFamily("liar", () => hashes.uniform());
  try {
    throwsArbnet(
      "liar",
      () => hashFromDescriptor({ family: "liar", options: {} }),
      'registered as hash family "liar" returned a "uniform" hash',
    );
  } finally {
    assert.equal(unregisterHashFamily("liar"), true);
  }
  throwsArbnet(
    "unregistered",
    () => hashFromDescriptor({ family: "liar", options: {} }),
    'unknown hash family "liar"',
    "registerHashFamily",
  );
});

Deno.test("a bad hash output is refused naming the family and the first bad position", () => {
  const outOfRange = defineHashFamily({
    name: "outOfRange",
    defaults: {},
    slot: (p, s) => (p === 40 ? s.tableSize + 1 : p % s.tableSize),
  });
  throwsArbnet(
    "slot rule out of range",
    () => outOfRange().indices(SPEC),
    '"outOfRange" hash',
    "position 40 (row 1, column 11)",
    "slot 102",
    "[0, 101]",
  );
  const fractional = defineHashFamily({ name: "fractional", defaults: {}, slot: () => 0.5 });
  throwsArbnet("non-integer slot", () => fractional().indices(SPEC), "position 0", "slot 0.5");
  const n = SPEC.rows * SPEC.cols;
  const ok = new Uint32Array(n);
  throwsArbnet(
    "short",
    () => checkHashOutput("handmade", SPEC, ok.subarray(1), null),
    '"handmade" hash',
    `returned ${n - 1} slots`,
    `first bad position is ${n - 1}`,
  );
  const big = ok.slice();
  big[77] = 500;
  throwsArbnet("range", () => checkHashOutput("handmade", SPEC, big, null), "position 77", "500");
  const signs = new Int8Array(n).fill(1);
  signs[5] = 0;
  throwsArbnet("sign", () => checkHashOutput("handmade", SPEC, ok, signs), "position 5", "sign 0");
  throwsArbnet(
    "array",
    () => checkHashOutput("handmade", SPEC, Array.from(ok), null),
    "expected a Uint32Array",
  );
  checkHashOutput("handmade", SPEC, ok, signs.fill(-1));
});

/** A hand-made hash (not from defineHashFamily) whose indices() are the given array. */
function handmade(family: string, indices: (n: number) => Uint32Array): Hash {
  return {
    family,
    options: {},
    indices: (s) => indices(s.rows * s.cols),
    signs: () => null,
  };
}

gpuTest(
  "ArbLinear refuses a hand-made hash with a wrong length or a slot out of range",
  async (gpu) => {
    const layer = (hash: Hash) =>
      new ArbLinear(gpu, { inFeatures: 12, outFeatures: 5, tableSize: 20, hash, seed: 1 });
    throwsArbnet(
      "length",
      () => layer(handmade("short", (n) => new Uint32Array(n - 3))),
      '"short" hash',
      "returned 57 slots",
      "first bad position is 57",
    );
    throwsArbnet(
      "range",
      () => layer(handmade("wide", (n) => Uint32Array.from({ length: n }, (_, p) => p))),
      '"wide" hash',
      "position 21 (row 4, column 1) in slot 21",
    );
    // Called "dense" but not the built-in: an ordinary hashed layer, checked like any other.
    const fake = layer(handmade("dense", (n) => Uint32Array.from({ length: n }, (_, p) => p % 20)));
    assert.equal(fake.isDense, false);
    // A checkpoint would rebuild it as the built-in dense hash: saving it is refused.
    const { dir, remove } = await tempDir();
    try {
      await rejectsArbnet(
        "save impostor",
        saveCheckpoint(join(dir, "fake.safetensors"), { net: new Sequential([fake]) }),
        'hand-made hash named "dense"',
        "register",
      );
    } finally {
      await remove();
    }
  },
);

const forward = forwardHost;

gpuTest("a user family round-trips through a checkpoint (rebuilt by name)", async (gpu) => {
  const { dir, remove } = await tempDir();
  try {
    const { net, layers } = buildMlp(gpu, {
      layers: [56, 12, 10],
      hash: pixelBlocks({ width: 8, block: 2, sign: true }),
      tableFraction: 1 / 4,
      sparsity: 0.1,
      seed: 4,
    });
    const opt = new SGD(net.parameters(), { lr: 0.1, momentum: 0.9 });
    for (let s = 0; s < 2; s++) {
      await trainStep(
        net,
        opt,
        randomF32(8 * 56, s, 0, 1),
        Uint32Array.from({ length: 8 }, (_, i) => i),
      );
    }
    const path = join(dir, "user.safetensors");
    await saveCheckpoint(path, { net, opt });
    const info = await readCheckpointInfo(path);
    const first = info.layers[0];
    assert.ok(first.kind === "arblinear");
    assert.deepEqual(first.config.hash, {
      family: "pixelBlocks",
      options: { width: 8, block: 2, sign: true },
    });
    const rebuilt = await buildFromCheckpoint(gpu, path);
    for (const [i, l] of rebuilt.layers.entries()) {
      assert.equal(l.config.hash.family, "pixelBlocks");
      assert.deepEqual(l.indices, layers[i].indices, `layer ${i} slots`);
      assert.deepEqual(l.signs, layers[i].signs, `layer ${i} signs`);
    }
    const x = randomF32(6 * 56, 99, 0, 1);
    assertClose(await forward(gpu, rebuilt.net, x, 56), await forward(gpu, net, x, 56), {
      rtol: 0,
      atol: 0,
      what: "logits after reloading",
    });
  } finally {
    await remove();
  }
});

gpuTest(
  "a user family's WGSL rule trains procedurally like its materialised slots",
  async (gpu) => {
    const spec = { inFeatures: 56, outFeatures: 12, tableFraction: 1 / 4, sparsity: 0.2, seed: 3 };
    const hash = pixelBlocks({ width: 8, block: 2, sign: true });
    const procedural = new ArbLinear(gpu, { ...spec, hash, procedural: true });
    const stored = new ArbLinear(gpu, { ...spec, hash });
    assert.ok(procedural.procedural);
    const x = randomF32(5 * 56, 1);
    assertClose(await forward(gpu, procedural, x, 56), await forward(gpu, stored, x, 56), {
      rtol: 1e-5,
      atol: 1e-6,
      what: "procedural vs stored outputs",
    });
    // myUniform's WGSL is the built-in uniform rule: the same words as hashes.uniform().
    const mine = new ArbLinear(gpu, { ...spec, hash: myUniform(), procedural: true });
    const builtIn = new ArbLinear(gpu, { ...spec, hash: hashes.uniform(), procedural: true });
    assertClose(await forward(gpu, mine, x, 56), await forward(gpu, builtIn, x, 56), {
      rtol: 0,
      atol: 0,
      what: "user uniform vs built-in uniform",
    });
  },
);

gpuTest(
  "a WGSL rule that disagrees with the TypeScript rule is refused before training",
  async (gpu) => {
    const offByOne = defineHashFamily({
      name: "offByOne",
      defaults: {},
      slot: (p, s) => p % s.tableSize,
      // Wrong from position 600 on.
      wgsl: "fn family_slot(p: u32) -> u32 {\n" +
        "  return (p + select(0u, 1u, p >= 600u)) % hash_params.table_size;\n}",
    });
    const spec = { inFeatures: 40, outFeatures: 30, tableSize: 997, seed: 2, procedural: true };
    const layer = new ArbLinear(gpu, { ...spec, hash: offByOne() });
    const x = randomF32(2 * 40, 2);
    await rejectsArbnet(
      "disagreement",
      () => forward(gpu, layer, x, 40),
      '"offByOne" hash',
      "WGSL rule and its TypeScript rule disagree at position 600 (row 20, column 0)",
      "WGSL gives slot 601, TypeScript slot 600",
    );
    const broken = defineHashFamily({
      name: "brokenWgsl",
      defaults: {},
      slot: () => 0,
      wgsl: "fn family_slot(p: u32) -> u32 { return nope; }",
    });
    await rejectsArbnet(
      "compile",
      () => forward(gpu, new ArbLinear(gpu, { ...spec, hash: broken() }), x, 40),
      '"brokenWgsl" hash: its WGSL rule does not compile',
    );
    throwsArbnet(
      "no WGSL",
      () => new ArbLinear(gpu, { ...spec, hash: noWgsl() }),
      "invalid procedural: true",
    );
  },
);

const noWgsl = defineHashFamily({ name: "noWgsl", defaults: {}, slot: () => 0 });

Deno.test("CLI: --hash-module registers a family that trains, checkpoints and resumes", async () => {
  const { dir, remove } = await tempDir();
  try {
    await writeFakeMnist(dir, 60, 20);
    const checkpoint = join(dir, "cli.safetensors");
    const base = [
      "--data",
      dir,
      "--layers",
      "784,8,10",
      "--table-fraction",
      "0.25",
      "--tile",
      "default",
      "--quiet",
      "--log",
      join(dir, "log.jsonl"),
      "--hash-module",
      EXAMPLE,
      "--hash",
      "pixelBlocks",
      "--hash-options",
      '{"block":2,"sign":true}',
    ];
    const run = await runTrain([...base, "--epochs", "1", "--checkpoint", checkpoint]);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stderr, /pixelBlocks \{"width":28,"block":2,"sign":true\}/);
    const info = await readCheckpointInfo(checkpoint);
    const first = info.layers[0];
    assert.ok(first.kind === "arblinear");
    assert.equal(first.config.hash.family, "pixelBlocks");
    const resumed = await runTrain([...base, "--epochs", "2", "--resume", checkpoint]);
    assert.equal(resumed.code, 0, resumed.stderr);
    assert.match(resumed.stderr, /resumed from .* at epoch 2/);
    // Without the module the family is unknown, and says how to make it known.
    assertScriptError(
      "no module",
      await runTrain(
        base.filter((a, i) => a !== "--hash-module" && base[i - 1] !== "--hash-module"),
      ),
      'unknown hash family "pixelBlocks"',
      "--hash-module",
    );
    assertScriptError(
      "bad options",
      await runTrain([...base.slice(0, -1), '{"block":"two"}']),
      "invalid option block of hash family",
    );
    assertScriptError("bad JSON", await runTrain([...base.slice(0, -1), "{"]), "not JSON");
    assertScriptError(
      "missing module",
      await runTrain(["--hash-module", join(dir, "nope.ts")]),
      "nope.ts could not be imported",
    );
  } finally {
    await remove();
  }
});

Deno.test("view-hash draws a registered user family", async () => {
  const { dir, remove } = await tempDir();
  try {
    const png = join(dir, "blocks.png");
    const script = new URL("../scripts/view_hash.ts", import.meta.url).pathname;
    const args = ["run", "-A", script, "--hash-module", EXAMPLE];
    const out = await new Deno.Command(Deno.execPath(), {
      args: [
        ...args,
        "--hash",
        "pixelBlocks",
        "--cols",
        "20",
        "--table-fraction",
        "0.25",
        "--out",
        png,
      ],
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
    const bytes = await Deno.readFile(png);
    assert.deepEqual([...bytes.subarray(1, 4)], [0x50, 0x4e, 0x47]); // "PNG"
  } finally {
    await remove();
  }
});

gpuTest(
  "examples/custom_hash.ts runs at a tiny size and reloads to the same accuracy",
  async () => {
    const { dir, remove } = await tempDir();
    try {
      const r = await runCustomHash({
        hidden: 8,
        epochs: 1,
        trainLimit: 200,
        testLimit: 100,
        checkpoint: join(dir, "example.safetensors"),
      });
      assert.deepEqual(r.tableSizes, [784 * 8 / 4, 8 * 10 / 4]);
      assert.ok(r.testAccuracy >= 0 && r.testAccuracy <= 1);
      assert.equal(r.reloadedAccuracy, r.testAccuracy);
    } finally {
      await remove();
    }
  },
);

gpuTest("an experiment run spec may name a registered user family", async () => {
  const r = await new TrainRunner().runOne({
    experiment: "balance",
    dataset: "mnist",
    hash: { family: "pixelBlocks", options: { block: 2 } },
    sparsity: 0,
    seed: 1,
    epochs: 1,
    trainLimit: 100,
    testLimit: 50,
    hidden: [8],
    tableFraction: 0.25,
    lr: 0.05,
    batch: 50,
  });
  assert.ok(r.testAccuracy >= 0 && r.testAccuracy <= 1, `${r.testAccuracy}`);
  assert.equal(r.entropy.layers.length, 2);
});
