"""What the PyTorch probe costs: the book's network trained with and without it.

The network is the chapter's [784, 30, 30, 30, 30, 10] sigmoid MLP at mini-batch 10, plain
SGD, float32. The watched loop records every 100 optimizer steps on a probe set of 1000
inputs (the book's measurement: one extra forward and backward pass each time). Bare and
watched repetitions alternate so that drifts in machine speed hit both alike; the median of
the side-by-side ratios is reported. A third variant reads the training step's own gradients
(``probe=None``) instead of taking a probe pass. Inputs are random pixels: the cost depends
on the shapes, not the digits.

    python benchmarks/torch_overhead.py [--steps 2000] [--reps 7] [--threads 1]
"""

from __future__ import annotations

import argparse
import statistics
import time
from typing import Any

import torch
from torch import nn

import layerspeed.torch as lst

SIZES = (784, 30, 30, 30, 30, 10)


def book_network() -> nn.Sequential:
    modules: list[nn.Module] = []
    for l, (n_in, n_out) in enumerate(zip(SIZES[:-1], SIZES[1:], strict=True)):
        modules.append(nn.Linear(n_in, n_out))
        if l < len(SIZES) - 2:
            modules.append(nn.Sigmoid())
    return nn.Sequential(*modules)


def run_once(
    x: torch.Tensor, y: torch.Tensor, watch: dict[str, Any] | None, *, batch: int
) -> float:
    """Seconds for one pass over ``x`` in mini-batches; watched when ``watch`` is given."""
    torch.manual_seed(0)
    model = book_network()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    loss_fn = lst.book_cross_entropy

    def loop() -> None:
        for k in range(0, len(x), batch):
            loss = loss_fn(model(x[k : k + batch]), y[k : k + batch])
            opt.zero_grad()
            loss.backward()
            opt.step()

    start = time.perf_counter()
    if watch is None:
        loop()
    else:
        with lst.watch(model, **watch) as probe:
            loop()
        assert len(probe.history) == -(-len(x) // batch // watch["every"])
    return time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=2000, help="optimizer steps per repetition")
    parser.add_argument("--reps", type=int, default=7, help="repetitions of each loop")
    parser.add_argument("--batch", type=int, default=10, help="mini-batch size")
    parser.add_argument("--every", type=int, default=100, help="record every N steps")
    parser.add_argument("--probe-size", type=int, default=1000, help="probe set size")
    parser.add_argument("--threads", type=int, default=1, help="torch.set_num_threads")
    args = parser.parse_args(argv)

    torch.set_num_threads(args.threads)
    g = torch.Generator().manual_seed(0)
    x = torch.rand(args.steps * args.batch, SIZES[0], generator=g)  # (n, 784), pixels
    y = nn.functional.one_hot(torch.randint(0, 10, (len(x),), generator=g), 10).float()
    variants: dict[str, dict[str, Any] | None] = {
        "bare loop": None,
        f"probe set of {args.probe_size}": {
            "every": args.every,
            "probe": (x[: args.probe_size], y[: args.probe_size]),
        },
        "training gradients": {"every": args.every, "probe": None},
    }
    times: dict[str, list[float]] = {name: [] for name in variants}
    for watch in variants.values():  # warm-up
        run_once(x, y, watch, batch=args.batch)
    for _ in range(args.reps):  # interleaved, so that drifts in machine speed hit all alike
        for name, watch in variants.items():
            times[name].append(run_once(x, y, watch, batch=args.batch))

    print(
        f"network {list(SIZES)} sigmoid, mini-batch {args.batch}, {args.steps} steps per run, "
        f"a record every {args.every} steps, {args.threads} thread(s), {args.reps} repetitions"
    )
    bare = times["bare loop"]
    for name, ts in times.items():
        t = statistics.median(ts)
        line = f"{name:<24} {t:7.3f} s  ({1e6 * t / args.steps:6.1f} us/step)"
        if ts is not bare:
            # the median of the ratios of runs taken side by side
            ratio = statistics.median(w / b for w, b in zip(ts, bare, strict=True))
            line += f"  ratio {ratio:.3f} (overhead {100 * (ratio - 1):+.1f}%, target < +10%)"
        print(line)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
