/**
 * Bad numbers: a NaN or an infinity stops `fit` at the next metrics read
 * with the epoch, the step range, the step and the layer where it first
 * appeared (recorded on the GPU every step, read back only at metrics
 * reads), and a checkpoint is never overwritten by a diverged model.
 * @module
 */

import assert from "node:assert/strict";
import { gpuTest, randomF32 } from "./_util.ts";
import { rejectsArbnet, tempDir, toyDataset } from "./_reliability.ts";
import { NonFiniteError } from "../lib/errors.ts";
import type { Gpu } from "../lib/gpu/device.ts";
import { hashes } from "../lib/hash/mod.ts";
import { Adam, type Optimizer, SGD } from "../lib/optim/mod.ts";
import { buildMlp, fit, type FitOptions, Trainer } from "../lib/train/mod.ts";
import { loadCheckpoint, readCheckpointInfo, saveCheckpoint } from "../lib/io/checkpoint.ts";
import { NEVER, nonFiniteLaunch, nonFiniteRef } from "../shaders/nonfinite.ts";

gpuTest(
  "nonfinite kernel: records the first step at which a tensor held NaN or ±Inf",
  async (gpu) => {
    for (const n of [1, 4, 15, 16, 17, 4095, 4097, 5000]) {
      const flags = gpu.upload(Uint32Array.of(0, NEVER, NEVER, NEVER), "flags");
      const cases = [
        randomF32(n, n),
        randomF32(n, n + 1).fill(NaN, n - 1),
        randomF32(n, n + 2).fill(-Infinity, n >> 1, (n >> 1) + 1),
      ];
      const bufs = cases.map((c, i) => gpu.upload(c, `values ${i}`));
      const launches = await Promise.all(
        bufs.map((b, i) => nonFiniteLaunch(gpu, n, i, b, flags)),
      );
      const expected = [NEVER, NEVER, NEVER];
      for (const step of [7, 8]) {
        gpu.write(flags, Uint32Array.of(step), 0, false);
        for (const l of launches) gpu.dispatch(l);
        cases.forEach((c, i) => expected[i] = nonFiniteRef(c, step, expected[i]));
        gpu.flush();
      }
      assert.deepEqual([...await gpu.readU32(flags, 4)], [8, ...expected], `n = ${n}`);
      assert.deepEqual(expected, [NEVER, 7, 7]);
      for (const b of [flags, ...bufs]) gpu.release(b);
    }
  },
);

const TRAIN = toyDataset(40, 20, 4, 1); // 4 steps of 10 per epoch
const TEST = toyDataset(12, 20, 4, 2);

function setup(gpu: Gpu, lr = 0.05) {
  const { net, layers } = buildMlp(gpu, {
    layers: [20, 16, 4],
    hash: hashes.uniform(),
    tableFraction: 0.5,
    seed: 3,
  });
  const opt = new SGD(net.parameters(), { lr, momentum: 0.9 });
  const trainer = new Trainer(net, opt, { features: 20, classes: 4 });
  const options: FitOptions = {
    train: TRAIN,
    test: TEST,
    epochs: 3,
    batchSize: 10,
    seed: 1,
    lr,
    schedule: "constant",
    progressEvery: 2,
  };
  return { net, layers, opt, trainer, options };
}

async function nonFinite(p: Promise<unknown>, label: string, ...f: string[]) {
  let err: unknown;
  await rejectsArbnet(
    label,
    p.catch((e) => {
      err = e;
      throw e;
    }),
    ...f,
  );
  assert.ok(err instanceof NonFiniteError, `${label}: expected a NonFiniteError, got ${err}`);
  return err;
}

gpuTest(
  "non-finite: a NaN injected into layer 2's table is traced to layer 2 and its step",
  async (gpu) => {
    const { layers, trainer, options } = setup(gpu);
    const epochs: number[] = [];
    const err = await nonFinite(
      fit(trainer, {
        ...options,
        onProgress: (p) => {
          // Lands before the next submission: step 3 of epoch 2 is the first to see it.
          if (p.epoch === 1 && p.step === 2) {
            gpu.write(layers[1].table.data, new Float32Array(layers[1].table.size).fill(NaN));
          }
        },
        onEpoch: (e) => {
          epochs.push(e.epoch);
        },
      }),
      "NaN injected into a table",
      "the training loss became non-finite in epoch 2, steps 3-4 of 4; the first non-finite " +
        "values were in the output of layer 2 of 2, ArbLinear layer1 (16×4, uniform hash) at " +
        "step 3",
      "lower the learning rate",
    );
    assert.equal(err.epoch, 1);
    assert.equal(err.fromStep, 3);
    assert.equal(err.toStep, 4);
    assert.equal(err.step, 3);
    assert.match(err.where!, /^the output of layer 2 of 2/);
    assert.deepEqual(epochs, [0], "the diverged epoch is not reported to onEpoch");
  },
);

gpuTest("non-finite: a huge learning rate stops the run in its first steps", async (gpu) => {
  const { trainer, options } = setup(gpu, 1e30);
  const err = await nonFinite(
    fit(trainer, options),
    "learning rate 1e30",
    "became non-finite in epoch 1, steps 1-2 of 4",
    "lower the learning rate (it was 1.00e+30)",
  );
  assert.ok(err.step !== null && err.step <= 2, `step ${err.step}`);
  assert.ok(err.where, "names where");
});

gpuTest(
  "non-finite: a poisoned update in an epoch's last step is caught before onEpoch",
  async (gpu) => {
    const { opt, trainer, options } = setup(gpu);
    const velocity = opt.stateBuffers()[0]; // layer0.table's momentum
    let saved = 0;
    const err = await nonFinite(
      fit(trainer, {
        ...options,
        progressEvery: 3, // reads after steps 3 and 4
        onProgress: (p) => {
          if (p.step === 3) gpu.write(velocity.buffer, new Float32Array(velocity.size).fill(NaN));
        },
        onEpoch: () => {
          saved++;
        },
      }),
      "NaN in the optimizer state",
      "the network became non-finite in epoch 1, step 4 of 4; the first non-finite values " +
        "were in parameter layer0.table (checked after the optimizer update) at step 4",
    );
    assert.equal(err.step, 4);
    assert.equal(saved, 0, "the loss of step 4 was finite, yet the epoch is not reported");
  },
);

gpuTest(
  "non-finite: SGD and Adam record the parameter watch in their updates (one dispatch fewer per parameter), other optimizers are watched by the trainer, all alike",
  async (gpu) => {
    const { net, layers } = buildMlp(gpu, {
      layers: [20, 16, 4],
      hash: hashes.uniform(),
      tableFraction: 0.5,
      seed: 3,
    });
    const x = randomF32(10 * 20, 1), y = Uint32Array.from({ length: 10 }, (_, i) => i % 4);
    const params = net.parameters();
    const kinds = ["sgd", "adam", "sgd without watchUpdates"] as const;
    const dispatches: number[] = [];
    for (const kind of kinds) {
      const opt: Optimizer = kind === "adam"
        ? new Adam(params, { lr: 1e-3 })
        : new SGD(params, { lr: 0.01, momentum: 0.9 });
      // An own property hides the method: what an optimizer without it looks like.
      if (kind === "sgd without watchUpdates") Object.assign(opt, { watchUpdates: undefined });
      const trainer = new Trainer(net, opt, { features: 20, classes: 4 });
      await trainer.step(x, y);
      const before = gpu.stats.dispatches;
      await trainer.step(x, y);
      dispatches.push(gpu.stats.dispatches - before);
      assert.equal(await trainer.findNonFinite(), null, kind);
      // The update of step 3 writes NaN into the last parameter only.
      const last = opt.stateBuffers().at(-1)!;
      gpu.write(last.buffer, new Float32Array(last.size).fill(NaN));
      await trainer.step(x, y);
      assert.deepEqual(await trainer.findNonFinite(), {
        step: 3,
        where: `parameter ${params.at(-1)!.name} (checked after the optimizer update)`,
      }, kind);
      // Restore finite weights for the next optimizer.
      for (const l of layers) {
        for (const p of l.parameters()) gpu.write(p.data, randomF32(p.size, 7, -0.1, 0.1));
      }
    }
    assert.equal(dispatches[0], dispatches[1], "sgd and adam fuse alike");
    assert.equal(dispatches[2] - dispatches[0], params.length, "one watch dispatch per parameter");
  },
);

gpuTest("non-finite: --checkpoint keeps the last good model", async (gpu) => {
  const { dir, remove } = await tempDir();
  const path = `${dir}/run.safetensors`;
  const { net, layers, opt, trainer, options } = setup(gpu);
  await nonFinite(
    fit(trainer, {
      ...options,
      onProgress: (p) => {
        if (p.epoch === 1 && p.step === 2) {
          gpu.write(layers[0].table.data, new Float32Array(layers[0].table.size).fill(Infinity));
        }
      },
      onEpoch: async (e) => {
        await saveCheckpoint(path, { net, opt, extra: { epoch: e.epoch } });
      },
    }),
    "checkpoint run",
    "epoch 2, steps 3-4 of 4",
    // The ReLU after layer 1 maps its NaNs to 0; the table itself is watched too.
    "parameter layer0.table",
  );
  const good = await Deno.readFile(path);
  assert.deepEqual((await readCheckpointInfo(path)).progress, { epoch: 0 });
  // Saving the diverged model is refused, and the file is untouched.
  await rejectsArbnet(
    "save a diverged model",
    saveCheckpoint(path, { net, opt, extra: { epoch: 1 } }),
    `refusing to save checkpoint ${path}: tensor layers.0.table holds `,
    /holds (NaN|-?Infinity) at index \d+ \(the model has diverged\); the file was not touched/,
  );
  assert.deepEqual(await Deno.readFile(path), good);
  // The kept checkpoint restores a finite model that trains on.
  const fresh = setup(gpu);
  await loadCheckpoint(path, { net: fresh.net, opt: fresh.opt });
  for (const p of fresh.net.parameters()) {
    assert.ok((await p.read()).every(Number.isFinite), `${p.name} is finite`);
  }
  const history = await fit(fresh.trainer, { ...fresh.options, startEpoch: 1 });
  assert.deepEqual(history.map((h) => h.epoch), [1, 2]);
  assert.ok(history.every((h) => Number.isFinite(h.trainLoss) && Number.isFinite(h.testLoss!)));
  await remove();
});
