/**
 * File-system helpers shared by the dataset loaders: every failure to find or
 * read a file becomes an {@linkcode ArbnetError} that names the path, so a
 * user with a wrong `--data` folder learns which file was expected where.
 *
 * May import only `lib/errors.ts`.
 * @module
 */

import { ArbnetError, invalidOption } from "../errors.ts";

/**
 * Turns a Deno file-system error about `path` into an {@linkcode ArbnetError}
 * that says what was being looked for.
 *
 * @param what a short description of the file, e.g. `"MNIST file"`
 */
export function fsError(path: string, what: string, err: unknown): ArbnetError {
  if (err instanceof ArbnetError) return err;
  if (err instanceof Deno.errors.NotFound) return new ArbnetError(`${what} not found: ${path}`);
  const name = err instanceof Error ? err.name : "";
  // Deno 2 reports a missing --allow-read as NotCapable, the OS as PermissionDenied.
  if (err instanceof Deno.errors.PermissionDenied || name === "NotCapable") {
    return new ArbnetError(`cannot read ${what} ${path}: permission denied`);
  }
  const msg = err instanceof Error ? err.message : String(err);
  return new ArbnetError(`cannot read ${what} ${path}: ${msg}`);
}

/**
 * The `Deno.stat` of `path`, or `null` if nothing is there. Any other failure
 * (permissions, a file where a folder was expected in the path) is thrown as
 * an {@linkcode ArbnetError}.
 */
export async function statOrNull(path: string, what: string): Promise<Deno.FileInfo | null> {
  try {
    return await Deno.stat(path);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return null;
    // ENOTDIR: a path component is a regular file, so the file cannot exist.
    if (err instanceof Deno.errors.NotADirectory) return null;
    throw fsError(path, what, err);
  }
}

/**
 * Checks that `dir` exists and is a folder; the error lists the files that
 * were to be read from it so the user knows what the folder should contain.
 */
export async function requireDir(dir: string, what: string, files: readonly string[]) {
  const info = await statOrNull(dir, `${what} folder`);
  const wanted = `it should hold ${files.join(", ")}`;
  if (info === null) throw new ArbnetError(`${what} folder not found: ${dir} (${wanted})`);
  if (!info.isDirectory) throw new ArbnetError(`${what} path is not a folder: ${dir} (${wanted})`);
}

/**
 * Random-access reads from one file, so a loader can size-check a whole file
 * but read only the prefix it needs (`limit`).
 */
export interface ByteSource {
  /** The path, for error messages. */
  readonly path: string;
  /** Total size in bytes. */
  readonly size: number;
  /** Exactly `length` bytes starting at `offset`; throws if the file is shorter. */
  read(offset: number, length: number): Promise<Uint8Array>;
  /** Releases the file handle; further reads fail. */
  close(): void;
}

/** A {@linkcode ByteSource} over bytes already in memory (e.g. a decompressed file). */
export function memorySource(path: string, bytes: Uint8Array): ByteSource {
  return {
    path,
    size: bytes.length,
    read(offset, length) {
      if (offset + length > bytes.length) {
        return Promise.reject(new ArbnetError(`${path}: unexpected end of data`));
      }
      return Promise.resolve(bytes.subarray(offset, offset + length));
    },
    close() {},
  };
}

/** Opens a regular file as a {@linkcode ByteSource}; errors name the path. */
export async function openSource(path: string, what: string): Promise<ByteSource> {
  let file: Deno.FsFile;
  let size: number;
  try {
    const info = await Deno.stat(path);
    if (!info.isFile) throw new ArbnetError(`${what} is not a regular file: ${path}`);
    file = await Deno.open(path, { read: true });
    size = (await file.stat()).size;
  } catch (err) {
    throw fsError(path, what, err);
  }
  return {
    path,
    size,
    async read(offset, length) {
      const out = new Uint8Array(length);
      try {
        await file.seek(offset, Deno.SeekMode.Start);
        let got = 0;
        while (got < length) {
          const n = await file.read(out.subarray(got));
          if (n === null) {
            throw new ArbnetError(
              `${path}: file ended after ${offset + got} bytes (was it changed while reading?)`,
            );
          }
          got += n;
        }
      } catch (err) {
        throw fsError(path, what, err);
      }
      return out;
    },
    close() {
      file.close();
    },
  };
}

/** Reads and gunzips a whole `.gz` file; a corrupt archive is an error naming the path. */
export async function readGzip(path: string, what: string): Promise<Uint8Array> {
  let file: Deno.FsFile;
  try {
    file = await Deno.open(path, { read: true });
  } catch (err) {
    throw fsError(path, what, err);
  }
  try {
    const stream = file.readable.pipeThrough(new DecompressionStream("gzip"));
    return new Uint8Array(await new Response(stream).arrayBuffer());
  } catch (err) {
    const msg = err instanceof Error ? err.message : String(err);
    throw new ArbnetError(`cannot decompress ${what} ${path}: ${msg}`);
  }
}

/**
 * Validates an optional `limit` option: `undefined` means no limit, otherwise
 * an integer ≥ 1. Returns the limit as a number (`Infinity` when absent).
 */
export function checkLimit(limit: number | undefined): number {
  if (limit === undefined) return Infinity;
  if (!Number.isSafeInteger(limit) || limit < 1) {
    invalidOption("limit", limit, "an integer ≥ 1, or omitted for all examples");
  }
  return limit;
}

/** `255 → 1.0f` lookup: the one place a pixel byte becomes a float, so all loaders agree. */
export const BYTE_TO_UNIT: Float32Array = (() => {
  const t = new Float32Array(256);
  for (let i = 0; i < 256; i++) t[i] = i / 255;
  return t;
})();
