/**
 * Writes the report's tables into other documents: every block between
 * `<!-- report:NAME -->` and `<!-- /report:NAME -->` is replaced by the
 * report's block NAME, so prose such as `docs/results.md` carries numbers
 * that `deno task experiment report --splice` regenerates from the raw
 * results instead of copies that drift.
 *
 * Owns: the marker syntax. Imports `lib/errors.ts`.
 * @module
 */

import { ArbnetError } from "../errors.ts";

const MARKER = /<!-- report:([A-Za-z0-9_-]+) -->\n[\s\S]*?<!-- \/report:\1 -->/g;
const OPEN = /<!-- report:([A-Za-z0-9_-]+) -->/g;

/**
 * `text` with every marked block replaced by `blocks[NAME]` (its lines, a
 * blank line on each side, inside `deno-fmt-ignore` markers so that the
 * formatter leaves the generated tables as the report wrote them). Throws naming the file (`source`) for a block
 * the report has no NAME for, or a marker without its closing one.
 *
 * @returns the new text and the names replaced, in order
 */
export function spliceBlocks(
  text: string,
  blocks: Readonly<Record<string, readonly string[]>>,
  source: string,
): { text: string; names: string[] } {
  const opened = [...text.matchAll(OPEN)].map((m) => m[1]);
  const closed = [...text.matchAll(MARKER)].map((m) => m[1]);
  const unclosed = opened.find((name) => !closed.includes(name));
  if (unclosed !== undefined) {
    throw new ArbnetError(
      `${source}: <!-- report:${unclosed} --> has no closing <!-- /report:${unclosed} --> on a later line`,
    );
  }
  const unknown = closed.find((name) => !(name in blocks));
  if (unknown !== undefined) {
    throw new ArbnetError(
      `${source}: the report has no block "${unknown}" (it has ${
        Object.keys(blocks).join(", ") || "none"
      })`,
    );
  }
  const replaced = text.replace(
    MARKER,
    (_, name: string) =>
      [
        `<!-- report:${name} -->`,
        "<!-- deno-fmt-ignore-start -->",
        "",
        ...blocks[name],
        "",
        "<!-- deno-fmt-ignore-end -->",
        `<!-- /report:${name} -->`,
      ].join("\n"),
  );
  return { text: replaced, names: closed };
}
