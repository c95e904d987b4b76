/**
 * The epoch loop shared by the training script and the experiments:
 * seeded batches, a learning-rate schedule, progress callbacks, test
 * evaluation after every epoch, and a history of metrics.
 *
 * Layer: train.
 * @module
 */

import type { Dataset } from "../data/dataset.ts";
import { Batcher } from "../data/batches.ts";
import { DeviceLostError, invalidOption, NonFiniteError } from "../errors.ts";
import type { Metrics } from "../nn/loss.ts";
import type { Trainer } from "./trainer.ts";

/** Learning-rate schedules. */
export type Schedule = "constant" | "cosine";

/** Options of {@linkcode fit}. */
export interface FitOptions {
  /** Training data. */
  train: Dataset;
  /** Evaluated after every epoch when given. */
  test?: Dataset;
  /** Epochs to run. */
  epochs: number;
  /** Batch size. */
  batchSize: number;
  /** Seed of the batch order (epoch e's order depends only on seed and e). */
  seed: number;
  /** Base learning rate (the optimizer's at the start). */
  lr: number;
  /** Schedule over all steps. Default `"cosine"` (to 0 at the last step). */
  schedule?: Schedule;
  /** First epoch (resume). Default 0. */
  startEpoch?: number;
  /**
   * Read training metrics every this many steps for progress, and check for
   * NaN and infinity (a run that diverges stops at the next read). Default 100.
   */
  progressEvery?: number;
  /** Called with running metrics during an epoch. */
  onProgress?: (p: Progress) => void;
  /** Called after each epoch (after test evaluation). */
  onEpoch?: (e: EpochRecord) => void | Promise<void>;
}

/** Progress inside an epoch. */
export interface Progress {
  /** Epoch index. */
  epoch: number;
  /** Steps done in this epoch. */
  step: number;
  /** Steps per epoch. */
  steps: number;
  /** Running training metrics since the last progress report. */
  metrics: Metrics;
  /** Examples per second so far in this epoch. */
  examplesPerSecond: number;
}

/** What one epoch produced. */
export interface EpochRecord {
  /** Epoch index. */
  epoch: number;
  /** Mean training loss over the epoch. */
  trainLoss: number;
  /** Training accuracy over the epoch (while learning). */
  trainAccuracy: number;
  /** Test loss, if a test set was given. */
  testLoss?: number;
  /** Test accuracy, if a test set was given. */
  testAccuracy?: number;
  /** Seconds spent training (excluding evaluation). */
  trainSeconds: number;
  /** Training examples per second. */
  examplesPerSecond: number;
  /** Learning rate at the end of the epoch. */
  lr: number;
}

/** Learning rate at `step` of `total` for a schedule. */
export function scheduledLr(base: number, schedule: Schedule, step: number, total: number): number {
  if (schedule === "constant" || total <= 1) return base;
  return base * 0.5 * (1 + Math.cos(Math.PI * Math.min(step, total) / total));
}

function checkFitOptions(o: FitOptions): void {
  if (o === null || typeof o !== "object") invalidOption("fit options", o, "an object");
  const int = (name: string, v: unknown, min: number) => {
    if (!Number.isSafeInteger(v) || (v as number) < min) {
      invalidOption(name, v, `an integer ≥ ${min}`);
    }
  };
  int("epochs", o.epochs, 1);
  int("batchSize", o.batchSize, 1);
  if (o.startEpoch !== undefined) int("startEpoch", o.startEpoch, 0);
  if (o.progressEvery !== undefined) int("progressEvery", o.progressEvery, 1);
  if (!(o.lr > 0 && Number.isFinite(o.lr))) invalidOption("lr", o.lr, "a finite number > 0");
  if (o.schedule !== undefined && o.schedule !== "constant" && o.schedule !== "cosine") {
    invalidOption("schedule", o.schedule, '"constant" or "cosine"');
  }
}

/**
 * Trains for `epochs` epochs; returns one record per epoch.
 *
 * Stops with a {@linkcode NonFiniteError} when a NaN or an infinity appears
 * in the loss, a layer's output or a parameter (checked on the GPU every
 * step, read every `progressEvery` steps), naming the epoch, the step range,
 * and where and at which step it first appeared; `onEpoch` is then not
 * called, so a checkpoint saved there is never a diverged model. Stops with a
 * {@linkcode DeviceLostError} saying where, when the GPU device is lost.
 */
export async function fit(trainer: Trainer, o: FitOptions): Promise<EpochRecord[]> {
  checkFitOptions(o);
  // Checked up front: a bad test set would otherwise fail after a whole epoch.
  trainer.checkDataset(o.train);
  if (o.test) trainer.checkDataset(o.test);
  const batcher = new Batcher(o.train, { batchSize: o.batchSize, shuffle: true, seed: o.seed });
  const steps = batcher.batchesPerEpoch;
  const total = steps * o.epochs;
  const every = o.progressEvery ?? 100;
  const schedule = o.schedule ?? "cosine";
  const history: EpochRecord[] = [];
  await trainer.resetNonFinite();
  let epoch = o.startEpoch ?? 0;
  let step = 0;
  try {
    for (; epoch < o.epochs; epoch++) {
      step = 0;
      history.push(await runEpoch());
      await o.onEpoch?.(history.at(-1)!);
    }
  } catch (e) {
    if (e instanceof DeviceLostError) {
      const info = trainer.net.gpu.lost;
      const why = info ? `${info.reason}: ${info.message.trim()}` : e.reason;
      throw new DeviceLostError(
        `the GPU device was lost (${why}) in epoch ${epoch + 1} at step ${step} of ${steps}, ` +
          "and the network on it with it; resume from the last checkpoint (deno task train: " +
          "rerun with --resume <checkpoint>; library: a new device, the same network, " +
          "loadCheckpoint, then fit with startEpoch = its epoch + 1)",
        e.reason,
      );
    }
    throw e;
  }
  return history;

  async function runEpoch(): Promise<EpochRecord> {
    const epochMetrics = { lossSum: 0, correct: 0, rows: 0 };
    let lastRead = 0;
    const base = trainer.stepsTaken;
    const fold = async (m: Metrics) => {
      const bad = await trainer.findNonFinite();
      if (m.nonFinite || bad) {
        const at = bad ? bad.step - base : null;
        const range = lastRead + 1 === step ? `step ${step}` : `steps ${lastRead + 1}-${step}`;
        const where = bad ? `; the first non-finite values were in ${bad.where} at step ${at}` : "";
        throw new NonFiniteError(
          `${m.nonFinite ? "the training loss" : "the network"} became non-finite in epoch ` +
            `${epoch + 1}, ${range} of ${steps}${where}: lower the ` +
            `learning rate (it was ${trainer.opt.learningRate.toPrecision(3)}) or check the data`,
          { epoch, fromStep: lastRead + 1, toStep: step, step: at, where: bad?.where ?? null },
        );
      }
      lastRead = step;
      epochMetrics.lossSum += m.loss * m.rows;
      epochMetrics.correct += m.accuracy * m.rows;
      epochMetrics.rows += m.rows;
    };
    trainer.resetMetrics();
    const t0 = performance.now();
    for (const b of batcher.epoch(epoch)) {
      trainer.opt.learningRate = Math.max(
        scheduledLr(o.lr, schedule, epoch * steps + step, total),
        o.lr * 1e-4,
      );
      await trainer.step(b.x, b.y);
      step++;
      if (step % every === 0 || step === steps) {
        const m = await trainer.readMetrics();
        trainer.resetMetrics();
        await fold(m);
        const seconds = (performance.now() - t0) / 1000;
        o.onProgress?.({
          epoch,
          step,
          steps,
          metrics: m,
          examplesPerSecond: epochMetrics.rows / seconds,
        });
      }
    }
    const trainSeconds = (performance.now() - t0) / 1000;
    const record: EpochRecord = {
      epoch,
      trainLoss: epochMetrics.lossSum / epochMetrics.rows,
      trainAccuracy: epochMetrics.correct / epochMetrics.rows,
      trainSeconds,
      examplesPerSecond: epochMetrics.rows / trainSeconds,
      lr: trainer.opt.learningRate,
    };
    if (o.test) {
      const t = await trainer.evaluate(o.test);
      if (t.nonFinite) {
        throw new NonFiniteError(
          `the test loss of ${o.test.name} is non-finite after epoch ${epoch + 1}: the ` +
            "network is finite but overflows on test inputs; lower the learning rate (it was " +
            `${trainer.opt.learningRate.toPrecision(3)}) or check the data`,
          { epoch, fromStep: steps, toStep: steps, step: null, where: null },
        );
      }
      record.testLoss = t.loss;
      record.testAccuracy = t.accuracy;
    }
    return record;
  }
}
