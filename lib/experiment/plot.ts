/**
 * The report's two figures as Vega-Lite specs, rendered headless to SVG by
 * Vega (renderer "none", no DOM or canvas) and to PNG by resvg (WebAssembly
 * build: no native addon, so no `--allow-ffi`).
 *
 * Owns: chart specs, rendering and font lookup. Imports `npm:vega-lite`,
 * `npm:vega` and `npm:@resvg/resvg-wasm` (pinned, loaded lazily so sweeps
 * that never plot never load them), `node:path`.
 * @module
 */

import { join } from "node:path";
// deno-lint-ignore no-import-prefix -- deno.json (not ours) has no import map; pinned here
import type { TopLevelSpec } from "npm:vega-lite@6.5.0";

/** A Vega-Lite spec, as given to {@linkcode renderChart}. */
export type ChartSpec = TopLevelSpec;

/** One plotted point: a cell's means over seeds. */
export type PlotPoint = {
  /** Sparsity of the line the point belongs to. */
  sparsity: number;
  /** Horizontal position: mean normalized entropy (balance) or radius (noise). */
  x: number;
  /** Mean test accuracy, a fraction in [0, 1]. */
  accuracy: number;
  /** Standard deviation of the accuracy over seeds; NaN for a single run. */
  accuracyStd: number;
  /** Runs in the cell. */
  n: number;
  /** What the point is, e.g. `α=0.01` (kept in the data for readers of the SVG). */
  label: string;
};

function rows(points: readonly PlotPoint[]) {
  return points.map((p) => {
    const sd = Number.isFinite(p.accuracyStd) ? p.accuracyStd : 0;
    return {
      sparsity: `s = ${p.sparsity}`,
      x: p.x,
      acc: 100 * p.accuracy,
      lo: 100 * (p.accuracy - sd),
      hi: 100 * (p.accuracy + sd),
      n: p.n,
      label: p.label,
    };
  });
}

/** The look shared by every figure of the reports (fonts, sizes, frame). */
export const CHART_CONFIG = {
  font: "sans-serif",
  view: { stroke: "#ddd" },
  axis: { labelFontSize: 12, titleFontSize: 13 },
  legend: { labelFontSize: 12, titleFontSize: 12 },
  title: { fontSize: 15 },
};

function layers(x: Record<string, unknown>) {
  const color = { field: "sparsity", type: "nominal", title: "sparsity" };
  const y = {
    field: "acc",
    type: "quantitative",
    title: "test accuracy (%), mean ± std over seeds",
    scale: { zero: false },
  };
  return [
    { mark: { type: "line", point: { size: 50 } }, encoding: { x, y, color } },
    {
      mark: { type: "errorbar", ticks: true },
      encoding: {
        x,
        y: { field: "lo", type: "quantitative", title: y.title },
        y2: { field: "hi" },
        color,
      },
    },
  ];
}

/**
 * Balance figure: accuracy against mean normalized network entropy, one line
 * per sparsity, error bars one std over seeds.
 */
export function balanceChart(points: readonly PlotPoint[], title: string): ChartSpec {
  const x = {
    field: "x",
    type: "quantitative",
    title: "normalized occupancy entropy of the network (H / ln K)",
    scale: { zero: false, padding: 12 },
  };
  return {
    $schema: "https://vega.github.io/schema/vega-lite/v6.json",
    title,
    width: 480,
    height: 320,
    data: { values: rows(points) },
    layer: layers(x),
    config: CHART_CONFIG,
  } as ChartSpec;
}

/**
 * Noise figure: accuracy against Neighborhood radius on a symlog axis
 * (linear near 0, log beyond 1), so radius 0, the deterministic hash, sits
 * at the left end of an otherwise logarithmic axis; ticks at the radii swept.
 */
export function noiseChart(points: readonly PlotPoint[], title: string): ChartSpec {
  const radii = [...new Set(points.map((p) => p.x))].sort((a, b) => a - b);
  const x = {
    field: "x",
    type: "quantitative",
    title: "Neighborhood radius r (symlog axis; r = 0 is deterministic)",
    // A little room either side in symlog units, so r = 0 is not drawn on the y axis.
    scale: {
      type: "symlog",
      constant: 1,
      nice: false,
      domain: [-0.3, Math.max(1, radii[radii.length - 1] ?? 1) * 1.25],
    },
    axis: { values: radii, labelFlush: false, labelOverlap: true, format: ",d" },
  };
  return {
    $schema: "https://vega.github.io/schema/vega-lite/v6.json",
    title,
    width: 480,
    height: 320,
    data: { values: rows(points) },
    layer: layers(x),
    config: CHART_CONFIG,
  } as ChartSpec;
}

/** Font files to try, best first, with the family name they hold. */
const FONT_CANDIDATES: readonly { family: string; files: string[] }[] = [
  { family: "DejaVu Sans", files: ["DejaVuSans.ttf", "DejaVuSans-Bold.ttf"] },
  {
    family: "Liberation Sans",
    files: ["LiberationSans-Regular.ttf", "LiberationSans-Bold.ttf"],
  },
  { family: "Noto Sans", files: ["NotoSans-Regular.ttf", "NotoSans-Bold.ttf"] },
  { family: "FreeSans", files: ["FreeSans.ttf", "FreeSansBold.ttf"] },
];

const FONT_DIRS = ["/usr/share/fonts", "/usr/local/share/fonts"];

/** Fonts for the PNG renderer. */
export type FontSet = {
  /** Font file contents. */
  buffers: Uint8Array[];
  /** Family to use for `sans-serif`, when known. */
  family?: string;
  /** Files loaded, for the report. */
  files: string[];
};

async function walk(dir: string, depth: number, out: Map<string, string>): Promise<void> {
  if (depth > 4) return;
  try {
    for await (const e of Deno.readDir(dir)) {
      const p = join(dir, e.name);
      if (e.isDirectory) await walk(p, depth + 1, out);
      else if (/\.(ttf|otf)$/i.test(e.name) && !out.has(e.name)) out.set(e.name, p);
    }
  } catch {
    // A missing or unreadable font dir just contributes nothing.
  }
}

/**
 * Finds fonts for PNG text: `$ARBNET_FONT` (a .ttf/.otf file) if set, else a
 * common sans family under /usr/share/fonts (DejaVu on Debian, package
 * fonts-dejavu-core), else any font file found. With none, PNG text is
 * not drawn (resvg has no built-in font): `files` is then empty.
 */
export async function findFonts(): Promise<FontSet> {
  let explicit: string | undefined;
  try {
    explicit = Deno.env.get("ARBNET_FONT");
  } catch {
    explicit = undefined; // no env permission: use the search
  }
  if (explicit) {
    return { buffers: [await Deno.readFile(explicit)], files: [explicit] };
  }
  const found = new Map<string, string>();
  for (const d of FONT_DIRS) await walk(d, 0, found);
  for (const c of FONT_CANDIDATES) {
    const files = c.files.map((f) => found.get(f)).filter((p): p is string => p !== undefined);
    if (files.length > 0) {
      return {
        buffers: await Promise.all(files.map((f) => Deno.readFile(f))),
        family: c.family,
        files,
      };
    }
  }
  const any = [...found.values()].sort().slice(0, 4);
  return { buffers: await Promise.all(any.map((f) => Deno.readFile(f))), files: any };
}

let resvgReady: Promise<typeof import("npm:@resvg/resvg-wasm@2.6.2")> | undefined;

/** resvg's wasm may be initialised once per process. */
function loadResvg() {
  resvgReady ??= (async () => {
    // deno-lint-ignore no-import-prefix -- see the top of the file
    const mod = await import("npm:@resvg/resvg-wasm@2.6.2");
    const wasmUrl = new URL("./index_bg.wasm", import.meta.resolve("npm:@resvg/resvg-wasm@2.6.2"));
    await mod.initWasm(await Deno.readFile(wasmUrl));
    return mod;
  })();
  return resvgReady;
}

/** Compiles a Vega-Lite spec and renders it to an SVG string, headless. */
export async function chartToSvg(spec: ChartSpec): Promise<string> {
  // deno-lint-ignore no-import-prefix -- see the top of the file
  const vl = await import("npm:vega-lite@6.5.0");
  // deno-lint-ignore no-import-prefix -- see the top of the file
  const vega = await import("npm:vega@6.4.0");
  const view = new vega.View(vega.parse(vl.compile(spec).spec), { renderer: "none" });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

/** Renders SVG text to PNG bytes at `scale` × its size. */
export async function svgToPng(svg: string, fonts: FontSet, scale = 2): Promise<Uint8Array> {
  const { Resvg } = await loadResvg();
  const resvg = new Resvg(svg, {
    background: "white",
    fitTo: { mode: "zoom", value: scale },
    font: {
      fontBuffers: fonts.buffers,
      loadSystemFonts: false, // the wasm build cannot read the file system itself
      ...(fonts.family ? { defaultFontFamily: fonts.family, sansSerifFamily: fonts.family } : {}),
    },
  });
  const png = resvg.render().asPng();
  return png;
}

/**
 * Writes `<basePath>.svg` and `<basePath>.png` for a Vega-Lite spec and
 * returns their paths.
 *
 * @example
 * ```ts ignore
 * import { balanceChart, findFonts, renderChart } from "./plot.ts";
 * await renderChart(balanceChart(points, "Balance"), "out/balance", await findFonts());
 * ```
 */
export async function renderChart(
  spec: ChartSpec,
  basePath: string,
  fonts: FontSet,
): Promise<{ svg: string; png: string }> {
  const svgText = await chartToSvg(spec);
  const svg = `${basePath}.svg`;
  const png = `${basePath}.png`;
  await Deno.writeTextFile(svg, svgText);
  await Deno.writeFile(png, await svgToPng(svgText, fonts));
  return { svg, png };
}
