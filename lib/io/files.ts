/**
 * Writing files without losing a user's work: output paths checked before
 * any work is done, exclusive lock files (with stale-lock detection), atomic
 * writes (a temporary file renamed into place), cleanup of the temporary
 * files a killed writer leaves behind, and file-system errors turned into
 * one-line messages that name the path and say what to do.
 *
 * Used by `scripts/train.ts` (checkpoint and log), the experiment runner
 * (results files) and the report writer.
 *
 * Over ~350 lines on purpose: path checks, locks, atomic writes and their
 * messages are one policy for never losing a user's file.
 *
 * Layer: io; imports `lib/errors.ts` and `node:path`.
 * @module
 */

import { basename, dirname, join, resolve } from "node:path";
import { ArbnetError } from "../errors.ts";

/**
 * The {@linkcode ArbnetError} for a failed file-system call: one line naming
 * `path`, what could not be done (`action`, e.g. `"write checkpoint"`) and
 * what to do about it.
 */
export function fileError(e: unknown, path: string, action: string): ArbnetError {
  if (e instanceof ArbnetError) return e;
  const msg = e instanceof Error ? e.message : String(e);
  const head = `cannot ${action} ${path}`;
  if (e instanceof Deno.errors.IsADirectory) {
    return new ArbnetError(`${head}: it is a folder; give a file path`);
  }
  if (e instanceof Deno.errors.NotADirectory) {
    return new ArbnetError(`${head}: a part of the path is a file, not a folder`);
  }
  if (e instanceof Deno.errors.NotFound) {
    return new ArbnetError(`${head}: its folder does not exist; create it or choose another path`);
  }
  if (e instanceof Deno.errors.PermissionDenied || /os error 13\b/.test(msg)) {
    return new ArbnetError(
      `${head}: permission denied; choose a folder you can write to or fix its permissions`,
    );
  }
  if (/os error 28\b/.test(msg)) {
    return new ArbnetError(`${head}: no space left on the disk; free some space and rerun`);
  }
  if (/os error 30\b/.test(msg)) {
    return new ArbnetError(`${head}: the file system is read-only; choose another path`);
  }
  return new ArbnetError(`${head}: ${msg}`);
}

async function statOrNull(path: string, action = "read"): Promise<Deno.FileInfo | null> {
  try {
    return await Deno.stat(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return null;
    throw fileError(e, path, action);
  }
}

/**
 * Checks before any work that `path` can be written as the output `what`
 * (e.g. `"--checkpoint"`): a non-empty path that is not a folder, in a folder
 * that exists (created if missing, as `mkdir -p`) and that this process can
 * create files in. Writes nothing else. Returns the absolute path.
 */
export async function checkOutputFile(path: string, what: string): Promise<string> {
  if (typeof path !== "string" || path === "") {
    throw new ArbnetError(`${what} needs a file path, got ${JSON.stringify(path)}`);
  }
  const abs = resolve(path);
  const st = await statOrNull(abs, `write ${what}`);
  if (st?.isDirectory) {
    throw new ArbnetError(`${what} ${path} is a folder: give a file path (e.g. inside it)`);
  }
  if (st) {
    // An existing file (a log appended to): opening it for writing changes nothing.
    try {
      (await Deno.open(abs, { write: true })).close();
    } catch (e) {
      throw fileError(e, path, `write ${what}`);
    }
  }
  const dir = dirname(abs);
  try {
    await Deno.mkdir(dir, { recursive: true });
  } catch (e) {
    throw fileError(e, dir, `create the folder of ${what}`);
  }
  // Probe with a file of our own, next to the output, as the atomic writes do.
  const probe = `${abs}.probe-${Deno.pid}`;
  try {
    (await Deno.open(probe, { write: true, createNew: true })).close();
    await Deno.remove(probe);
  } catch (e) {
    await Deno.remove(probe).catch(() => {});
    throw fileError(e, path, `write ${what}`);
  }
  return abs;
}

/**
 * Checks before any work that `dir` can hold outputs (`what`, e.g.
 * `"report folder"`): a folder, or nothing yet (then created, as `mkdir -p`),
 * that this process can create files in. Returns the absolute path.
 */
export async function checkOutputDir(dir: string, what: string): Promise<string> {
  if (typeof dir !== "string" || dir === "") {
    throw new ArbnetError(`${what} needs a folder path, got ${JSON.stringify(dir)}`);
  }
  const abs = resolve(dir);
  const st = await statOrNull(abs, `write into ${what}`);
  if (st && !st.isDirectory) {
    throw new ArbnetError(`${what} ${dir} is a file, not a folder: give a folder path`);
  }
  try {
    await Deno.mkdir(abs, { recursive: true });
  } catch (e) {
    throw fileError(e, dir, `create ${what}`);
  }
  const probe = join(abs, `.probe-${Deno.pid}`);
  try {
    (await Deno.open(probe, { write: true, createNew: true })).close();
    await Deno.remove(probe);
  } catch (e) {
    await Deno.remove(probe).catch(() => {});
    throw fileError(e, dir, `write into ${what}`);
  }
  return abs;
}

/** The canonical path of `path` (symbolic links resolved where it exists). */
export async function canonicalPath(path: string): Promise<string> {
  const abs = resolve(path);
  try {
    return await Deno.realPath(abs);
  } catch {
    // Not there yet: resolve its folder, which checkOutputFile created.
    try {
      return join(await Deno.realPath(dirname(abs)), basename(abs));
    } catch {
      return abs;
    }
  }
}

/**
 * Refuses two of the given outputs (or an output and an input) that are the
 * same file, e.g. `--log` and `--checkpoint`: one would destroy the other.
 * Entries with an undefined path are skipped.
 */
export async function checkDistinct(paths: { what: string; path?: string }[]): Promise<void> {
  const seen = new Map<string, string>();
  for (const { what, path } of paths) {
    if (path === undefined) continue;
    const key = await canonicalPath(path);
    const other = seen.get(key);
    if (other !== undefined) {
      throw new ArbnetError(
        `${other} and ${what} are the same file (${path}): one would overwrite the other; ` +
          "give them different paths",
      );
    }
    seen.set(key, what);
  }
}

/**
 * This machine's name for lock files: `Deno.hostname()` (it needs
 * `--allow-sys`), else `/etc/hostname`, else `"unknown"` (whose locks are
 * never taken for stale: another machine may hold them).
 */
export function hostName(): string {
  try {
    return Deno.hostname();
  } catch {
    try {
      return Deno.readTextFileSync("/etc/hostname").trim() || "unknown";
    } catch {
      return "unknown";
    }
  }
}

/**
 * Whether process `pid` of this host is alive: Linux's `/proc` is asked (it
 * needs `--allow-all`), else `ps -p` (it needs `--allow-run`); where neither
 * answers, yes (a lock is then never taken for stale, and the message says
 * how to remove it).
 */
export function processAlive(pid: number): boolean {
  if (pid === Deno.pid) return true;
  try {
    Deno.statSync("/proc/self");
    try {
      Deno.statSync(`/proc/${pid}`);
      return true;
    } catch {
      return false;
    }
  } catch {
    // No /proc, or no permission to read it.
  }
  try {
    const ps = new Deno.Command("ps", {
      args: ["-p", String(pid)],
      stdout: "null",
      stderr: "null",
    });
    return ps.outputSync().code === 0;
  } catch {
    return true;
  }
}

/** What a lock file holds. */
export interface LockOwner {
  /** Process id of the holder. */
  pid: number;
  /** Host name of the holder. */
  host: string;
  /** When it took the lock (ISO 8601). */
  since: string;
}

/** A held lock; {@linkcode FileLock.release} (or leaving an `await using` scope) removes it. */
export interface FileLock extends AsyncDisposable {
  /** The lock file, `<target>.lock`. */
  path: string;
  /** Removes the lock file (if it is still ours). */
  release(): Promise<void>;
}

/** Locks unreadable for this long (a holder killed between creating and writing one) are stale. */
const TORN_LOCK_MS = 60_000;

async function readOwner(lock: string): Promise<LockOwner | null> {
  try {
    const o = JSON.parse(await Deno.readTextFile(lock));
    return Number.isSafeInteger(o?.pid) && typeof o.host === "string" ? o : null;
  } catch {
    return null;
  }
}

/** Why the lock at `lock` may be taken over, or null when its holder may be alive. */
async function staleReason(lock: string, owner: LockOwner | null): Promise<string | null> {
  if (owner) {
    const host = hostName();
    if (owner.host !== host || host === "unknown" || processAlive(owner.pid)) return null;
    return `process ${owner.pid} that held it is gone`;
  }
  const age = Date.now() - ((await statOrNull(lock))?.mtime?.getTime() ?? Date.now());
  return age > TORN_LOCK_MS ? "it is unreadable and over a minute old" : null;
}

/**
 * Takes an exclusive lock on `target` (the output `what`, e.g. `"checkpoint"`)
 * by creating `<target>.lock` (create-new, so only one process can), holding
 * this process's id and host. A lock whose process is gone (same host) is
 * stale: it is replaced, with a note through `log`. A live one is refused
 * with an {@linkcode ArbnetError} naming the holder and the lock file.
 */
export async function acquireLock(
  target: string,
  what: string,
  log: (msg: string) => void = (m) => console.error(m),
): Promise<FileLock> {
  const lock = `${target}.lock`;
  const me: LockOwner = { pid: Deno.pid, host: hostName(), since: new Date().toISOString() };
  for (let attempt = 0;; attempt++) {
    try {
      const f = await Deno.open(lock, { write: true, createNew: true });
      try {
        await f.write(new TextEncoder().encode(JSON.stringify(me) + "\n"));
      } finally {
        f.close();
      }
      const release = async () => {
        const owner = await readOwner(lock);
        if (owner?.pid === me.pid && owner.since === me.since) {
          await Deno.remove(lock).catch(() => {});
        }
      };
      return { path: lock, release, [Symbol.asyncDispose]: release };
    } catch (e) {
      if (!(e instanceof Deno.errors.AlreadyExists)) throw fileError(e, lock, "create lock file");
    }
    const owner = await readOwner(lock);
    const stale = attempt === 0 ? await staleReason(lock, owner) : null;
    if (stale === null) {
      const who = owner
        ? `process ${owner.pid} on ${owner.host} (since ${owner.since})`
        : "another process";
      throw new ArbnetError(
        `${what} ${target} is in use by ${who}: its lock file ${lock} exists; wait for that ` +
          `run to end, or if it is no longer running delete ${lock}`,
      );
    }
    log(`note: removed the stale lock ${lock} (${stale})`);
    await Deno.remove(lock).catch(() => {});
  }
}

/** The temporary file an atomic write of `path` by this process uses. */
export function tempPathOf(path: string): string {
  return `${path}.tmp-${Deno.pid}`;
}

/**
 * Removes the temporary files `<path>.tmp-<pid>` that writers of `path`
 * killed mid-write left behind (those whose process is gone); returns their
 * paths. Call it holding the lock on `path`, or where nothing else writes it.
 */
export async function removeStaleTemps(path: string): Promise<string[]> {
  const dir = dirname(resolve(path));
  const prefix = `${basename(path)}.tmp-`;
  const removed: string[] = [];
  try {
    for await (const e of Deno.readDir(dir)) {
      if (!e.isFile || !e.name.startsWith(prefix)) continue;
      const pid = Number(e.name.slice(prefix.length));
      if (!Number.isSafeInteger(pid) || processAlive(pid)) continue;
      const p = join(dir, e.name);
      await Deno.remove(p).then(() => removed.push(p), () => {});
    }
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw fileError(e, dir, "list the folder");
  }
  return removed;
}

/**
 * Writes `data` to `path` atomically: to {@linkcode tempPathOf}, synced, then
 * renamed over `path`, so a reader (or a crash) sees the old file or the new
 * one, never half of one. Failures name the path (`what` says which output).
 */
export async function writeFileAtomic(
  path: string,
  data: Uint8Array | string,
  what = "file",
): Promise<void> {
  const bytes = typeof data === "string" ? new TextEncoder().encode(data) : data;
  const tmp = tempPathOf(path);
  try {
    const file = await Deno.open(tmp, { write: true, create: true, truncate: true });
    try {
      let at = 0;
      while (at < bytes.length) at += await file.write(bytes.subarray(at));
      await file.syncData();
    } finally {
      file.close();
    }
    await Deno.rename(tmp, path);
  } catch (e) {
    await Deno.remove(tmp).catch(() => {});
    throw fileError(e, path, `write ${what}`);
  }
}
