// Element-wise ops for elementwise.wgsl, one "// @piece NAME" each. Binding 0
// is always the op's uniform params; shaders/elementwise.ts lists the other
// bindings of each op in order, and elementwise_ref.ts holds the CPU oracles.

// @piece relu_forward
struct Params {
  n: u32,
}
@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;
fn apply(i: u32) {
  y[i] = max(x[i], 0.0);
}

// @piece relu_backward
// Uses the forward *output*: y > 0 exactly where the input was > 0, so the
// input need not be kept.
struct Params {
  n: u32,
}
@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> y: array<f32>;
@group(0) @binding(2) var<storage, read> dy: array<f32>;
@group(0) @binding(3) var<storage, read_write> dx: array<f32>;
fn apply(i: u32) {
  dx[i] = select(0.0, dy[i], y[i] > 0.0);
}

// @piece sgd
// SGD with momentum, optional Nesterov and L2 weight decay (PyTorch's
// convention, no dampening): v ← μv + g + λw; w ← w − lr·(nesterov ? g + λw + μv : v).
struct Params {
  n: u32,
  lr: f32,
  momentum: f32,
  weight_decay: f32,
  nesterov: u32,
}
@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> grad: array<f32>;
@group(0) @binding(2) var<storage, read_write> weight: array<f32>;
@group(0) @binding(3) var<storage, read_write> velocity: array<f32>;
fn apply(i: u32) {
  let g = grad[i] + params.weight_decay * weight[i];
  let v = params.momentum * velocity[i] + g;
  velocity[i] = v;
  let step = select(v, g + params.momentum * v, params.nesterov != 0u);
  weight[i] = weight[i] - params.lr * step;
}

// @piece adam
// Adam (Kingma & Ba) with L2 weight decay added to the gradient; the bias
// corrections 1 − β^t are computed on the host each step.
struct Params {
  n: u32,
  lr: f32,
  beta1: f32,
  beta2: f32,
  eps: f32,
  weight_decay: f32,
  correction1: f32,
  correction2: f32,
}
@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> grad: array<f32>;
@group(0) @binding(2) var<storage, read_write> weight: array<f32>;
@group(0) @binding(3) var<storage, read_write> m1: array<f32>;
@group(0) @binding(4) var<storage, read_write> m2: array<f32>;
fn apply(i: u32) {
  let g = grad[i] + params.weight_decay * weight[i];
  let m = params.beta1 * m1[i] + (1.0 - params.beta1) * g;
  let v = params.beta2 * m2[i] + (1.0 - params.beta2) * g * g;
  m1[i] = m;
  m2[i] = v;
  let m_hat = m / params.correction1;
  let v_hat = v / params.correction2;
  weight[i] = weight[i] - params.lr * m_hat / (sqrt(v_hat) + params.eps);
}

// @piece segment_sum
// Deterministic table gradient, one invocation per slot k:
// grad[k] = Σ ξ(p)·G[p] over the positions p of slot k, in ascending p.
// `offsets`/`positions` are the inverse index (CSR) of the hash; a position
// word is coded like a slot word (slot_codec: position | ξ in bit 31). No
// atomics: the same inputs give the same bits.
struct Params {
  n: u32,
}
@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> g: array<f32>;
@group(0) @binding(2) var<storage, read> offsets: array<u32>;
@group(0) @binding(3) var<storage, read> positions: array<u32>;
@group(0) @binding(4) var<storage, read_write> grad: array<f32>;
fn apply(k: u32) {
  var sum = 0.0;
  for (var e = offsets[k]; e < offsets[k + 1u]; e++) {
    let word = positions[e];
    sum += apply_sign(g[word & SLOT_MASK], word);
  }
  grad[k] = sum;
}
