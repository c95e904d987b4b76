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

/** An opening or closing marker on a line of its own. */
const MARKER_LINE = /^<!-- (\/?)report:([A-Za-z0-9_-]+) -->\r?$/;

/**
 * `text` with every marked block replaced by `blocks[NAME]` (its lines, a
 * blank line on each side, inside `deno-fmt-ignore` markers so that the
 * formatter leaves the generated tables as the report wrote them). Markers
 * sit on lines of their own, in pairs, never nested. Throws naming the file
 * (`source`) and line for a marker without its pair, a marker inside
 * another block, or a block the report has no NAME for; nothing is replaced
 * then.
 *
 * @returns the new text and the names replaced, in order
 */
export function spliceBlocks(
  text: string,
  blocks: Readonly<Record<string, readonly string[]>>,
  source: string,
): { text: string; names: string[] } {
  const lines = text.split("\n");
  const eol = lines.some((l) => l.endsWith("\r")) ? "\r\n" : "\n";
  const out: string[] = [];
  const names: string[] = [];
  let open: { name: string; line: number } | null = null;
  lines.forEach((line, i) => {
    const m = MARKER_LINE.exec(line);
    const where = `${source}:${i + 1}`;
    if (!m) {
      if (!open) out.push(line);
      return;
    }
    const [, closing, name] = m;
    if (!closing) {
      if (open) {
        throw new ArbnetError(
          `${where}: <!-- report:${name} --> inside the block opened on line ${open.line}; ` +
            `close that one first with <!-- /report:${open.name} -->`,
        );
      }
      if (!Object.hasOwn(blocks, name)) {
        throw new ArbnetError(
          `${where}: the report has no block "${name}" (it has ${
            Object.keys(blocks).join(", ") || "none"
          })`,
        );
      }
      open = { name, line: i + 1 };
      return;
    }
    if (!open || open.name !== name) {
      throw new ArbnetError(`${where}: <!-- /report:${name} --> closes no open block`);
    }
    out.push(
      `<!-- report:${name} -->`,
      "<!-- deno-fmt-ignore-start -->",
      "",
      ...blocks[name],
      "",
      "<!-- deno-fmt-ignore-end -->",
      `<!-- /report:${name} -->`,
    );
    names.push(name);
    open = null;
  });
  if (open) {
    const { name, line } = open as { name: string; line: number };
    throw new ArbnetError(
      `${source}:${line}: <!-- report:${name} --> has no closing <!-- /report:${name} -->`,
    );
  }
  const joined = eol === "\r\n"
    ? out.map((l) => l.replace(/\r$/, "")).join("\r\n")
    : out.join("\n");
  return { text: joined, names };
}
