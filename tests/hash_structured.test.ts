/**
 * The structured families are what they claim: `conv2d`'s virtual matrix
 * computes a 2-D convolution, `recurrent`'s unrolled matrix computes an RNN.
 * @module
 */

import assert from "node:assert/strict";
import {
  type Conv2dOptions,
  conv2dOutputSize,
  conv2dShape,
  conv2dSlot,
  hashes,
  recurrentShape,
  recurrentSlot,
} from "../lib/hash/mod.ts";
import { Rng } from "../lib/util/random.ts";

/** `x · V` with `V[i, j] = table[idx[i·cols + j]]`, or 0 in the zero slot. */
function vecTimesVirtual(
  x: Float64Array,
  idx: Uint32Array,
  table: Float64Array,
  rows: number,
  cols: number,
): Float64Array {
  const y = new Float64Array(cols);
  for (let i = 0; i < rows; i++) {
    for (let j = 0; j < cols; j++) {
      const k = idx[i * cols + j];
      if (k < table.length) y[j] += x[i] * table[k];
    }
  }
  return y;
}

/** Direct cross-correlation with zero padding; weight[o][c][dy][dx], images C×H×W. */
function directConv2d(x: Float64Array, w: Float64Array, o: Required<Conv2dOptions>): Float64Array {
  const { inChannels: ci, outChannels: co, kernel: k, stride, padding, height, width } = o;
  const ho = Math.floor((height + 2 * padding - k) / stride) + 1;
  const wo = Math.floor((width + 2 * padding - k) / stride) + 1;
  const y = new Float64Array(co * ho * wo);
  for (let oc = 0; oc < co; oc++) {
    for (let yo = 0; yo < ho; yo++) {
      for (let xo = 0; xo < wo; xo++) {
        let acc = 0;
        for (let c = 0; c < ci; c++) {
          for (let dy = 0; dy < k; dy++) {
            for (let dx = 0; dx < k; dx++) {
              const yi = yo * stride + dy - padding;
              const xi = xo * stride + dx - padding;
              if (yi < 0 || yi >= height || xi < 0 || xi >= width) continue;
              acc += w[((oc * ci + c) * k + dy) * k + dx] * x[(c * height + yi) * width + xi];
            }
          }
        }
        y[(oc * ho + yo) * wo + xo] = acc;
      }
    }
  }
  return y;
}

const CONVS: Required<Conv2dOptions>[] = [
  { inChannels: 3, outChannels: 2, kernel: 3, stride: 2, padding: 1, height: 7, width: 5 },
  { inChannels: 2, outChannels: 3, kernel: 2, stride: 1, padding: 0, height: 5, width: 6 },
  { inChannels: 1, outChannels: 1, kernel: 1, stride: 1, padding: 0, height: 3, width: 3 },
  { inChannels: 2, outChannels: 2, kernel: 3, stride: 3, padding: 2, height: 9, width: 4 },
  { inChannels: 1, outChannels: 2, kernel: 5, stride: 2, padding: 1, height: 3, width: 7 },
  { inChannels: 3, outChannels: 1, kernel: 3, stride: 1, padding: 1, height: 1, width: 1 },
];

Deno.test("conv2d: x · V equals a direct 2-D convolution (odd shapes, stride, padding)", () => {
  const rng = new Rng(3);
  for (const o of CONVS) {
    const { rows, cols, tableSize } = conv2dShape(o);
    const out = conv2dOutputSize(o);
    assert.equal(rows, o.inChannels * o.height * o.width);
    assert.equal(cols, o.outChannels * out.height * out.width);
    assert.equal(tableSize, o.outChannels * o.inChannels * o.kernel * o.kernel);
    const idx = hashes.conv2d(o).indices({ rows, cols, tableSize, seed: 0 });
    const table = Float64Array.from({ length: tableSize }, () => rng.normal());
    const x = Float64Array.from({ length: rows }, () => rng.normal());
    const got = vecTimesVirtual(x, idx, table, rows, cols);
    const want = directConv2d(x, table, o);
    assert.equal(got.length, want.length);
    for (let j = 0; j < cols; j++) {
      assert.ok(Math.abs(got[j] - want[j]) <= 1e-12 * (1 + Math.abs(want[j])), JSON.stringify(o));
    }
    // Each kernel entry is used by every in-field position, and nowhere else.
    let used = 0;
    for (const k of idx) if (k < tableSize) used++;
    let expected = 0;
    for (let yo = 0; yo < out.height; yo++) {
      for (let xo = 0; xo < out.width; xo++) {
        for (let dy = 0; dy < o.kernel; dy++) {
          for (let dx = 0; dx < o.kernel; dx++) {
            const yi = yo * o.stride + dy - o.padding;
            const xi = xo * o.stride + dx - o.padding;
            if (yi >= 0 && yi < o.height && xi >= 0 && xi < o.width) expected++;
          }
        }
      }
    }
    assert.equal(used, expected * o.inChannels * o.outChannels);
  }
});

Deno.test("conv2d: the per-position rule conv2dSlot matches indices()", () => {
  for (const o of CONVS) {
    const shape = conv2dShape(o);
    const idx = hashes.conv2d(o).indices({ ...shape, seed: 0 });
    for (let p = 0; p < idx.length; p++) assert.equal(conv2dSlot(p, o), idx[p]);
  }
});

Deno.test("conv2d: stride and padding default to 1 and 0", () => {
  const o = { inChannels: 1, outChannels: 1, kernel: 3, height: 6, width: 5 };
  assert.deepEqual(conv2dOutputSize(o), { height: 4, width: 3 });
  const shape = conv2dShape(o);
  assert.deepEqual(
    hashes.conv2d(o).indices({ ...shape, seed: 0 }),
    hashes.conv2d({ ...o, stride: 1, padding: 0 }).indices({ ...shape, seed: 0 }),
  );
});

Deno.test("recurrent: tanh(z · V) applied T times reproduces T steps of h ← tanh(h · W_hh)", () => {
  const rng = new Rng(11);
  for (const [hidden, steps] of [[5, 4], [1, 3], [7, 1], [3, 9]]) {
    const { rows, cols, tableSize } = recurrentShape({ hidden, steps });
    assert.equal(rows, hidden * (steps + 1));
    assert.equal(cols, rows);
    assert.equal(tableSize, hidden * hidden);
    const idx = hashes.recurrent({ hidden, steps }).indices({ rows, cols, tableSize, seed: 0 });
    // W_hh[a, b] = table[a·hidden + b], scaled so tanh stays away from saturation.
    const table = Float64Array.from({ length: tableSize }, () => rng.normal() * 0.6);
    const h0 = Float64Array.from({ length: hidden }, () => rng.normal());

    // Plain RNN cell, T steps.
    let h = h0.slice();
    for (let t = 0; t < steps; t++) {
      const next = new Float64Array(hidden);
      for (let b = 0; b < hidden; b++) {
        let acc = 0;
        for (let a = 0; a < hidden; a++) acc += h[a] * table[a * hidden + b];
        next[b] = Math.tanh(acc);
      }
      h = next;
    }

    // ArbNet view: state block 0 holds h_0; T applications of the unrolled matrix.
    let z = new Float64Array(rows);
    z.set(h0, 0);
    for (let t = 0; t < steps; t++) z = vecTimesVirtual(z, idx, table, rows, cols).map(Math.tanh);

    for (let b = 0; b < hidden; b++) {
      assert.ok(
        Math.abs(z[steps * hidden + b] - h[b]) <= 1e-12,
        `hidden ${hidden}, steps ${steps}`,
      );
    }
    for (let i = 0; i < steps * hidden; i++) assert.equal(z[i], 0, "earlier blocks are tanh(0)");
    let used = 0;
    for (const k of idx) if (k < tableSize) used++;
    assert.equal(used, steps * hidden * hidden, "exactly T copies of W_hh");
  }
});

Deno.test("recurrent: the per-position rule recurrentSlot matches indices()", () => {
  const o = { hidden: 3, steps: 4 };
  const idx = hashes.recurrent(o).indices({ ...recurrentShape(o), seed: 0 });
  for (let p = 0; p < idx.length; p++) assert.equal(recurrentSlot(p, o), idx[p]);
});
