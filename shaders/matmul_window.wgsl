// Row-window version of matmul.wgsl, for CPU adapters: C = A·B where A is
// M×K rows and B a dense K×N matrix (the forward product on materialised
// weights, and the table gradient on Xᵀ, on CPU adapters). One dispatch per
// window of rows of A (a multiple of TM, as many as fit a uniform
// binding); the window is bound as a uniform buffer (the `a_window` piece)
// and each workgroup row takes TM of its rows. B is read as vec4s along N.
// Mesa 25.0's lavapipe loads a storage value lane by lane, each behind a
// branch on the lane's execution mask, but a uniform value with a
// branch-free gather, so this form beats matmul.wgsl there on the
// products of a training step (docs/performance.md). A window must lie inside A's buffer;
// where the last one does not, one more dispatch of the same template reads
// those rows from storage (`a_rows`).
//
// Needs from the pieces: const TM, TN (outputs per invocation: TM rows, TN
// columns, TN a multiple of 4), WG_X; from the B piece (`b_rows_vec4`,
// `b_cols_block`) const K_STEP and fn load_a_step(m, k), load_b_step(k, n4),
// step(acc, b, a) -> vec4<f32> (A's and B's values for K_STEP steps of k
// from k, and the 4 columns' update); the A piece's load_a/load_a4 they
// call; the `dims` piece; and a vec4 store (matmul.ts vec4StorePieces):
// fn store_vec4(m, n4, v), store_done. Lines ending in "// @each" unroll as
// in matmul.wgsl, with j counting vec4 columns (TN / 4 of them).

struct Window {
  // First row of this dispatch's window.
  row0: u32,
  // Floats from the start of the bound window to row0's first: a window is
  // bound from the aligned offset at or below it (matmul.ts windowSlack).
  shift: u32,
}
@group(0) @binding(8) var<uniform> win: Window;

@compute @workgroup_size(WG_X, 1, 1)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let n4 = dims.N / 4u;
  // Vec4 columns interleave across the workgroup: neighbours read
  // neighbouring words of B.
  let col_base = wg.x * (WG_X * (TN / 4u)) + lid.x;
  // Rows depend on the workgroup alone: A's loads stay uniform.
  let row_base = win.row0 + wg.y * TM;
  if (row_base >= dims.M || col_base >= n4) {
    return;
  }
  let r{i} = min(row_base + {i}u, dims.M - 1u); // @each i
  let c{j} = min(col_base + {j}u * WG_X, n4 - 1u); // @each j
  var acc{i}_{j} = vec4<f32>(0.0); // @each i j
  // K_STEP steps of k at a time: 1 with B's rows read as vec4s, 4 with B
  // transposed (4×4 blocks, A as vec4s along k).
  for (var k = 0u; k < dims.K; k += K_STEP) {
    let a{i} = load_a_step(r{i}, k); // @each i
    let b{j} = load_b_step(k, c{j}); // @each j
    acc{i}_{j} = step(acc{i}_{j}, b{j}, a{i}); // @each i j
  }
  // The tile leaves through an array and one loop of vec4 stores: fully
  // unrolled, every guarded store became a branchy block of its own, and
  // lavapipe compiled a large tile many times as long and ran it slower.
  // One row per loop step (as matmul.wgsl) ran no faster than unrolled.
  var tile_out: array<vec4<f32>, TM * TN / 4u>;
  tile_out[{i}u * (TN / 4u) + {j}u] = acc{i}_{j}; // @each i j
  for (var q = 0u; q < TM * TN / 4u; q++) {
    store_vec4(row_base + q / (TN / 4u), col_base + (q % (TN / 4u)) * WG_X, tile_out[q]);
  }
  store_done();
}
