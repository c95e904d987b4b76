// Per-channel bias of a channel-major activation: feature j = c·pixels + p
// of every row (conv2d's output layout, `o·H'·W' + y'·W' + x'`) gets bias[c].
// The forward adds it to every pixel of its channel; the gradient sums dY
// over the rows and pixels of each channel. CPU oracles: channel_bias.ts.

// @piece params
struct Params {
  // Elements of the activation: rows · channels · pixels.
  n: u32,
  rows: u32,
  channels: u32,
  pixels: u32,
}
@group(0) @binding(0) var<uniform> params: Params;

// @piece forward
// y = x + bias[channel], one invocation per element; large activations
// spill into a second grid dimension (65535 workgroups per axis).
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> bias: array<f32>;
@group(0) @binding(3) var<storage, read_write> y: array<f32>;
@compute @workgroup_size(256, 1, 1)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let i = gid.x + gid.y * groups.x * 256u;
  if (i >= params.n) {
    return;
  }
  y[i] = x[i] + bias[(i / params.pixels) % params.channels];
}

// @piece grad
// db[c] = Σ over rows m and pixels p of dy[m, c·pixels + p]: one workgroup
// per channel, each lane summing every 64th of the channel's values, then a
// fixed summation tree, so the result is the same bits every time.
@group(0) @binding(1) var<storage, read> dy: array<f32>;
@group(0) @binding(2) var<storage, read_write> db: array<f32>;
const WG: u32 = 64u;
var<workgroup> partial: array<f32, WG>;
@compute @workgroup_size(WG, 1, 1)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) t: u32) {
  let c = wg.x;
  let features = params.channels * params.pixels;
  let count = params.rows * params.pixels;
  var s = 0.0;
  for (var e = t; e < count; e += WG) {
    let m = e / params.pixels;
    s += dy[m * features + c * params.pixels + (e - m * params.pixels)];
  }
  partial[t] = s;
  workgroupBarrier();
  for (var stride = WG / 2u; stride > 0u; stride /= 2u) {
    if (t < stride) {
      partial[t] += partial[t + stride];
    }
    workgroupBarrier();
  }
  if (t == 0u) {
    db[c] = partial[0];
  }
}
