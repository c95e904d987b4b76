// Procedural slot words: slot_word(p) recomputed in the shader from a layer's
// seeds instead of read from a buffer, so a hashed layer needs memory for its
// table only, whatever its virtual size. Every piece ports a rule of lib/hash
// and must agree with it bit for bit (tests/hash_procedural.test.ts): only u32
// arithmetic, which WGSL wraps mod 2^32 exactly as Math.imul and `| 0` do.
//
// A kernel composes: xxh32, hash_params, one family piece (slot_uniform,
// slot_neighborhood or slot_dirichlet, each defining family_slot(p), or a
// user family's own WGSL defining it), then hash_word, which adds sparsity
// and the sign and defines slot_word(p).
// Bindings follow matmul_pieces.wgsl: 3 holds the parameters (where a
// materialised layer binds its slot buffer), 6 and 7 the alias table.

// @piece xxh32
// xxHash32 of the 4-byte little-endian encoding of p: xxh32U32 in
// lib/hash/xxhash32.ts, the one source of per-position randomness.
const XXH_PRIME32_2: u32 = 0x85ebca77u;
const XXH_PRIME32_3: u32 = 0xc2b2ae3du;
const XXH_PRIME32_4: u32 = 0x27d4eb2fu;
const XXH_PRIME32_5: u32 = 0x165667b1u;
fn xxh32_u32(p: u32, seed: u32) -> u32 {
  // + 4: xxHash mixes in the input length (4 bytes).
  var h = seed + (XXH_PRIME32_5 + 4u);
  h += p * XXH_PRIME32_3;
  h = ((h << 17u) | (h >> 15u)) * XXH_PRIME32_4;
  h ^= h >> 15u;
  h *= XXH_PRIME32_2;
  h ^= h >> 13u;
  h *= XXH_PRIME32_3;
  h ^= h >> 16u;
  return h;
}

// @piece hash_params
// One layer's hash, packed on the host by lib/hash/procedural.ts (same field
// order). Seeds are already derived (deriveSeed): per-position work starts at
// the xxh32 of p.
struct HashParams {
  // K; the zero slot is K.
  table_size: u32,
  // floor(s · 2^32); 0 when no position is sparse.
  sparsity_threshold: u32,
  sparsity_seed: u32,
  sign_seed: u32,
  // 0x80000000 when the family uses the sign hash ξ, else 0.
  sign_mask: u32,
  // The family's slot seed: SLOT (uniform), OFFS (neighborhood), ACOL (dirichlet).
  slot_seed: u32,
  // ACOI (dirichlet's alias coin).
  coin_seed: u32,
  // Neighborhood: 2r + 1, and (K − r mod K) mod K, so no per-position
  // division by anything but these.
  window: u32,
  back: u32,
  // The virtual matrix's shape, p = i * cols + j (for user families' rules).
  rows: u32,
  cols: u32,
}
@group(0) @binding(3) var<uniform> hash_params: HashParams;

// @piece slot_uniform
// uniformSlot: xxh32(p, SLOT) mod K.
fn family_slot(p: u32) -> u32 {
  return xxh32_u32(p, hash_params.slot_seed) % hash_params.table_size;
}

// @piece slot_neighborhood
// neighborhoodSlot: (p mod K + δ(p)) mod K with δ(p) = xxh32(p, OFFS) mod
// (2r + 1) − r, evaluated as two modular additions so no intermediate is
// negative or above 2^32 − 1 (r may exceed K).
fn add_mod(x: u32, y: u32, k: u32) -> u32 {
  return select(x + y, x - (k - y), x >= k - y);
}
fn family_slot(p: u32) -> u32 {
  let k = hash_params.table_size;
  let d = (xxh32_u32(p, hash_params.slot_seed) % hash_params.window) % k;
  return add_mod(add_mod(p % k, d, k), hash_params.back, k);
}

// @piece slot_dirichlet
// aliasSlot: column c = xxh32(p, ACOL) mod K keeps itself when the coin
// xxh32(p, ACOI) is below its threshold, else takes its alias. The table is
// 2·K words, the only per-layer memory besides the parameters.
@group(0) @binding(6) var<storage, read> alias_threshold: array<u32>;
@group(0) @binding(7) var<storage, read> alias_target: array<u32>;
fn family_slot(p: u32) -> u32 {
  let c = xxh32_u32(p, hash_params.slot_seed) % hash_params.table_size;
  if (xxh32_u32(p, hash_params.coin_seed) < alias_threshold[c]) {
    return c;
  }
  return alias_target[c];
}

// @piece hash_word
// The slot word of position p (slot | sign bit), as packSlotWords builds it
// from hash.indices() and hash.signs(): sparse positions go to the zero slot
// whatever the family says (so the family's hashes are skipped for them), and
// the sign applies to every position, zero slot included.
fn slot_word(p: u32) -> u32 {
  var word = hash_params.table_size;
  let sparse_layer = hash_params.sparsity_threshold != 0u;
  if (!sparse_layer || xxh32_u32(p, hash_params.sparsity_seed) >= hash_params.sparsity_threshold) {
    word = family_slot(p);
  }
  if (hash_params.sign_mask != 0u) {
    word |= xxh32_u32(p, hash_params.sign_seed) & hash_params.sign_mask;
  }
  return word;
}

// @piece words_out
// What the word-writing kernels below bind: how many words, and where.
struct Count {
  n: u32,
}
@group(0) @binding(0) var<uniform> count: Count;
@group(0) @binding(4) var<storage, read_write> words_out: array<u32>;

// @piece write_slot_words
// Test kernel: words_out[p] = slot_word(p) for every p < n, so the procedural
// words can be compared with the CPU's. A 2-D grid lifts the 65535-workgroup
// limit of one dimension.
@compute @workgroup_size(64, 1, 1)
fn main(
  @builtin(workgroup_id) wg: vec3<u32>,
  @builtin(num_workgroups) groups: vec3<u32>,
  @builtin(local_invocation_index) lid: u32,
) {
  let p = (wg.y * groups.x + wg.x) * 64u + lid;
  if (p < count.n) {
    words_out[p] = slot_word(p);
  }
}

// @piece write_sampled_slot_words
// Check kernel: words_out[i] = slot_word(positions[i]) for every i < n, so a
// user family's WGSL rule can be compared with its TypeScript rule on a
// sample of positions before a procedural layer trains on it.
@group(0) @binding(5) var<storage, read> positions: array<u32>;
@compute @workgroup_size(64, 1, 1)
fn main(@builtin(global_invocation_id) id: vec3<u32>) {
  if (id.x < count.n) {
    words_out[id.x] = slot_word(positions[id.x]);
  }
}
