/**
 * A lost device mid-run (here `device.destroy()`, which loses it with reason
 * "destroyed") stops `fit` with a `DeviceLostError` saying what happened,
 * where, and to resume from the checkpoint; resuming from that checkpoint on
 * a new device gives exactly the run that was never interrupted.
 * @module
 */

import assert from "node:assert/strict";
import { rejectsArbnet, tempDir, toyDataset } from "./_reliability.ts";
import { DeviceLostError } from "../lib/errors.ts";
import { type Gpu, requestDevice } from "../lib/gpu/device.ts";
import { hashes } from "../lib/hash/mod.ts";
import { SGD } from "../lib/optim/mod.ts";
import { buildMlp, fit, type FitOptions, Trainer } from "../lib/train/mod.ts";
import { loadCheckpoint, readCheckpointInfo, saveCheckpoint } from "../lib/io/checkpoint.ts";

const OPTIONS: FitOptions = {
  train: toyDataset(40, 20, 4, 1),
  test: toyDataset(12, 20, 4, 2),
  epochs: 3,
  batchSize: 10,
  seed: 1,
  lr: 0.05,
  progressEvery: 2,
};

function setup(gpu: Gpu) {
  // Deterministic table gradients make the resumed run bit-identical.
  const { net } = buildMlp(gpu, {
    layers: [20, 16, 4],
    hash: hashes.uniform(),
    tableFraction: 0.5,
    seed: 3,
    deterministic: true,
  });
  const opt = new SGD(net.parameters(), { lr: OPTIONS.lr, momentum: 0.9 });
  return { net, opt, trainer: new Trainer(net, opt, { features: 20, classes: 4 }) };
}

Deno.test({
  name: "lost device: fit says what happened and how to resume; the resumed run is exact",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const { dir, remove } = await tempDir();
    const path = `${dir}/run.safetensors`;

    const first = await requestDevice();
    const a = setup(first);
    let err: unknown;
    const message = await rejectsArbnet(
      "device lost mid-run",
      fit(a.trainer, {
        ...OPTIONS,
        onProgress: (p) => {
          if (p.epoch === 1 && p.step === 2) first.device.destroy();
        },
        onEpoch: async (e) => {
          await saveCheckpoint(path, { net: a.net, opt: a.opt, extra: { epoch: e.epoch } });
        },
      }).catch((e) => {
        err = e;
        throw e;
      }),
      "the GPU device was lost (destroyed: device was lost) in epoch 2 at step ",
      "resume from the last checkpoint (deno task train: rerun with --resume <checkpoint>",
    );
    assert.ok(err instanceof DeviceLostError, `a DeviceLostError, got ${err}`);
    assert.equal(err.reason, "destroyed");
    assert.match(message, /in epoch 2 at step [2-4] of 4/);
    assert.deepEqual((await readCheckpointInfo(path)).progress, { epoch: 0 });
    // Everything on the lost device fails the same way, never with a wrong value.
    await rejectsArbnet(
      "read after loss",
      a.trainer.readMetrics(),
      "the GPU device was lost (destroyed: device was lost)",
      "request a new device and resume from the last checkpoint",
    );
    first.destroy();

    const second = await requestDevice();
    try {
      const b = setup(second);
      const info = await loadCheckpoint(path, { net: b.net, opt: b.opt });
      const resumed = await fit(b.trainer, {
        ...OPTIONS,
        startEpoch: (info.progress.epoch ?? -1) + 1,
      });
      assert.deepEqual(resumed.map((r) => r.epoch), [1, 2]);

      const c = setup(second);
      const whole = await fit(c.trainer, OPTIONS);
      assert.deepEqual(
        resumed,
        whole.slice(1).map((r, i) => ({
          ...r,
          trainSeconds: resumed[i].trainSeconds,
          examplesPerSecond: resumed[i].examplesPerSecond,
        })),
      );
      const pb = await Promise.all(b.net.parameters().map((p) => p.read()));
      const pc = await Promise.all(c.net.parameters().map((p) => p.read()));
      assert.deepEqual(pb, pc, "resumed parameters equal the uninterrupted run's, bit for bit");
    } finally {
      second.destroy();
      await remove();
    }
  },
});
