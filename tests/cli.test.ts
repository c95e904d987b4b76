import assert from "node:assert/strict";
import { parseFlags, parseIntList } from "../lib/cli.ts";
import { ArbnetError } from "../lib/errors.ts";

const SPEC = {
  batch: { type: "int", min: 1, max: 100, default: 50, help: "batch" },
  lr: { type: "number", min: 0, help: "lr" },
  hash: { type: "enum", choices: ["uniform", "dense"], default: "uniform", help: "hash" },
  quiet: { type: "bool", help: "quiet" },
} as const;

Deno.test("flags parse with defaults and types", () => {
  const f = parseFlags(["--lr", "0.5", "--quiet"], SPEC)!;
  assert.equal(f.batch, 50);
  assert.equal(f.lr, 0.5);
  assert.equal(f.hash, "uniform");
  assert.equal(f.quiet, true);
});

Deno.test("bad flags name the flag and the allowed range", () => {
  assert.throws(
    () => parseFlags(["--batch", "0"], SPEC),
    /--batch "0": expected an integer in \[1, 100\]/,
  );
  assert.throws(() => parseFlags(["--batch", "2.5"], SPEC), /--batch/);
  assert.throws(() => parseFlags(["--lr", "abc"], SPEC), /--lr "abc": expected a number ≥ 0/);
  assert.throws(() => parseFlags(["--hash", "foo"], SPEC), /expected one of uniform, dense/);
  assert.throws(() => parseFlags(["--bogus"], SPEC), ArbnetError);
  assert.throws(() => parseIntList("layers", "784,,10"), /--layers/);
  assert.deepEqual(parseIntList("layers", "784, 1000,10"), [784, 1000, 10]);
});
