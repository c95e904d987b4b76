// Register-tiled matrix product C = A·B (A is M×K, B is K×N), the one matmul
// of arbnet. Every variant (dense, hashed gather, transposed operands, bias
// and ReLU epilogue, scatter-add into a table) is this loop with different
// pieces from matmul_pieces.wgsl prepended: load_a, load_b and store_c are
// hooks, so the hash gather happens inside the operand loads and the virtual
// weight matrix is never written to memory.
//
// Needs from the pieces: const TM, TN (outputs per invocation), WG_X, WG_Y
// (workgroup shape), ROW_STEP, COL_STEP (1 or WG_Y/WG_X: see main); fn load_a(m, k) -> f32; fn load_b(k, n) -> f32;
// fn store_c(m, n, v).
//
// No workgroup memory: on CPU adapters (lavapipe) register tiling without it
// measured ~4x faster than shared-memory tiling, and each invocation reads
// its operands straight from (cached) memory.

struct Dims {
  M: u32,
  N: u32,
  K: u32,
  // The table's zero slot; only the scatter store reads it.
  zero_slot: u32,
}

@group(0) @binding(0) var<uniform> dims: Dims;

@compute @workgroup_size(WG_X, WG_Y, 1)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  // ROW_STEP/COL_STEP = 1: invocation owns a contiguous TM×TN block.
  // ROW_STEP = WG_Y, COL_STEP = WG_X: invocations interleave, so neighbours
  // touch neighbouring addresses (coalesced on GPUs). Which wins is the
  // autotuner's call.
  let row_base = wg.y * (WG_Y * TM) + select(lid.y * TM, lid.y, ROW_STEP != 1u);
  let col_base = wg.x * (WG_X * TN) + select(lid.x * TN, lid.x, COL_STEP != 1u);
  if (row_base >= dims.M || col_base >= dims.N) {
    return;
  }
  // Clamp instead of branching: rows/columns past the edge compute garbage
  // that is never stored, and every load stays in bounds.
  var rows: array<u32, TM>;
  var cols: array<u32, TN>;
  for (var i = 0u; i < TM; i++) {
    rows[i] = min(row_base + i * ROW_STEP, dims.M - 1u);
  }
  for (var j = 0u; j < TN; j++) {
    cols[j] = min(col_base + j * COL_STEP, dims.N - 1u);
  }
  var acc: array<array<f32, TN>, TM>;
  for (var k = 0u; k < dims.K; k++) {
    var a: array<f32, TM>;
    var b: array<f32, TN>;
    for (var i = 0u; i < TM; i++) {
      a[i] = load_a(rows[i], k);
    }
    for (var j = 0u; j < TN; j++) {
      b[j] = load_b(k, cols[j]);
    }
    for (var i = 0u; i < TM; i++) {
      for (var j = 0u; j < TN; j++) {
        acc[i][j] = fma(a[i], b[j], acc[i][j]);
      }
    }
  }
  for (var i = 0u; i < TM; i++) {
    let m = row_base + i * ROW_STEP;
    if (m < dims.M) {
      for (var j = 0u; j < TN; j++) {
        let n = col_base + j * COL_STEP;
        if (n < dims.N) {
          store_c(m, n, acc[i][j]);
        }
      }
    }
  }
}
