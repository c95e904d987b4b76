// Softmax cross-entropy over rows of logits, fused with its gradient and the
// argmax accuracy: one invocation per row (classes are few). Per-row loss and
// correctness go to `row_stats`; metrics_reduce.wgsl folds them into the
// running metrics in a fixed order, so losses are bit-reproducible.

struct Params {
  rows: u32,
  classes: u32,
  // d(mean loss)/d(logit) carries 1/rows.
  grad_scale: f32,
  _pad: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> logits: array<f32>;
@group(0) @binding(2) var<storage, read> labels: array<u32>;
@group(0) @binding(3) var<storage, read_write> dlogits: array<f32>;
// Per row: (loss, 1 if argmax == label else 0).
@group(0) @binding(4) var<storage, read_write> row_stats: array<vec2<f32>>;

@compute @workgroup_size(64, 1, 1)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let r = gid.x;
  if (r >= params.rows) {
    return;
  }
  let base = r * params.classes;
  var top = logits[base];
  var arg = 0u;
  for (var c = 1u; c < params.classes; c++) {
    let v = logits[base + c];
    if (v > top) {
      top = v;
      arg = c;
    }
  }
  // Subtracting the max keeps exp() finite for any logits.
  var sum = 0.0;
  for (var c = 0u; c < params.classes; c++) {
    sum += exp(logits[base + c] - top);
  }
  let label = labels[r];
  let log_sum = log(sum);
  for (var c = 0u; c < params.classes; c++) {
    let p = exp(logits[base + c] - top - log_sum);
    dlogits[base + c] = (p - select(0.0, 1.0, c == label)) * params.grad_scale;
  }
  let loss = log_sum + top - logits[base + min(label, params.classes - 1u)];
  row_stats[r] = vec2<f32>(loss, select(0.0, 1.0, arg == label));
}
