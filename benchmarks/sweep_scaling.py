"""Benchmark: sweep throughput, in runs per minute, on 1 and 2 local workers and on Dask.

The same small sweep (activation x initializer on [784,30,30,30,30,10], one epoch on the first
``--n-train`` images, measured before and after) runs three times, each into a fresh folder:

- ``local_pool`` with 1 worker process, then with 2 (one BLAS thread each);
- a ``distributed.LocalCluster`` with 2 worker processes of one thread each, through
  ``Client.get_executor()`` (skipped without ``layerspeed[cluster]``).

Each executor is started and warmed up first, so the numbers are the steady throughput of a
long sweep, not process start-up; the Dask figure includes the scatter of the data. Each
sweep runs ``--repeat`` times; the best time counts (the machine's other load only slows).
The target is a speed-up of at least 1.7x from 1 to 2 workers on 2 cores. Every number
printed was measured in this run.

    python benchmarks/sweep_scaling.py                  # synthetic data, 16 runs
    python benchmarks/sweep_scaling.py --n-train 3000   # shorter runs: overhead shows
    python benchmarks/sweep_scaling.py --data mnist     # MNIST from the local cache
"""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
import time
from concurrent.futures import Executor, wait

from layerspeed import __version__
from layerspeed.experiments.datasets import Data, load_data
from layerspeed.experiments.driver import LocalPool, plan, run
from layerspeed.experiments.grid import Grid, parse_grid


def _start(seconds: float) -> int:
    import layerspeed.experiments.driver  # noqa: F401  the imports, out of the timing

    time.sleep(seconds)
    return os.getpid()


def warm_up(executor: Executor, workers: int) -> None:
    """Start every worker process and its imports before the clock runs (each task sleeps,
    so that no worker takes two)."""
    wait([executor.submit(_start, 1.0) for _ in range(workers)])


def timed(executor: Executor, grid: Grid, data: Data, workers: int, repeat: int) -> list[float]:
    """Seconds to run the whole sweep on a warm ``executor`` into a fresh folder, ``repeat``
    times."""
    warm_up(executor, workers)
    times = []
    for _ in range(repeat):
        with tempfile.TemporaryDirectory() as out:
            tasks = plan(grid, out)
            start = time.perf_counter()
            outcomes = run(tasks, data, executor=executor)
            times.append(time.perf_counter() - start)
        bad = [o for o in outcomes if o.status != "done"]
        if bad:
            raise SystemExit(f"{len(bad)} runs did not finish: {bad[0].message}")
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", choices=["synthetic", "mnist"], default="synthetic")
    parser.add_argument("--n-train", type=int, default=10_000)
    parser.add_argument("--seeds", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=3, help="sweeps per executor; best counts")
    parser.add_argument("--no-dask", action="store_true", help="skip the LocalCluster")
    args = parser.parse_args()

    grid = parse_grid(
        {
            "name": "scaling",
            "seeds": args.seeds,
            "base": {
                "depth": 4,
                "width": 30,
                "epochs": 1,
                "n_train": args.n_train,
                "n_probe": 500,
                "n_eval": 2000,
                "dataset": args.data,
            },
            "grid": {
                "activation": ["sigmoid", "tanh", "relu", "softplus"],
                "init": ["default", "he"],
            },
        }
    )
    (study,) = grid.studies
    n = len(study.points()) * len(study.seeds)
    data = load_data((p.config for p in study.points()), offline=True)
    print(
        f"layerspeed {__version__}, Python {platform.python_version()}, "
        f"{os.cpu_count()} CPUs ({len(os.sched_getaffinity(0))} usable); {n} runs of "
        f"[784,30,30,30,30,10], 1 epoch on {args.n_train} {args.data} images"
    )
    rows: list[tuple[str, list[float]]] = []
    for workers in (1, 2):
        with LocalPool(data, workers) as pool:
            rows.append(
                (
                    f"local_pool, {workers} worker{'s' * (workers > 1)}",
                    timed(pool, grid, data, workers, args.repeat),
                )
            )
    if not args.no_dask:
        try:
            from distributed import Client, LocalCluster
        except ImportError:
            print('(Dask skipped: pip install "layerspeed[cluster]")')
        else:
            with (
                LocalCluster(
                    n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
                ) as cluster,
                Client(cluster) as client,
            ):
                rows.append(
                    (
                        "Dask LocalCluster, 2 workers",
                        timed(client.get_executor(), grid, data, 2, args.repeat),
                    )
                )
    print(f"{'executor':<30} {'best s':>7} {'runs/min':>9} {'vs 1 worker':>12}  all runs (s)")
    base = min(rows[0][1])
    for name, times in rows:
        best = min(times)
        print(
            f"{name:<30} {best:>7.2f} {60 * n / best:>9.1f} {base / best:>11.2f}x  "
            + " ".join(f"{t:.2f}" for t in times)
        )
    speedup = base / min(rows[1][1])
    verdict = "meets" if speedup >= 1.7 else "misses"
    print(f"1 -> 2 local workers: {speedup:.2f}x ({verdict} the 1.7x target)")


if __name__ == "__main__":
    main()
