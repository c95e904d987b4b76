/**
 * Regenerates `shaders/matmul_known_tiles.ts`, the tiles the autotuner chose
 * on adapters we ran, from tile caches (`tiles.json` files the tuner wrote,
 * see `tuneCachePath`). Only choices made under the tuner's current
 * candidate list and clock (`CANDIDATES_VERSION`) are kept; the shipped
 * entries are merged in, a cache's choice replacing the shipped one for the
 * same adapter, variant and shape.
 *
 * Usage: `deno task known-tiles TILES.json...` (the output is one entry per
 * line, a table, so `deno fmt` leaves it alone)
 * @module
 */

import { KNOWN_TILES, type KnownTile } from "../shaders/matmul_known_tiles.ts";
import { CANDIDATES_VERSION, knownTileKey, parseTuneKey } from "../shaders/matmul_tune.ts";
import type { Tile } from "../shaders/matmul.ts";

if (Deno.args.length === 0) {
  console.error("usage: gen_known_tiles.ts TILES.json... (tile caches the tuner wrote)");
  Deno.exit(2);
}
const merged = new Map<string, KnownTile>();
const add = (k: KnownTile) => merged.set(knownTileKey(k.adapter, k.variant, k.shape), k);
for (const k of KNOWN_TILES) add(k);
let taken = 0, stale = 0;
for (const path of Deno.args) {
  const cache = JSON.parse(await Deno.readTextFile(path)) as Record<string, Tile>;
  for (const [key, tile] of Object.entries(cache)) {
    const { adapter, variant, shape, version } = parseTuneKey(key);
    if (version !== CANDIDATES_VERSION) {
      stale++;
      continue;
    }
    add({ adapter, variant, shape, tile });
    taken++;
  }
}
/** The module's text: the header of the shipped file kept, the list rewritten in a stable order. */
async function render(known: KnownTile[], target: URL): Promise<string> {
  const text = await Deno.readTextFile(target);
  const start = text.indexOf("export const KNOWN_TILES:");
  if (start < 0) throw new Error(`${target.pathname} has no KNOWN_TILES list`);
  const rows = known
    .map((k) => `  ${JSON.stringify(k)},`)
    .sort();
  return `${text.slice(0, start)}export const KNOWN_TILES: readonly KnownTile[] = [\n${
    rows.join("\n")
  }\n];\n`;
}

const target = new URL("../shaders/matmul_known_tiles.ts", import.meta.url);
await Deno.writeTextFile(target, await render([...merged.values()], target));
console.log(
  `wrote ${target.pathname}: ${merged.size} choices (${taken} from the caches, ${stale} ` +
    `made under another candidate version skipped)`,
);
