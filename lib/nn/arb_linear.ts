/**
 * `ArbLinear`: a fully connected layer whose `inFeatures × outFeatures`
 * weight matrix is virtual. Each position reads a slot of a small trainable
 * table through a hash (and a sign), inside the matmul's operand loads.
 *
 * Its options, config and initial table are in `arb_linear_config.ts`;
 * every adapter-dependent choice of its kernels is made by the pure plan of
 * `plan_policy.ts`, and this module allocates and binds what the plan says.
 * Over ~350 lines because `ArbLinear` is one class whose host slots, GPU
 * buffers and plans share private state.
 *
 * Layer: nn; imports `lib/gpu`, the kernels, `lib/hash`.
 * @module
 */

import type { Gpu, Launch } from "../gpu/device.ts";
import { invalidOption } from "../errors.ts";
import type { Hash, IndexSpec } from "../hash/types.ts";
import { hashes, proceduralSlotCounts, slotCounts } from "../hash/mod.ts";
import { isDenseHash } from "../hash/dense.ts";
import { checkHashOutput } from "../hash/validate.ts";
import { type ProceduralHash, proceduralHash } from "../hash/procedural.ts";
import { defineCustomSlots, type ProceduralSlotBuffers } from "../../shaders/hash.ts";
import { checkCustomSlots } from "./custom_slots.ts";
import {
  DEFAULT_TILE,
  matmulLaunch,
  type Tile,
  tileRows,
  windowMisfit,
} from "../../shaders/matmul.ts";
import { chooseTile, type TileMode } from "../../shaders/matmul_tune.ts";
import { inverseIndex } from "./inverse_index.ts";
import { biasGradLaunch } from "../../shaders/bias_grad.ts";
import { elementwiseLaunch, segmentSumLaunch, transposeLaunch } from "../../shaders/elementwise.ts";
import {
  type Activation,
  activationBytes,
  allocActivation,
  expectFeatures,
  forwardOnlyError,
  gradWrite,
  Module,
  Parameter,
  type Plan,
  type PlanOptions,
} from "./module.ts";
import {
  type AdapterPolicy,
  adapterPolicy,
  type LayerModes,
  planArbLinear,
  type PlannedProduct,
  resolveLayerModes,
} from "./plan_policy.ts";
import {
  type ArbLinearConfig,
  type ArbLinearOptions,
  bindableBytes,
  checkBindable,
  checkLayerMemory,
  hashFanIn,
  initTable,
  packSlotWords,
  resolveConfig,
  sharedTable,
} from "./arb_linear_config.ts";

export {
  type ArbLinearConfig,
  type ArbLinearOptions,
  bindableBytes,
  checkBindable,
  packSlotWords,
} from "./arb_linear_config.ts";

/**
 * A linear layer `y = x·V + b` with a hashed virtual weight matrix `V`.
 *
 * @example
 * ```ts
 * import { requestDevice } from "../gpu/device.ts";
 * import { hashes, proceduralSlotCounts, slotCounts } from "../hash/mod.ts";
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
  /** The layer's name (option `name`): prefixes its buffer labels and names it in errors. */
  readonly name: string;
  /** What decides this layer's slots. */
  readonly config: ArbLinearConfig;
  /** The trainable table (`tableSize` slots, followed in memory by the zero slot). */
  readonly table: Parameter;
  /** The bias, or null. */
  readonly bias: Parameter | null;
  readonly #gpu: Gpu;
  readonly #slots: GPUBuffer | null;
  readonly #hash: Hash;
  readonly #spec: IndexSpec;
  #indices: Uint32Array | undefined;
  #signs: Int8Array | null | undefined;
  readonly #procedural: { family: ProceduralHash["family"]; buffers: ProceduralSlotBuffers } | null;
  // A user family's WGSL rule, checked against its TypeScript rule before the first plan.
  #customCheck: Promise<void> | (() => Promise<void>) | null = null;
  readonly #biasData: GPUBuffer;
  readonly #tile?: Tile | TileMode;
  readonly #inverse: { offsets: GPUBuffer; ranks: GPUBuffer; entries: number } | null;
  // Every adapter-dependent choice of the plans (`plan_policy.ts`).
  readonly #policy: AdapterPolicy;
  readonly #modes: LayerModes;
  // The written-out virtual weights, shared by every plan (batch size) of the layer.
  #virtualWeights: GPUBuffer | null = null;
  // The weights transposed for the input gradient, shared likewise.
  #transposedWeights: GPUBuffer | null = null;

  /** Builds the layer: evaluates the hash, initialises and uploads the table. */
  constructor(gpu: Gpu, options: ArbLinearOptions) {
    super();
    this.#gpu = gpu;
    this.#tile = options.tile;
    const config = resolveConfig(options);
    this.config = config;
    const name = options.name ?? "arblinear";
    if (typeof name !== "string" || name === "") invalidOption("name", name, "a non-empty string");
    this.name = name;
    checkLayerMemory(gpu, name, config, options);
    const spec = {
      rows: config.inFeatures,
      cols: config.outFeatures,
      tableSize: config.tableSize,
      sparsity: config.sparsity,
      seed: config.seed,
    };
    this.#hash = options.hash;
    this.#spec = spec;
    const dense = this.isDense;
    if (options.procedural === true) {
      // Nothing per position, on the GPU or the host: see `indices`.
      const p = proceduralHash(options.hash, spec);
      const buffers: ProceduralSlotBuffers = { hashParams: gpu.uniform(p.params, `${name}.hash`) };
      if (p.alias) {
        buffers.aliasThreshold = gpu.upload(p.alias.threshold, `${name}.alias_threshold`);
        buffers.aliasTarget = gpu.upload(p.alias.alias, `${name}.alias_target`);
      }
      this.#procedural = { family: p.family, buffers };
      if (p.wgsl !== null) {
        const key = p.family as `custom:${string}`;
        defineCustomSlots(key, p.wgsl);
        this.#customCheck = () => checkCustomSlots(gpu, options.hash, spec, key, buffers);
      }
      this.#slots = null;
    } else {
      this.#procedural = null;
      const host = this.#hostSlots();
      this.#slots = dense
        ? null
        : gpu.upload(packSlotWords(host.indices, host.signs), `${name}.slots`);
    }
    this.#policy = adapterPolicy(gpu.adapter);
    this.#modes = resolveLayerModes(
      options,
      { dense, procedural: this.#procedural !== null },
      this.#policy,
    );
    if (this.#modes.inverseIndex) {
      const inv = inverseIndex(this.#indices!, this.#signs ?? null, config.tableSize);
      this.#inverse = {
        offsets: gpu.upload(inv.offsets, `${name}.inverse_offsets`),
        ranks: gpu.upload(inv.ranks, `${name}.inverse_ranks`),
        entries: inv.positions.length,
      };
    } else {
      this.#inverse = null;
    }
    this.table = options.table
      ? sharedTable(gpu, options.table, dense, this.description)
      : new Parameter(
        gpu,
        `${name}.table`,
        initTable(config, dense ? 0 : 1, hashFanIn(options.hash, spec)),
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

  /** The hash this layer was built with (option `hash`). */
  get hash(): Hash {
    return this.#hash;
  }

  /** How errors name this layer, e.g. `ArbLinear layer0 (784×1000, uniform hash)`. */
  get description(): string {
    const c = this.config;
    const procedural = this.#procedural ? ", procedural" : "";
    return `ArbLinear ${this.name} (${c.inFeatures}×${c.outFeatures}, ${c.hash.family} hash${procedural})`;
  }

  /**
   * Slot per position (`tableSize` = zero slot), as the hash produced it.
   * A procedural layer computes it on the CPU at the first read (4 bytes
   * per position on the host: 4 GB for 10^9 positions) and keeps it.
   */
  get indices(): Uint32Array {
    return this.#indices ?? this.#hostSlots().indices;
  }

  /**
   * Positions per slot (`tableSize + 1` counts, the zero slot last), for
   * occupancy entropy. A procedural layer counts them from the hash's
   * per-position rules without building {@linkcode ArbLinear.indices}: host
   * memory stays O(tableSize).
   */
  get slotCounts(): Uint32Array {
    if (this.#procedural && !this.#indices) return proceduralSlotCounts(this.#hash, this.#spec);
    return slotCounts(this.indices, this.config.tableSize);
  }

  /**
   * Sign per position (±1) as the hash produced it, or null when the family
   * has no sign hash. Computed at the first read by a procedural layer, as
   * {@linkcode ArbLinear.indices}.
   */
  get signs(): Int8Array | null {
    return this.#signs !== undefined ? this.#signs : this.#hostSlots().signs;
  }

  /** Evaluates the hash on the host, once, refusing output that is not a valid slot map. */
  #hostSlots(): { indices: Uint32Array; signs: Int8Array | null } {
    const indices = this.#hash.indices(this.#spec);
    const signs = this.#hash.signs(this.#spec);
    checkHashOutput(this.#hash.family, this.#spec, indices, signs);
    this.#indices = indices;
    this.#signs = signs;
    return { indices, signs };
  }

  #virtualBuffer(gpu: Gpu): GPUBuffer {
    const c = this.config;
    return this.#virtualWeights ??= gpu.buffer(
      4 * c.inFeatures * c.outFeatures,
      `${this.name}.virtual_weights`,
    );
  }

  /** Whether the table gradient avoids atomics (option `deterministic`). */
  get deterministic(): boolean {
    return this.#inverse !== null || this.isDense;
  }

  /** Whether the kernels recompute the slots from the seed (option `procedural`). */
  get procedural(): boolean {
    return this.#procedural !== null;
  }

  /**
   * True when the hash is the identity with no zero slot: the table *is* the
   * weight matrix, so the kernels read it directly and skip the slot buffer.
   */
  get isDense(): boolean {
    return isDenseHash(this.#hash) && this.config.sparsity === 0;
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
    expectFeatures(x, c.inFeatures, this.description);
    if (typeof this.#customCheck === "function") this.#customCheck = this.#customCheck();
    await this.#customCheck;
    const rows = x.rows;
    const relu = options.fuseRelu === true;
    const maxRows = Math.floor(bindableBytes(gpu).max / (4 * c.outFeatures));
    checkBindable(
      gpu,
      `${this.description}: its output for a batch of ${rows} rows`,
      4 * rows * c.outFeatures,
      `use a batch of at most ${maxRows} rows`,
    );
    const forwardOnly = options.forwardOnly === true;
    const out = allocActivation(gpu, rows, c.outFeatures, `${this.name}.out`, !forwardOnly);
    // Every choice below is the plan's; this method allocates and binds.
    const plan = planArbLinear({
      rows,
      inFeatures: c.inFeatures,
      outFeatures: c.outFeatures,
      tableSize: c.tableSize,
      dense: this.isDense,
      procedural: this.#procedural !== null,
      slots: this.#procedural?.family,
      ...this.#modes,
      relu,
      inputGrad: x.grad !== null,
    }, this.#policy);
    // Each product gets its own tile, per variant and shape.
    const v = async ({ variant, shape }: PlannedProduct): Promise<PlannedProduct> => {
      let tile = typeof this.#tile === "string"
        ? await chooseTile(gpu, variant, shape, this.#tile)
        : this.#tile;
      if (tile?.window && windowMisfit(variant, shape, tile, gpu.limits)) tile = DEFAULT_TILE;
      return { variant: { ...variant, tile }, shape };
    };
    const slots = { slots: this.#slots ?? undefined, ...this.#procedural?.buffers };
    const launch = async (p: PlannedProduct, buffers: Parameters<typeof matmulLaunch>[3]) =>
      await matmulLaunch(gpu, p.variant, p.shape, buffers);

    // Materialised: one pass writes V, and the two products that read
    // weights run dense on it.
    const virtual = plan.materialize ? this.#virtualBuffer(gpu) : null;
    const gather = virtual
      ? (await elementwiseLaunch(gpu, "gather_weights", c.inFeatures * c.outFeatures, {
        slots: this.#slots!,
        table: this.table.data,
        weights: virtual,
      })).launch
      : null;
    const weightBuffers = virtual ? { b: virtual } : { b: this.table.data, ...slots };
    const forward = await launch(
      await v(plan.forward),
      { a: x.buffer, ...weightBuffers, c: out.buffer, bias: this.#biasData },
    );
    const forwardPass = () => {
      if (gather) gpu.dispatch(gather);
      gpu.dispatch(forward);
    };
    if (forwardOnly) {
      return {
        output: out,
        forward: forwardPass,
        backward: () => {
          throw forwardOnlyError(this.description);
        },
      };
    }
    // With a fused ReLU the gradient before the activation needs its own buffer.
    const dPre = relu
      ? gpu.buffer(activationBytes(rows, c.outFeatures), "arblinear.dpre")
      : out.grad!;
    const reluBack = relu
      ? (await elementwiseLaunch(gpu, "relu_backward", rows * c.outFeatures, {
        y: out.buffer,
        dy: out.grad!,
        dx: dPre,
      })).launch
      : null;
    // Table gradient: the dense product Xᵀ·dY written straight into the
    // gradient (dense hash), scattered into it by atomic adds, or
    // (deterministic) written signed into inverse-index order, one entry per
    // position plus a sink for the zero slot, then summed per slot.
    const inverse = this.#inverse;
    // Whole vec4s: segment_sum reads the entries four at a time.
    const entries = inverse
      ? gpu.buffer(Math.ceil((inverse.entries + 1) / 4) * 16, "arblinear.xtdy")
      : null;
    // Where the policy says so the product reads a transposed copy of X by
    // rows (plan.transposeInput), which admits window tiles.
    const stride = plan.xStride;
    const grad = await v(plan.tableGrad);
    const xt = plan.transposeInput
      ? gpu.buffer(
        tileRows(grad.variant.tile ?? DEFAULT_TILE, grad.shape, gpu.limits) * stride * 4,
        `${this.name}.xt`,
      )
      : null;
    const transpose = xt
      ? await transposeLaunch(gpu, x.buffer, xt, rows, c.inFeatures, stride)
      : null;
    const a = xt ?? x.buffer;
    // The scatter adds into the gradient; the other paths overwrite it.
    const scatters = !this.isDense && !inverse;
    const tableWrite = await gradWrite(
      gpu,
      this.table,
      scatters ? "add" : "overwrite",
      this.description,
    );
    const tableGrad = await launch(
      grad,
      inverse
        ? { a, b: dPre, slots: inverse.ranks, c: entries! }
        : { a, b: dPre, ...slots, c: tableWrite.target },
    );
    const segmentSum = inverse
      ? await segmentSumLaunch(
        gpu,
        { entries: entries!, offsets: inverse.offsets, grad: tableWrite.target },
        c.tableSize,
      )
      : null;
    const biasWrite = this.bias
      ? await gradWrite(gpu, this.bias, "overwrite", this.description)
      : null;
    const biasGrad = biasWrite
      ? await biasGradLaunch(gpu, rows, c.outFeatures, dPre, biasWrite.target)
      : null;
    // dX = dY·Wᵀ, reading W by columns, or by rows of a transposed copy
    // (out×in) written just before (plan.transposeWeights).
    const wt = plan.transposeWeights
      ? this.#transposedWeights ??= gpu.buffer(
        4 * c.inFeatures * c.outFeatures,
        `${this.name}.weights_t`,
      )
      : null;
    const transposeWeights = wt
      ? await transposeLaunch(
        gpu,
        virtual ?? this.table.data,
        wt,
        c.inFeatures,
        c.outFeatures,
        c.inFeatures,
      )
      : null;
    const inputGrad: Launch | null = x.grad && plan.inputGrad
      ? await launch(
        await v(plan.inputGrad),
        { a: dPre, ...(wt ? { b: wt } : weightBuffers), c: x.grad },
      )
      : null;
    return {
      output: out,
      forward: forwardPass,
      backward: () => {
        if (reluBack) gpu.dispatch(reluBack);
        if (transpose) gpu.dispatch(transpose);
        tableWrite.before();
        gpu.dispatch(tableGrad);
        if (segmentSum) gpu.dispatch(segmentSum);
        tableWrite.after();
        if (biasGrad) {
          biasWrite!.before();
          gpu.dispatch(biasGrad);
          biasWrite!.after();
        }
        if (transposeWeights) gpu.dispatch(transposeWeights);
        if (inputGrad) gpu.dispatch(inputGrad);
      },
    };
  }
}

/** Options of {@linkcode Linear}: an ArbLinear without hash options. */
export type LinearOptions = Omit<
  ArbLinearOptions,
  "hash" | "tableSize" | "tableFraction" | "sparsity" | "procedural"
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
