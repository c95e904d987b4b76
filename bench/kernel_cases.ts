/**
 * The kernels of one 784×1000 hashed layer (table 1/8), bound at a batch
 * size the way ArbLinear runs them, for `kernels.bench.ts` (every case under
 * `deno bench`) and `kernel_ratios.ts` (the ratios, interleaved):
 * forward and input gradient gather-matmuls, gathered in the tiles and on
 * materialised weights (what CPU adapters run), atomic and deterministic
 * table gradients (the latter as ArbLinear runs it on CPU adapters: X
 * transposed, the product written in inverse-index order, the per-slot
 * sum), the dense matmul of the forward's shape (this adapter's roofline
 * for us), and one training step of 784-1000-10. Every product uses the tile
 * the library picks (autotuned once per adapter and shape, cached).
 * @module
 */

import type { Gpu, Launch } from "../lib/gpu/device.ts";
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
// Tuned tiles persist in a file between runs, as in the training script.
import "../lib/io/tile_cache.ts";
import { hashes } from "../lib/hash/mod.ts";
import { packSlotWords, TRANSPOSE_WEIGHTS_MIN_ROWS } from "../lib/nn/mod.ts";
import { inverseIndex } from "../lib/nn/inverse_index.ts";
import { elementwiseLaunch, segmentSumLaunch, transposeLaunch } from "../shaders/elementwise.ts";
import { mlpSetup } from "./mlp_setup.ts";
import { Rng } from "../lib/util/random.ts";

/** Input and output features of the layer. */
export const N_IN = 784, N_OUT = 1000;
/** Its table size (1/8 of the positions). */
export const K = Math.round(N_IN * N_OUT / 8);

/** Which kernel a case times (what `kernel_ratios.ts` pairs up). */
export type CaseId =
  | "dense"
  | "forward"
  | "forward-materialised"
  | "input-grad"
  | "input-grad-materialised"
  | "input-grad-transposed"
  | "table-grad-atomic"
  | "table-grad-deterministic"
  | "step";

/** One timed case: what to record per launch, and the work it does. */
export interface KernelCase {
  /** Stable key. */
  id: CaseId;
  /** Label in tables. */
  name: string;
  /** Floating-point operations per launch (for GFLOP/s). */
  flops: number;
  /** Records one launch (a training step also waits for nothing: it only records). */
  record: () => void | Promise<void>;
}

function random(n: number, seed: number): Float32Array {
  const rng = new Rng(seed);
  return Float32Array.from({ length: n }, () => rng.next() - 0.5);
}

/** The layer's buffers, shared by every batch size. */
export interface LayerBuffers {
  slots: GPUBuffer;
  ranks: GPUBuffer;
  offsets: GPUBuffer;
  entries: GPUBuffer;
  table: GPUBuffer;
  dense: GPUBuffer;
  bias: GPUBuffer;
  grad: GPUBuffer;
  virtualWeights: GPUBuffer;
  transposedWeights: GPUBuffer;
}

/** Uploads the layer: a uniform hash's slot words and inverse index, table, dense weights, bias. */
export function layerBuffers(gpu: Gpu): LayerBuffers {
  const hash = hashes.uniform();
  const spec = { rows: N_IN, cols: N_OUT, tableSize: K, seed: 1 };
  const inverse = inverseIndex(hash.indices(spec), hash.signs(spec), K);
  return {
    slots: gpu.upload(packSlotWords(hash.indices(spec), hash.signs(spec)), "slots"),
    ranks: gpu.upload(inverse.ranks, "ranks"),
    offsets: gpu.upload(inverse.offsets, "offsets"),
    entries: gpu.buffer(Math.ceil((inverse.positions.length + 1) / 4) * 16, "entries"),
    table: gpu.upload(random(K + 1, 2).fill(0, K), "table"),
    dense: gpu.upload(random(N_IN * N_OUT, 3), "dense"),
    bias: gpu.upload(random(N_OUT, 4), "bias"),
    grad: gpu.buffer((K + 1) * 4, "table.grad"),
    virtualWeights: gpu.buffer(N_IN * N_OUT * 4, "virtual weights"),
    transposedWeights: gpu.buffer(N_IN * N_OUT * 4, "transposed weights"),
  };
}

/** Binds a variant with the tile the library would use here (autotuned once, cached). */
async function tunedLaunch(
  gpu: Gpu,
  v: MatmulVariant,
  shape: MatmulShape,
  buffers: MatmulBuffers,
): Promise<Launch> {
  return await matmulLaunch(gpu, { ...v, tile: await chooseTile(gpu, v, shape) }, shape, buffers);
}

/** Binds every case at `batch` rows. */
export async function kernelCases(
  gpu: Gpu,
  layer: LayerBuffers,
  batch: number,
): Promise<KernelCase[]> {
  const { slots, table, dense, bias, grad, virtualWeights, transposedWeights } = layer;
  const launch = (v: MatmulVariant, shape: MatmulShape, buffers: MatmulBuffers) =>
    tunedLaunch(gpu, v, shape, buffers);
  const one = (l: Launch) => () => gpu.dispatch(l);
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

  const gather = (await elementwiseLaunch(gpu, "gather_weights", N_IN * N_OUT, {
    slots,
    table,
    weights: virtualWeights,
  })).launch;
  const transposeWeights = await transposeLaunch(
    gpu,
    virtualWeights,
    transposedWeights,
    N_IN,
    N_OUT,
    N_IN,
  );
  // A dense layer's forward. The roofline runs it on dense weights; the
  // materialised forward (what ArbLinear runs on CPU adapters at these
  // batches, materialize "auto") on the virtual weights the gather wrote:
  // the same variant, so the same tuned tile.
  const denseForward = (b: GPUBuffer) =>
    launch({ a: "rows", weights: "dense", b: "rows", store: "bias" }, fwd, {
      a: x,
      b,
      c: y,
      bias,
    });
  const roofline = await denseForward(dense);
  const materialised = await denseForward(virtualWeights);
  const hashedForward = await launch(
    { a: "rows", weights: "hashed", b: "rows", store: "bias" },
    fwd,
    { a: x, b: table, slots, c: y, bias },
  );
  const hashedInputGrad = await launch(
    { a: "rows", weights: "hashed", b: "cols", store: "plain" },
    back,
    { a: dy, b: table, slots, c: dx },
  );
  const materialisedInputGrad = await launch(
    { a: "rows", weights: "dense", b: "cols", store: "plain" },
    back,
    { a: dy, b: virtualWeights, c: dx },
  );
  // From TRANSPOSE_WEIGHTS_MIN_ROWS rows ArbLinear runs this instead on CPU
  // adapters: V transposed, then the product reading Vᵀ by rows.
  const byRows = await launch(
    { a: "rows", weights: "dense", b: "rows", store: "plain" },
    back,
    { a: dy, b: transposedWeights, c: dx },
  );
  const scatter = await launch(
    { a: "cols", weights: "dense", b: "rows", store: "scatter" },
    tgrad,
    { a: x, b: dy, slots, c: grad },
  );
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
    slots: layer.ranks,
    c: layer.entries,
  });
  const segmentSum = await segmentSumLaunch(
    gpu,
    { entries: layer.entries, offsets: layer.offsets, grad },
    K,
  );

  const { trainer, x: bx, y: by } = mlpSetup(gpu, {
    layers: [784, 1000, 10],
    network: "hashed",
    batch,
    tile: "auto",
  });
  // forward + input gradient of layer 2 + both table gradients (layer 1 needs no dX)
  const stepFlops = 2 * batch * (784 * 1000 * 2 + 1000 * 10 * 3);

  return [
    {
      id: "dense",
      name: "dense matmul (roofline)",
      flops: matmulFlops(fwd),
      record: one(roofline),
    },
    { id: "forward", name: "hashed forward", flops: matmulFlops(fwd), record: one(hashedForward) },
    {
      id: "forward-materialised",
      name: "hashed forward, materialised (gather + dense)",
      flops: matmulFlops(fwd),
      record: () => {
        gpu.dispatch(gather);
        gpu.dispatch(materialised);
      },
    },
    {
      id: "input-grad",
      name: "hashed input gradient",
      flops: matmulFlops(back),
      record: one(hashedInputGrad),
    },
    {
      id: "input-grad-materialised",
      name: "hashed input gradient, materialised (dense)",
      flops: matmulFlops(back),
      record: one(materialisedInputGrad),
    },
    {
      id: "input-grad-transposed",
      name: `hashed input gradient, materialised, transposed (transpose + dense)${
        batch >= TRANSPOSE_WEIGHTS_MIN_ROWS ? "" : " [not used at this batch]"
      }`,
      flops: matmulFlops(back),
      record: () => {
        gpu.dispatch(transposeWeights);
        gpu.dispatch(byRows);
      },
    },
    {
      id: "table-grad-atomic",
      name: "hashed table gradient (atomic)",
      flops: matmulFlops(tgrad),
      record: () => {
        gpu.clear(grad);
        gpu.dispatch(scatter);
      },
    },
    {
      id: "table-grad-deterministic",
      name: "hashed table gradient (deterministic)",
      flops: matmulFlops(tgrad),
      record: () => {
        gpu.dispatch(transpose);
        gpu.dispatch(permuted);
        gpu.dispatch(segmentSum);
      },
    },
    {
      id: "step",
      name: "training step 784-1000-10",
      flops: stepFlops,
      record: () => trainer.step(bx, by),
    },
  ];
}
