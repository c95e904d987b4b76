/**
 * Regenerates `shaders/wgsl.ts`, the TypeScript module that embeds every
 * `shaders/*.wgsl` file as a string. JSR refuses text imports of `.wgsl`, so
 * the sources are kept as `.wgsl` (for editors and review) and embedded here;
 * `tests/wgsl_sync.test.ts` fails when the two drift.
 *
 * Usage: `deno run --allow-read --allow-write scripts/gen_wgsl.ts [--check]`
 * @module
 */

import { renderWgslModule } from "./embed_wgsl.ts";

const dir = new URL("../shaders/", import.meta.url);
const target = new URL("wgsl.ts", dir);
const expected = await renderWgslModule(dir);
if (Deno.args.includes("--check")) {
  const actual = await Deno.readTextFile(target).catch(() => "");
  if (actual !== expected) {
    console.error("shaders/wgsl.ts is stale: run `deno task wgsl`");
    Deno.exit(1);
  }
} else {
  await Deno.writeTextFile(target, expected);
  console.log(`wrote ${target.pathname}`);
}
