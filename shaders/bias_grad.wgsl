// Bias gradient db[n] = Σ_m dY[m, n]: one invocation per column, summing
// rows in a fixed order so the result is deterministic.

struct Params {
  rows: u32,
  cols: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> dy: array<f32>;
@group(0) @binding(2) var<storage, read_write> db: array<f32>;

@compute @workgroup_size(64, 1, 1)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let n = gid.x;
  if (n >= params.cols) {
    return;
  }
  var sum = 0.0;
  for (var m = 0u; m < params.rows; m++) {
    sum += dy[m * params.cols + n];
  }
  db[n] = sum;
}
