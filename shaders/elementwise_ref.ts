/**
 * CPU oracles of the element-wise ops, mirroring `elementwise_ops.wgsl`
 * in float32 (Math.fround after every operation the GPU rounds).
 * @module
 */

import { signedEntry } from "./matmul_ref.ts";

const f = Math.fround;

/** ReLU forward. */
export function reluForwardRef(x: Float32Array): Float32Array {
  return x.map((v) => Math.max(v, 0));
}

/** ReLU backward from the forward output. */
export function reluBackwardRef(y: Float32Array, dy: Float32Array): Float32Array {
  return dy.map((g, i) => (y[i] > 0 ? g : 0));
}

/** tanh forward (the input clamped to ±15, as the kernel). */
export function tanhForwardRef(x: Float32Array): Float32Array {
  return x.map((v) => Math.tanh(Math.min(Math.max(v, -15), 15)));
}

/** tanh backward from the forward output: dy·(1 − y²). */
export function tanhBackwardRef(y: Float32Array, dy: Float32Array): Float32Array {
  return dy.map((g, i) => f(g * f(1 - f(y[i] * y[i]))));
}

/** `accumulate`: y + x. */
export function accumulateRef(x: Float32Array, y: Float32Array): Float32Array {
  return y.map((v, i) => f(v + x[i]));
}

/** `rnn_step_forward`: tanh(a + u[offset + i]) over a's length. */
export function rnnStepForwardRef(a: Float32Array, u: Float32Array, offset: number): Float32Array {
  return tanhForwardRef(a.map((v, i) => f(v + u[offset + i])));
}

/** `time_major`: `batch` sequences of `steps` frames of `features` values, reordered by step. */
export function timeMajorRef(
  x: Float32Array,
  batch: number,
  steps: number,
  features: number,
): Float32Array {
  const y = new Float32Array(x.length);
  for (let b = 0; b < batch; b++) {
    for (let t = 0; t < steps; t++) {
      for (let k = 0; k < features; k++) {
        y[(t * batch + b) * features + k] = x[(b * steps + t) * features + k];
      }
    }
  }
  return y;
}

/** SGD hyper-parameters (see the `sgd` piece). */
export interface SgdRefParams {
  /** Learning rate. */
  lr: number;
  /** Momentum μ. */
  momentum: number;
  /** L2 weight decay λ. */
  weight_decay: number;
  /** 1 for Nesterov momentum. */
  nesterov: number;
}

/** One SGD step in place on `weight` and `velocity`. */
export function sgdRef(
  grad: Float32Array,
  weight: Float32Array,
  velocity: Float32Array,
  p: SgdRefParams,
): void {
  for (let i = 0; i < weight.length; i++) {
    const g = f(grad[i] + f(p.weight_decay * weight[i]));
    const v = f(f(p.momentum * velocity[i]) + g);
    velocity[i] = v;
    const step = p.nesterov ? f(g + f(p.momentum * v)) : v;
    weight[i] = f(weight[i] - f(p.lr * step));
  }
}

/** Adam hyper-parameters (see the `adam` piece). */
export interface AdamRefParams {
  /** Learning rate. */
  lr: number;
  /** β1. */
  beta1: number;
  /** β2. */
  beta2: number;
  /** ε. */
  eps: number;
  /** L2 weight decay. */
  weight_decay: number;
  /** 1 − β1^t. */
  correction1: number;
  /** 1 − β2^t. */
  correction2: number;
}

/** One Adam step in place on `weight`, `m1`, `m2`. */
export function adamRef(
  grad: Float32Array,
  weight: Float32Array,
  m1: Float32Array,
  m2: Float32Array,
  p: AdamRefParams,
): void {
  // The GPU receives float32 hyper-parameters and computes 1 − β in float32.
  const b1 = f(p.beta1), b2 = f(p.beta2), wd = f(p.weight_decay);
  for (let i = 0; i < weight.length; i++) {
    const g = f(grad[i] + f(wd * weight[i]));
    const m = f(f(b1 * m1[i]) + f(f(1 - b1) * g));
    const v = f(f(b2 * m2[i]) + f(f(f(1 - b2) * g) * g));
    m1[i] = m;
    m2[i] = v;
    weight[i] = weight[i] - f(p.lr) * (m / f(p.correction1)) /
        (Math.sqrt(v / f(p.correction2)) + f(p.eps));
  }
}

/**
 * What the permuted store leaves for `segment_sum`: entry e of the inverse
 * index holds ξ(p)·g[p] for the position p of `positions[e]`.
 */
export function permuteRef(g: Float32Array, positions: Uint32Array): Float32Array {
  return Float32Array.from(positions, (word) => {
    const v = g[word & 0x7fffffff];
    return word >>> 31 ? -v : v;
  });
}

/**
 * `segment_sum`: grad[k] = Σ entries of slot k, in entry order (float32
 * sums), over the aligned groups of four entries that cover the slot's
 * range, the entries outside it added as zeros (as the kernel reads vec4s).
 * The kernel adds zeros over its four slots' groups too; a float32 sum from
 * +0 is never −0, so adding +0 to it changes no bit.
 */
export function segmentSumRef(entries: Float32Array, offsets: Uint32Array): Float32Array {
  const slots = offsets.length - 1;
  const out = new Float32Array(slots);
  for (let k = 0; k < slots; k++) {
    const [lo, hi] = [offsets[k], offsets[k + 1]];
    let sum = 0;
    for (let e = lo - (lo % 4); e < hi || e % 4 !== 0; e++) {
      sum = f(sum + (e >= lo && e < hi ? entries[e] : 0));
    }
    out[k] = sum;
  }
  return out;
}

/** `gather_weights`: the virtual weights ξ(p)·table[h(p)] from slot words. */
export function gatherWeightsRef(slots: Uint32Array, table: Float32Array): Float32Array {
  return Float32Array.from(slots, (word) => signedEntry(table, word));
}

/** `transpose`: Xᵀ of a rows×features X, rows `stride` apart, the gap zero. */
export function transposeRef(
  x: Float32Array,
  rows: number,
  features: number,
  stride: number,
): Float32Array {
  const xt = new Float32Array(features * stride);
  for (let k = 0; k < rows; k++) {
    for (let m = 0; m < features; m++) xt[m * stride + k] = x[k * features + m];
  }
  return xt;
}
