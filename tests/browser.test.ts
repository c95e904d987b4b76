/**
 * The browser build, in a browser: the bundles reach no Deno or `node:` API,
 * and headless Chromium (Debian's `chromium`, WebGPU over SwiftShader,
 * driven by playwright-core in `tests/_browser_driver.ts`) loads
 * `examples/browser/`, checks the kernels against their CPU oracles inside
 * the page and trains a 784-64-10 ArbNet for 300 steps on 2,000 MNIST
 * images: the loss must fall.
 *
 * Without Chromium the browser test is skipped (ignored, its name says why)
 * unless `CI` is set: in CI it must run (`.ci/run` installs Chromium).
 * `ARBNET_BROWSER_SCREENSHOT=path.png` saves the page after training
 * (docs/browser.png was taken so); `ARBNET_CHROMIUM` names another binary.
 * @module
 */

import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { buildPage } from "../examples/browser/serve.ts";
import type { RunOptions } from "../examples/browser/main.ts";
import type { DriverReport } from "./_browser_driver.ts";

const CHROMIUM = Deno.env.get("ARBNET_CHROMIUM") ?? "/usr/bin/chromium";
/** The whole browser run (build, Chromium start, checks, training) must end within this. */
const LIMIT_MS = 300_000;

const RUN: Partial<RunOptions> = {
  family: "uniform",
  hidden: 64,
  steps: 300,
  trainExamples: 2000,
  testExamples: 500,
  every: 25,
  seed: 1,
};

function exists(path: string): boolean {
  try {
    return Deno.statSync(path).isFile;
  } catch {
    return false;
  }
}

Deno.test("browser build: the bundles use no Deno or node: API", async () => {
  const dir = await Deno.makeTempDir({ prefix: "arbnet-browser-" });
  try {
    for (const file of await buildPage(dir)) {
      const js = await Deno.readTextFile(file);
      // The tile cache reads `globalThis.Deno` and goes without it; nothing else may name Deno.
      const deno = js.match(/(?<!globalThis\.)\bDeno\.\w+/);
      assert.equal(deno, null, `${file} uses ${deno?.[0]}`);
      const node = js.match(/["'](node:[\w/]+)["']|\brequire\(/);
      assert.equal(node, null, `${file} imports ${node?.[0]}`);
      assert.match(js, /\bArbnetError\b/, `${file} should hold the library`);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

const inCi = Boolean(Deno.env.get("CI"));
const haveChromium = exists(CHROMIUM);
const skip = !haveChromium && !inCi;
if (skip) {
  console.log(
    `browser test skipped: no Chromium at ${CHROMIUM} (apt-get install chromium); in CI it runs`,
  );
}

Deno.test({
  name: skip
    ? `browser: trains in headless Chromium (SKIPPED: no ${CHROMIUM}; apt-get install chromium)`
    : "browser: in headless Chromium the kernels match the CPU oracles and 300 steps lower the loss",
  ignore: skip,
  fn: async () => {
    assert.ok(
      haveChromium,
      `CI must run the browser test, but there is no Chromium at ${CHROMIUM}`,
    );
    const driver = fileURLToPath(new URL("./_browser_driver.ts", import.meta.url));
    // playwright-core is in the tests' lockfile, not the library's.
    const lock = fileURLToPath(new URL("../locks/test.lock", import.meta.url));
    const shot = Deno.env.get("ARBNET_BROWSER_SCREENSHOT") ?? "";
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", `--lock=${lock}`, driver, CHROMIUM, JSON.stringify(RUN), shot],
      stdout: "piped",
      stderr: "piped",
      signal: AbortSignal.timeout(LIMIT_MS),
    }).output();
    const stderr = new TextDecoder().decode(out.stderr);
    assert.ok(out.success, `the browser driver failed (status ${out.code}):\n${stderr}`);
    const lines = new TextDecoder().decode(out.stdout).trim().split("\n");
    const { checks, summary: s, errors } = JSON.parse(lines.at(-1)!) as DriverReport;

    assert.deepEqual(errors, [], "the page threw");
    assert.ok(checks.length >= 15, `only ${checks.length} kernel checks ran`);
    assert.deepEqual(checks.filter((c) => !c.ok), [], "kernels disagree with the CPU oracles");

    console.log(
      `Chromium, ${s.adapter}: ${s.steps} steps, loss ${s.loss[0][1].toFixed(3)} → ` +
        `${s.loss.at(-1)![1].toFixed(3)}, test accuracy ${(100 * s.testAccuracy).toFixed(1)}% ` +
        `on ${RUN.testExamples} images`,
    );
    assert.equal(s.steps, RUN.steps);
    assert.ok(s.loss.every(([, l]) => Number.isFinite(l)), "a non-finite loss");
    // The running loss of the first 25 steps against the mean of the last three reads (75 steps).
    const first = s.loss[0][1];
    const last = s.loss.slice(-3).reduce((a, [, l]) => a + l, 0) / 3;
    assert.ok(last < 0.5 * first, `the loss did not halve: ${first} → ${last}`);
    // 86% was measured on these 500 images; chance is 10%.
    assert.ok(s.testAccuracy > 0.7, `test accuracy ${s.testAccuracy}`);
  },
});
