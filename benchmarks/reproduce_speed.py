"""Benchmark: ``layerspeed reproduce`` against the same experiments done network2's way.

Four timings, in one run; the reproductions run on the default engine (the compiled loop
wherever it applies):

1. ``layerspeed reproduce --seeds 1 --workers 1 --no-remedies`` in a fresh folder (a subprocess, so
   everything counts: start-up, loading MNIST, the runs, the figures, the summary);
2. the same with ``--workers 2``, to show how the wall time changes with a second worker;
3. with ``--full``, what ``make reproduce`` runs: ``layerspeed reproduce`` with its defaults
   (5 seeds, the remedies, the default workers), in a fresh folder, the data cache warm;
   the target is at most 3 minutes;
4. the experiments of (1) (same configs, one seed) done the way network2.py and the book's
   speed program do them, written out below: one example at a time with column vectors, the
   mini-batch's gradients summed example by example, the accuracy scored image by image, and
   the speeds taken by a separate gradient pass over the probe images before each epoch. It
   runs in this process on one BLAS thread, like one worker of (1).

The target is a ratio (4) / (1) of at least 8. The per-example loop of the full chapter takes
the better part of an hour, so ``--ref-epochs K`` times only the first K epochs of each of its
long runs and scales the time up by epochs (each epoch does the same work); the output says
when it did. ``--quick`` benchmarks ``reproduce --quick`` instead (a minute or two in all).

    python benchmarks/reproduce_speed.py --quick
    python benchmarks/reproduce_speed.py --ref-epochs 3     # the chapter, extrapolated
    python benchmarks/reproduce_speed.py --full --ref-epochs 1   # and make reproduce's run
    python benchmarks/reproduce_speed.py                    # the chapter, all of it (slow)
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from layerspeed.data import load_mnist
from layerspeed.experiments import Grid, RunConfig
from layerspeed.experiments.config import shuffle_rng, weight_rng
from layerspeed.nn import Network
from layerspeed.pipeline import chapter_grids

# ---- network2's way, one example at a time ---------------------------------------------------


def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def backprop_one(weights, biases, x, y):
    """Gradients for one example (x: (784, 1), y: (10, 1)), sigmoid and cross-entropy."""
    a = x
    activations, zs = [x], []
    for w, b in zip(weights, biases, strict=True):
        z = w @ a + b  # (n_out, 1)
        a = sigmoid(z)
        zs.append(z)
        activations.append(a)
    delta = activations[-1] - y  # cross-entropy's output error
    nabla_b = [None] * len(weights)
    nabla_w = [None] * len(weights)
    nabla_b[-1], nabla_w[-1] = delta, delta @ activations[-2].T
    for l in range(2, len(weights) + 1):  # l-th last layer, as network2 counts
        s = sigmoid(zs[-l])
        delta = (weights[-l + 1].T @ delta) * s * (1 - s)
        nabla_b[-l], nabla_w[-l] = delta, delta @ activations[-l - 1].T
    return nabla_b, nabla_w


def update_mini_batch(weights, biases, batch, eta, lmbda, n):
    """network2's ``update_mini_batch``: sum the examples' gradients, then one step."""
    sum_b = [np.zeros(b.shape) for b in biases]
    sum_w = [np.zeros(w.shape) for w in weights]
    for x, y in batch:
        nb, nw = backprop_one(weights, biases, x, y)
        sum_b = [s + g for s, g in zip(sum_b, nb, strict=True)]
        sum_w = [s + g for s, g in zip(sum_w, nw, strict=True)]
    m = len(batch)
    weights[:] = [
        (1 - eta * lmbda / n) * w - (eta / m) * g for w, g in zip(weights, sum_w, strict=True)
    ]
    biases[:] = [b - (eta / m) * g for b, g in zip(biases, sum_b, strict=True)]


def accuracy_one_by_one(weights, biases, data):
    hits = 0
    for x, label in data:
        a = x
        for w, b in zip(weights, biases, strict=True):
            a = sigmoid(w @ a + b)
        hits += int(np.argmax(a) == label)
    return hits / len(data)


def speeds_one_by_one(weights, biases, probe):
    """The book's speeds: ||mean over the probe images of dC/db^l|| per hidden layer."""
    sums = [np.zeros(b.shape) for b in biases[:-1]]
    for x, y in probe:
        nb, _ = backprop_one(weights, biases, x, y)
        sums = [s + g for s, g in zip(sums, nb[:-1], strict=True)]
    return [float(np.linalg.norm(s / len(probe))) for s in sums]


def _columns(x, labels):
    eye = np.eye(10)
    return [(xi.reshape(-1, 1), eye[l].reshape(-1, 1)) for xi, l in zip(x, labels, strict=True)]


def _params(cfg: RunConfig, seed: int):
    net = Network.create(cfg.sizes, rng=weight_rng(seed), init=cfg.init)
    return [w.copy() for w in net.weights], [b.reshape(-1, 1).copy() for b in net.biases]


def reference_run(cfg: RunConfig, seed: int, mnist, ref_epochs: int | None) -> tuple[float, float]:
    """(seconds measured, seconds scaled up to all epochs) for one run, network2's way.

    The chapter's three kinds of run: a fresh network's speeds (zero epochs), full-batch
    training with the speeds before each epoch, and mini-batch training scored every epoch.
    """
    start = time.perf_counter()
    weights, biases = _params(cfg, seed)
    if not cfg.epochs:
        probe = _columns(mnist.training.x[: cfg.n_probe], mnist.training.labels[: cfg.n_probe])
        speeds_one_by_one(weights, biases, probe)
        t = time.perf_counter() - start
        return t, t
    epochs = cfg.epochs if ref_epochs is None else min(ref_epochs, cfg.epochs)
    train = _columns(mnist.training.x[: cfg.n_train], mnist.training.labels[: cfg.n_train])
    rng = shuffle_rng(seed)
    if cfg.full_batch and cfg.records("speeds"):
        for _ in range(epochs):
            speeds_one_by_one(weights, biases, train)  # a separate pass before the step
            update_mini_batch(weights, biases, train, cfg.eta, cfg.lmbda, len(train))
    else:
        validation = list(
            zip(
                mnist.validation.x[: cfg.n_eval].reshape(-1, 784, 1),
                mnist.validation.labels[: cfg.n_eval],
                strict=True,
            )
        )
        m = cfg.mini_batch_size
        for _ in range(epochs):
            order = rng.permutation(len(train))
            for k in range(0, len(train), m):
                batch = [train[i] for i in order[k : k + m]]
                update_mini_batch(weights, biases, batch, cfg.eta, cfg.lmbda, len(train))
            accuracy_one_by_one(weights, biases, validation)
    t = time.perf_counter() - start
    return t, t * cfg.epochs / epochs


def reference(chapter: Grid, ref_epochs: int | None) -> tuple[float, float]:
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1):
        start = time.perf_counter()
        mnist = load_mnist(offline=True)
        load = time.perf_counter() - start
        measured, scaled = load, load
        for study in chapter.studies:
            for point in study.points():
                for seed in study.seeds:
                    m, s = reference_run(point.config, seed, mnist, ref_epochs)
                    measured += m
                    scaled += s
                print(f"  reference {study.name} {point.label}: {scaled:.0f} s so far", flush=True)
    return measured, scaled


# ---- layerspeed reproduce --------------------------------------------------------------------


def reproduce_seconds(workers: int | None, quick: bool, *, full: bool = False) -> float:
    """Wall seconds of ``layerspeed reproduce`` in a fresh folder: one seed, no remedies and
    ``workers`` workers; or, ``full``, with its defaults, as ``make reproduce`` runs it."""
    with tempfile.TemporaryDirectory(prefix="layerspeed-bench-") as out:
        cmd = [
            sys.executable,
            "-c",
            "import sys; from layerspeed.cli import main; sys.exit(main())",
            "reproduce",
            "--out",
            str(Path(out) / "res"),
            "--offline",
        ]
        if not full:
            # the per-example baseline covers the book's experiments only
            cmd += ["--seeds", "1", "--workers", str(workers), "--no-remedies"]
        if quick:
            cmd.append("--quick")
        start = time.perf_counter()
        subprocess.run(
            cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=os.environ
        )
        return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="benchmark reproduce --quick")
    parser.add_argument(
        "--ref-epochs",
        type=int,
        default=None,
        help="time only this many epochs of each long per-example run and scale up",
    )
    parser.add_argument("--skip-reference", action="store_true")
    parser.add_argument(
        "--full",
        action="store_true",
        help="also time make reproduce's run: 5 seeds, the remedies, the default workers",
    )
    args = parser.parse_args()
    chapter, _ = chapter_grids(quick=args.quick, seeds=1)  # what `reproduce --seeds 1` runs
    load_mnist()  # fetch once, outside every timing
    print(
        f"layerspeed reproduce --seeds 1{' --quick' if args.quick else ''}, {os.cpu_count()} cores"
    )
    t1 = reproduce_seconds(1, args.quick)
    print(f"  1 worker:  {t1:8.1f} s", flush=True)
    t2 = reproduce_seconds(2, args.quick)
    print(f"  2 workers: {t2:8.1f} s   (1 worker / 2 workers = {t1 / t2:.2f}x)", flush=True)
    if args.full:
        t = reproduce_seconds(None, args.quick, full=True)
        verdict = "met" if t <= 180 else "not met"
        print(
            f"  make reproduce's run (5 seeds, remedies): {t:8.1f} s "
            f"(target at most 180 s: {verdict})",
            flush=True,
        )
    if args.skip_reference:
        return 0
    measured, scaled = reference(chapter, args.ref_epochs)
    note = (
        f" (measured {measured:.1f} s on the first {args.ref_epochs} epochs of each run, "
        "scaled up by epochs)"
        if args.ref_epochs is not None and scaled != measured
        else ""
    )
    print(f"network2's per-example loop, 1 process: {scaled:8.1f} s{note}")
    print(f"speed-up of reproduce (1 worker) over the per-example loop: {scaled / t1:.1f}x")
    print(f"speed-up of reproduce (2 workers) over the per-example loop: {scaled / t2:.1f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
