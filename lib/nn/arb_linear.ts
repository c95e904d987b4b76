/**
 * `ArbLinear`: a fully connected layer whose `inFeatures × outFeatures`
 * weight matrix is virtual. Each position reads a slot of a small trainable
 * table through a hash (and a sign), inside the matmul's operand loads.
 *
 * Layer: nn; imports `lib/gpu`, the kernels, `lib/hash`, `lib/util`.
 * @module
 */

import type { Gpu, Launch } from "../gpu/device.ts";
import { ArbnetError, invalidOption } from "../errors.ts";
import type { Hash } from "../hash/types.ts";
import { hashes } from "../hash/mod.ts";
import { Rng } from "../util/random.ts";
import { matmulLaunch, type MatmulVariant, type Tile } from "../../shaders/matmul.ts";
import { biasGradLaunch } from "../../shaders/bias_grad.ts";
import { elementwiseLaunch } from "../../shaders/elementwise.ts";
import {
  type Activation,
  allocActivation,
  expectFeatures,
  Module,
  Parameter,
  type Plan,
  type PlanOptions,
} from "./module.ts";

/** Options of {@linkcode ArbLinear}. */
export interface ArbLinearOptions {
  /** Input features (rows of the virtual matrix). */
  inFeatures: number;
  /** Output features (columns of the virtual matrix). */
  outFeatures: number;
  /** The weight-sharing pattern. */
  hash: Hash;
  /**
   * Trainable slots `K`. Default: `round(tableFraction · in · out)`, or
   * `in · out` for the dense hash.
   */
  tableSize?: number;
  /** Table size as a fraction of the virtual matrix, used when `tableSize` is absent. Default 1. */
  tableFraction?: number;
  /** Fraction of positions sent to the zero slot, in [0, 1). Default 0. */
  sparsity?: number;
  /** Seed of the hash and of the initial table. Default 0. */
  seed?: number;
  /** Learn a bias. Default true. */
  bias?: boolean;
  /** Register tile of the matmuls; the adapter default when absent. */
  tile?: Tile;
  /** Label prefix for parameters and buffers. */
  name?: string;
}

/** Everything that decides a layer's slots: enough to rebuild it (checkpoints, logs). */
export interface ArbLinearConfig {
  /** Input features. */
  inFeatures: number;
  /** Output features. */
  outFeatures: number;
  /** Trainable slots. */
  tableSize: number;
  /** Zero-slot fraction. */
  sparsity: number;
  /** Seed. */
  seed: number;
  /** Whether there is a bias. */
  bias: boolean;
  /** Hash family and options. */
  hash: { family: string; options: Record<string, number | string | boolean> };
}

const SIGN_BIT = 0x80000000;

/**
 * Packs slots and signs into the kernels' slot words (slot in the low 31
 * bits, bit 31 set where the sign is −1).
 */
export function packSlotWords(indices: Uint32Array, signs: Int8Array | null): Uint32Array {
  const words = new Uint32Array(indices.length);
  for (let p = 0; p < indices.length; p++) {
    words[p] = signs && signs[p] < 0 ? (indices[p] | SIGN_BIT) >>> 0 : indices[p];
  }
  return words;
}

/**
 * A linear layer `y = x·V + b` with a hashed virtual weight matrix `V`.
 *
 * @example
 * ```ts
 * import { requestDevice } from "../gpu/device.ts";
 * import { hashes } from "../hash/mod.ts";
 * import { ArbLinear } from "./arb_linear.ts";
 * const gpu = await requestDevice();
 * const layer = new ArbLinear(gpu, {
 *   inFeatures: 784, outFeatures: 1000, tableFraction: 1 / 8, hash: hashes.uniform(), seed: 1,
 * });
 * console.log(layer.config.tableSize); // 98000
 * gpu.destroy();
 * ```
 */
export class ArbLinear extends Module {
  /** What decides this layer's slots. */
  readonly config: ArbLinearConfig;
  /** The trainable table (`tableSize` slots, followed in memory by the zero slot). */
  readonly table: Parameter;
  /** The bias, or null. */
  readonly bias: Parameter | null;
  /** Slot per position (`tableSize` = zero slot), as the hash produced it. */
  readonly indices: Uint32Array;
  readonly #gpu: Gpu;
  readonly #slots: GPUBuffer | null;
  readonly #biasData: GPUBuffer;
  readonly #tile?: Tile;

  /** Builds the layer: evaluates the hash, initialises and uploads the table. */
  constructor(gpu: Gpu, options: ArbLinearOptions) {
    super();
    this.#gpu = gpu;
    this.#tile = options.tile;
    const config = resolveConfig(options);
    this.config = config;
    const name = options.name ?? "arblinear";
    const spec = {
      rows: config.inFeatures,
      cols: config.outFeatures,
      tableSize: config.tableSize,
      sparsity: config.sparsity,
      seed: config.seed,
    };
    this.indices = options.hash.indices(spec);
    const signs = options.hash.signs(spec);
    const dense = this.isDense;
    this.#slots = dense ? null : gpu.upload(packSlotWords(this.indices, signs), `${name}.slots`);
    this.table = new Parameter(
      gpu,
      `${name}.table`,
      initTable(config, dense ? 0 : 1),
      config.tableSize,
    );
    const zeros = new Float32Array(config.outFeatures);
    this.bias = config.bias ? new Parameter(gpu, `${name}.bias`, zeros) : null;
    this.#biasData = this.bias?.data ?? gpu.upload(zeros, `${name}.nobias`);
  }

  /** The device this layer lives on. */
  get gpu(): Gpu {
    return this.#gpu;
  }

  /**
   * True when the hash is the identity with no zero slot: the table *is* the
   * weight matrix, so the kernels read it directly and skip the slot buffer.
   */
  get isDense(): boolean {
    return this.config.hash.family === "dense" && this.config.sparsity === 0;
  }

  /** ArbLinear applies a following ReLU in its matmul epilogue. */
  override get fusesRelu(): boolean {
    return true;
  }

  /** The table, then the bias if any. */
  parameters(): Parameter[] {
    return this.bias ? [this.table, this.bias] : [this.table];
  }

  /** Number of positions of the virtual matrix. */
  get virtualSize(): number {
    return this.config.inFeatures * this.config.outFeatures;
  }

  /** Allocates this module's buffers for `x` and binds its launches. */
  protected async build(gpu: Gpu, x: Activation, options: PlanOptions): Promise<Plan> {
    const c = this.config;
    expectFeatures(x, c.inFeatures, "ArbLinear");
    const rows = x.rows;
    const relu = options.fuseRelu === true;
    const out = allocActivation(gpu, rows, c.outFeatures, "arblinear.out");
    // With a fused ReLU the gradient before the activation needs its own buffer.
    const dPre = relu ? gpu.buffer(rows * c.outFeatures * 4, "arblinear.dpre") : out.grad!;
    const weights = this.isDense ? "dense" : "hashed";
    const tile = this.#tile;
    const v = (p: Omit<MatmulVariant, "tile">): MatmulVariant => ({ ...p, tile });
    const slots = this.#slots ?? undefined;

    const forward = await matmulLaunch(
      gpu,
      v({ a: "rows", weights, b: "rows", store: relu ? "bias_relu" : "bias" }),
      { M: rows, N: c.outFeatures, K: c.inFeatures },
      { a: x.buffer, b: this.table.data, slots, c: out.buffer, bias: this.#biasData },
    );
    const reluBack = relu
      ? (await elementwiseLaunch(gpu, "relu_backward", rows * c.outFeatures, {
        y: out.buffer,
        dy: out.grad!,
        dx: dPre,
      })).launch
      : null;
    const tableGrad = await matmulLaunch(
      gpu,
      v({ a: "cols", weights: "dense", b: "rows", store: this.isDense ? "plain" : "scatter" }),
      { M: c.inFeatures, N: c.outFeatures, K: rows, zeroSlot: c.tableSize },
      { a: x.buffer, b: dPre, slots, c: this.table.grad },
    );
    const biasGrad = this.bias
      ? await biasGradLaunch(gpu, rows, c.outFeatures, dPre, this.bias.grad)
      : null;
    const inputGrad: Launch | null = x.grad
      ? await matmulLaunch(
        gpu,
        v({ a: "rows", weights, b: "cols", store: "plain" }),
        { M: rows, N: c.inFeatures, K: c.outFeatures },
        { a: dPre, b: this.table.data, slots, c: x.grad },
      )
      : null;
    const table = this.table;
    const dense = this.isDense;
    return {
      output: out,
      forward: () => gpu.dispatch(forward),
      backward: () => {
        if (reluBack) gpu.dispatch(reluBack);
        // The scatter adds into the gradient; the dense product overwrites it.
        if (!dense) gpu.clear(table.grad);
        gpu.dispatch(tableGrad);
        if (biasGrad) gpu.dispatch(biasGrad);
        if (inputGrad) gpu.dispatch(inputGrad);
      },
    };
  }
}

function resolveConfig(o: ArbLinearOptions): ArbLinearConfig {
  const positiveInt = (name: string, v: unknown) => {
    if (!Number.isInteger(v) || (v as number) < 1) invalidOption(name, v, "a positive integer");
  };
  positiveInt("inFeatures", o.inFeatures);
  positiveInt("outFeatures", o.outFeatures);
  if (!o.hash || typeof o.hash.indices !== "function") {
    invalidOption("hash", o.hash, "a Hash, e.g. hashes.uniform()");
  }
  const virtual = o.inFeatures * o.outFeatures;
  if (virtual > 2 ** 32) {
    invalidOption(
      "inFeatures × outFeatures",
      virtual,
      "at most 2^32 positions (positions are u32); use a smaller layer",
    );
  }
  const fraction = o.tableFraction ?? 1;
  if (!(fraction > 0 && fraction <= 1)) {
    invalidOption("tableFraction", fraction, "a number in (0, 1]");
  }
  const tableSize = o.tableSize ??
    (o.hash.family === "dense" ? virtual : Math.max(1, Math.round(virtual * fraction)));
  positiveInt("tableSize", tableSize);
  if (tableSize >= 2 ** 31) invalidOption("tableSize", tableSize, "below 2^31 slots");
  const sparsity = o.sparsity ?? 0;
  if (!(sparsity >= 0 && sparsity < 1)) invalidOption("sparsity", sparsity, "a number in [0, 1)");
  const seed = o.seed ?? 0;
  if (!Number.isInteger(seed)) invalidOption("seed", seed, "an integer");
  if (o.hash.family === "dense" && tableSize !== virtual) {
    throw new ArbnetError(
      `the dense hash needs tableSize = inFeatures × outFeatures = ${virtual}, got ${tableSize}`,
    );
  }
  return {
    inFeatures: o.inFeatures,
    outFeatures: o.outFeatures,
    tableSize,
    sparsity,
    seed,
    bias: o.bias ?? true,
    hash: { family: o.hash.family, options: { ...o.hash.options } },
  };
}

/**
 * He-uniform initial table: every virtual weight is then U(±√(6/fanIn′)),
 * where fanIn′ = inFeatures·(1 − sparsity) is the fan-in the zero slot leaves.
 * `extra` zero entries follow (the zero slot).
 */
function initTable(c: ArbLinearConfig, extra: number): Float32Array {
  const fanIn = Math.max(1, c.inFeatures * (1 - c.sparsity));
  const bound = Math.sqrt(6 / fanIn);
  const rng = new Rng((c.seed ^ 0x5eed7ab1e) >>> 0);
  const t = new Float32Array(c.tableSize + extra);
  for (let k = 0; k < c.tableSize; k++) t[k] = (2 * rng.next() - 1) * bound;
  return t;
}

/** Options of {@linkcode Linear}: an ArbLinear without hash options. */
export type LinearOptions = Omit<
  ArbLinearOptions,
  "hash" | "tableSize" | "tableFraction" | "sparsity"
>;

/**
 * An ordinary dense layer: an ArbLinear whose hash is the identity, so the
 * table is the weight matrix and the kernels skip the gather.
 */
export class Linear extends ArbLinear {
  /** Builds a dense `inFeatures × outFeatures` layer. */
  constructor(gpu: Gpu, options: LinearOptions) {
    super(gpu, { ...options, hash: hashes.dense() });
  }
}
