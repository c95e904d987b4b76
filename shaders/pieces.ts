/**
 * Splits a WGSL file into named pieces ("// @piece NAME" sections) and
 * composes kernels from them. This is how one template yields every variant
 * without copy-paste: a variant is a list of pieces plus a few constants.
 * @module
 */

import { WGSL } from "./wgsl.ts";

const cache = new Map<string, Map<string, string>>();

/** The named sections of an embedded `.wgsl` file. */
export function pieces(file: string): Map<string, string> {
  let map = cache.get(file);
  if (map) return map;
  const source = WGSL[file];
  if (source === undefined) throw new Error(`no embedded WGSL named ${file}`);
  map = new Map();
  let name: string | null = null;
  let body: string[] = [];
  const close = () => {
    if (name !== null) map!.set(name, body.join("\n").trim() + "\n");
  };
  for (const line of source.split("\n")) {
    const m = /^\/\/ @piece (\w+)\s*$/.exec(line);
    if (m) {
      close();
      name = m[1];
      body = [];
    } else if (name !== null) {
      body.push(line);
    }
  }
  close();
  cache.set(file, map);
  return map;
}

/** One piece of an embedded file; throws naming the known pieces if absent. */
export function piece(file: string, name: string): string {
  const p = pieces(file).get(name);
  if (p === undefined) {
    throw new Error(`no piece ${name} in ${file} (have ${[...pieces(file).keys()].join(", ")})`);
  }
  return p;
}

/** WGSL `const` declarations for integer constants, e.g. tile sizes. */
export function constants(values: Record<string, number>): string {
  return Object.entries(values).map(([k, v]) => `const ${k}: u32 = ${v >>> 0}u;`).join("\n") +
    "\n";
}

/**
 * Expands the register-tile lines of a template: a line ending in
 * `// @each i`, `// @each j` or `// @each i j` is repeated for every i < `tm`
 * and/or j < `tn`, with `{i}` and `{j}` replaced (the marker is dropped).
 */
export function unroll(source: string, tm: number, tn: number): string {
  const out: string[] = [];
  for (const line of source.split("\n")) {
    const m = /^(.*?)\s*\/\/ @each (i j|i|j)\s*$/.exec(line);
    if (!m) {
      out.push(line);
      continue;
    }
    const is = m[2].includes("i") ? tm : 1;
    const js = m[2].includes("j") ? tn : 1;
    for (let i = 0; i < is; i++) {
      for (let j = 0; j < js; j++) {
        out.push(m[1].replaceAll("{i}", String(i)).replaceAll("{j}", String(j)));
      }
    }
  }
  return out.join("\n");
}
