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
import { ArbnetError } from "../errors.ts";
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
  /** Read training metrics every this many steps for progress. Default 100. */
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

/** Trains for `epochs` epochs; returns one record per epoch. Stops on a non-finite loss. */
export async function fit(trainer: Trainer, o: FitOptions): Promise<EpochRecord[]> {
  const batcher = new Batcher(o.train, { batchSize: o.batchSize, shuffle: true, seed: o.seed });
  const steps = batcher.batchesPerEpoch;
  const total = steps * o.epochs;
  const every = o.progressEvery ?? 100;
  const schedule = o.schedule ?? "cosine";
  const history: EpochRecord[] = [];
  for (let epoch = o.startEpoch ?? 0; epoch < o.epochs; epoch++) {
    const epochMetrics = { lossSum: 0, correct: 0, rows: 0 };
    const fold = (m: Metrics) => {
      if (m.nonFinite) {
        throw new ArbnetError(
          `the training loss became non-finite in epoch ${epoch} before step ${step}: ` +
            "lower the learning rate",
        );
      }
      epochMetrics.lossSum += m.loss * m.rows;
      epochMetrics.correct += m.accuracy * m.rows;
      epochMetrics.rows += m.rows;
    };
    trainer.resetMetrics();
    const t0 = performance.now();
    let step = 0;
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
        fold(m);
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
      record.testLoss = t.loss;
      record.testAccuracy = t.accuracy;
    }
    history.push(record);
    await o.onEpoch?.(record);
  }
  return history;
}
