// Watches a tensor for NaN and ±Inf during training without reading it back:
// PER elements per invocation; a non-finite element lowers the tensor's flag
// word to the current step, so each flag ends up holding the first step at
// which its tensor went bad (0xffffffff: never). A trainer reads the flags
// only when its metrics say something went wrong, or every few hundred steps.
// The test itself (piece nonfinite_test) is shared with the optimizer
// updates, which watch the values they write (elementwise_ops.wgsl watch_on).
//
// Needs from the launcher: alias T (f32, or vec4<f32> when the count is a
// multiple of 4) and U (its u32 counterpart); elements are T's. Lavapipe
// pays its per-load overhead once per vec4 instead of once per element.

// @piece nonfinite_test
// The exponent bits all ones (NaN or ±Inf) in any lane: compilers may
// assume floats are finite and fold a comparison like x != x away.
fn nonfinite(v: T) -> bool {
  return any((bitcast<U>(v) & U(0x7f800000u)) == U(0x7f800000u));
}

// @piece watch_kernel
struct Params {
  // Count of T's.
  n: u32,
  // Which flag word (after the step word) this tensor owns.
  slot: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> values: array<T>;
// [0]: the current step, written by the host before each step's work;
// [1 + slot]: first step at which tensor `slot` held a non-finite value.
@group(0) @binding(2) var<storage, read_write> flags: array<atomic<u32>>;

// Elements per invocation: fewer invocations make the watch cheaper where
// invocations are expensive (CPU adapters).
const PER: u32 = 16u;

@compute @workgroup_size(256, 1, 1)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  // Large tensors spill into a second grid dimension, as in elementwise.wgsl.
  let first = (gid.x + gid.y * groups.x * 256u) * PER;
  let end = min(first + PER, params.n);
  var bad = false;
  for (var i = first; i < end; i++) {
    bad = bad || nonfinite(values[i]);
  }
  if (bad) {
    atomicMin(&flags[1u + params.slot], atomicLoad(&flags[0]));
  }
}
