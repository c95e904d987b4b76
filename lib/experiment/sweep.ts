/**
 * Sweeps as plain lists of runs: the {@linkcode RunSpec} config type, its
 * stable id, and the builders for the seed paper's two experiments (balance:
 * Dirichlet α; noise: Neighborhood radius).
 *
 * Over ~350 lines on purpose: the run ids hash the canonical JSON of `RunSpec`, so the type, its
 * canonical form and the builders that fill it stay together.
 *
 * Owns: run configs, their canonical JSON and ids, the default "quick" and
 * "full" profiles. Imports only `lib/errors.ts` and `node:crypto` (a sync
 * SHA-256, so ids need no `await`).
 * @module
 */

import { createHash } from "node:crypto";
import { invalidOption } from "../errors.ts";

/** Any value JSON can carry without loss (no NaN or Infinity; `undefined` only as an absent key). */
export type JsonValue = null | boolean | number | string | JsonValue[] | {
  // undefined-valued keys are allowed because JSON.stringify and canonicalJson drop them
  [key: string]: JsonValue | undefined;
};

/**
 * Which of the seed paper's claims a run tests: `balance` and `noise`, or
 * `reference` (the converged study's uniform hash, for comparison with
 * HashedNets), or `cnn` (its CNN arm: does breaking a convolution's sharing
 * hurt?); or `hashes`, a comparison of any hash families, a researcher's own
 * among them ({@linkcode hashesSweep}).
 */
export type Experiment = "balance" | "noise" | "reference" | "cnn" | "hashes";

/** Datasets the trainer knows. */
export type Dataset = "mnist" | "cifar10";

/**
 * `"full"` and `"quick"`: the one-epoch sweeps (`"quick"` a small version that
 * finishes in minutes). `"converged"`, `"pilot"` and `"ci"`: the converged
 * study's main runs, its learning-rate pilot, and its few-minute CI version
 * (`./study.ts`).
 */
export type Profile = SweepProfile | "converged" | "pilot" | "ci";

/** The profiles of the one-epoch balance and noise sweeps. */
export type SweepProfile = "quick" | "full";

/**
 * A JSON-safe description of a hash, enough to rebuild it; the same shape as
 * `HashDescriptor` in `lib/hash/types.ts` (not imported, to keep this layer free of it).
 */
export type HashSpec = {
  /** Family name, e.g. `"dirichlet"` or `"neighborhood"`. */
  family: string;
  /** The family's options, e.g. `{ alpha: 0.1 }` or `{ radius: 100 }`. */
  options: Record<string, number | string | boolean>;
};

/**
 * Everything of a {@linkcode RunSpec} except what a sweep varies: the
 * settings shared by all runs of a sweep. Open: any other JSON key may be
 * added (e.g. `momentum`, `deterministic`), and then also changes the ids.
 */
export type BaseConfig = {
  /** Training data. */
  dataset: Dataset;
  /** Training epochs (over `trainLimit` examples when set). */
  epochs: number;
  /** Train on the first this-many training examples only. */
  trainLimit?: number;
  /** Evaluate on the first this-many test examples only. */
  testLimit?: number;
  /** Hidden layer widths, e.g. `[1000]` for 784-1000-10. */
  hidden: number[];
  /** Table size `K` of each layer as a fraction of its virtual size `nIn·nOut`. */
  tableFraction: number;
  /** SGD learning rate. */
  lr: number;
  /** Minibatch size. */
  batch: number;
  /** Profile the run was built with; part of the id so quick and full results never mix. */
  profile?: Profile;
  /** Further JSON-safe settings. */
  [key: string]: JsonValue | undefined;
};

/**
 * One training run, fully described by JSON-safe data: a {@linkcode BaseConfig}
 * plus the swept fields. The well-known keys are what the builders set and
 * the report reads; extra keys are carried along and change the id.
 */
export type RunSpec = {
  /** Which claim this run belongs to. */
  experiment: Experiment;
  /** Training data. */
  dataset: Dataset;
  /** The hash used by every ArbLinear layer. */
  hash: HashSpec;
  /** Fraction of positions sent to the zero slot, in [0, 1). */
  sparsity: number;
  /** Seed for hash, initialisation and data order. */
  seed: number;
  /** Training epochs (over `trainLimit` examples when set). */
  epochs: number;
  /** Train on the first this-many training examples only. */
  trainLimit?: number;
  /** Evaluate on the first this-many test examples only. */
  testLimit?: number;
  /** Hidden layer widths, e.g. `[1000]` for 784-1000-10. */
  hidden: number[];
  /** Table size `K` of each layer as a fraction of its virtual size `nIn·nOut`. */
  tableFraction: number;
  /** SGD learning rate. */
  lr: number;
  /** Minibatch size. */
  batch: number;
  /** Profile the run was built with; part of the id so quick and full results never mix. */
  profile?: Profile;
  /** Further JSON-safe settings. */
  [key: string]: JsonValue | undefined;
};

/**
 * JSON with object keys sorted (by UTF-16 code units) at every depth, and
 * `undefined`-valued keys dropped, so equal configs give equal strings
 * whatever order their keys were written in. The string is built by hand
 * because JS objects put integer-like keys first whatever the insertion order.
 *
 * @throws {ArbnetError} for values JSON cannot carry exactly (NaN, ±Infinity,
 *   functions, class instances, `undefined` inside arrays), naming the path.
 */
export function canonicalJson(value: unknown): string {
  return serialize(value, "$");
}

function serialize(v: unknown, path: string): string {
  if (v === null || typeof v === "string" || typeof v === "boolean") return JSON.stringify(v);
  if (typeof v === "number") {
    if (!Number.isFinite(v)) invalidOption(path, v, "a finite number (JSON has no NaN/Infinity)");
    return JSON.stringify(Object.is(v, -0) ? 0 : v);
  }
  if (Array.isArray(v)) {
    return `[${v.map((x, i) => serialize(x, `${path}[${i}]`)).join(",")}]`;
  }
  if (typeof v === "object") {
    const proto = Object.getPrototypeOf(v);
    if (proto !== Object.prototype && proto !== null) {
      invalidOption(path, v, "a plain JSON object");
    }
    const obj = v as Record<string, unknown>;
    const keys = Object.keys(obj).filter((k) => obj[k] !== undefined).sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${serialize(obj[k], `${path}.${k}`)}`)}}`;
  }
  return invalidOption(path, v, "a JSON-safe value");
}

/** First 8 hex digits of the SHA-256 of `text`: 32 bits, ample for a few thousand runs. */
function shortHash(text: string): string {
  return createHash("sha256").update(text).digest("hex").slice(0, 8);
}

/**
 * The swept quantity of a run, read from its hash options: `alpha` for a
 * balance run, `radius` (Neighborhood) or `q` (swap noise) for a noise run,
 * else `undefined`.
 */
export function sweepPoint(spec: RunSpec): { name: string; value: number } | undefined {
  const opts = spec.hash?.options ?? {};
  for (const name of ["alpha", "radius", "q"]) {
    const value = opts[name];
    if (typeof value === "number") return { name, value };
  }
  return undefined;
}

/**
 * A short, readable, stable id: `<experiment>-<point>-s<sparsity>-seed<seed>-<hash8>`,
 * e.g. `balance-a0.01-s0.5-seed2-1f3a9c0b`. The readable part is for people;
 * the 8 hex digits are a hash of the whole {@linkcode canonicalJson}, so any
 * change to any field changes the id while key order never does.
 *
 * @example
 * ```ts
 * import { balanceSweep, runId } from "./sweep.ts";
 * const [spec] = balanceSweep({ profile: "quick" });
 * console.log(runId(spec)); // e.g. "balance-a0.001-s0-seed1-…"
 * ```
 */
export function runId(spec: RunSpec): string {
  const json = canonicalJson(spec);
  const p = sweepPoint(spec);
  const point = p === undefined
    ? String(spec.hash?.family ?? "nohash")
    : `${({ alpha: "a", radius: "r" } as Record<string, string>)[p.name] ?? p.name}${p.value}`;
  const readable = `${spec.experiment}-${point}-s${spec.sparsity}-seed${spec.seed}`;
  // Keep ids safe as file names and grep patterns whatever a field holds.
  return `${readable.replace(/[^A-Za-z0-9._+-]/g, "_")}-${shortHash(json)}`;
}

/** Input features of each dataset (flattened images). */
export const DATASET_INPUTS: Readonly<Record<Dataset, number>> = { mnist: 784, cifar10: 3072 };

/** Classes of each dataset. */
export const DATASET_CLASSES: Readonly<Record<Dataset, number>> = { mnist: 10, cifar10: 10 };

/**
 * Table size `K = round(nIn · nOut · tableFraction)` of the first layer, the
 * scale the Neighborhood radius is measured against.
 */
export function firstLayerTableSize(
  spec: Pick<RunSpec, "dataset" | "hidden" | "tableFraction">,
): number {
  const nIn = DATASET_INPUTS[spec.dataset];
  if (nIn === undefined) invalidOption("dataset", spec.dataset, `one of ${datasetList()}`);
  const nOut = spec.hidden.length > 0 ? spec.hidden[0] : DATASET_CLASSES[spec.dataset];
  return Math.max(1, Math.round(nIn * nOut * spec.tableFraction));
}

/*
 * Profiles, sized for one 2-core machine (lavapipe, docs/experiments.md has
 * the measured times).
 *
 * full: the reference setup (784-1000-10, K = nIn·nOut/8, SGD momentum 0.9,
 *   batch 50) for one epoch over all 60,000 training examples (1,200 steps),
 *   evaluated on all 10,000 test examples: 117 runs for both sweeps. Longer
 *   training is `--epochs N`; shard it (SLURM or Kubernetes arrays).
 *
 * quick: 6,000 training examples × 1 epoch = 120 steps, evaluation on 2,000
 *   test examples, 2 seeds, 2 sparsities, a subset of the points: 36 runs,
 *   sized to finish in minutes.
 */
const PROFILE_BASE: Readonly<Record<SweepProfile, Partial<BaseConfig>>> = {
  full: {
    profile: "full",
    epochs: 1,
    hidden: [1000],
    tableFraction: 1 / 8,
    lr: 0.01,
    momentum: 0.9,
    batch: 50,
  },
  quick: {
    profile: "quick",
    epochs: 1,
    trainLimit: 6000,
    testLimit: 2000,
    hidden: [1000],
    tableFraction: 1 / 8,
    lr: 0.01,
    momentum: 0.9,
    batch: 50,
  },
};

const PROFILE_POINTS: Readonly<
  Record<SweepProfile, { alphas: number[]; sparsities: number[]; seeds: number }>
> = {
  full: { alphas: [1e-3, 1e-2, 0.1, 1, 10, 100], sparsities: [0, 0.5, 0.9], seeds: 3 },
  quick: { alphas: [1e-3, 1e-2, 1, 100], sparsities: [0, 0.9], seeds: 2 },
};

/** Options shared by {@linkcode balanceSweep} and {@linkcode noiseSweep}. */
export type SweepOptions = {
  /** Default `"full"`. Sets the defaults of every other option. */
  profile?: SweepProfile;
  /** Default `base.dataset`, else `"mnist"`. */
  dataset?: Dataset;
  /** Sparsities to sweep; default full `[0, 0.5, 0.9]`, quick `[0, 0.9]`. */
  sparsities?: number[];
  /** A count `n` (seeds `1..n`) or the explicit seeds; default full 3, quick 2. */
  seeds?: number | number[];
  /** Overrides of the profile's config (layer sizes, epochs, lr, …). */
  base?: Partial<BaseConfig>;
};

/** Options of {@linkcode balanceSweep}. */
export type BalanceSweepOptions = SweepOptions & {
  /** Dirichlet concentrations; default full `[1e-3, 1e-2, 0.1, 1, 10, 100]`, quick `[1e-3, 1e-2, 1, 100]`. */
  alphas?: number[];
};

/** Options of {@linkcode hashesSweep}. */
export type HashesSweepOptions = SweepOptions & {
  /** The hashes to compare (family and options; a user family must be registered to train). */
  hashes: HashSpec[];
};

/** Options of {@linkcode noiseSweep}. */
export type NoiseSweepOptions = SweepOptions & {
  /** Neighborhood radii; default {@linkcode defaultRadii} of `k` (full) or its quick subset. */
  radii?: number[];
  /** First layer's table size the default radii are scaled to; default from the base config. */
  k?: number;
};

function datasetList(): string {
  return Object.keys(DATASET_INPUTS).map((d) => JSON.stringify(d)).join(", ");
}

function resolveBase(opts: SweepOptions): { profile: SweepProfile; base: BaseConfig } {
  const profile = opts.profile ?? "full";
  if (!(profile in PROFILE_BASE)) invalidOption("profile", profile, `"quick" or "full"`);
  const dataset = opts.dataset ?? opts.base?.dataset ?? "mnist";
  if (!(dataset in DATASET_INPUTS)) invalidOption("dataset", dataset, `one of ${datasetList()}`);
  const base = { ...PROFILE_BASE[profile], ...opts.base, dataset } as BaseConfig;
  for (const key of ["experiment", "hash", "sparsity", "seed"]) {
    if (key in (opts.base ?? {})) {
      invalidOption(
        `base.${key}`,
        (opts.base as Record<string, unknown>)[key],
        "absent (the sweep sets it)",
      );
    }
  }
  if (!Array.isArray(base.hidden) || !base.hidden.every((h) => Number.isInteger(h) && h > 0)) {
    invalidOption("base.hidden", base.hidden, "an array of positive integers");
  }
  if (!(base.tableFraction > 0 && base.tableFraction <= 1)) {
    invalidOption("base.tableFraction", base.tableFraction, "a number in (0, 1]");
  }
  if (!(Number.isInteger(base.epochs) && base.epochs > 0)) {
    invalidOption("base.epochs", base.epochs, "a positive integer");
  }
  return { profile, base };
}

function resolveSeeds(seeds: number | number[]): number[] {
  if (typeof seeds === "number") {
    if (!(Number.isInteger(seeds) && seeds > 0)) {
      invalidOption("seeds", seeds, "a positive integer");
    }
    return Array.from({ length: seeds }, (_, i) => i + 1);
  }
  if (!Array.isArray(seeds) || seeds.length === 0 || !seeds.every(Number.isInteger)) {
    invalidOption("seeds", seeds, "a positive integer count or a non-empty array of integers");
  }
  return unique("seeds", seeds);
}

function resolveSparsities(s: number[]): number[] {
  if (!Array.isArray(s) || s.length === 0 || !s.every((x) => x >= 0 && x < 1)) {
    invalidOption("sparsities", s, "a non-empty array of numbers in [0, 1)");
  }
  return unique("sparsities", s);
}

function unique(name: string, xs: number[]): number[] {
  if (new Set(xs).size !== xs.length) invalidOption(name, xs, "no repeated values");
  return xs;
}

/**
 * Canonical order: seed outermost, then sparsity, then the swept point, so
 * a sweep that is stopped early (or a shard) already holds one complete
 * seed of every point rather than every seed of a few points.
 */
function build(
  experiment: Experiment,
  opts: SweepOptions,
  profile: SweepProfile,
  base: BaseConfig,
  hashes: HashSpec[],
): RunSpec[] {
  const d = PROFILE_POINTS[profile];
  const sparsities = resolveSparsities(opts.sparsities ?? d.sparsities);
  const runs: RunSpec[] = [];
  for (const seed of resolveSeeds(opts.seeds ?? d.seeds)) {
    for (const sparsity of sparsities) {
      for (const hash of hashes) {
        runs.push({
          ...structuredClone(base),
          experiment,
          hash: structuredClone(hash),
          sparsity,
          seed,
        });
      }
    }
  }
  return runs;
}

/**
 * The balance experiment: Dirichlet(α) hashes, α × sparsity × seed.
 * Full defaults give 6 × 3 × 3 = 54 runs; quick 4 × 2 × 2 = 16.
 *
 * @example
 * ```ts
 * import { balanceSweep } from "./sweep.ts";
 * const runs = balanceSweep({ profile: "quick", dataset: "mnist" });
 * console.log(runs.length); // 16
 * ```
 */
export function balanceSweep(opts: BalanceSweepOptions = {}): RunSpec[] {
  const { profile, base } = resolveBase(opts);
  const d = PROFILE_POINTS[profile];
  const alphas = opts.alphas ?? d.alphas;
  if (!Array.isArray(alphas) || alphas.length === 0 || !alphas.every((a) => a > 0 && isFinite(a))) {
    invalidOption("alphas", alphas, "a non-empty array of finite numbers > 0");
  }
  unique("alphas", alphas);
  const hashes = alphas.map((alpha) => ({ family: "dirichlet", options: { alpha } }));
  return build("balance", opts, profile, base, hashes);
}

/**
 * A comparison of hashes: each of `hashes` × sparsity × seed, on the
 * profile's network and training. The hashes are descriptors, so a family a
 * researcher registered (`registerHashFamily`) is compared like a built-in;
 * a run is identified by the family's name and options, so give a family
 * whose rule changed a new name.
 *
 * @example
 * ```ts
 * import { hashesSweep } from "./sweep.ts";
 * const runs = hashesSweep({
 *   profile: "quick",
 *   hashes: [{ family: "uniform", options: {} }, { family: "dirichlet", options: { alpha: 1 } }],
 * });
 * console.log(runs.length); // 8: 2 hashes × 2 sparsities × 2 seeds
 * ```
 */
export function hashesSweep(opts: HashesSweepOptions): RunSpec[] {
  const { profile, base } = resolveBase(opts);
  const hashes = opts.hashes;
  const primitive = (v: unknown) => ["number", "string", "boolean"].includes(typeof v);
  const valid = (h: HashSpec) =>
    typeof h?.family === "string" && h.family !== "" && typeof h.options === "object" &&
    h.options !== null && !Array.isArray(h.options) && Object.values(h.options).every(primitive);
  if (!Array.isArray(hashes) || hashes.length === 0 || !hashes.every(valid)) {
    invalidOption(
      "hashes",
      hashes,
      "a non-empty array of { family: string, options: { name: number | string | boolean } }",
    );
  }
  const keys = hashes.map((h) => canonicalJson(h));
  const repeated = keys.find((k, i) => keys.indexOf(k) !== i);
  if (repeated !== undefined) invalidOption("hashes", repeated, "each hash listed once");
  return build("hashes", opts, profile, base, hashes);
}

/**
 * Default Neighborhood radii for a table of `k` slots: 0 (fully
 * deterministic), then powers of ten below `k/2`, then `ceil(k/2)`, from which
 * on the hash is as random as a uniform one. For `k = 98,000`:
 * `[0, 1, 10, 100, 1000, 10000, 49000]`.
 */
export function defaultRadii(k: number): number[] {
  if (!(Number.isInteger(k) && k > 0)) invalidOption("k", k, "a positive integer");
  const half = Math.ceil(k / 2);
  const radii = [0];
  for (let r = 1; r < half; r *= 10) radii.push(r);
  if (radii[radii.length - 1] !== half) radii.push(half);
  return radii;
}

/**
 * Quick subset of {@linkcode defaultRadii}: 0, the smallest, middle and
 * largest power of ten, and k/2 (for k = 98,000: `[0, 1, 100, 10000, 49000]`).
 */
function quickRadii(k: number): number[] {
  const all = defaultRadii(k);
  if (all.length <= 5) return all;
  const powers = all.slice(1, -1);
  const mid = powers[Math.floor(powers.length / 2)];
  return [0, powers[0], mid, powers[powers.length - 1], all[all.length - 1]];
}

/**
 * The noise experiment: Neighborhood(radius) hashes, radius × sparsity × seed.
 * Radii default to {@linkcode defaultRadii} of the first layer's `K`
 * (7 radii for 784-1000 at 1/8: full 7 × 3 × 3 = 63 runs); quick takes 5 of them
 * (5 × 2 × 2 = 20 runs).
 *
 * @example
 * ```ts
 * import { noiseSweep } from "./sweep.ts";
 * const runs = noiseSweep({ profile: "full", radii: [0, 10, 1000] });
 * console.log(runs.length); // 27
 * ```
 */
export function noiseSweep(opts: NoiseSweepOptions = {}): RunSpec[] {
  const resolved = resolveBase(opts);
  const profile = resolved.profile;
  // Round-robin (radius 0) with K a multiple of the row length would make
  // whole rows share every weight (see buildMlp's coprimeTables): the sweep
  // is about noise, so its table sizes are made coprime with the rows.
  const base = { coprimeTables: true, ...resolved.base } as BaseConfig;
  const k = opts.k ?? firstLayerTableSize(base);
  const radii = opts.radii ?? (profile === "quick" ? quickRadii(k) : defaultRadii(k));
  if (
    !Array.isArray(radii) || radii.length === 0 ||
    !radii.every((r) => Number.isInteger(r) && r >= 0)
  ) {
    invalidOption("radii", radii, "a non-empty array of integers ≥ 0");
  }
  unique("radii", radii);
  const hashes = radii.map((radius) => ({ family: "neighborhood", options: { radius } }));
  return build("noise", opts, profile, base, hashes);
}
