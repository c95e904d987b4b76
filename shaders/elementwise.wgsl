// One invocation per element: the template of every element-wise kernel
// (activations and their gradients, optimizer updates). The op comes from a
// piece of elementwise_ops.wgsl, which declares its bindings, a uniform
// `params` whose first field is the element count `n`, and fn apply(i).

@compute @workgroup_size(256, 1, 1)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  // Large tensors spill into a second grid dimension (65535 groups per axis).
  let i = gid.x + gid.y * groups.x * 256u;
  if (i >= params.n) {
    return;
  }
  apply(i);
}
