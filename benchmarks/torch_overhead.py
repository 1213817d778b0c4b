"""What the PyTorch probe costs: the book's MLP and a ResNet-18 shape, trained with and without it.

Two networks, each trained in the same run bare and watched, recording every 100 optimizer
steps:

- the chapter's [784, 30, 30, 30, 30, 10] sigmoid MLP at mini-batch 10, plain SGD, float32,
  with the book's probe set of 1000 inputs, and reading the training step's own gradients
  (``probe=None``);
- the ResNet-18 shape of :mod:`layerspeed.torch.models` (basic blocks, convolutions without
  bias, batch norm, skips; ``--width`` channels in the first stage) on 32x32 RGB inputs at
  mini-batch 32, SGD with momentum, with a probe set of 128 images.

A record on a probe set is one extra forward and backward pass over it, so its cost against
the loop is about (probe examples) / (every x mini-batch) of a training step's: 1000 / 1000
for the MLP, whose steps at mini-batch 10 cost mostly Python, and 128 / 3200 for the ResNet.
Bare and watched repetitions alternate so that drifts in machine speed hit both alike; the
median of the side-by-side ratios is reported. Times are the process's CPU seconds, not wall
time: on a machine shared with other work (as ours is) wall time counts the others' load too,
while one torch thread's CPU time is the work itself. Inputs are random: the cost depends on the
shapes, not the values. Alerts are on (the default thresholds), handled silently.

    python benchmarks/torch_overhead.py [--reps 5] [--resnet-reps 3] [--threads 1]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor, nn

import layerspeed.torch as lst
from layerspeed.torch.models import resnet18

SIZES = (784, 30, 30, 30, 30, 10)
Batches = list[tuple[Tensor, Tensor]]


def book_network() -> nn.Sequential:
    modules: list[nn.Module] = []
    for l, (n_in, n_out) in enumerate(zip(SIZES[:-1], SIZES[1:], strict=True)):
        modules.append(nn.Linear(n_in, n_out))
        if l < len(SIZES) - 2:
            modules.append(nn.Sigmoid())
    return nn.Sequential(*modules)


def run_once(
    make: Callable[[], tuple[nn.Module, torch.optim.Optimizer]],
    batches: Batches,
    loss_fn: Callable[[Tensor, Tensor], Tensor],
    watch: dict[str, Any] | None,
) -> float:
    """CPU seconds for one pass over ``batches``; watched when ``watch`` is given."""
    torch.manual_seed(0)
    model, opt = make()

    def loop() -> None:
        for x, y in batches:
            loss = loss_fn(model(x), y)
            opt.zero_grad()
            loss.backward()
            opt.step()

    start = time.process_time()
    if watch is None:
        loop()
    else:
        with lst.watch(model, on_alert=lambda _alert: None, **watch) as probe:
            loop()
        assert len(probe.history) == -(-len(batches) // watch["every"])
    return time.process_time() - start


def compare(
    title: str,
    make: Callable[[], tuple[nn.Module, torch.optim.Optimizer]],
    batches: Batches,
    loss_fn: Callable[[Tensor, Tensor], Tensor],
    variants: dict[str, dict[str, Any] | None],
    reps: int,
) -> dict[str, float]:
    """Print each variant's median time and its overhead over the bare loop; return those."""
    times: dict[str, list[float]] = {name: [] for name in variants}
    for watch in variants.values():  # warm-up, on a few batches
        run_once(make, batches[: max(1, len(batches) // 10)], loss_fn, watch)
    for _ in range(reps):  # interleaved, so that drifts in machine speed hit all alike
        for name, watch in variants.items():
            times[name].append(run_once(make, batches, loss_fn, watch))
    print(title)
    bare = times["bare loop"]
    overheads = {}
    for name, ts in times.items():
        t = statistics.median(ts)
        line = f"  {name:<24} {t:7.3f} CPU s  ({1e3 * t / len(batches):6.2f} ms/step)"
        if ts is not bare:
            # the median of the ratios of runs taken side by side
            ratio = statistics.median(w / b for w, b in zip(ts, bare, strict=True))
            overheads[name] = 100 * (ratio - 1)
            line += f"  ratio {ratio:.3f} (overhead {overheads[name]:+.1f}%, target < +10%)"
        print(line)
    return overheads


def split(x: Tensor, y: Tensor, batch: int) -> Batches:
    return [(x[k : k + batch], y[k : k + batch]) for k in range(0, len(x), batch)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=2000, help="MLP optimizer steps per run")
    parser.add_argument("--reps", type=int, default=5, help="MLP repetitions of each loop")
    parser.add_argument("--every", type=int, default=100, help="record every N steps")
    parser.add_argument("--probe-size", type=int, default=1000, help="MLP probe set size")
    parser.add_argument("--resnet-steps", type=int, default=200, help="ResNet steps per run")
    parser.add_argument("--resnet-reps", type=int, default=3, help="ResNet repetitions")
    parser.add_argument("--resnet-probe-size", type=int, default=128, help="ResNet probe set")
    parser.add_argument("--width", type=int, default=8, help="ResNet first-stage channels")
    parser.add_argument("--threads", type=int, default=1, help="torch.set_num_threads")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    g = torch.Generator().manual_seed(0)

    # the book's MLP, mini-batch 10
    x = torch.rand(args.steps * 10, SIZES[0], generator=g)  # (n, 784), pixels
    y = nn.functional.one_hot(torch.randint(0, 10, (len(x),), generator=g), 10).float()

    def make_mlp() -> tuple[nn.Module, torch.optim.Optimizer]:
        model = book_network()
        return model, torch.optim.SGD(model.parameters(), lr=0.1)

    mlp = compare(
        f"book MLP {list(SIZES)} sigmoid, mini-batch 10, {args.steps} steps per run, "
        f"a record every {args.every} steps, {args.threads} thread(s), {args.reps} repetitions",
        make_mlp,
        split(x, y, 10),
        lst.book_cross_entropy,
        {
            "bare loop": None,
            f"probe set of {args.probe_size}": {
                "every": args.every,
                "probe": (x[: args.probe_size], y[: args.probe_size]),
            },
            "training gradients": {"every": args.every, "probe": None},
        },
        args.reps,
    )

    # the ResNet-18 shape on 32x32 RGB inputs, mini-batch 32
    xr = torch.randn(args.resnet_steps * 32, 3, 32, 32, generator=g)
    yr = torch.randint(0, 10, (len(xr),), generator=g)

    def make_resnet() -> tuple[nn.Module, torch.optim.Optimizer]:
        model = resnet18(width=args.width)
        return model, torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)

    p = args.resnet_probe_size
    resnet = compare(
        f"ResNet-18 shape (width {args.width}), 32x32x3 inputs, mini-batch 32, "
        f"{args.resnet_steps} steps per run, a record every {args.every} steps, "
        f"{args.resnet_reps} repetitions",
        make_resnet,
        split(xr, yr, 32),
        nn.functional.cross_entropy,
        {
            "bare loop": None,
            f"probe set of {p}": {"every": args.every, "probe": (xr[:p], yr[:p])},
        },
        args.resnet_reps,
    )
    worst = max([*mlp.values(), *resnet.values()])
    print(f"largest overhead {worst:+.1f}% ({'under' if worst < 10 else 'over'} the 10% target)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
