import assert from "node:assert/strict";
import { renderWgslModule } from "../scripts/embed_wgsl.ts";

Deno.test("shaders/wgsl.ts embeds the current shaders/*.wgsl (run scripts/gen_wgsl.ts)", async () => {
  const dir = new URL("../shaders/", import.meta.url);
  const actual = await Deno.readTextFile(new URL("wgsl.ts", dir));
  assert.equal(
    actual,
    await renderWgslModule(dir),
    "shaders/wgsl.ts is stale: run `deno task wgsl`",
  );
});
