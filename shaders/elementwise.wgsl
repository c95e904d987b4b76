// The template of every element-wise kernel (activations and their
// gradients, optimizer updates, the weight gather). The op comes from a
// piece of elementwise_ops.wgsl, which declares its bindings, a uniform
// `params` whose first field is the element count `n`, and fn apply(i).
// Each invocation applies it to PASSES elements 256 apart (a workgroup
// covers 256·PASSES consecutive ones): lavapipe pays per invocation, and
// lanes of one pass still touch neighbouring words (elementwise.ts
// ELEMENTWISE_PASSES has the measurements).

@compute @workgroup_size(256, 1, 1)
fn main(
  @builtin(workgroup_id) wg: vec3<u32>,
  @builtin(local_invocation_id) lid: vec3<u32>,
  @builtin(num_workgroups) groups: vec3<u32>,
) {
  // Large tensors spill into a second grid dimension (65535 groups per axis).
  let first = (wg.x + wg.y * groups.x) * (256u * PASSES) + lid.x;
  for (var q = 0u; q < PASSES; q++) {
    let i = first + q * 256u;
    if (i >= params.n) {
      return;
    }
    apply(i);
  }
}
