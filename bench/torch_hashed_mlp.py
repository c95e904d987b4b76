"""PyTorch's version of the step that bench/compare.ts times, for the ratio on one GPU.

The 784-1000-1000-10 MLP with hashed layers (uniform hash, table fraction
1/8, a sign per virtual weight) or dense ones, momentum SGD (lr 0.01,
momentum 0.9), softmax cross-entropy, one seeded random batch stepped on
again and again. A hashed layer's weights are gathered from its table every
step, W = sign * table[idx] (index_select on the flattened index), so
autograd adds the weights' gradient back into the table with index_add_,
atomic adds on CUDA, as arbnet's atomic table gradient does. The hash is torch's own seeded random index and sign
tensors, not arbnet's xxHash32: the same shapes and the same work, not the
same numbers. Biases are dense, the table He-uniform, as in arbnet.

Two timings per configuration, both medians:
  waited    : every step followed by torch.cuda.synchronize() and loss.item()
  pipelined : --steps steps back to back, one synchronize at the end (the
              median over --rounds such blocks)

Prints a markdown table, then one JSON line per configuration (prefix
"json: "). Needs only torch and the standard library.

  python3 bench/torch_hashed_mlp.py [--device cuda] [--batches 50,128] [--steps 200] [--warmup 20]
"""

import argparse
import json
import math
import statistics
import sys
import time

LAYERS = (784, 1000, 1000, 10)
TABLE_FRACTION = 1 / 8


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--device", default="cuda", help="torch device (cuda, or cpu for a dry run)")
    p.add_argument("--batches", default="50,128", help="batch sizes, comma-separated")
    p.add_argument("--networks", default="hashed,dense", help="hashed and/or dense")
    p.add_argument("--layers", default=",".join(map(str, LAYERS)), help="layer widths")
    p.add_argument("--steps", type=int, default=200, help="timed steps per measure")
    p.add_argument("--warmup", type=int, default=20, help="untimed steps first")
    p.add_argument("--rounds", type=int, default=5, help="pipelined blocks (median)")
    a = p.parse_args(argv)
    a.batches = [int(b) for b in a.batches.split(",")]
    a.networks = a.networks.split(",")
    a.layers = [int(n) for n in a.layers.split(",")]
    for n in a.networks:
        if n not in ("hashed", "dense"):
            p.error(f"--networks: {n!r} is neither hashed nor dense")
    return a


def build(torch, layers, network, device, seed=1):
    """Parameters and, for hashed layers, the index and sign tensors."""
    g = torch.Generator(device="cpu").manual_seed(seed)
    params, hashed = [], []
    for n_in, n_out in zip(layers[:-1], layers[1:]):
        bound = math.sqrt(6 / n_in)  # He-uniform virtual weights, as arbnet's initTable
        if network == "hashed":
            k = max(1, round(n_in * n_out * TABLE_FRACTION))
            idx = torch.randint(k, (n_in * n_out,), generator=g).to(device)
            sign = (torch.randint(2, (n_in, n_out), generator=g) * 2 - 1).float().to(device)
            weights = (torch.rand(k, generator=g) * 2 - 1) * bound
            hashed.append((idx, sign))
        else:
            weights = (torch.rand(n_in, n_out, generator=g) * 2 - 1) * bound
            hashed.append(None)
        w = weights.to(device).requires_grad_()
        b = torch.zeros(n_out, device=device, requires_grad=True)
        params.append((w, b))
    return params, hashed


def make_step(torch, params, hashed, x, y):
    """One training step: gather, forward, cross-entropy, backward, SGD momentum."""
    flat = [t for wb in params for t in wb]
    opt = torch.optim.SGD(flat, lr=0.01, momentum=0.9)
    last = len(params) - 1

    def step():
        h = x
        for i, ((w, b), hs) in enumerate(zip(params, hashed)):
            # The gather, W = sign * table[idx]; its backward is index_add_ into the table.
            weight = w if hs is None else hs[1] * w.index_select(0, hs[0]).view_as(hs[1])
            h = torch.addmm(b, h, weight)
            if i < last:
                h = torch.relu(h)
        loss = torch.nn.functional.cross_entropy(h, y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        return loss

    return step


def time_config(torch, a, network, batch):
    device = torch.device(a.device)
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    params, hashed = build(torch, a.layers, network, device)
    g = torch.Generator(device="cpu").manual_seed(2)
    x = torch.rand(batch, a.layers[0], generator=g).to(device)
    y = torch.randint(a.layers[-1], (batch,), generator=g).to(device)
    step = make_step(torch, params, hashed, x, y)
    for _ in range(a.warmup):
        step()
    sync()
    waited = []
    for _ in range(a.steps):
        t0 = time.perf_counter()
        loss = step()
        sync()
        loss.item()
        waited.append(time.perf_counter() - t0)
    blocks = []
    for _ in range(a.rounds):
        sync()
        t0 = time.perf_counter()
        for _ in range(a.steps):
            loss = step()
        sync()
        blocks.append((time.perf_counter() - t0) / a.steps)
    final = loss.item()
    if not math.isfinite(final):
        raise SystemExit(f"torch_hashed_mlp: {network} batch {batch}: the loss is {final}")
    return {
        "peer": "pytorch",
        "version": torch.__version__,
        "device": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu",
        "network": network,
        "layers": a.layers,
        "batch": batch,
        "msPerStepWaited": 1000 * statistics.median(waited),
        "msPerStepPipelined": 1000 * statistics.median(blocks),
        "loss": final,
    }


def main(argv):
    a = parse_args(argv)
    try:
        import torch
    except ImportError:
        print("torch_hashed_mlp: skipped: PyTorch is not installed for " + sys.executable)
        return 3
    if a.device.startswith("cuda") and not torch.cuda.is_available():
        print(f"torch_hashed_mlp: skipped: torch {torch.__version__} sees no CUDA device")
        return 3
    rows = [time_config(torch, a, n, b) for b in a.batches for n in a.networks]
    print(f"torch {torch.__version__} on {rows[0]['device']}; layers {a.layers}; "
          f"{a.steps} steps per measure after {a.warmup} warm-up steps\n")
    print("| network | batch | torch ms/step, waited | torch ms/step, pipelined |")
    print("| --- | ---: | ---: | ---: |")
    for r in rows:
        print(f"| {r['network']} | {r['batch']} | {r['msPerStepWaited']:.3f} "
              f"| {r['msPerStepPipelined']:.3f} |")
    print()
    for r in rows:
        print("json: " + json.dumps(r))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
