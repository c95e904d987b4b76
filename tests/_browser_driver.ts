/**
 * Drives `examples/browser/` in headless Chromium for `tests/browser.test.ts`,
 * in a process of its own: playwright-core probes paths (`/proc/sys/…`) that
 * Deno opens only under `--allow-all`, which the test runner is not given.
 *
 *   deno run -A tests/_browser_driver.ts CHROMIUM '{"steps":300,…}' [SCREENSHOT.png]
 *
 * Builds the bundles into a temporary folder, answers the page's requests
 * from its files (no socket is opened), runs the page's kernel checks, then
 * one training run, and prints one JSON line: `{ checks, summary, errors }`.
 * @module
 */

import { Buffer } from "node:buffer";
// Pinned inline, as lib/data/mnist_npm.ts does: a test-only package stays out of deno.json.
// deno-lint-ignore no-import-prefix
import { chromium } from "npm:playwright-core@1.65.2";
import { buildPage, contentType, pageFiles } from "../examples/browser/serve.ts";
import { mnistNpmDir } from "../lib/data/mnist_npm.ts";
import type { CheckResult } from "../examples/browser/checks.ts";
import type { PageApi, RunOptions, RunSummary } from "../examples/browser/main.ts";

/** Flags under which Debian's Chromium offers a WebGPU adapter headless (SwiftShader over Vulkan). */
export const CHROMIUM_FLAGS: readonly string[] = [
  "--no-sandbox",
  "--enable-unsafe-webgpu",
  "--enable-features=Vulkan",
  "--disable-background-networking",
  "--no-first-run",
];

/**
 * The page's origin: requests to it are answered from the page's files. A
 * localhost origin is a secure context, which WebGPU requires.
 */
const ORIGIN = "http://localhost:8765";

/** What the driver prints. */
export interface DriverReport {
  /** The page's kernel-vs-oracle comparisons. */
  checks: CheckResult[];
  /** The training run's outcome. */
  summary: RunSummary;
  /** Uncaught errors the page threw. */
  errors: string[];
}

type Page = { arbnetPage: PageApi };

async function drive(
  executable: string,
  run: Partial<RunOptions>,
  screenshot?: string,
): Promise<DriverReport> {
  const build = await Deno.makeTempDir({ prefix: "arbnet-browser-" });
  const profile = await Deno.makeTempDir({ prefix: "arbnet-chromium-" });
  const files = pageFiles(await mnistNpmDir(), build);
  await buildPage(build);
  const ctx = await chromium.launchPersistentContext(profile, {
    executablePath: executable,
    headless: true,
    args: [...CHROMIUM_FLAGS],
    viewport: { width: 960, height: 640 },
  });
  try {
    await ctx.route(`${ORIGIN}/**`, async (route) => {
      const path = files.get(new URL(route.request().url()).pathname);
      if (!path) return await route.fulfill({ status: 404, body: "not found" });
      const body = Buffer.from(await Deno.readFile(path));
      await route.fulfill({ status: 200, body, contentType: contentType(path) });
    });
    const page = ctx.pages()[0] ?? await ctx.newPage();
    const errors: string[] = [];
    page.on("pageerror", (e) => errors.push(e.message));
    page.on("console", (m) => console.error(`page: ${m.text()}`));
    await page.goto(`${ORIGIN}/`);
    await page.waitForFunction(() => "arbnetPage" in globalThis);
    const checks = await page.evaluate(() => (globalThis as unknown as Page).arbnetPage.checks());
    const summary = await page.evaluate(
      (o) => (globalThis as unknown as Page).arbnetPage.train(o),
      run,
    );
    if (screenshot) await page.screenshot({ path: screenshot });
    return { checks, summary, errors };
  } finally {
    await ctx.close();
    await Deno.remove(build, { recursive: true });
    await Deno.remove(profile, { recursive: true }).catch(() => {});
  }
}

if (import.meta.main) {
  const [executable, run, screenshot] = Deno.args;
  const report = await drive(executable, JSON.parse(run), screenshot || undefined);
  console.log(JSON.stringify(report));
}
