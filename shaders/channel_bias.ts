/**
 * Launchers of `channel_bias.wgsl`: a per-channel bias on a channel-major
 * activation (feature `c·pixels + p` gets `bias[c]`) and its gradient. CPU
 * oracles: {@linkcode channelBiasRef}, {@linkcode channelBiasGradRef}; test:
 * `tests/cnn.test.ts`.
 *
 * Layer: kernels; imports `lib/gpu` only.
 * @module
 */

import type { Gpu, Launch } from "../lib/gpu/device.ts";
import { elementwiseGrid } from "./elementwise.ts";
import { piece } from "./pieces.ts";

/** The shape of a channel-major activation: `rows × (channels · pixels)`. */
export interface ChannelShape {
  /** Batch rows. */
  rows: number;
  /** Channels (bias entries). */
  channels: number;
  /** Pixels per channel (e.g. `H'·W'` of a convolution's output). */
  pixels: number;
}

function params(gpu: Gpu, s: ChannelShape): GPUBuffer {
  return gpu.uniform(
    [s.rows * s.channels * s.pixels, s.rows, s.channels, s.pixels],
    "channel_bias params",
  );
}

async function program(gpu: Gpu, part: "forward" | "grad") {
  const source = piece("channel_bias.wgsl", "params") + piece("channel_bias.wgsl", part);
  return await gpu.program(`channel_bias[${part}]`, source);
}

/** Binds `y = x + bias[channel]` over a `rows × channels·pixels` activation. */
export async function channelBiasLaunch(
  gpu: Gpu,
  shape: ChannelShape,
  buffers: { x: GPUBuffer; bias: GPUBuffer; y: GPUBuffer },
): Promise<Launch> {
  const n = shape.rows * shape.channels * shape.pixels;
  return gpu.bind(
    await program(gpu, "forward"),
    [params(gpu, shape), buffers.x, buffers.bias, buffers.y],
    elementwiseGrid(n, gpu.limits.maxComputeWorkgroupsPerDimension),
  );
}

/** Binds `db[c] = Σ_{m,p} dy[m, c·pixels + p]`, one workgroup per channel. */
export async function channelBiasGradLaunch(
  gpu: Gpu,
  shape: ChannelShape,
  buffers: { dy: GPUBuffer; db: GPUBuffer },
): Promise<Launch> {
  return gpu.bind(
    await program(gpu, "grad"),
    [params(gpu, shape), buffers.dy, buffers.db],
    [shape.channels, 1, 1],
  );
}

/** `x + bias[channel]` on the host (float64 sums rounded to float32). */
export function channelBiasRef(
  x: Float32Array,
  bias: ArrayLike<number>,
  s: ChannelShape,
): Float32Array {
  return x.map((v, i) => v + bias[Math.floor(i / s.pixels) % s.channels]);
}

/** Per-channel sums of a `rows × channels·pixels` gradient on the host. */
export function channelBiasGradRef(dy: Float32Array, s: ChannelShape): Float32Array {
  const out = new Float64Array(s.channels);
  for (let i = 0; i < s.rows * s.channels * s.pixels; i++) {
    out[Math.floor(i / s.pixels) % s.channels] += dy[i];
  }
  return Float32Array.from(out);
}
