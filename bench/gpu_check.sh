#!/usr/bin/env bash
# The GPU machine's check (issue 30), one call of under about 8 minutes. On a
# machine with an NVIDIA GPU and no package registry, after the unpacking
# that docs/gpu.md gives (Deno, the Vulkan loaders and MNIST travel in .device/):
#
#   bash bench/gpu_check.sh
#
# Parts, each under its own time limit (seconds), each writing one log under $OUT:
#   adapter  20  the WebGPU adapter Deno gets (bench/gpu_adapter.ts)     adapter.log
#   tests   100  the GPU kernel tests, which import no npm package      tests.log
#   train   100  the default MNIST training (scripts/train.ts), to the end  train.log, train.jsonl
#   steps   150  784-1000-1000-10 steps, ours alone (bench/compare.ts --no-peer)  steps.log
#   torch    50  PyTorch CUDA's same step (bench/torch_hashed_mlp.py)   torch.log
#   kernels  60  kernels against the dense product, and a step's kernels  kernels.log
# plus tiles.json, the tiles the autotuner chose on that adapter: 8 files, the
# most a call brings back. At the end it prints a summary (bench/gpu_summary.ts).
# When the adapter is a software one, only the torch part runs after it.
#
# Settings (environment):
#   OUT              where the logs go (default out/gpu_check)
#   GPU_CHECK_DATA   MNIST idx folder (default /tmp/mnist, where .device/setup.sh puts it)
#   GPU_CHECK_PARTS  the parts to run (default: all six, in the order above)
#   GPU_CHECK_TINY=1 tiny sizes, on any adapter: proves every part runs on a machine without a GPU
#   GPU_CHECK_PYTHON the Python that has torch (default python3)
set -uo pipefail
cd "$(dirname "$0")/.."
out=${OUT:-out/gpu_check}
mkdir -p "$out"
out=$(cd "$out" && pwd)
data=${GPU_CHECK_DATA:-/tmp/mnist}
parts=${GPU_CHECK_PARTS:-adapter tests train steps torch kernels}
tiny=${GPU_CHECK_TINY:-}
python=${GPU_CHECK_PYTHON:-python3}
export NO_COLOR=1
# Nothing travels but the library: no lockfile entries are needed, none are written.
run=(deno run --allow-all --no-lock)

# The kernel tests: each imports only the library and node: built-ins
# (checked with `deno info`), and none spawns a script that needs npm.
tests=(
  tests/matmul.test.ts tests/matmul_tune.test.ts tests/elementwise.test.ts
  tests/softmax_xent.test.ts tests/bias_grad.test.ts tests/gradcheck.test.ts
  tests/deterministic.test.ts tests/arb_linear_shapes.test.ts tests/forward_only.test.ts
  tests/tying.test.ts tests/cnn.test.ts tests/rnn.test.ts tests/hash_procedural.test.ts
  tests/train.test.ts tests/inference.test.ts tests/checkpoint.test.ts
  tests/device_timing.test.ts tests/reliability_fuzz.test.ts
)
train_flags=()
steps_flags=(--rounds 3 --steps 200 --warmup 10)
torch_flags=(--device cuda --steps 200 --warmup 20 --rounds 5)
ratio_flags=()
profile_flags=(--batch 128 --rounds 5)
if [ -n "$tiny" ]; then
  tests=(tests/softmax_xent.test.ts tests/bias_grad.test.ts)
  train_flags=(--epochs 1 --layers 784,32,10 --train-limit 500 --test-limit 200)
  steps_flags=(--rounds 1 --steps 2 --warmup 1 --batches 8 --tile default)
  torch_flags=(--device cpu --batches 8 --steps 3 --warmup 1 --rounds 1)
  ratio_flags=(--rounds 1 --repeat 1 --batches 8)
  profile_flags=(--batch 8 --rounds 1 --steps 2)
fi

# part NAME LOG LIMIT COMMAND...: runs COMMAND with its output added to
# $out/LOG.log and prints how it ended. Its status is COMMAND's (124: it ran past LIMIT).
part() {
  local name=$1 log=$2.log limit=$3 start=$SECONDS rc
  shift 3
  timeout --kill-after=5 "$limit" "$@" >>"$out/$log" 2>&1
  rc=$?
  local how="exit $rc"
  [ $rc -eq 124 ] && how="stopped at its limit of $limit s"
  echo "gpu_check: $name: $how after $((SECONDS - start)) s (log $log)"
  return $rc
}

adapter_part() {
  {
    echo "nvidia-smi: $(timeout 10 nvidia-smi -L 2>&1 | head -2)"
    echo "Vulkan loader: $(ldconfig -p | grep -c libvulkan) libvulkan entries in ldconfig"
    for d in /usr/local/nvidia/share/vulkan/icd.d /usr/share/vulkan/icd.d /etc/vulkan/icd.d; do
      [ -d "$d" ] && echo "ICDs in $d: $(ls "$d" | tr '\n' ' ')"
    done
  } >>"$out/adapter.log" 2>&1
  local allow=()
  [ -n "$tiny" ] && allow=(--allow-software)
  part adapter adapter 20 "${run[@]}" bench/gpu_adapter.ts "${allow[@]}"
}

tests_part() {
  # The tests' own tile choices stay out of the adapter's tiles.json.
  ARBNET_TUNE_CACHE=$(mktemp -d)/tiles.json \
    part tests tests 100 deno test --allow-all --no-lock --no-check "${tests[@]}"
}

train_part() {
  part train train 100 "${run[@]}" scripts/train.ts --data "$data" --quiet \
    --log "$out/train.jsonl" "${train_flags[@]}"
}

steps_part() {
  part steps steps 150 "${run[@]}" bench/compare.ts --no-peer --deterministic "${steps_flags[@]}"
}

torch_part() {
  if ! "$python" -c 'import torch' >/dev/null 2>&1; then
    echo "torch_hashed_mlp: skipped: $python cannot import torch" | tee -a "$out/torch.log"
    return 0
  fi
  PYTHONUNBUFFERED=1 part torch torch 50 "$python" bench/torch_hashed_mlp.py "${torch_flags[@]}"
}

kernels_part() {
  part kernel_ratios kernels 40 "${run[@]}" bench/kernel_ratios.ts "${ratio_flags[@]}"
  echo >>"$out/kernels.log"
  part profile_step kernels 20 "${run[@]}" bench/profile_step.ts --network hashed "${profile_flags[@]}"
}

export ARBNET_TUNE_CACHE="$out/tiles.json"
software=
for p in $parts; do
  case $p in
    adapter)
      adapter_part
      # 2: a software adapter; 1: none at all. Either way timing it is no GPU check.
      [ $? -ne 0 ] && software=1 && echo "gpu_check: no GPU adapter: only the torch part follows"
      ;;
    tests | train | steps | kernels)
      [ -n "$software" ] && continue
      "${p}_part"
      ;;
    torch) torch_part ;;
    *)
      echo "gpu_check: unknown part '$p' (adapter tests train steps torch kernels)" >&2
      exit 2
      ;;
  esac
done
echo
"${run[@]}" bench/gpu_summary.ts "$out"
