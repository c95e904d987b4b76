// Element-wise ops for elementwise.wgsl, one "// @piece NAME" each. Binding 0
// is always the op's uniform params; shaders/elementwise.ts lists the other
// bindings of each op in order, and elementwise_ref.ts holds the CPU oracles.
//
// Ops marked `vectorizable` in the op table are written over the element
// type T (f32, or vec4<f32> when the count is a multiple of 4; `splat`
// makes a T of a scalar) and index i counts T's: lavapipe pays its
// per-invocation load overhead once per vec4 instead of once per element.

// @piece elem_scalar
alias T = f32;
alias U = u32;
fn splat(x: f32) -> T {
  return x;
}

// @piece elem_vec4
alias T = vec4<f32>;
alias U = vec4<u32>;
fn splat(x: f32) -> T {
  return T(x);
}

// @piece lanes_scalar
// For ops marked `perLane`: each_lane maps the op's fn lane(u32) -> f32
// over U, the u32 counterpart of T (a gather cannot be written as vector
// arithmetic: each lane loads from its own address).
fn each_lane(w: U) -> T {
  return lane(w);
}

// @piece lanes_vec4
fn each_lane(w: U) -> T {
  return T(lane(w.x), lane(w.y), lane(w.z), lane(w.w));
}

// @piece watch_on
// The divergence watch fused into a parameter update (ops marked
// `watchable` call watch(w) on every value they write): the value is tested
// while still in registers, where the trainer's own watch (nonfinite.wgsl)
// would read the whole parameter again after the update. Word 0 of
// watch_flags holds the current step, word 1 + watch_slot.x this parameter's
// first bad step. Needs nonfinite.wgsl's nonfinite_test.
@group(0) @binding(6) var<uniform> watch_slot: vec4<u32>;
@group(0) @binding(7) var<storage, read_write> watch_flags: array<atomic<u32>>;
fn watch(w: T) {
  if (nonfinite(w)) {
    atomicMin(&watch_flags[1u + watch_slot.x], atomicLoad(&watch_flags[0]));
  }
}

// @piece watch_off
fn watch(w: T) {}

// @piece relu_forward
struct Params {
  n: u32,
}
@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<T>;
@group(0) @binding(2) var<storage, read_write> y: array<T>;
fn apply(i: u32) {
  y[i] = max(x[i], splat(0.0));
}

// @piece relu_backward
// Uses the forward *output*: y > 0 exactly where the input was > 0, so the
// input need not be kept.
struct Params {
  n: u32,
}
@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> y: array<T>;
@group(0) @binding(2) var<storage, read> dy: array<T>;
@group(0) @binding(3) var<storage, read_write> dx: array<T>;
fn apply(i: u32) {
  dx[i] = select(splat(0.0), dy[i], y[i] > splat(0.0));
}

// @piece tanh_forward
// tanh of an input clamped to ±15, where tanh is 1 in f32 to the last bit: a
// tanh evaluated through exp(2x) would otherwise overflow to inf/inf = NaN.
struct Params {
  n: u32,
}
@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<T>;
@group(0) @binding(2) var<storage, read_write> y: array<T>;
fn apply(i: u32) {
  y[i] = tanh(clamp(x[i], splat(-15.0), splat(15.0)));
}

// @piece tanh_backward
// From the forward output, as relu_backward: tanh' = 1 − y².
struct Params {
  n: u32,
}
@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> y: array<T>;
@group(0) @binding(2) var<storage, read> dy: array<T>;
@group(0) @binding(3) var<storage, read_write> dx: array<T>;
fn apply(i: u32) {
  dx[i] = dy[i] * (splat(1.0) - y[i] * y[i]);
}

// @piece accumulate
// y += x: one more use's gradient of a tied parameter added to the others'.
struct Params {
  n: u32,
}
@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<T>;
@group(0) @binding(2) var<storage, read_write> y: array<T>;
fn apply(i: u32) {
  y[i] += x[i];
}

// @piece rnn_step_forward
// One RNN step, h = tanh(a + u[offset..]): a = h_prev·W_h (this step's
// recurrent product), u the input products x_t·W_x + b of every step, time
// major, this step's block from `offset` (in T's). Clamped as tanh_forward.
struct Params {
  n: u32,
  offset: u32,
}
@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> a: array<T>;
@group(0) @binding(2) var<storage, read> u: array<T>;
@group(0) @binding(3) var<storage, read_write> h: array<T>;
fn apply(i: u32) {
  h[i] = tanh(clamp(a[i] + u[params.offset + i], splat(-15.0), splat(15.0)));
}

// @piece rnn_step_backward
// The step's pre-activation gradient dz = dh·(1 − h²), written to both of
// its addends: the recurrent product's gradient `da` and this step's block
// of the input products' gradient `du` (from `offset`, in T's).
struct Params {
  n: u32,
  offset: u32,
}
@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> h: array<T>;
@group(0) @binding(2) var<storage, read> dh: array<T>;
@group(0) @binding(3) var<storage, read_write> da: array<T>;
@group(0) @binding(4) var<storage, read_write> du: array<T>;
fn apply(i: u32) {
  let dz = dh[i] * (splat(1.0) - h[i] * h[i]);
  da[i] = dz;
  du[params.offset + i] = dz;
}

// @piece time_major
// Sequences batch-major to time-major: x holds `batch` rows of `steps`
// frames of `features` values; y[(t·batch + b)·features + f] =
// x[(b·steps + t)·features + f], so each step's frames lie together. With
// batch and steps swapped it is its own inverse. One invocation per value.
struct Params {
  n: u32,
  batch: u32,
  steps: u32,
  features: u32,
}
@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;
fn apply(i: u32) {
  let f = i % params.features;
  let frame = i / params.features;
  let b = frame % params.batch;
  let t = frame / params.batch;
  y[i] = x[(b * params.steps + t) * params.features + f];
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
@group(0) @binding(1) var<storage, read> grad: array<T>;
@group(0) @binding(2) var<storage, read_write> weight: array<T>;
@group(0) @binding(3) var<storage, read_write> velocity: array<T>;
fn apply(i: u32) {
  // One load of the weight: the store to velocity between its two uses
  // could alias it for the compiler, which would then load it twice.
  let w0 = weight[i];
  let g = grad[i] + params.weight_decay * w0;
  let v = params.momentum * velocity[i] + g;
  velocity[i] = v;
  let step = select(v, g + params.momentum * v, params.nesterov != 0u);
  let w = w0 - params.lr * step;
  weight[i] = w;
  watch(w);
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
@group(0) @binding(1) var<storage, read> grad: array<T>;
@group(0) @binding(2) var<storage, read_write> weight: array<T>;
@group(0) @binding(3) var<storage, read_write> m1: array<T>;
@group(0) @binding(4) var<storage, read_write> m2: array<T>;
fn apply(i: u32) {
  // One load of the weight, as in sgd.
  let w0 = weight[i];
  let g = grad[i] + params.weight_decay * w0;
  let m = params.beta1 * m1[i] + (1.0 - params.beta1) * g;
  let v = params.beta2 * m2[i] + (1.0 - params.beta2) * g * g;
  m1[i] = m;
  m2[i] = v;
  let m_hat = m / params.correction1;
  let v_hat = v / params.correction2;
  let w = w0 - params.lr * m_hat / (sqrt(v_hat) + params.eps);
  weight[i] = w;
  watch(w);
}

// @piece segment_sum
// Deterministic table gradient, second half: grad[k] = Σ g[e] over the
// entries e of slot k in the inverse index (CSR `offsets`), which matmul's
// store_permuted filled with ξ(p)·(Xᵀ·dY)[p] in ascending position p. No
// atomics and a fixed order: the same inputs give the same bits. Entries are
// read as aligned vec4s, the words outside a slot's range added to its sum
// as zeros, still in entry order (lavapipe loads storage lane by lane: one
// load per four entries). Invocation i sums the four slots from 4i in one
// pass over their entries, which lie together: a lane's trip count is then
// the run of four slots, which varies less from lane to lane than one
// slot's (neighbouring lanes wait for the longest), and the boundaries cost
// five loads instead of eight. It beat one slot per invocation alone and
// inside training steps, with uniform and Dirichlet hashes alike.
// n = ceil(slots / 4).
struct Params {
  n: u32,
  slots: u32,
}
@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> g: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> offsets: array<u32>;
@group(0) @binding(3) var<storage, read_write> grad: array<f32>;
// sum plus the entries e of the vec4 v that lie in [lo, hi), in order.
fn add_range(sum: f32, v: vec4<f32>, e: vec4<u32>, lo: u32, hi: u32) -> f32 {
  let w = select(vec4<f32>(0.0), v, (e >= vec4<u32>(lo)) & (e < vec4<u32>(hi)));
  return sum + w.x + w.y + w.z + w.w;
}
fn apply(i: u32) {
  let k = 4u * i;
  // Slots past the last have empty ranges at its end.
  let b0 = offsets[k];
  let b1 = offsets[min(k + 1u, params.slots)];
  let b2 = offsets[min(k + 2u, params.slots)];
  let b3 = offsets[min(k + 3u, params.slots)];
  let b4 = offsets[min(k + 4u, params.slots)];
  var s0 = 0.0;
  var s1 = 0.0;
  var s2 = 0.0;
  var s3 = 0.0;
  for (var q = b0 / 4u; q * 4u < b4; q++) {
    let e = vec4<u32>(4u * q) + vec4<u32>(0u, 1u, 2u, 3u);
    let v = g[q];
    s0 = add_range(s0, v, e, b0, b1);
    s1 = add_range(s1, v, e, b1, b2);
    s2 = add_range(s2, v, e, b2, b3);
    s3 = add_range(s3, v, e, b3, b4);
  }
  grad[k] = s0;
  if (k + 1u < params.slots) {
    grad[k + 1u] = s1;
  }
  if (k + 2u < params.slots) {
    grad[k + 2u] = s2;
  }
  if (k + 3u < params.slots) {
    grad[k + 3u] = s3;
  }
}

// @piece gather_weights
// The virtual weights written out, V[p] = ξ(p)·table[h(p)]: what a hashed
// matmul otherwise gathers inside every tile, once per row block. Written
// once per step (the table only changes at the optimizer step), the forward
// and input-gradient products then run dense (ArbLinear `materialize`).
struct Params {
  n: u32,
}
@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> slots: array<U>;
@group(0) @binding(2) var<storage, read> table: array<f32>;
@group(0) @binding(3) var<storage, read_write> weights: array<T>;
fn lane(word: u32) -> f32 {
  return apply_sign(table[word & SLOT_MASK], word);
}
fn apply(i: u32) {
  weights[i] = each_lane(slots[i]);
}

// @piece transpose_params
// The uniform of both transposes.
struct Params {
  n: u32,
  rows: u32,
  features: u32,
  stride: u32,
}
@group(0) @binding(0) var<uniform> params: Params;

// @piece transpose
// Xᵀ of a rows×features activation, row m of xt holding feature m of every
// example with rows `stride` words apart (stride ≥ rows; the gap is never
// written, so stays zero). On CPU adapters the table gradient Xᵀ·dY then
// reads A by rows, through uniform windows (matmul_window.wgsl), instead of
// by columns. One invocation per element of X; n = rows·features.
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> xt: array<f32>;
fn apply(i: u32) {
  let m = i / params.rows;
  let k = i - m * params.rows;
  xt[m * params.stride + k] = x[k * params.features + m];
}

// @piece transpose_blocks
// transpose four by four, where features and stride are multiples of 4: one
// invocation per 4×4 block reads four vec4s of X (four examples, four
// features) and writes them as four vec4s of Xᵀ. Lavapipe pays per load and
// per invocation, so sixteen elements in eight vec4 accesses beat sixteen
// invocations of one element each. Examples
// from `rows` to the stride are written as zeros.
// n = (features / 4)·(stride / 4).
@group(0) @binding(1) var<storage, read> x: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read_write> xt: array<vec4<f32>>;
// Features 4·m4..4·m4+3 of example k (zeros past the batch, never loaded).
fn example(k: u32, m4: u32) -> vec4<f32> {
  if (k >= params.rows) {
    return vec4<f32>(0.0);
  }
  return x[k * (params.features / 4u) + m4];
}
fn apply(i: u32) {
  let s4 = params.stride / 4u;
  let m4 = i / s4;
  let k4 = i - m4 * s4;
  let e0 = example(4u * k4, m4);
  let e1 = example(4u * k4 + 1u, m4);
  let e2 = example(4u * k4 + 2u, m4);
  let e3 = example(4u * k4 + 3u, m4);
  let row = 4u * m4 * s4 + k4;
  xt[row] = vec4<f32>(e0.x, e1.x, e2.x, e3.x);
  xt[row + s4] = vec4<f32>(e0.y, e1.y, e2.y, e3.y);
  xt[row + 2u * s4] = vec4<f32>(e0.z, e1.z, e2.z, e3.z);
  xt[row + 3u * s4] = vec4<f32>(e0.w, e1.w, e2.w, e3.w);
}
