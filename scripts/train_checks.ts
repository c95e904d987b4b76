/**
 * What `scripts/train.ts` checks before it trains, so no run loses a user's
 * work or silently does something else than asked: flags that do not apply,
 * the output paths (`--checkpoint`, `--log`, `--resume`: usable, distinct, no
 * silent overwrite, one writer at a time), settings that differ from the
 * checkpoint's run on `--resume`, and a sparsity that leaves a layer no
 * weight. See docs/reliability.md ("Never lose a user's work").
 * @module
 */

import { ArbnetError } from "../lib/errors.ts";
import { deriveSeed, isSparse, sparsityThreshold } from "../lib/hash/mod.ts";
import { type CheckpointInfo, readCheckpointInfo } from "../lib/io/checkpoint.ts";
import {
  acquireLock,
  canonicalPath,
  checkDistinct,
  checkOutputFile,
  type FileLock,
  removeStaleTemps,
} from "../lib/io/files.ts";

/** The flags these checks read (a subset of train.ts's). */
export interface TrainFlags {
  hash: string;
  optimizer: string;
  momentum?: number;
  nesterov?: boolean;
  "table-fraction"?: number;
  checkpoint?: string;
  resume?: string;
  log?: string;
  overwrite?: boolean;
  "allow-changes"?: boolean;
}

/** Refuses flags that the chosen hash, optimizer or mode would ignore. */
export function checkFlagsApply(f: TrainFlags): void {
  const refuse = (msg: string) => {
    throw new ArbnetError(msg);
  };
  if (f.optimizer !== "sgd") {
    if (f.momentum !== undefined) {
      refuse(`--momentum applies to --optimizer sgd, not ${f.optimizer}`);
    }
    if (f.nesterov) refuse(`--nesterov applies to --optimizer sgd, not ${f.optimizer}`);
  } else if (f.nesterov && f.momentum === 0) {
    refuse("--nesterov needs --momentum > 0 (with momentum 0 it is plain SGD)");
  }
  if (f.hash === "dense" && f["table-fraction"] !== undefined) {
    refuse("--table-fraction applies to hashed layers, not --hash dense (its table is the matrix)");
  }
  if (f.overwrite && f.checkpoint === undefined) {
    refuse("--overwrite applies to --checkpoint (it lets the run replace an existing checkpoint)");
  }
  if (f["allow-changes"] && f.resume === undefined) {
    refuse(
      "--allow-changes applies to --resume (it accepts settings that differ from the checkpoint's)",
    );
  }
}

/** The outputs of a run, checked and locked; disposing releases the lock. */
export interface TrainOutputs extends AsyncDisposable {
  /** The checkpoint's metadata when `--resume` was given (read before any data is loaded). */
  resumed: CheckpointInfo | null;
  /** The lock on `--checkpoint`, if one was given. */
  lock: FileLock | null;
}

/**
 * Refuses a `--log` path holding something else than a JSON-lines log (a
 * checkpoint, data): the log is appended to it, which would damage it.
 */
async function checkIsLog(path: string): Promise<void> {
  const head = new Uint8Array(1);
  try {
    using file = await Deno.open(path, { read: true });
    if ((await file.read(head)) === null) return; // empty
  } catch {
    return; // not there yet
  }
  if (head[0] !== 0x7b /* { */) {
    throw new ArbnetError(
      `--log ${path} exists and is not a JSON-lines log (the log is appended to, which would ` +
        "damage it): choose another path",
    );
  }
}

async function describeExisting(path: string): Promise<string> {
  try {
    const info = await readCheckpointInfo(path);
    const epoch = info.progress.epoch;
    return `a checkpoint${epoch === undefined ? "" : ` after epoch ${epoch + 1}`}` +
      (info.created ? ` (saved ${info.created})` : "");
  } catch {
    return "a file";
  }
}

/**
 * Checks every path flag before any data is loaded or epoch trained: the
 * checkpoint and log can be written (not a folder, a folder that can be
 * created and written), `--resume` is a file, no two are the same file
 * (except `--resume` and `--checkpoint`, the normal way to continue), an
 * existing checkpoint is replaced only by the run that resumed from it or
 * with `--overwrite`, and `--checkpoint` is locked against a second process.
 * Temporary files of killed saves are removed under the lock.
 */
export async function prepareOutputs(f: TrainFlags): Promise<TrainOutputs> {
  let resumed: CheckpointInfo | null = null;
  if (f.resume !== undefined) {
    let st: Deno.FileInfo | null = null;
    try {
      st = await Deno.stat(f.resume);
    } catch {
      // readCheckpointInfo names the path and the reason below.
    }
    if (st?.isDirectory) {
      throw new ArbnetError(
        `--resume ${f.resume} is a folder: give the checkpoint file (the --checkpoint path ` +
          "of the run to continue)",
      );
    }
    resumed = await readCheckpointInfo(f.resume);
  }
  if (f.checkpoint !== undefined) await checkOutputFile(f.checkpoint, "--checkpoint");
  if (f.log !== undefined) {
    await checkOutputFile(f.log, "--log");
    await checkIsLog(f.log);
  }
  await checkDistinct([
    { what: "--log", path: f.log },
    { what: "--checkpoint", path: f.checkpoint },
  ]);
  await checkDistinct([{ what: "--log", path: f.log }, { what: "--resume", path: f.resume }]);

  let lock: FileLock | null = null;
  const ckpt = f.checkpoint;
  if (ckpt !== undefined) {
    lock = await acquireLock(await canonicalPath(ckpt), "checkpoint");
    try {
      const continues = f.resume !== undefined &&
        await canonicalPath(f.resume) === await canonicalPath(ckpt);
      const exists = await Deno.stat(ckpt).then(() => true, () => false);
      if (exists && !continues && !f.overwrite) {
        throw new ArbnetError(
          `--checkpoint ${ckpt} already holds ${await describeExisting(ckpt)} that this run ` +
            `would replace: continue it with --resume ${ckpt}, replace it with --overwrite, or ` +
            "choose another --checkpoint path",
        );
      }
      for (const p of await removeStaleTemps(ckpt)) {
        console.error(`note: removed ${p}, left by a save that was killed`);
      }
    } catch (e) {
      await lock.release();
      throw e;
    }
  }
  return { resumed, lock, [Symbol.asyncDispose]: async () => await lock?.release() };
}

/** The settings of a run that a resume should keep; stored in each checkpoint's progress. */
export interface RunSettings {
  /** `--dataset`. */
  dataset: string;
  /** `--optimizer`. */
  optimizer: string;
  /** Base learning rate. */
  lr: number;
  /** SGD momentum (null for Adam). */
  momentum: number | null;
  /** Nesterov momentum. */
  nesterov: boolean;
  /** `--weight-decay`. */
  weightDecay: number;
  /** `--schedule`. */
  schedule: string;
  /** `--batch`. */
  batch: number;
  /** `--epochs`: the total the schedule spans. */
  epochs: number;
  /** `--train-limit` (null: all). */
  trainLimit: number | null;
  /** `--seed`. */
  seed: number;
}

const FLAG_OF: Record<keyof RunSettings, string> = {
  dataset: "--dataset",
  optimizer: "--optimizer",
  lr: "--lr",
  momentum: "--momentum",
  nesterov: "--nesterov",
  weightDecay: "--weight-decay",
  schedule: "--schedule",
  batch: "--batch",
  epochs: "--epochs",
  trainLimit: "--train-limit",
  seed: "--seed",
};

/** Settings that may change on a resume (with a warning): the learning rate and its plan. */
const ADJUSTABLE: readonly (keyof RunSettings)[] = ["lr", "schedule", "epochs"];

function show(v: unknown): string {
  return v === null ? "none" : String(v);
}

/**
 * Compares a resumed run's settings with those its checkpoint recorded.
 * A change of the data, optimizer, momentum, weight decay, batch or seed
 * would silently make another run: refused naming each change, unless
 * `allowChanges`. A change of learning rate, schedule or epochs is allowed;
 * returned as warnings, the epochs one saying how the schedule moves (it
 * spans the total `--epochs`, so a new total re-stretches it).
 */
export function compareResume(
  path: string,
  saved: Partial<RunSettings> | undefined,
  now: RunSettings,
  startEpoch: number,
  allowChanges = false,
): string[] {
  if (saved === undefined || saved === null || typeof saved !== "object") {
    return [
      `${path} does not record its run's settings (written by an older arbnet): they were not ` +
      "compared with this run's",
    ];
  }
  const changed = (Object.keys(FLAG_OF) as (keyof RunSettings)[]).filter((k) =>
    k in saved && saved[k] !== now[k]
  );
  const text = (k: keyof RunSettings) => `${FLAG_OF[k]} ${show(now[k])} (was ${show(saved[k])})`;
  const fixed = changed.filter((k) => !ADJUSTABLE.includes(k));
  const warnings: string[] = [];
  if (fixed.length > 0 && !allowChanges) {
    throw new ArbnetError(
      `--resume ${path}: this run's settings differ from the checkpoint's: ` +
        `${fixed.map(text).join(", ")}; continuing would silently make a different run: give ` +
        "the checkpoint's values, or pass --allow-changes to continue with the new ones",
    );
  }
  if (fixed.length > 0) {
    warnings.push(
      `resuming with changed settings (--allow-changes): ${fixed.map(text).join(", ")}`,
    );
  }
  for (const k of changed.filter((k) => ADJUSTABLE.includes(k) && k !== "epochs")) {
    warnings.push(`resuming with ${text(k)}: it applies from epoch ${startEpoch + 1}`);
  }
  if (changed.includes("epochs") && startEpoch < now.epochs) {
    const lrOf = (s: Partial<RunSettings>, epochs: number) =>
      epochLr(s.lr ?? now.lr, s.schedule ?? now.schedule, startEpoch, epochs);
    const before = lrOf(saved, saved.epochs!);
    const after = lrOf(now, now.epochs);
    const cosine = saved.schedule === "cosine" || now.schedule === "cosine";
    warnings.push(
      `resuming with ${text("epochs")}: ` +
        (cosine
          ? `the cosine schedule spans all --epochs, so it is re-stretched over ${now.epochs}; ` +
            `the learning rate moves from ${before.toPrecision(3)} (where the old schedule ` +
            `stood after epoch ${startEpoch}) to ${after.toPrecision(3)} at epoch ${startEpoch + 1}`
          : `the run goes on to epoch ${now.epochs}`),
    );
  }
  return warnings;
}

/**
 * The learning rate `fit` uses at the start of epoch `epoch` (0-based) of
 * `epochs`: the cosine schedule spans all epochs (steps cancel out), floored
 * at 1e-4 of the base as in `fit`.
 */
export function epochLr(base: number, schedule: string, epoch: number, epochs: number): number {
  if (schedule !== "cosine") return base;
  const cos = 0.5 * (1 + Math.cos(Math.PI * Math.min(epoch, epochs) / epochs));
  return Math.max(base * cos, base * 1e-4);
}

/** Positions of an `n`-position layer not in the zero slot: counted up to 2^24, else expected. */
export function liveWeights(n: number, sparsity: number, seed: number): number {
  if (sparsity === 0) return n;
  if (n > 2 ** 24) return Math.floor(n * (1 - sparsity));
  const s = deriveSeed("sparsity", seed);
  const t = sparsityThreshold(sparsity);
  let live = 0;
  for (let p = 0; p < n; p++) if (!isSparse(p, s, t)) live++;
  return live;
}

/** A layer's shape and seed, for {@linkcode checkSparsity}. */
export interface LayerShape {
  /** Description for messages. */
  description: string;
  /** In and out features, sparsity and seed. */
  config: { inFeatures: number; outFeatures: number; sparsity: number; seed: number };
}

/**
 * Refuses a sparsity that sends every weight of a layer to the zero slot (the
 * network would train its biases alone); returns warnings for layers with
 * fewer live weights than outputs (some outputs then see no input).
 */
export function checkSparsity(layers: readonly LayerShape[], flag = "--sparsity"): string[] {
  const warnings: string[] = [];
  for (const [i, l] of layers.entries()) {
    const c = l.config;
    if (c.sparsity === 0) continue;
    const live = liveWeights(c.inFeatures * c.outFeatures, c.sparsity, c.seed);
    if (live === 0) {
      throw new ArbnetError(
        `${flag} ${c.sparsity} sends every weight of layer ${i + 1}, ${l.description}, to the ` +
          "zero slot: the network would train its biases only; lower it (below " +
          `${(1 - 1 / (c.inFeatures * c.outFeatures)).toPrecision(6)} keeps about one weight)`,
      );
    }
    if (live < c.outFeatures) {
      warnings.push(
        `${flag} ${c.sparsity} leaves layer ${i + 1}, ${l.description}, ${live} live weights ` +
          `for ${c.outFeatures} outputs: at least ${c.outFeatures - live} outputs see no input`,
      );
    }
  }
  return warnings;
}
