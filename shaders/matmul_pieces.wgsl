// Pieces that turn matmul.wgsl into a concrete kernel. Each section starts
// with a "// @piece NAME" line; shaders/matmul.ts picks one A load, one
// weight source, one B layout and one store. Binding numbers are fixed per
// role so pieces compose without renumbering:
//   0 dims (uniform) | 1 A | 2 B or table | 3 slots (or procedural hash params)
//   4 C or table gradient | 5 bias | 6, 7 procedural hash tables (alias)
//   8 the row window (matmul_window.wgsl)

// @piece dims
// The product's shape (binding 0 of every variant).
struct Dims {
  M: u32,
  N: u32,
  K: u32,
  // The table's zero slot; only the scatter store reads it.
  zero_slot: u32,
}
@group(0) @binding(0) var<uniform> dims: Dims;

// @piece slot_codec
// A slot word packs the table slot (low 31 bits) and the sign ξ (bit 31), so
// a hashed layer needs one u32 per position and applying ξ is one xor.
const SLOT_MASK: u32 = 0x7fffffffu;
const SIGN_BIT: u32 = 0x80000000u;
fn apply_sign(v: f32, word: u32) -> f32 {
  return bitcast<f32>(bitcast<u32>(v) ^ (word & SIGN_BIT));
}

// @piece a_rows
// A is M×K, row-major.
@group(0) @binding(1) var<storage, read> a_buf: array<f32>;
fn load_a(m: u32, k: u32) -> f32 {
  return a_buf[m * dims.K + k];
}

// @piece a_cols
// A is the transpose of a K×M row-major buffer (Xᵀ in the table gradient).
@group(0) @binding(1) var<storage, read> a_buf: array<f32>;
fn load_a(m: u32, k: u32) -> f32 {
  return a_buf[k * dims.M + m];
}

// @piece a_window
// A window of rows of A (M×K, row-major) bound as a uniform buffer, row
// win.row0 starting win.shift floats in (matmul_window.wgsl); uniform arrays
// hold vec4s, hence the split index. A_WINDOW: vec4s bound per window.
@group(0) @binding(1) var<uniform> a_win: array<vec4<f32>, A_WINDOW>;
fn load_a(m: u32, k: u32) -> f32 {
  let e = (m - win.row0) * dims.K + k + win.shift;
  return a_win[e >> 2u][e & 3u];
}
// Four columns from k (K and k multiples of 4, so the shift is one too).
fn load_a4(m: u32, k: u32) -> vec4<f32> {
  return a_win[((m - win.row0) * dims.K + k + win.shift) >> 2u];
}

// @piece a_rows_vec4
// A is M×K, row-major (K a multiple of 4), read from storage four columns at
// a time: the rows a transposed-B window tile reads past its last window.
@group(0) @binding(1) var<storage, read> a_vec: array<vec4<f32>>;
fn load_a4(m: u32, k: u32) -> vec4<f32> {
  return a_vec[(m * dims.K + k) >> 2u];
}

// @piece b_rows_vec4
// B is a dense K×N matrix (N a multiple of 4) read four columns at a time,
// one step of k per loop step (four steps through 4×4 blocks measured
// slower on lavapipe for this layout).
@group(0) @binding(2) var<storage, read> b_vec: array<vec4<f32>>;
const K_STEP: u32 = 1u;
fn load_a_step(m: u32, k: u32) -> f32 {
  return load_a(m, k);
}
fn load_b_step(k: u32, n4: u32) -> vec4<f32> {
  return b_vec[k * (dims.N / 4u) + n4];
}
fn step(acc: vec4<f32>, b: vec4<f32>, a: f32) -> vec4<f32> {
  return fma(vec4<f32>(a), b, acc);
}

// @piece b_cols_block
// B is the transpose of a dense N×K matrix (K a multiple of 4; the input
// gradient dY·Vᵀ), read as vec4s along K, four steps of k per loop step:
// the block's columns are rows 4·n4..4·n4+3 of that matrix, and a · block
// dots each with A's four values.
@group(0) @binding(2) var<storage, read> b_vec: array<vec4<f32>>;
const K_STEP: u32 = 4u;
fn load_a_step(m: u32, k: u32) -> vec4<f32> {
  return load_a4(m, k);
}
fn load_b_step(k: u32, n4: u32) -> mat4x4<f32> {
  let w = dims.K / 4u;
  let p = 4u * n4 * w + k / 4u;
  return mat4x4<f32>(b_vec[p], b_vec[p + w], b_vec[p + 2u * w], b_vec[p + 3u * w]);
}
fn step(acc: vec4<f32>, b: mat4x4<f32>, a: vec4<f32>) -> vec4<f32> {
  return acc + a * b;
}

// @piece weights_dense
// Weight at position p of the (real) matrix.
@group(0) @binding(2) var<storage, read> b_buf: array<f32>;
fn weight_at(p: u32) -> f32 {
  return b_buf[p];
}

// @piece slots_buffer
// Slot words read from a materialised buffer (one u32 per position). The
// procedural alternatives in hash.wgsl define the same slot_word(p) from seeds.
@group(0) @binding(3) var<storage, read> slots: array<u32>;
fn slot_word(p: u32) -> u32 {
  return slots[p];
}

// @piece weights_hashed
// Virtual weight V[p] = ξ(p)·w[h(p)], gathered from the table; slot
// `tableSize` of the table holds 0 (the zero slot).
@group(0) @binding(2) var<storage, read> table: array<f32>;
fn weight_at(p: u32) -> f32 {
  let word = slot_word(p);
  return apply_sign(table[word & SLOT_MASK], word);
}

// @piece b_rows
// B is the weight matrix itself (K×N): forward Y = X·V.
fn load_b(k: u32, n: u32) -> f32 {
  return weight_at(k * dims.N + n);
}

// @piece b_cols
// B is the transpose of an N×K weight matrix: input gradient dX = dY·Vᵀ.
fn load_b(k: u32, n: u32) -> f32 {
  return weight_at(n * dims.K + k);
}

// @piece store_tile
// Stores one output if it is inside C: the edge guard of the scalar
// templates (matmul.wgsl, matmul_shared.wgsl), over a scalar store piece.
fn store_tile(m: u32, n: u32, v: f32) {
  if (m < dims.M && n < dims.N) {
    store_c(m, n, v);
  }
}

// @piece store_vec4
// Four columns of C (N a multiple of 4) stored as one vec4 after the
// epilogue piece's epilogue4: the window tile's store for plain and bias
// epilogues, one guard and one write where four guarded scalar stores
// (store_tile) made window tiles slower to compile and, for the table
// gradient (K = the batch), to run.
@group(0) @binding(4) var<storage, read_write> c_vec: array<vec4<f32>>;
fn store_vec4(m: u32, n4: u32, v: vec4<f32>) {
  if (m < dims.M && n4 < dims.N / 4u) {
    c_vec[m * (dims.N / 4u) + n4] = epilogue4(n4, v);
  }
}
fn store_done() {}

// @piece epilogue_plain4
// C = A·B, four columns.
fn epilogue4(n4: u32, v: vec4<f32>) -> vec4<f32> {
  return v;
}

// @piece epilogue_bias4
// C = act(A·B + bias), four columns.
@group(0) @binding(5) var<storage, read> bias_vec: array<vec4<f32>>;
fn epilogue4(n4: u32, v: vec4<f32>) -> vec4<f32> {
  return activate4(v + bias_vec[n4]);
}

// @piece store_plain
// C = A·B, overwritten.
@group(0) @binding(4) var<storage, read_write> c_buf: array<f32>;
fn store_c(m: u32, n: u32, v: f32) {
  c_buf[m * dims.N + n] = v;
}
fn store_done() {}

// @piece store_bias
// C = act(A·B + bias): the layer's bias and activation fused into the epilogue.
@group(0) @binding(4) var<storage, read_write> c_buf: array<f32>;
@group(0) @binding(5) var<storage, read> bias: array<f32>;
fn store_c(m: u32, n: u32, v: f32) {
  c_buf[m * dims.N + n] = activate(v + bias[n]);
}
fn store_done() {}

// @piece act_none
fn activate(v: f32) -> f32 {
  return v;
}
fn activate4(v: vec4<f32>) -> vec4<f32> {
  return v;
}

// @piece act_relu
fn activate(v: f32) -> f32 {
  return max(v, 0.0);
}
fn activate4(v: vec4<f32>) -> vec4<f32> {
  return max(v, vec4<f32>(0.0));
}

// @piece permute
// Deterministic table gradient, first half: output p goes, signed, to its
// entry of the hash's inverse index, named by its rank word (entry |
// ξ << 31, in the slot words' binding), so the per-slot sum (segment_sum)
// then reads each slot's entries contiguously instead of gathering them.
// Zero-slot positions share one sink entry past the last, which nothing
// reads. No atomics: every entry has one writer.
@group(0) @binding(4) var<storage, read_write> c_buf: array<f32>;
fn permute(word: u32, v: f32) {
  c_buf[word & SLOT_MASK] = apply_sign(v, word);
}

// @piece store_permuted
// The permuted store (`permute`), one output at a time.
fn store_c(m: u32, n: u32, v: f32) {
  permute(slot_word(m * dims.N + n), v);
}
fn store_done() {}

// @piece store_permuted4
// The permuted store (`permute`) for the window tile: four columns behind
// one guard, their rank words read as one vec4 (binding 3 as vec4s, in
// place of slots_buffer), which lavapipe loads lane by lane like any
// storage value: one load per lane instead of four.
@group(0) @binding(3) var<storage, read> rank_words: array<vec4<u32>>;
fn store_vec4(m: u32, n4: u32, v: vec4<f32>) {
  if (m < dims.M && n4 < dims.N / 4u) {
    let words = rank_words[m * (dims.N / 4u) + n4];
    permute(words.x, v.x);
    permute(words.y, v.y);
    permute(words.z, v.z);
    permute(words.w, v.w);
  }
}
fn store_done() {}

// @piece store_scatter
// Table gradient: g[h(p)] += ξ(p)·(Aᵀ-product)[p]. WGSL has no float atomics,
// so the add is a compare-exchange loop on the float's bits. Consecutive
// outputs of an invocation that share a slot (the crowded slots of a
// low-balance hash) are first summed in a register, so a run costs one
// atomic instead of one per position: privatised accumulation.
@group(0) @binding(4) var<storage, read_write> grad: array<atomic<u32>>;
const NO_RUN: u32 = 0xffffffffu;
var<private> run_slot: u32 = NO_RUN;
var<private> run_sum: f32 = 0.0;
fn atomic_add(slot: u32, add: f32) {
  var old = atomicLoad(&grad[slot]);
  loop {
    let swapped = atomicCompareExchangeWeak(&grad[slot], old, bitcast<u32>(bitcast<f32>(old) + add));
    if (swapped.exchanged) {
      break;
    }
    old = swapped.old_value;
  }
}
fn store_c(m: u32, n: u32, v: f32) {
  let word = slot_word(m * dims.N + n);
  let slot = word & SLOT_MASK;
  // Sparse layers send most positions to the zero slot; adding them all to
  // one never-trained word would serialise every invocation on it.
  if (slot >= dims.zero_slot) {
    return;
  }
  let add = apply_sign(v, word);
  if (slot == run_slot) {
    run_sum += add;
    return;
  }
  store_done();
  run_slot = slot;
  run_sum = add;
}
fn store_done() {
  if (run_slot != NO_RUN) {
    atomic_add(run_slot, run_sum);
    run_slot = NO_RUN;
  }
}
