/**
 * Bad input is refused with an `ArbnetError` whose message names the
 * offending option, before any work is done.
 * @module
 */

import assert from "node:assert/strict";
import { ArbnetError } from "../lib/errors.ts";
import {
  buildAliasTable,
  conv2dShape,
  hashes,
  hashFromDescriptor,
  type IndexSpec,
  networkEntropy,
  occupancyEntropy,
  recurrentShape,
} from "../lib/hash/mod.ts";

function throwsNaming(fn: () => unknown, ...names: string[]): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof ArbnetError, `expected an ArbnetError, got ${e}`);
    for (const name of names) {
      assert.ok(
        e.message.includes(name),
        `message ${JSON.stringify(e.message)} should name ${name}`,
      );
    }
    return true;
  });
}

// deno-lint-ignore no-explicit-any
const loose = (x: unknown): any => x;
const SPEC: IndexSpec = { rows: 10, cols: 20, tableSize: 50, seed: 1 };

Deno.test("dirichlet: alpha must be a finite number > 0", () => {
  for (const alpha of [0, -1, -1e-9, NaN, Infinity, -Infinity, "1", null]) {
    throwsNaming(() => hashes.dirichlet(loose({ alpha })), "alpha");
  }
  throwsNaming(() => hashes.dirichlet(loose({})), "alpha");
  throwsNaming(() => hashes.dirichlet(loose(undefined)), "alpha");
});

Deno.test("neighborhood: radius must be an integer in [0, 2^31 − 1]", () => {
  for (const radius of [-1, 1.5, NaN, Infinity, 2 ** 31, "3", undefined]) {
    throwsNaming(() => hashes.neighborhood(loose({ radius })), "radius");
  }
  hashes.neighborhood({ radius: 2 ** 31 - 1 }); // the largest allowed
});

Deno.test("sign must be a boolean", () => {
  throwsNaming(() => hashes.uniform(loose({ sign: "yes" })), "sign");
  throwsNaming(() => hashes.dirichlet(loose({ alpha: 1, sign: 1 })), "sign");
  throwsNaming(() => hashes.neighborhood(loose({ radius: 1, sign: null })), "sign");
});

Deno.test("unknown option keys (typos) are refused, naming the key and the known ones", () => {
  throwsNaming(() => hashes.uniform(loose({ sgn: true })), "sgn", "sign");
  throwsNaming(() => hashes.dirichlet(loose({ alpha: 1, alhpa: 2 })), "alhpa", "alpha");
  throwsNaming(() => hashes.neighborhood(loose({ radius: 1, raduis: 2 })), "raduis", "radius");
  throwsNaming(() => hashes.dense(loose({ size: 3 })), "size");
  throwsNaming(
    () =>
      hashes.conv2d(
        loose({ inChannels: 1, outChannels: 1, kernel: 1, height: 2, width: 2, pad: 1 }),
      ),
    "pad",
    "padding",
  );
  throwsNaming(() => hashes.recurrent(loose({ hidden: 2, steps: 2, layers: 1 })), "layers");
  throwsNaming(
    () => hashes.uniform().indices(loose({ ...SPEC, sparsty: 0.5 })),
    "sparsty",
    "sparsity",
  );
  throwsNaming(() => hashes.uniform(loose([true])), "options");
});

Deno.test("index spec: rows, cols, tableSize, sparsity, seed", () => {
  const h = hashes.uniform();
  for (const rows of [0, -1, 2.5, NaN, Infinity, "10", undefined]) {
    throwsNaming(() => h.indices(loose({ ...SPEC, rows })), "rows");
  }
  for (const cols of [0, -3, 0.5, NaN]) {
    throwsNaming(() => h.indices(loose({ ...SPEC, cols })), "cols");
  }
  for (const tableSize of [0, -1, 1.5, NaN, Infinity, 2 ** 32, undefined]) {
    throwsNaming(() => h.indices(loose({ ...SPEC, tableSize })), "tableSize");
  }
  for (const sparsity of [-0.1, 1, 1.5, NaN, Infinity, "0.5", null]) {
    throwsNaming(() => h.indices(loose({ ...SPEC, sparsity })), "sparsity");
  }
  for (const seed of [1.5, -1, 2 ** 32, NaN, "1", undefined]) {
    throwsNaming(() => h.indices(loose({ ...SPEC, seed })), "seed");
  }
  throwsNaming(() => h.signs(loose({ ...SPEC, seed: 0.5 })), "seed");
  throwsNaming(() => h.indices(loose(undefined)), "index spec");
  // Edge values that are fine.
  h.indices({ ...SPEC, seed: 2 ** 32 - 1, sparsity: 0.999999 });
  h.indices({ ...SPEC, tableSize: 1 });
});

Deno.test("index spec: rows × cols beyond 2^32 positions is refused before allocating", () => {
  throwsNaming(
    () => hashes.uniform().indices({ rows: 65536, cols: 65537, tableSize: 10, seed: 0 }),
    "rows",
    "cols",
    "2^32",
    "smaller layer",
  );
});

Deno.test("dense: tableSize must equal rows * cols", () => {
  throwsNaming(() => hashes.dense().indices(SPEC), "tableSize", "200");
  throwsNaming(() => hashes.dense().signs(SPEC), "tableSize");
});

Deno.test("conv2d: geometry options and matching spec", () => {
  const ok = { inChannels: 2, outChannels: 3, kernel: 3, height: 5, width: 4 };
  for (const key of ["inChannels", "outChannels", "kernel", "height", "width"]) {
    for (const bad of [0, -1, 1.5, NaN, undefined]) {
      throwsNaming(() => hashes.conv2d(loose({ ...ok, [key]: bad })), key);
    }
  }
  throwsNaming(() => hashes.conv2d({ ...ok, stride: 0 }), "stride");
  throwsNaming(() => hashes.conv2d({ ...ok, padding: -1 }), "padding");
  // No output pixels: the kernel does not fit in the padded image.
  throwsNaming(() => hashes.conv2d({ ...ok, kernel: 5 }), "kernel", "no output pixels");
  throwsNaming(() => conv2dShape({ ...ok, kernel: 7, padding: 1 }), "kernel");
  hashes.conv2d({ ...ok, kernel: 6, padding: 1 }); // 4 + 2 = 6: one output column
  const shape = conv2dShape(ok);
  const h = hashes.conv2d(ok);
  throwsNaming(() => h.indices({ ...shape, rows: shape.rows + 1, seed: 0 }), "rows");
  throwsNaming(() => h.indices({ ...shape, cols: shape.cols - 1, seed: 0 }), "cols");
  throwsNaming(() => h.indices({ ...shape, tableSize: 7, seed: 0 }), "tableSize");
});

Deno.test("recurrent: hidden, steps and matching spec", () => {
  for (const bad of [0, -2, 1.5, NaN, undefined]) {
    throwsNaming(() => hashes.recurrent(loose({ hidden: bad, steps: 2 })), "hidden");
    throwsNaming(() => hashes.recurrent(loose({ hidden: 2, steps: bad })), "steps");
  }
  throwsNaming(() => hashes.recurrent({ hidden: 40_000, steps: 1 }), "hidden", "steps", "u32");
  const shape = recurrentShape({ hidden: 3, steps: 2 });
  const h = hashes.recurrent({ hidden: 3, steps: 2 });
  throwsNaming(() => h.indices({ ...shape, rows: 6, seed: 0 }), "rows");
  throwsNaming(() => h.indices({ ...shape, tableSize: 10, seed: 0 }), "tableSize");
});

Deno.test("hashFromDescriptor: unknown family lists the known ones; bad options still refused", () => {
  throwsNaming(
    () => hashFromDescriptor({ family: "unifrom", options: {} }),
    "unifrom",
    "dense",
    "uniform",
    "dirichlet",
    "neighborhood",
    "conv2d",
    "recurrent",
  );
  throwsNaming(() => hashFromDescriptor(loose({ family: "toString", options: {} })), "toString");
  throwsNaming(() => hashFromDescriptor(loose(null)), "descriptor");
  throwsNaming(() => hashFromDescriptor({ family: "dirichlet", options: { alpha: -1 } }), "alpha");
  throwsNaming(() => hashFromDescriptor({ family: "uniform", options: { typo: 1 } }), "typo");
});

Deno.test("entropy helpers: out-of-range slots and bad table sizes", () => {
  throwsNaming(() => occupancyEntropy(new Uint32Array([0, 5]), 4), "indices[1]", "[0, 4]");
  throwsNaming(() => occupancyEntropy(new Uint32Array([0]), 0), "tableSize");
  throwsNaming(() => occupancyEntropy(loose([0, 1]), 2), "indices");
  throwsNaming(() => networkEntropy([]), "layers");
  throwsNaming(() => buildAliasTable(new Float64Array([0.5, NaN])), "probabilities[1]");
  throwsNaming(() => buildAliasTable(new Float64Array([0, 0])), "probabilities");
});
