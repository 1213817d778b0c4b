"""A sweep through a real Dask ``LocalCluster`` gives the local executor's numbers exactly.

Needs the optional extra ``layerspeed[cluster]`` (``dask[distributed]``); skipped without it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

distributed = pytest.importorskip(
    "distributed", reason='Dask is an optional extra (pip install "layerspeed[cluster]")'
)

from layerspeed import pipeline  # noqa: E402
from layerspeed.experiments.grid import parse_grid  # noqa: E402


def _results(out: Path) -> dict[str, dict[str, Any]]:
    """Every run's result.json, without its wall-clock time."""
    got = {}
    for p in sorted((out / "runs").rglob("result.json")):
        result = json.loads(p.read_text())
        result.pop("seconds")
        got[str(p.parent.relative_to(out))] = result
    return got


def test_local_cluster_equals_local_processes(tmp_path: Path) -> None:
    grid = parse_grid(
        {
            "name": "dask",
            "seeds": [0, 3],
            "base": {
                "depth": 3,
                "width": 8,
                "epochs": 2,
                "n_train": 300,
                "n_probe": 100,
                "n_eval": 200,
                "dataset": "synthetic",
            },
            "grid": {"activation": ["sigmoid", "relu"], "init": ["default", "he"]},
        }
    )
    local = pipeline.sweep(grid, tmp_path / "local", workers=2).summary  # the local pool
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        executor = client.get_executor()
        on_dask = pipeline.sweep(grid, tmp_path / "dask", executor=executor).summary
        assert len(client.scheduler_info()["workers"]) == 2
    assert local["runs"]["done"] == on_dask["runs"]["done"] == 8
    assert on_dask["meta"]["executor"] != "local_pool"
    a, b = _results(tmp_path / "local"), _results(tmp_path / "dask")
    assert len(a) == 8 and a == b  # every number, bit for bit
    assert local["points"] == on_dask["points"]
    assert local["findings"] == on_dask["findings"]
