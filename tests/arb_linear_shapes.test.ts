/**
 * CNNs and RNNs are ArbNets: an ArbLinear built with the conv2d hash must
 * compute a direct convolution (outputs and kernel gradients), and one built
 * with the recurrent hash, applied T times with tanh, a plain RNN cell.
 */
import assert from "node:assert/strict";
import { assertClose, gpuTest, randomF32 } from "./_util.ts";
import { conv2dShape, hashes, recurrentShape } from "../lib/hash/mod.ts";
import { type Activation, ArbLinear } from "../lib/nn/mod.ts";

interface Geometry {
  inChannels: number;
  outChannels: number;
  kernel: number;
  stride: number;
  padding: number;
  height: number;
  width: number;
}

function outSize(g: Geometry) {
  return {
    oh: Math.floor((g.height + 2 * g.padding - g.kernel) / g.stride) + 1,
    ow: Math.floor((g.width + 2 * g.padding - g.kernel) / g.stride) + 1,
  };
}

/** Input pixel (c, y, x) of image b, 0 outside the image (zero padding). */
function pixel(x: Float32Array, g: Geometry, b: number, c: number, y: number, xx: number) {
  if (y < 0 || y >= g.height || xx < 0 || xx >= g.width) return 0;
  return x[((b * g.inChannels + c) * g.height + y) * g.width + xx];
}

/** Direct cross-correlation, PyTorch weight layout [o][c][dy][dx]. */
function conv(x: Float32Array, w: Float32Array, g: Geometry, batch: number): Float64Array {
  const { oh, ow } = outSize(g);
  const y = new Float64Array(batch * g.outChannels * oh * ow);
  for (let b = 0; b < batch; b++) {
    for (let o = 0; o < g.outChannels; o++) {
      for (let i = 0; i < oh; i++) {
        for (let j = 0; j < ow; j++) {
          let s = 0;
          for (let c = 0; c < g.inChannels; c++) {
            for (let dy = 0; dy < g.kernel; dy++) {
              for (let dx = 0; dx < g.kernel; dx++) {
                s += w[((o * g.inChannels + c) * g.kernel + dy) * g.kernel + dx] *
                  pixel(x, g, b, c, i * g.stride - g.padding + dy, j * g.stride - g.padding + dx);
              }
            }
          }
          y[((b * g.outChannels + o) * oh + i) * ow + j] = s;
        }
      }
    }
  }
  return y;
}

/** Kernel gradient of the direct convolution for upstream gradient dy. */
function convKernelGrad(x: Float32Array, dy: Float32Array, g: Geometry, batch: number) {
  const { oh, ow } = outSize(g);
  const dw = new Float64Array(g.outChannels * g.inChannels * g.kernel * g.kernel);
  for (let b = 0; b < batch; b++) {
    for (let o = 0; o < g.outChannels; o++) {
      for (let i = 0; i < oh; i++) {
        for (let j = 0; j < ow; j++) {
          const up = dy[((b * g.outChannels + o) * oh + i) * ow + j];
          for (let c = 0; c < g.inChannels; c++) {
            for (let ky = 0; ky < g.kernel; ky++) {
              for (let kx = 0; kx < g.kernel; kx++) {
                dw[((o * g.inChannels + c) * g.kernel + ky) * g.kernel + kx] += up *
                  pixel(x, g, b, c, i * g.stride - g.padding + ky, j * g.stride - g.padding + kx);
              }
            }
          }
        }
      }
    }
  }
  return dw;
}

const GEOMETRIES: Geometry[] = [
  { inChannels: 1, outChannels: 1, kernel: 1, stride: 1, padding: 0, height: 1, width: 1 },
  { inChannels: 3, outChannels: 5, kernel: 3, stride: 1, padding: 1, height: 7, width: 9 },
  { inChannels: 2, outChannels: 3, kernel: 3, stride: 2, padding: 1, height: 11, width: 6 },
  { inChannels: 1, outChannels: 4, kernel: 5, stride: 1, padding: 0, height: 13, width: 13 },
];

for (const g of GEOMETRIES) {
  gpuTest(`ArbLinear with the conv2d hash is a convolution (${JSON.stringify(g)})`, async (gpu) => {
    const batch = 3;
    const shape = conv2dShape(g);
    const layer = new ArbLinear(gpu, {
      inFeatures: shape.rows,
      outFeatures: shape.cols,
      tableSize: shape.tableSize,
      hash: hashes.conv2d(g),
      bias: false,
    });
    const kernel = randomF32(shape.tableSize, 1);
    layer.table.write(kernel);
    const x = randomF32(batch * shape.rows, 2);
    const input: Activation = {
      buffer: gpu.upload(x, "x"),
      grad: null,
      rows: batch,
      features: shape.rows,
    };
    const plan = await layer.plan(input);
    plan.forward();
    const y = await gpu.readF32(plan.output.buffer, batch * shape.cols);
    assertClose(y, conv(x, kernel, g, batch), { rtol: 1e-5, atol: 1e-5, what: "outputs" });

    const dy = randomF32(batch * shape.cols, 3);
    gpu.write(plan.output.grad!, dy);
    plan.backward();
    assertClose(await layer.table.readGrad(), convKernelGrad(x, dy, g, batch), {
      rtol: 1e-4,
      atol: 1e-5,
      what: "kernel gradient",
    });
  });
}

gpuTest(
  "ArbLinear with the recurrent hash, applied T times with tanh, is an RNN cell",
  async (gpu) => {
    const hidden = 6, steps = 4, batch = 2;
    const shape = recurrentShape({ hidden, steps });
    const layer = new ArbLinear(gpu, {
      inFeatures: shape.rows,
      outFeatures: shape.cols,
      tableSize: shape.tableSize,
      hash: hashes.recurrent({ hidden, steps }),
      bias: false,
    });
    const w = randomF32(hidden * hidden, 4, -0.8, 0.8);
    layer.table.write(w);
    const h0 = randomF32(batch * hidden, 5);
    // z_0 holds h_0 in state block 0 and zeros elsewhere.
    let z = new Float32Array(batch * shape.rows);
    for (let b = 0; b < batch; b++) {
      z.set(
        h0.subarray(b * hidden, (b + 1) * hidden),
        b * shape.rows,
      );
    }
    const buf = gpu.buffer(batch * shape.rows * 4, "z");
    const input: Activation = { buffer: buf, grad: null, rows: batch, features: shape.rows };
    const plan = await layer.plan(input);
    for (let t = 0; t < steps; t++) {
      gpu.write(buf, z);
      plan.forward();
      z = (await gpu.readF32(plan.output.buffer, batch * shape.cols)).map(Math.tanh);
    }
    // The plain cell: h_{t+1} = tanh(h_t · W_hh), T times.
    for (let b = 0; b < batch; b++) {
      let h = Array.from(h0.subarray(b * hidden, (b + 1) * hidden));
      for (let t = 0; t < steps; t++) {
        h = Array.from(
          { length: hidden },
          (_, j) => Math.tanh(h.reduce((s, v, i) => s + v * w[i * hidden + j], 0)),
        );
      }
      const block = z.subarray(
        b * shape.rows + steps * hidden,
        b * shape.rows + (steps + 1) * hidden,
      );
      assertClose(block, h, { rtol: 1e-4, atol: 1e-5, what: `h_T of row ${b}` });
      assert.ok(
        h.some((v) => Math.abs(v) > 1e-3),
        "the state must not vanish, or the test is empty",
      );
    }
  },
);
