// Where the autotuner keeps its choices: the kernels hold no file access, the
// io layer installs a file store when the library loads, and another store
// can be set (a runtime other than Deno).
import assert from "node:assert/strict";
import "../mod.ts";
import { fileTuneStore, setTuneStore, type TuneStore } from "../internals.ts";
import { tuneCachePath } from "../shaders/matmul_tune.ts";

Deno.test("tune store: importing the library installs the file store", () => {
  Deno.env.set("ARBNET_TUNE_CACHE", "/tmp/arbnet-tune-store-test.json");
  try {
    assert.equal(tuneCachePath(), "/tmp/arbnet-tune-store-test.json");
    assert.equal(fileTuneStore.location(), "/tmp/arbnet-tune-store-test.json");
  } finally {
    Deno.env.delete("ARBNET_TUNE_CACHE");
  }
});

Deno.test("tune store: another store replaces it", () => {
  const store: TuneStore = {
    location: () => "browser storage",
    load: () => ({}),
    save() {},
  };
  setTuneStore(store);
  try {
    assert.equal(tuneCachePath(), "browser storage");
  } finally {
    setTuneStore(fileTuneStore);
  }
});
