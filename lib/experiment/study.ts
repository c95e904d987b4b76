/**
 * The converged study of the seed paper's two claims (docs/preregistration.md):
 * its conditions, the learning-rate pilot, the main runs, the pre-registered
 * contrasts and a few-minute CI version of the same protocol.
 *
 * Protocol shared by every run: 784-1000-10 on MNIST, 6,000 training images
 * held out for validation (one seeded split for all runs), SGD with momentum
 * 0.9 on a cosine schedule, batch 50, deterministic table gradients; the
 * epoch with the best validation accuracy is selected and the test set is
 * read once, at that epoch. Only the first layer is swept; the output layer
 * is the same in every balance and noise run (uniform hash with signs, table
 * fraction 1/8). Each condition has its own learning rate, chosen on
 * validation by the pilot.
 *
 * Over ~350 lines on purpose: the conditions, the pilot, the main runs and the contrasts of one
 * pre-registered protocol must agree, so they are defined side by side.
 *
 * Owns: the study's grid and contrasts. Imports `./sweep.ts` and `lib/errors.ts`.
 * @module
 */

import { ArbnetError } from "../errors.ts";
import type { Experiment, HashSpec, JsonValue, Profile, RunSpec } from "./sweep.ts";

/** One of the two sharing regimes, matched for live positions per slot. */
export type Regime = {
  /** Short key used in condition keys, e.g. `"r8"`. */
  key: string;
  /** In words. */
  label: string;
  /** First layer's table fraction. */
  tableFraction: number;
  /** First layer's sparsity. */
  sparsity: number;
  /** Pixel tiles of the `blocks` hash: `n/K` pixels, one tile per slot where the image allows. */
  tile: [rows: number, cols: number];
};

/**
 * The two regimes: 8 positions per slot unsparsified (table 1/8) against
 * 6.4 live positions per slot at sparsity 0.9 (table 1/64), so "sparse" does
 * not also mean "almost unshared".
 */
export const STUDY_REGIMES: readonly Regime[] = Object.freeze([
  {
    key: "r8",
    label: "table 1/8, sparsity 0 (8 positions per slot)",
    tableFraction: 1 / 8,
    sparsity: 0,
    tile: [2, 4],
  },
  {
    key: "r64",
    label: "table 1/64, sparsity 0.9 (6.4 live positions per slot)",
    tableFraction: 1 / 64,
    sparsity: 0.9,
    tile: [8, 8],
  },
]);

/** Dirichlet concentrations of the balance axis. */
export const STUDY_ALPHAS: readonly number[] = Object.freeze([0.01, 0.1, 1, 100]);

/** Swap-noise fractions of the noise axis (on the `blocks` hash). */
export const STUDY_QS: readonly number[] = Object.freeze([0, 0.1, 0.5, 1]);

/** Table fractions of the uniform reference runs (both layers, as HashedNets). */
export const REFERENCE_FRACTIONS: readonly number[] = Object.freeze([1 / 8, 1 / 64]);

/** Learning rates the pilot tries for every condition. */
export const PILOT_LRS: readonly number[] = Object.freeze([0.01, 0.03, 0.1]);

/** The pilot's one seed, never used by a main run. */
export const PILOT_SEED = 1001;

/** Epochs of a pilot run (a full cosine schedule over them). */
export const PILOT_EPOCHS = 3;

/** Seeds of the main runs: fresh, never used by an earlier study here. */
export const STUDY_SEEDS: readonly number[] = Object.freeze([101, 102, 103, 104, 105]);

/** Epochs of a main run. */
export const STUDY_EPOCHS = 10;

/** The output layer of every balance and noise run. */
export const OUTPUT_HASH: HashSpec = Object.freeze({
  family: "uniform",
  options: Object.freeze({ sign: true }),
}) as HashSpec;

/** What every run of the study shares (before the condition and seed). */
const PROTOCOL = {
  dataset: "mnist",
  hidden: [1000],
  batch: 50,
  momentum: 0.9,
  schedule: "cosine",
  validation: 6000,
  validationSeed: 0,
  deterministic: true,
  protocol: "converged-v1",
} as const;

/** A cell of the design: everything of a run but the learning rate, the seed and the length. */
export type Condition = {
  /** e.g. `balance/a0.01/r8`, `noise/q0.5/r64`, `reference/uniform/f8`. */
  key: string;
  /** Which claim. */
  experiment: Experiment;
  /** Regime key (balance and noise), else undefined. */
  regime?: string;
  /** The swept value: α, q, or the reference's table fraction. */
  point: number;
  /** First layer's hash (every layer's for the reference). */
  hash: HashSpec;
  /** First layer's table fraction. */
  tableFraction: number;
  /** First layer's sparsity. */
  sparsity: number;
  /** Hash of the later layers, when it differs. */
  outputHash?: HashSpec;
  /** Table fraction of the later layers, when it differs. */
  outputTableFraction?: number;
  /** `"cnn"` for the CNN arm; absent for the MLP. */
  arch?: "cnn";
};

function blocksHash(tile: [number, number]): HashSpec {
  return {
    family: "blocks",
    options: { width: 28, channels: 1, tileRows: tile[0], tileCols: tile[1], sign: false },
  };
}

/** Swap noise `q` on a base hash, as the descriptor `hashes.swap` gives. */
export function swapSpec(base: HashSpec, q: number): HashSpec {
  const keys = Object.keys(base.options).sort();
  const options: Record<string, number | string | boolean> = {};
  for (const k of keys) options[k] = base.options[k];
  return { family: "swap", options: { q, base: JSON.stringify({ family: base.family, options }) } };
}

/**
 * The CNN arm's convolution (amendment 1 of the pre-registration): 1→8
 * channels, 5×5, stride 2, no padding, on 28×28 MNIST (8×12×12 outputs),
 * then ReLU and a dense layer to the 10 classes.
 */
export const CNN_CONV = Object.freeze({ outChannels: 8, kernel: 5, stride: 2, padding: 0 });

/** Swap-noise fractions of the CNN arm. */
export const CNN_QS: readonly number[] = Object.freeze([0, 0.1, 0.5, 1]);

/** The conv2d hash of the CNN arm, as a descriptor. */
export function cnnHash(): HashSpec {
  return {
    family: "conv2d",
    options: { inChannels: 1, ...CNN_CONV, height: 28, width: 28 },
  };
}

/**
 * The CNN arm: the convolution's sharing broken by swap noise q, every
 * kernel weight keeping its count (144 uses) and every output its inputs.
 */
export function cnnConditions(): Condition[] {
  // K / (rows · cols): the 200 kernel weights over the 784 × 1152 virtual matrix.
  const fraction = (CNN_CONV.outChannels * CNN_CONV.kernel ** 2) / (784 * 8 * 12 * 12);
  return CNN_QS.map((q) => ({
    key: `cnn/q${q}`,
    experiment: "cnn" as const,
    point: q,
    hash: swapSpec(cnnHash(), q),
    tableFraction: fraction,
    sparsity: 0,
    arch: "cnn" as const,
  }));
}

/** Every condition of the MLP study: 8 balance, 8 noise and 2 reference. */
export function studyConditions(): Condition[] {
  const out: Condition[] = [];
  for (const r of STUDY_REGIMES) {
    const shared = {
      regime: r.key,
      tableFraction: r.tableFraction,
      sparsity: r.sparsity,
      outputHash: OUTPUT_HASH,
      outputTableFraction: 1 / 8,
    };
    for (const alpha of STUDY_ALPHAS) {
      out.push({
        ...shared,
        key: `balance/a${alpha}/${r.key}`,
        experiment: "balance",
        point: alpha,
        hash: { family: "dirichlet", options: { alpha } },
      });
    }
    for (const q of STUDY_QS) {
      out.push({
        ...shared,
        key: `noise/q${q}/${r.key}`,
        experiment: "noise",
        point: q,
        hash: swapSpec(blocksHash(r.tile), q),
      });
    }
  }
  for (const f of REFERENCE_FRACTIONS) {
    out.push({
      key: `reference/uniform/f${Math.round(1 / f)}`,
      experiment: "reference",
      point: f,
      hash: { family: "uniform", options: { sign: true } },
      tableFraction: f,
      sparsity: 0,
    });
  }
  return out;
}

function spec(
  c: Condition,
  profile: Profile,
  lr: number,
  seed: number,
  extra: Record<string, JsonValue>,
): RunSpec {
  return {
    ...structuredClone(PROTOCOL) as unknown as Record<string, JsonValue>,
    experiment: c.experiment,
    dataset: "mnist",
    condition: c.key,
    hash: structuredClone(c.hash),
    tableFraction: c.tableFraction,
    sparsity: c.sparsity,
    ...(c.outputHash ? { outputHash: structuredClone(c.outputHash) } : {}),
    ...(c.outputTableFraction ? { outputTableFraction: c.outputTableFraction } : {}),
    ...(c.arch === "cnn" ? { arch: "cnn", conv: { ...CNN_CONV } } : {}),
    hidden: c.arch === "cnn" ? [] : [1000],
    batch: 50,
    epochs: STUDY_EPOCHS,
    lr,
    seed,
    profile,
    ...extra,
  };
}

/**
 * The pilot: every condition (default the MLP study's) at every pilot learning rate, one seed,
 * {@linkcode PILOT_EPOCHS} epochs; a diverged run is recorded as such.
 * Ordered learning rate outermost, so a partial pilot covers every condition.
 */
export function pilotRuns(conditions: readonly Condition[] = studyConditions()): RunSpec[] {
  const runs: RunSpec[] = [];
  for (const lr of PILOT_LRS) {
    for (const c of conditions) {
      runs.push(spec(c, "pilot", lr, PILOT_SEED, { epochs: PILOT_EPOCHS, onDivergence: "record" }));
    }
  }
  return runs;
}

/**
 * The main runs: every condition at its pre-registered learning rate, for
 * each seed; seed outermost, so a partial study holds whole seeds.
 *
 * @param lrs learning rate per condition key (from the pilot)
 * @param seeds default {@linkcode STUDY_SEEDS}
 * @param conditions default the MLP study's ({@linkcode cnnConditions} for the CNN arm)
 */
export function studyRuns(
  lrs: Readonly<Record<string, number>>,
  seeds: readonly number[] = STUDY_SEEDS,
  conditions: readonly Condition[] = studyConditions(),
): RunSpec[] {
  const missing = conditions.filter((c) => !(lrs[c.key] > 0));
  if (missing.length > 0) {
    throw new ArbnetError(
      `no learning rate for ${missing.length} condition(s) (${missing[0].key}, …): run the ` +
        "pilot, then register its choices (STUDY_LEARNING_RATES)",
    );
  }
  return seeds.flatMap((seed) => conditions.map((c) => spec(c, "converged", lrs[c.key], seed, {})));
}

/**
 * The CI version of the protocol: three conditions, two seeds, 1,000
 * training images (200 held out), 2 epochs, 500 test images. It checks the
 * protocol and the report end to end in minutes; its numbers mean nothing.
 */
export function ciStudyRuns(): RunSpec[] {
  const keys = ["balance/a0.1/r8", "noise/q0/r8", "noise/q1/r8"];
  const conditions = studyConditions().filter((c) => keys.includes(c.key));
  return [1, 2].flatMap((seed) =>
    conditions.map((c) =>
      spec(c, "ci", 0.05, seed, {
        epochs: 2,
        trainLimit: 1200,
        validation: 200,
        testLimit: 500,
      })
    )
  );
}

/**
 * The learning rate of every condition, chosen on validation by the pilot
 * (docs/preregistration.md has the pilot's table and the rule: the highest
 * best-epoch validation accuracy, ties to the smaller rate), as `pilotChoices`
 * computed it from `docs/results/converged/pilot.jsonl` and, for the CNN
 * arm, `cnn-pilot.jsonl`, on 2026-12-06.
 */
export const STUDY_LEARNING_RATES: Readonly<Record<string, number>> = Object.freeze({
  "balance/a0.01/r8": 0.03,
  "balance/a0.1/r8": 0.03,
  "balance/a1/r8": 0.1,
  "balance/a100/r8": 0.1,
  "noise/q0/r8": 0.03,
  "noise/q0.1/r8": 0.03,
  "noise/q0.5/r8": 0.03,
  "noise/q1/r8": 0.1,
  "balance/a0.01/r64": 0.1,
  "balance/a0.1/r64": 0.1,
  "balance/a1/r64": 0.1,
  "balance/a100/r64": 0.1,
  "noise/q0/r64": 0.1,
  "noise/q0.1/r64": 0.1,
  "noise/q0.5/r64": 0.1,
  "noise/q1/r64": 0.1,
  "reference/uniform/f8": 0.1,
  "reference/uniform/f64": 0.03,
  "cnn/q0": 0.1,
  "cnn/q0.1": 0.1,
  "cnn/q0.5": 0.1,
  "cnn/q1": 0.1,
});

/** A pre-registered contrast: the mean over seeds of `accuracy(b) − accuracy(a)`, paired by seed. */
export type Contrast = {
  /** Short name, e.g. `C1`. */
  key: string;
  /** Which claim it tests. */
  claim: "balance" | "noise" | "cnn";
  /**
   * The Holm family: `"mlp"`, the six contrasts registered first, or
   * `"cnn"`, the CNN arm's, registered in amendment 1 (a family of its own,
   * so adding it changed no earlier adjustment).
   */
  family: "mlp" | "cnn";
  /** In words. */
  label: string;
  /** Condition subtracted. */
  a: string;
  /** Condition compared. */
  b: string;
  /** The sign the paper's claim predicts for `b − a`. */
  paperPredicts: 1 | -1;
};

/**
 * The pre-registered contrasts (docs/preregistration.md), tested with a
 * paired t test over seeds, Holm-corrected across all of them.
 */
export const STUDY_CONTRASTS: readonly Contrast[] = Object.freeze(
  STUDY_REGIMES.flatMap((r): Contrast[] => [
    {
      key: `B1-${r.key}`,
      claim: "balance",
      family: "mlp",
      label: `α = 0.1 vs 0.01, ${r.label}`,
      a: `balance/a0.01/${r.key}`,
      b: `balance/a0.1/${r.key}`,
      paperPredicts: 1,
    },
    {
      key: `B2-${r.key}`,
      claim: "balance",
      family: "mlp",
      label: `α = 100 vs 0.1, ${r.label}`,
      a: `balance/a0.1/${r.key}`,
      b: `balance/a100/${r.key}`,
      paperPredicts: 1,
    },
    {
      key: `N1-${r.key}`,
      claim: "noise",
      family: "mlp",
      label: `swap q = 1 vs 0 on pixel blocks, ${r.label}`,
      a: `noise/q0/${r.key}`,
      b: `noise/q1/${r.key}`,
      paperPredicts: -1,
    },
  ]).concat([
    {
      key: "C1",
      claim: "cnn",
      family: "cnn",
      label: "CNN: swap q = 1 vs 0 on the conv2d hash (kernel sharing broken, counts kept)",
      a: "cnn/q0",
      b: "cnn/q1",
      paperPredicts: -1,
    },
  ]),
);

/** Equivalence margin of the TOST, in accuracy points (percent). */
export const EQUIVALENCE_MARGIN = 0.2;

/** Family-wise error rate of the Holm-corrected tests. */
export const FAMILY_ALPHA = 0.05;
