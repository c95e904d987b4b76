// Register-tiled matrix product C = A·B (A is M×K, B is K×N), the one matmul
// of arbnet. Every variant (dense, hashed gather, transposed operands, bias
// and ReLU epilogue, scatter-add into a table) is this loop with different
// pieces from matmul_pieces.wgsl prepended: load_a, load_b and store_c are
// hooks, so the hash gather happens inside the operand loads and the virtual
// weight matrix is never written to memory.
//
// Needs from the pieces: const TM, TN (outputs per invocation), WG_X, WG_Y
// (workgroup shape), ROW_STEP, COL_STEP (1 or WG_Y/WG_X: see main); fn load_a(m, k) -> f32; fn load_b(k, n) -> f32;
// fn store_c(m, n, v); fn store_done() (after the tile's last store_c); the
// `dims` piece (shape uniform) and the `store_tile` piece (the edge guard).
//
// No workgroup memory: on CPU adapters (lavapipe) barriers become coroutine
// switches, so register tiling without it runs faster, and each invocation reads
// its operands straight from (cached) memory. matmul_shared.wgsl is the
// workgroup-memory version for GPUs; the autotuner picks per adapter.
//
// The register tile is written out as scalars: a line ending in
// "// @each i" is repeated for i = 0..TM-1 ("@each j": j = 0..TN-1, "@each i j":
// every pair) with {i} and {j} substituted (shaders/pieces.ts `unroll`).
// Arrays indexed in loops ended up in memory on lavapipe; named scalars stay
// in registers.

@compute @workgroup_size(WG_X, WG_Y, 1)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  // ROW_STEP/COL_STEP = 1: an invocation owns a contiguous TM×TN block.
  // ROW_STEP = WG_Y, COL_STEP = WG_X: invocations interleave, so neighbours
  // touch neighbouring addresses (coalesced on GPUs). Which wins is the
  // autotuner's call.
  // With one row of invocations (WG_Y = 1) the rows depend on the workgroup
  // alone, so A's loads are uniform: drivers with divergence analysis (GPUs;
  // lavapipe from Mesa 25.1) load them once per subgroup. Mesa 25.0's
  // lavapipe still loads them lane by lane.
  // Likewise with one column of invocations (WG_X = 1) for B's loads, which
  // then hold the weights: a hashed weight costs a slot and a table load,
  // so making those uniform pays most where the driver can see it.
  let ly = select(lid.y, 0u, WG_Y == 1u);
  let lx = select(lid.x, 0u, WG_X == 1u);
  let row_base = wg.y * (WG_Y * TM) + select(ly * TM, ly, ROW_STEP != 1u);
  let col_base = wg.x * (WG_X * TN) + select(lx * TN, lx, COL_STEP != 1u);
  if (row_base >= dims.M || col_base >= dims.N) {
    return;
  }
  // Clamp instead of branching: rows/columns past the edge compute garbage
  // that is never stored, and every load stays in bounds.
  let r{i} = min(row_base + {i}u * ROW_STEP, dims.M - 1u); // @each i
  let c{j} = min(col_base + {j}u * COL_STEP, dims.N - 1u); // @each j
  var acc{i}_{j} = 0.0; // @each i j
  for (var k = 0u; k < dims.K; k++) {
    let a{i} = load_a(r{i}, k); // @each i
    let b{j} = load_b(k, c{j}); // @each j
    acc{i}_{j} = fma(a{i}, b{j}, acc{i}_{j}); // @each i j
  }
  // The tile leaves through an array, one row per loop step: fully
  // unrolled, every guarded store became a branchy block of its own and
  // lavapipe compiled an atomic table gradient for many times as long. A
  // loop over every output compiled faster still but ran the scatter
  // slower (a slot's run then spans loop steps); this form runs it as fast
  // as the unrolled one.
  var tile_out: array<f32, TM * TN>;
  tile_out[{i}u * TN + {j}u] = acc{i}_{j}; // @each i j
  for (var i = 0u; i < TM; i++) {
    store_tile(row_base + i * ROW_STEP, col_base + {j}u * COL_STEP, tile_out[i * TN + {j}u]); // @each j
  }
  store_done();
}
