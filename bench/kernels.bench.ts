/**
 * `deno bench` of the kernels of a 784×1000 hashed layer (table 1/8) at
 * batch 50 and 128: forward and input gradient gather-matmuls, the same as
 * ArbLinear runs them on CPU adapters (weights materialised, then dense
 * products), atomic and deterministic table gradients (the latter as
 * ArbLinear runs it there: X transposed, the product, the per-slot sum),
 * and the dense matmul of the same shape
 * (this adapter's roofline for us), each with the tile the library picks
 * (autotuned once per adapter and shape, cached); one full training step of
 * 784-1000-10; and the GPU round trip alone. Each is launched REPEAT times
 * per wait for the GPU. After the table deno prints, a summary gives each
 * one's time, GFLOP/s and fraction of the dense roofline.
 *
 *   deno task bench            (or: deno bench -A bench/kernels.bench.ts)
 * @module
 */

import { requestDevice } from "../lib/gpu/device.ts";
import type { Launch } from "../lib/gpu/device.ts";
import {
  type MatmulBuffers,
  matmulFlops,
  matmulLaunch,
  type MatmulShape,
  type MatmulVariant,
  tileRows,
  windowRows,
} from "../shaders/matmul.ts";
import { chooseTile } from "../shaders/matmul_tune.ts";
import { hashes } from "../lib/hash/mod.ts";
import { packSlotWords, TRANSPOSE_WEIGHTS_MIN_ROWS } from "../lib/nn/mod.ts";
import { inverseIndex } from "../lib/nn/inverse_index.ts";
import { elementwiseLaunch, transposeLaunch } from "../shaders/elementwise.ts";
import { SGD } from "../lib/optim/mod.ts";
import { buildMlp, Trainer } from "../lib/train/mod.ts";
import { median } from "../lib/experiment/stats.ts";
import { Rng } from "../lib/util/random.ts";

const gpu = await requestDevice({ label: "arbnet bench" });
const N_IN = 784, N_OUT = 1000, K = Math.round(N_IN * N_OUT / 8);
const hash = hashes.uniform();
const spec = { rows: N_IN, cols: N_OUT, tableSize: K, seed: 1 };
const slots = gpu.upload(packSlotWords(hash.indices(spec), hash.signs(spec)), "slots");
const inverse = inverseIndex(hash.indices(spec), hash.signs(spec), K);
const ranks = gpu.upload(inverse.ranks, "ranks");
const offsets = gpu.upload(inverse.offsets, "offsets");
const entries = gpu.buffer(Math.ceil((inverse.positions.length + 1) / 4) * 16, "entries");
const virtualWeights = gpu.buffer(N_IN * N_OUT * 4, "virtual weights");
const transposedWeights = gpu.buffer(N_IN * N_OUT * 4, "transposed weights");

function random(n: number, seed: number): Float32Array {
  const rng = new Rng(seed);
  return Float32Array.from({ length: n }, () => rng.next() - 0.5);
}

const table = gpu.upload(random(K + 1, 2).fill(0, K), "table");
const dense = gpu.upload(random(N_IN * N_OUT, 3), "dense");
const bias = gpu.upload(random(N_OUT, 4), "bias");
const gatherWeights = await elementwiseLaunch(gpu, "gather_weights", N_IN * N_OUT, {
  slots,
  table,
  weights: virtualWeights,
});
const transposeWeights = await transposeLaunch(
  gpu,
  virtualWeights,
  transposedWeights,
  N_IN,
  N_OUT,
  N_IN,
);
const grad = gpu.buffer((K + 1) * 4, "table.grad");

interface Row {
  name: string;
  batch: number;
  flops: number;
  /** Launches per wait. */
  repeat: number;
  times: number[];
}
const rows: Row[] = [];

/**
 * Launches recorded per timed iteration. Waiting for the GPU costs about
 * 11 ms under Deno 2.9 on lavapipe whatever the work (the "GPU round trip"
 * row), so timing one launch per wait would time mostly the wait: each
 * iteration records REPEAT launches, waits once, and counts a REPEAT-th of
 * the time (deno's own table shows whole iterations); the summary also
 * subtracts the round trip.
 */
const REPEAT = 8;

function bench(
  name: string,
  batch: number,
  flops: number,
  record: () => void | Promise<void>,
  repeat = REPEAT,
) {
  const row: Row = { name, batch, flops, repeat, times: [] };
  rows.push(row);
  Deno.bench({
    name: batch > 0 ? `${name} b${batch}` : name,
    group: batch > 0 ? `batch ${batch}` : "latency",
    n: 20,
    warmup: 3,
    async fn() {
      const t0 = performance.now();
      for (let i = 0; i < repeat; i++) await record();
      await gpu.sync();
      row.times.push((performance.now() - t0) / repeat);
    },
  });
}

function kernel(launch: Launch) {
  return () => gpu.dispatch(launch);
}

/** Binds a variant with the tile the library would use here (autotuned once, cached). */
async function tunedLaunch(
  v: MatmulVariant,
  shape: MatmulShape,
  buffers: MatmulBuffers,
): Promise<Launch> {
  return await matmulLaunch(gpu, { ...v, tile: await chooseTile(gpu, v, shape) }, shape, buffers);
}

bench("GPU round trip (nothing recorded)", 0, 0, () => {}, 1);

for (const batch of [50, 128]) {
  // Padded to whole windows as the library's activations are (windowRows).
  const padded = (n: number, seed: number) => {
    const v = new Float32Array(windowRows(batch) * n);
    v.set(random(batch * n, seed));
    return v;
  };
  const x = gpu.upload(padded(N_IN, 5), "x");
  const y = gpu.buffer(batch * N_OUT * 4, "y");
  const dy = gpu.upload(padded(N_OUT, 6), "dy");
  const dx = gpu.buffer(batch * N_IN * 4, "dx");
  const fwd: MatmulShape = { M: batch, N: N_OUT, K: N_IN };
  const back: MatmulShape = { M: batch, N: N_IN, K: N_OUT };
  const tgrad: MatmulShape = { M: N_IN, N: N_OUT, K: batch, zeroSlot: K };
  bench(
    "dense matmul (roofline)",
    batch,
    matmulFlops(fwd),
    kernel(
      await tunedLaunch({ a: "rows", weights: "dense", b: "rows", store: "plain" }, fwd, {
        a: x,
        b: dense,
        c: y,
      }),
    ),
  );
  bench(
    "hashed forward",
    batch,
    matmulFlops(fwd),
    kernel(
      await tunedLaunch({ a: "rows", weights: "hashed", b: "rows", store: "bias" }, fwd, {
        a: x,
        b: table,
        slots,
        c: y,
        bias,
      }),
    ),
  );
  // What ArbLinear runs on CPU adapters at these batches (materialize "auto"):
  // the virtual weights written out, then the dense product.
  const materialised = await tunedLaunch(
    { a: "rows", weights: "dense", b: "rows", store: "bias" },
    fwd,
    { a: x, b: virtualWeights, c: y, bias },
  );
  bench("hashed forward, materialised (gather + dense)", batch, matmulFlops(fwd), () => {
    gpu.dispatch(gatherWeights.launch);
    gpu.dispatch(materialised);
  });
  bench(
    "hashed input gradient",
    batch,
    matmulFlops(back),
    kernel(
      await tunedLaunch({ a: "rows", weights: "hashed", b: "cols", store: "plain" }, back, {
        a: dy,
        b: table,
        slots,
        c: dx,
      }),
    ),
  );
  bench(
    "hashed input gradient, materialised (dense)",
    batch,
    matmulFlops(back),
    kernel(
      await tunedLaunch({ a: "rows", weights: "dense", b: "cols", store: "plain" }, back, {
        a: dy,
        b: virtualWeights,
        c: dx,
      }),
    ),
  );
  // From TRANSPOSE_WEIGHTS_MIN_ROWS rows ArbLinear runs this instead on CPU
  // adapters: V transposed, then the product reading Vᵀ by rows.
  const byRows = await tunedLaunch(
    { a: "rows", weights: "dense", b: "rows", store: "plain" },
    back,
    {
      a: dy,
      b: transposedWeights,
      c: dx,
    },
  );
  bench(
    `hashed input gradient, materialised, transposed (transpose + dense)${
      batch >= TRANSPOSE_WEIGHTS_MIN_ROWS ? "" : " [not used at this batch]"
    }`,
    batch,
    matmulFlops(back),
    () => {
      gpu.dispatch(transposeWeights);
      gpu.dispatch(byRows);
    },
  );
  const scatter = await tunedLaunch(
    { a: "cols", weights: "dense", b: "rows", store: "scatter" },
    tgrad,
    { a: x, b: dy, slots, c: grad },
  );
  bench("hashed table gradient (atomic)", batch, matmulFlops(tgrad), () => {
    gpu.clear(grad);
    gpu.dispatch(scatter);
  });
  // The deterministic path as ArbLinear runs it on CPU adapters: X
  // transposed (the batch padded to a multiple of 4), the product written
  // signed in inverse-index order, then summed per slot.
  const stride = Math.ceil(batch / 4) * 4;
  const tgradRows: MatmulShape = { ...tgrad, K: stride };
  const permutedVariant: MatmulVariant = {
    a: "rows",
    weights: "dense",
    b: "rows",
    store: "permuted",
  };
  const permutedTile = await chooseTile(gpu, permutedVariant, tgradRows);
  const xt = gpu.buffer(tileRows(permutedTile, tgradRows, gpu.limits) * stride * 4, "xt");
  const transpose = await transposeLaunch(gpu, x, xt, batch, N_IN, stride);
  const permuted = await matmulLaunch(gpu, { ...permutedVariant, tile: permutedTile }, tgradRows, {
    a: xt,
    b: dy,
    slots: ranks,
    c: entries,
  });
  const segmentSum = await elementwiseLaunch(gpu, "segment_sum", K, {
    g: entries,
    offsets,
    grad,
  });
  bench("hashed table gradient (deterministic)", batch, matmulFlops(tgrad), () => {
    gpu.dispatch(transpose);
    gpu.dispatch(permuted);
    gpu.dispatch(segmentSum.launch);
  });

  const { net } = buildMlp(gpu, {
    layers: [784, 1000, 10],
    hash,
    tableFraction: 1 / 8,
    seed: 1,
    tile: "auto",
  });
  const trainer = new Trainer(net, new SGD(net.parameters(), { lr: 0.01, momentum: 0.9 }), {
    features: 784,
    classes: 10,
  });
  const bx = random(batch * 784, 7).map((v) => v + 0.5);
  const by = Uint32Array.from({ length: batch }, (_, i) => i % 10);
  // forward + input gradient of layer 2 + both table gradients (layer 1 needs no dX)
  const stepFlops = 2 * batch * (784 * 1000 * 2 + 1000 * 10 * 3);
  bench("training step 784-1000-10", batch, stepFlops, () => trainer.step(bx, by));
}

globalThis.addEventListener("unload", () => {
  printSummary();
  gpu.destroy();
});

/**
 * Prints each row's time per launch twice: with its share of the wait
 * (what a loop of REPEAT launches sees), and with the measured round trip
 * subtracted (the kernel alone, on which GFLOP/s and the roofline fraction
 * are computed: the wait would otherwise pull every ratio toward 1).
 */
function printSummary() {
  console.log(`\nadapter: ${gpu.adapter.description}`);
  const tripRow = rows.find((r) => r.batch === 0 && r.times.length > 0);
  const trip = tripRow ? median(tripRow.times) : 0;
  if (tripRow) console.log(`GPU round trip: ${trip.toFixed(2)} ms (median)`);
  console.log(
    `| kernel | batch | ms per launch, ${REPEAT} per wait | ms, round trip subtracted | GFLOP/s ` +
      "| of dense roofline |",
  );
  console.log("| --- | ---: | ---: | ---: | ---: | ---: |");
  const alone = (r: Row) => median(r.times) - trip / r.repeat;
  for (const batch of [50, 128]) {
    const roof = rows.find((r) => r.batch === batch && r.name.startsWith("dense"));
    const roofGflops = roof && roof.times.length ? roof.flops / alone(roof) / 1e6 : NaN;
    for (const r of rows.filter((r) => r.batch === batch && r.times.length > 0)) {
      const gflops = r.flops / alone(r) / 1e6;
      console.log(
        `| ${r.name} | ${batch} | ${median(r.times).toFixed(2)} | ${alone(r).toFixed(2)} | ${
          gflops.toFixed(2)
        } | ${(gflops / roofGflops).toFixed(2)} |`,
      );
    }
  }
}
