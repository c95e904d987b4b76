/// <reference no-default-lib="true" />
/// <reference lib="dom" />
/// <reference lib="esnext" />
/// <reference lib="deno.webgpu" />
/**
 * The page of `examples/browser/`: trains an ArbNet (784-H-10 MLP) on MNIST
 * in the tab with arbnet's browser build, drawing the loss and accuracy and
 * the first layer's slot occupancy and weights as it goes. The browser test
 * (`tests/browser.test.ts`) drives the same functions through
 * `globalThis.arbnetPage`.
 * @module
 */

import {
  Batcher,
  buildMlp,
  type Dataset,
  type Gpu,
  type Hash,
  hashes,
  occupancyEntropy,
  parseMnist,
  requestDevice,
  SGD,
  slotCounts,
  type Split,
  subset,
  Trainer,
} from "../../browser.ts";
import { type CheckResult, runKernelChecks } from "./checks.ts";
import { drawCurves, drawOccupancy, drawWeights, type Series } from "./plot.ts";

/** What one training run does; every field has a default (the form's initial values). */
export interface RunOptions {
  /** Hash family of both layers. */
  family: "dense" | "uniform" | "dirichlet" | "neighborhood";
  /** Dirichlet concentration α. */
  alpha: number;
  /** Neighborhood radius. */
  radius: number;
  /** Table size as a fraction of each layer's virtual matrix (hashed families). */
  tableFraction: number;
  /** Fraction of positions sent to the zero slot. */
  sparsity: number;
  /** Hidden units. */
  hidden: number;
  /** Training steps. */
  steps: number;
  /** Examples per step. */
  batchSize: number;
  /** SGD learning rate (momentum 0.9). */
  lr: number;
  /** Training examples used (the first of the train split). */
  trainExamples: number;
  /** Test examples the accuracy is measured on (the first of the test split). */
  testExamples: number;
  /** Steps between reads of the running loss and accuracy. */
  every: number;
  /** Seed of the hashes, the initial tables and the batch order. */
  seed: number;
}

/** What a run reached. */
export interface RunSummary {
  /** The adapter it ran on. */
  adapter: string;
  /** Steps taken. */
  steps: number;
  /** Running training loss per read: [step, loss]. */
  loss: [number, number][];
  /** Test accuracy of the final network on `testExamples`. */
  testAccuracy: number;
  /** Test loss of the final network. */
  testLoss: number;
  /** Whether the run was stopped before its last step. */
  stopped: boolean;
}

const DEFAULTS: RunOptions = {
  family: "uniform",
  alpha: 0.5,
  radius: 8,
  tableFraction: 1 / 8,
  sparsity: 0,
  hidden: 64,
  steps: 1500,
  batchSize: 50,
  lr: 0.1,
  trainExamples: 10_000,
  testExamples: 2000,
  every: 25,
  seed: 1,
};

const FEATURES = 784;
const SIDE = 28;
/** Hidden units whose incoming weights the page draws. */
const UNITS_SHOWN = 12;

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;

function status(text: string): void {
  $("status").textContent = text;
}

let device: Promise<Gpu> | null = null;

/** The adapter as the page reports it: Chromium leaves `description` empty on SwiftShader. */
function adapterName(g: Gpu): string {
  const a = g.adapter;
  const parts = [a.vendor, a.architecture].filter(Boolean).join(" ");
  return a.description === "unknown adapter" && parts ? parts : `${a.description} (${parts})`;
}

/** The tab's WebGPU device for the kernel checks, requested once. */
function gpu(): Promise<Gpu> {
  device ??= requestDevice({ label: "arbnet page" });
  return device;
}

// ---- data ----

const FILES: Record<Split, { images: string; labels: string }> = {
  train: { images: "train-images-idx3-ubyte", labels: "train-labels-idx1-ubyte" },
  test: { images: "t10k-images-idx3-ubyte", labels: "t10k-labels-idx1-ubyte" },
};

/** Files the user dropped or picked, by name (gzipped ones already inflated). */
const dropped = new Map<string, Uint8Array>();

async function fileBytes(name: string): Promise<Uint8Array> {
  const local = dropped.get(name);
  if (local) return local;
  const res = await fetch(`mnist/${name}`);
  if (!res.ok) {
    throw new Error(
      `cannot fetch mnist/${name} (${res.status}): serve the page with \`deno task browser\` ` +
        "or drop the four MNIST idx files on the page",
    );
  }
  return new Uint8Array(await res.arrayBuffer());
}

const loaded = new Map<Split, Promise<Dataset>>();

/** A split, fetched (or taken from dropped files) once; `count` of its first examples. */
async function mnist(split: Split, count: number): Promise<Dataset> {
  if (!loaded.has(split)) {
    const f = FILES[split];
    const load = (async () =>
      parseMnist(split, {
        images: await fileBytes(f.images),
        labels: await fileBytes(f.labels),
      }))();
    load.catch(() => loaded.delete(split)); // a failed fetch may be retried after a drop
    loaded.set(split, load);
  }
  const ds = await loaded.get(split)!;
  return count < ds.count ? subset(ds, count) : ds;
}

/** Takes idx files (plain or `.gz`) the user dropped or picked. */
async function takeFiles(files: FileList): Promise<void> {
  for (const file of files) {
    let bytes = new Uint8Array(await file.arrayBuffer());
    let name = file.name;
    if (name.endsWith(".gz")) {
      const stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream("gzip"));
      bytes = new Uint8Array(await new Response(stream).arrayBuffer());
      name = name.slice(0, -3);
    }
    dropped.set(name, bytes);
  }
  loaded.clear();
  status(`files: ${[...dropped.keys()].join(", ")}`);
}

// ---- training ----

function makeHash(o: RunOptions): Hash {
  switch (o.family) {
    case "dense":
      return hashes.dense();
    case "uniform":
      return hashes.uniform();
    case "dirichlet":
      return hashes.dirichlet({ alpha: o.alpha });
    case "neighborhood":
      return hashes.neighborhood({ radius: o.radius });
  }
}

let stopRequested = false;
let running = false;

/** Trains one network with `options`, drawing as it goes. */
export async function train(options: Partial<RunOptions> = {}): Promise<RunSummary> {
  if (running) throw new Error("a run is already going: stop it first");
  running = true;
  stopRequested = false;
  try {
    const o = { ...DEFAULTS, ...options };
    showOptions(o);
    return await trainRun(o);
  } finally {
    running = false;
  }
}

/** The last run's device: layers have no release of their own, so a new run destroys it. */
let runDevice: Gpu | null = null;

async function trainRun(o: RunOptions): Promise<RunSummary> {
  runDevice?.destroy();
  runDevice = null;
  const g = runDevice = await requestDevice({ label: "arbnet run" });
  status("loading MNIST…");
  const [trainSet, testSet] = await Promise.all([
    mnist("train", o.trainExamples),
    mnist("test", o.testExamples),
  ]);
  const hash = makeHash(o);
  const { net, layers } = buildMlp(g, {
    layers: [FEATURES, o.hidden, 10],
    hash,
    tableFraction: o.tableFraction,
    sparsity: o.sparsity,
    seed: o.seed,
  });
  const trainer = new Trainer(net, new SGD(net.parameters(), { lr: o.lr, momentum: 0.9 }), {
    features: FEATURES,
    classes: 10,
  });
  const first = layers[0];
  const k = first.config.tableSize;
  const entropy = occupancyEntropy(first.indices, k);
  drawOccupancy(
    $("occupancy"),
    slotCounts(first.indices, k).subarray(0, k),
    `${hash.family}: K = ${k} slots for ${FEATURES}×${o.hidden} positions, ` +
      `occupancy entropy ${entropy.normalized.toFixed(3)}·ln K`,
  );

  const series: Series[] = [
    { label: "train loss", color: "#c0392b", axis: "loss", points: [] },
    { label: "train accuracy", color: "#2e86c1", axis: "accuracy", points: [] },
    { label: "test accuracy", color: "#27ae60", axis: "accuracy", points: [] },
  ];
  const batcher = new Batcher(trainSet, { batchSize: o.batchSize, shuffle: true, seed: o.seed });
  const evalEvery = Math.max(o.every, Math.round(o.steps / 10 / o.every) * o.every);
  let step = 0;
  const drawWeightsNow = async () => {
    const table = await first.table.read();
    const words = first.indices;
    const signs = first.signs;
    drawWeights(
      $("weights"),
      (i, j) => {
        const p = i * o.hidden + j;
        const v = words[p] < table.length ? table[words[p]] : 0;
        return signs && signs[p] < 0 ? -v : v;
      },
      Math.min(UNITS_SHOWN, o.hidden),
      SIDE,
    );
  };
  await drawWeightsNow();
  for (let epoch = 0; step < o.steps && !stopRequested; epoch++) {
    for (const b of batcher.epoch(epoch)) {
      if (step >= o.steps || stopRequested) break;
      await trainer.step(b.x.subarray(0, b.size * FEATURES), b.y.subarray(0, b.size));
      step++;
      if (step % o.every !== 0 && step !== o.steps) continue;
      const m = await trainer.readMetrics();
      trainer.resetMetrics();
      if (m.nonFinite) throw new Error(`the loss became non-finite by step ${step}: lower lr`);
      series[0].points.push([step, m.loss]);
      series[1].points.push([step, m.accuracy]);
      if (step % evalEvery === 0 || step === o.steps) {
        series[2].points.push([step, (await trainer.evaluate(testSet)).accuracy]);
        await drawWeightsNow();
      }
      drawCurves($("curves"), series);
      status(
        `step ${step}/${o.steps}: loss ${m.loss.toFixed(3)}, ` +
          `train accuracy ${(100 * m.accuracy).toFixed(1)}% (${adapterName(g)})`,
      );
    }
  }
  const test = await trainer.evaluate(testSet);
  await drawWeightsNow();
  status(
    `${stopRequested ? "stopped" : "done"} after ${step} steps: test accuracy ` +
      `${(100 * test.accuracy).toFixed(2)}% on ${testSet.count} test images, loss ` +
      `${test.loss.toFixed(3)} (${adapterName(g)})`,
  );
  return {
    adapter: adapterName(g),
    steps: step,
    loss: series[0].points,
    testAccuracy: test.accuracy,
    testLoss: test.loss,
    stopped: stopRequested,
  };
}

/** Runs the kernel-vs-CPU checks and lists them on the page. */
export async function checks(): Promise<CheckResult[]> {
  const results = await runKernelChecks(await gpu());
  const list = $("checks");
  list.replaceChildren(...results.map((r) => {
    const li = document.createElement("li");
    li.textContent =
      `${r.ok ? "✓" : "✗"} ${r.name}: max |GPU − CPU| ${r.maxError.toExponential(1)}` +
      (r.detail ? ` (${r.detail})` : "");
    li.className = r.ok ? "ok" : "bad";
    return li;
  }));
  return results;
}

// ---- the form ----

function formOptions(): RunOptions {
  const o: Record<string, string | number> = { ...DEFAULTS };
  for (const id of FORM_FIELDS) {
    const value = ($(id) as HTMLInputElement).value;
    o[id] = id === "family" ? value : Number(value);
  }
  return o as unknown as RunOptions;
}

/** The form fields {@linkcode formOptions} reads. */
const FORM_FIELDS = [
  "family",
  "alpha",
  "radius",
  "tableFraction",
  "sparsity",
  "hidden",
  "steps",
  "lr",
  "trainExamples",
] as const;

/** Shows a run's options in the form (a run started by script shows what it runs). */
function showOptions(o: RunOptions): void {
  for (const id of FORM_FIELDS) ($(id) as HTMLInputElement).value = String(o[id]);
  showKnobs();
}

/** Enables the knob(s) the chosen family has. */
function showKnobs(): void {
  const family = ($("family") as HTMLSelectElement).value;
  ($("alpha") as HTMLInputElement).disabled = family !== "dirichlet";
  ($("radius") as HTMLInputElement).disabled = family !== "neighborhood";
  ($("tableFraction") as HTMLInputElement).disabled = family === "dense";
}

function fail(err: unknown): void {
  status(`error: ${err instanceof Error ? err.message : String(err)}`);
  console.error(err);
}

function wire(): void {
  ($("family") as HTMLSelectElement).addEventListener("change", showKnobs);
  showKnobs();
  $("start").addEventListener("click", () => train(formOptions()).catch(fail));
  $("stop").addEventListener("click", () => stopRequested = true);
  $("check").addEventListener("click", () => checks().catch(fail));
  const pick = $("files") as HTMLInputElement;
  pick.addEventListener("change", () => pick.files && takeFiles(pick.files).catch(fail));
  document.body.addEventListener("dragover", (e) => e.preventDefault());
  document.body.addEventListener("drop", (e) => {
    e.preventDefault();
    if (e.dataTransfer?.files) takeFiles(e.dataTransfer.files).catch(fail);
  });
  gpu().then(
    (g) => $("adapter").textContent = `WebGPU adapter: ${adapterName(g)}`,
    fail,
  );
}

/** What the browser test calls. */
export interface PageApi {
  /** {@linkcode train}. */
  train: typeof train;
  /** {@linkcode checks}. */
  checks: typeof checks;
}

(globalThis as { arbnetPage?: PageApi }).arbnetPage = { train, checks };
wire();
