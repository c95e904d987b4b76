/**
 * Launchers of the element-wise kernels (`elementwise.wgsl` + one piece of
 * `elementwise_ops.wgsl` each). {@linkcode ELEMENTWISE_OPS} is the table that
 * says, per op, which buffers bind where and which uniform fields it takes;
 * tests iterate over the same table. CPU oracles: `elementwise_ref.ts`.
 *
 * Layer: kernels; imports `lib/gpu` only.
 * @module
 */

import type { Gpu, Launch } from "../lib/gpu/device.ts";
import { piece } from "./pieces.ts";
import { WGSL } from "./wgsl.ts";

/** One element-wise op: its storage bindings (1, 2, …) and uniform fields after `n`. */
export interface ElementwiseOp {
  /** Buffer roles in binding order, starting at binding 1. */
  readonly buffers: readonly string[];
  /** Uniform fields after `n`, in order, with their WGSL type. */
  readonly params: readonly (readonly [string, "f32" | "u32"])[];
  /** Pieces of other `.wgsl` files the op calls, as `[file, piece]`, prepended to it. */
  readonly uses?: readonly (readonly [string, string])[];
  /**
   * Written over the element type `T` (see elementwise_ops.wgsl): runs on
   * vec4s when the count is a multiple of 4.
   */
  readonly vectorizable?: boolean;
  /**
   * Also maps a per-lane `fn lane(u32) -> f32` over `W`, the u32 counterpart
   * of `T` (a gather on vec4s pays lavapipe's per-invocation cost once per
   * four elements). Needs `vectorizable`.
   */
  readonly perLane?: boolean;
  /**
   * Updates a parameter and calls `watch(w)` on every value it writes, so a
   * launch can fuse the divergence watch into it (see
   * {@linkcode ElementwiseWatch}). Needs `vectorizable`.
   */
  readonly watchable?: boolean;
}

/**
 * Where a `watchable` op records that it wrote a NaN or an infinity: word
 * `1 + slot` of `flags` is lowered to word 0, the current step (the layout
 * of `nonfinite.wgsl`'s flags, so the trainer's watch reads both alike).
 */
export interface ElementwiseWatch {
  /** The flag words. */
  readonly flags: GPUBuffer;
  /** This tensor's flag, after the step word. */
  readonly slot: number;
}

/**
 * Elements each invocation takes, 256 apart (elementwise.wgsl): lavapipe
 * pays per invocation, and four passes measured faster than one or two on
 * every op of a training step (docs/performance.md). On GPUs the loop costs little: neighbours still touch
 * neighbouring words.
 */
export const ELEMENTWISE_PASSES = 4;

/** The op table. Names match the pieces in `elementwise_ops.wgsl`. */
export const ELEMENTWISE_OPS = {
  relu_forward: { buffers: ["x", "y"], params: [], vectorizable: true },
  relu_backward: { buffers: ["y", "dy", "dx"], params: [], vectorizable: true },
  tanh_forward: { buffers: ["x", "y"], params: [], vectorizable: true },
  tanh_backward: { buffers: ["y", "dy", "dx"], params: [], vectorizable: true },
  accumulate: { buffers: ["x", "y"], params: [], vectorizable: true },
  rnn_step_forward: { buffers: ["a", "u", "h"], params: [["offset", "u32"]], vectorizable: true },
  rnn_step_backward: {
    buffers: ["h", "dh", "da", "du"],
    params: [["offset", "u32"]],
    vectorizable: true,
  },
  time_major: {
    buffers: ["x", "y"],
    params: [["batch", "u32"], ["steps", "u32"], ["features", "u32"]],
  },
  sgd: {
    vectorizable: true,
    watchable: true,
    buffers: ["grad", "weight", "velocity"],
    params: [["lr", "f32"], ["momentum", "f32"], ["weight_decay", "f32"], ["nesterov", "u32"]],
  },
  adam: {
    vectorizable: true,
    watchable: true,
    buffers: ["grad", "weight", "m1", "m2"],
    params: [
      ["lr", "f32"],
      ["beta1", "f32"],
      ["beta2", "f32"],
      ["eps", "f32"],
      ["weight_decay", "f32"],
      ["correction1", "f32"],
      ["correction2", "f32"],
    ],
  },
  segment_sum: { buffers: ["g", "offsets", "grad"], params: [["slots", "u32"]] },
  transpose: {
    buffers: ["x", "xt"],
    params: [["rows", "u32"], ["features", "u32"], ["stride", "u32"]],
    uses: [["elementwise_ops.wgsl", "transpose_params"]],
  },
  transpose_blocks: {
    buffers: ["x", "xt"],
    params: [["rows", "u32"], ["features", "u32"], ["stride", "u32"]],
    uses: [["elementwise_ops.wgsl", "transpose_params"]],
  },
  gather_weights: {
    buffers: ["slots", "table", "weights"],
    params: [],
    vectorizable: true,
    perLane: true,
    uses: [["matmul_pieces.wgsl", "slot_codec"]],
  },
} as const satisfies Record<string, ElementwiseOp>;

/** Name of an element-wise op. */
export type ElementwiseName = keyof typeof ELEMENTWISE_OPS;

const WORKGROUP = 256;

/**
 * Grid covering `n` elements with 256-wide workgroups, each invocation
 * taking `perInvocation` of them, spilling into y past the x limit.
 */
export function elementwiseGrid(
  n: number,
  maxPerDim = 65535,
  perInvocation = 1,
): [number, number, number] {
  const groups = Math.ceil(n / (WORKGROUP * perInvocation));
  if (groups <= maxPerDim) return [groups, 1, 1];
  return [maxPerDim, Math.ceil(groups / maxPerDim), 1];
}

/**
 * Elements per invocation for an op over `n` elements: 4 (vec4 loads and
 * stores) for a vectorizable op when `n` is a multiple of 4, else 1.
 */
export function elementwiseWidth(name: ElementwiseName, n: number): 1 | 4 {
  const op: ElementwiseOp = ELEMENTWISE_OPS[name];
  return op.vectorizable && n % 4 === 0 ? 4 : 1;
}

/** Encodes an op's uniform (the invocation count `n`, then its params) as 32-bit words. */
export function elementwiseUniform(
  name: ElementwiseName,
  n: number,
  values: Record<string, number>,
): ArrayBuffer {
  const op: ElementwiseOp = ELEMENTWISE_OPS[name];
  const words = Math.max(4, Math.ceil((1 + op.params.length) / 4) * 4);
  const data = new ArrayBuffer(words * 4);
  const u = new Uint32Array(data);
  const f = new Float32Array(data);
  u[0] = n;
  op.params.forEach(([field, type], i) => {
    const v = values[field];
    if (v === undefined) throw new Error(`${name} needs parameter ${field}`);
    if (type === "u32") u[i + 1] = v;
    else f[i + 1] = v;
  });
  return data;
}

/** An element-wise launch plus its uniform buffer, for ops whose parameters change (lr, Adam's t). */
export interface ElementwiseLaunch {
  /** Record with `gpu.dispatch(launch)`. */
  readonly launch: Launch;
  /**
   * Rewrites the uniform parameters. Lands before the next submit, so it
   * also affects this op's dispatches recorded since the last submit.
   */
  setParams(values: Record<string, number>): void;
}

/**
 * First binding of a fused watch (elementwise_ops.wgsl watch_on: its slot
 * uniform, then the flags), past every op's own.
 */
const WATCH_BINDING = 6;

/**
 * Compiles (cached) and binds an element-wise op over `n` elements.
 * `buffers` are keyed by the op's roles (see {@linkcode ELEMENTWISE_OPS}).
 * A `watchable` op given `watch` also records there whether it wrote a NaN
 * or an infinity.
 */
export async function elementwiseLaunch(
  gpu: Gpu,
  name: ElementwiseName,
  n: number,
  buffers: Record<string, GPUBuffer>,
  values: Record<string, number> = {},
  watch?: ElementwiseWatch,
): Promise<ElementwiseLaunch> {
  const op: ElementwiseOp = ELEMENTWISE_OPS[name];
  if (watch && !op.watchable) throw new Error(`${name} writes no parameter to watch`);
  const width = elementwiseWidth(name, n);
  const count = n / width;
  const passes = ELEMENTWISE_PASSES;
  const source = [
    `const PASSES: u32 = ${passes}u;`,
    ...(op.uses ?? []).map(([file, part]) => piece(file, part)),
    ...(op.vectorizable
      ? [piece("elementwise_ops.wgsl", width === 4 ? "elem_vec4" : "elem_scalar")]
      : []),
    ...(op.perLane
      ? [piece("elementwise_ops.wgsl", width === 4 ? "lanes_vec4" : "lanes_scalar")]
      : []),
    ...(op.watchable
      ? watch
        ? [piece("nonfinite.wgsl", "nonfinite_test"), piece("elementwise_ops.wgsl", "watch_on")]
        : [piece("elementwise_ops.wgsl", "watch_off")]
      : []),
    piece("elementwise_ops.wgsl", name),
    WGSL["elementwise.wgsl"],
  ].join("\n");
  const program = await gpu.program(
    `elementwise[${name}${width === 4 ? ",vec4" : ""},${passes}${watch ? ",watched" : ""}]`,
    source,
  );
  const uniform = gpu.upload(
    new Uint8Array(elementwiseUniform(name, count, values)),
    `${name} params`,
    GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST,
  );
  const bound = op.buffers.map((role) => {
    const b = buffers[role];
    if (!b) throw new Error(`${name} needs a ${role} buffer`);
    return b;
  });
  const bindings: (GPUBuffer | null)[] = [uniform, ...bound];
  if (watch) {
    while (bindings.length < WATCH_BINDING) bindings.push(null);
    bindings.push(gpu.uniform([watch.slot, 0, 0, 0], `${name} watch slot`), watch.flags);
  }
  const launch = gpu.bind(
    program,
    bindings,
    elementwiseGrid(count, gpu.limits.maxComputeWorkgroupsPerDimension, passes),
  );
  return {
    launch,
    setParams: (v) =>
      gpu.write(uniform, new Uint8Array(elementwiseUniform(name, count, v)), 0, false),
  };
}

/**
 * Slots each `segment_sum` invocation sums: its piece in elementwise_ops.wgsl
 * is written for four, and says why.
 */
export const SEGMENT_SUM_SLOTS = 4;

/**
 * Binds the per-slot sum of the deterministic table gradient (oracle
 * `segmentSumRef`): `grad[k]` for the `slots` slots of the CSR `offsets`
 * (`slots + 1` words) over the `entries` the permuted store wrote, allocated
 * in whole vec4s.
 */
export async function segmentSumLaunch(
  gpu: Gpu,
  buffers: { entries: GPUBuffer; offsets: GPUBuffer; grad: GPUBuffer },
  slots: number,
): Promise<Launch> {
  const { launch } = await elementwiseLaunch(
    gpu,
    "segment_sum",
    Math.ceil(slots / SEGMENT_SUM_SLOTS),
    { g: buffers.entries, offsets: buffers.offsets, grad: buffers.grad },
    { slots },
  );
  return launch;
}

/**
 * Binds Xᵀ of a rows×features activation `x` into `xt`, rows of Xᵀ `stride`
 * words apart (`stride` ≥ rows; oracle `transposeRef`): the 4×4-block form
 * where features and stride are multiples of 4 (it also zeroes the gap past
 * `rows`), else one element per invocation (the gap left as it was).
 */
export async function transposeLaunch(
  gpu: Gpu,
  x: GPUBuffer,
  xt: GPUBuffer,
  rows: number,
  features: number,
  stride: number,
): Promise<Launch> {
  const values = { rows, features, stride };
  const blocks = features % 4 === 0 && stride % 4 === 0;
  const { launch } = blocks
    ? await elementwiseLaunch(gpu, "transpose_blocks", features * stride / 16, { x, xt }, values)
    : await elementwiseLaunch(gpu, "transpose", rows * features, { x, xt }, values);
  return launch;
}

/**
 * Binds one RNN step over its `n` values (`rnn_step_forward`, oracle
 * `rnnStepForwardRef`, or `rnn_step_backward`), the step's block of the
 * input products `u` (or their gradient `du`) starting at value `offset`, a
 * multiple of `n`.
 */
export async function rnnStepLaunch(
  gpu: Gpu,
  name: "rnn_step_forward" | "rnn_step_backward",
  n: number,
  offset: number,
  buffers: Record<string, GPUBuffer>,
): Promise<Launch> {
  // The kernel counts in its element type: vec4s when n is a multiple of 4.
  const width = elementwiseWidth(name, n);
  const { launch } = await elementwiseLaunch(gpu, name, n, buffers, { offset: offset / width });
  return launch;
}
