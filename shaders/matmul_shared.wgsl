// Workgroup-memory tiled version of matmul.wgsl, for GPUs: the workgroup
// stages a BM×BK block of A and a BK×BN block of B in workgroup memory, so
// each operand is read from global memory once per workgroup instead of
// once per invocation. Same hooks and pieces as matmul.wgsl (load_a,
// load_b, store_c, store_done, the `dims` and `store_tile` pieces), so
// every variant (hashed gather in the loads, fused epilogue, scatter) has
// this form too.
//
// Needs from the pieces: const TM, TN, WG_X, WG_Y and BK (k-depth of the
// staged blocks). Invocation (x, y) owns rows y·TM + i (contiguous) and
// columns x + j·WG_X (interleaved, so neighbours read neighbouring words of
// the staged B block).
//
// On lavapipe (Mesa 25) the barriers become coroutine switches and
// workgroup-memory loads go lane by lane like any other: it measured much
// slower than matmul.wgsl there, and the autotuner leaves it out.

const BM: u32 = WG_Y * TM;
const BN: u32 = WG_X * TN;
const THREADS: u32 = WG_X * WG_Y;
var<workgroup> a_block: array<f32, BM * BK>;
var<workgroup> b_block: array<f32, BK * BN>;

@compute @workgroup_size(WG_X, WG_Y, 1)
fn main(
  @builtin(workgroup_id) wg: vec3<u32>,
  @builtin(local_invocation_id) lid: vec3<u32>,
  @builtin(local_invocation_index) li: u32,
) {
  // No early return: every invocation must reach the barriers.
  let row0 = wg.y * BM;
  let col0 = wg.x * BN;
  var acc{i}_{j} = 0.0; // @each i j
  for (var k0 = 0u; k0 < dims.K; k0 += BK) {
    // Cooperative staging; past the edges the block holds zeros, which add
    // nothing, and every global read stays in bounds.
    for (var e = li; e < BM * BK; e += THREADS) {
      let m = row0 + e / BK;
      let k = k0 + e % BK;
      let v = load_a(min(m, dims.M - 1u), min(k, dims.K - 1u));
      a_block[e] = select(0.0, v, m < dims.M && k < dims.K);
    }
    for (var e = li; e < BK * BN; e += THREADS) {
      let k = k0 + e / BN;
      let n = col0 + e % BN;
      let v = load_b(min(k, dims.K - 1u), min(n, dims.N - 1u));
      b_block[e] = select(0.0, v, k < dims.K && n < dims.N);
    }
    workgroupBarrier();
    for (var kk = 0u; kk < BK; kk++) {
      let a{i} = a_block[(lid.y * TM + {i}u) * BK + kk]; // @each i
      let b{j} = b_block[kk * BN + lid.x + {j}u * WG_X]; // @each j
      acc{i}_{j} = fma(a{i}, b{j}, acc{i}_{j}); // @each i j
    }
    workgroupBarrier();
  }
  store_tile(row0 + lid.y * TM + {i}u, col0 + lid.x + {j}u * WG_X, acc{i}_{j}); // @each i j
  store_done();
}
