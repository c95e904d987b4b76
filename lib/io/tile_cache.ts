/**
 * The autotuner's store under Deno: its choices in a JSON file. Installed by importing this module (the
 * library's entry point does), so the kernels themselves need no Deno API.
 *
 * Layer: io; imports the kernels' tuner.
 * @module
 */

import type { Tile } from "../../shaders/matmul.ts";
import { setTuneStore, type TuneStore } from "../../shaders/matmul_tune.ts";

/**
 * Tuned choices in `$ARBNET_TUNE_CACHE`, else `$XDG_CACHE_HOME/arbnet/tiles.json`
 * or `~/.cache/arbnet/tiles.json` (memory only without permission to read the
 * environment or the file). The path is read when used, so a process may change it.
 */
export const fileTuneStore: TuneStore = {
  location(): string | null {
    try {
      const explicit = Deno.env.get("ARBNET_TUNE_CACHE");
      if (explicit) return explicit;
      const home = Deno.env.get("XDG_CACHE_HOME") ?? (Deno.env.get("HOME") + "/.cache");
      return `${home}/arbnet/tiles.json`;
    } catch {
      return null; // no env permission: memory only
    }
  },
  load(): Record<string, Tile> {
    const path = this.location();
    if (!path) return {};
    try {
      return JSON.parse(Deno.readTextFileSync(path)) as Record<string, Tile>;
    } catch {
      return {}; // absent, unreadable or not permitted: start empty
    }
  },
  save(choices: Record<string, Tile>): void {
    const path = this.location();
    if (!path) return;
    try {
      Deno.mkdirSync(path.slice(0, path.lastIndexOf("/")), { recursive: true });
      const tmp = `${path}.tmp-${Deno.pid}`;
      Deno.writeTextFileSync(tmp, JSON.stringify(choices, null, 1));
      Deno.renameSync(tmp, path);
    } catch {
      // not permitted: the choices live for this process only
    }
  },
};

setTuneStore(fileTuneStore);
