"""The figure of a group of run folders: speed of learning per layer against time.

Run folders that are not the chapter's (the PyTorch probe's, a user's own) are drawn by what
every run records (:mod:`layerspeed.store`): ``epochs[*]["layer_speeds"]``. The seeds of one
configuration (``.../seed-0``, ``.../seed-1``) form a group, drawn as one chart: the median
over seeds as a line, their range as a band, each seed as a thin line.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

import numpy as np

from layerspeed.views.figures._base import Chart, Record, num, positive, speed_bands, thin

MAX_RUN_LINES = 10  # single runs drawn as thin lines; with more, only the band


class Series(NamedTuple):
    """One run's speeds: ``x`` values, ``speeds[record][layer]`` (None where not measured)."""

    x: list[float]
    speeds: list[list[float | None]]
    x_name: str  # "epoch", "step" or "record"


def group_name(path: str) -> str:
    """``torch/sigmoid/seed-0`` -> ``torch/sigmoid``: a run's seeds form one group."""
    head, _, last = path.rpartition("/")
    if last.startswith("seed-") or last.startswith("seed_"):
        return head or "."
    return path


def series(result: Mapping[str, Any]) -> Series:
    """The records of one run's ``result.json`` that hold ``layer_speeds``, as a :class:`Series`."""
    records = [e for e in result.get("epochs") or [] if isinstance(e, Mapping)]
    records = [e for e in records if isinstance(e.get("layer_speeds"), list)]
    for name in ("epoch", "step"):
        if records and all(isinstance(e.get(name), int | float) for e in records):
            x = [e[name] for e in records]
            break
    else:
        x, name = list(range(len(records))), "record"
    speeds = [[_speed(s) for s in e["layer_speeds"]] for e in records]
    return Series(x, speeds, name)


def _speed(v: Any) -> float | None:
    ok = isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v) and v > 0
    return float(v) if ok else None


def layer_names(result: Mapping[str, Any] | None, n_layers: int) -> list[str]:
    """The run's own layer names, completed with ``layer k`` up to ``n_layers``."""
    names = [str(s) for s in (result or {}).get("layer_names") or []]
    return names + [f"layer {l + 1}" for l in range(len(names), n_layers)]


def run_speeds(runs: Sequence[Series], names: Sequence[str]) -> Chart:
    """Speed of learning per layer of one group of runs (log scale): the median over runs,
    their range as a band and, for a few runs, each run as a thin line."""
    n = min(len(s.x) for s in runs)
    idx = thin(n)
    per_run = np.array(  # run, record, layer
        [
            [[np.nan if v is None else v for v in _pad(s.speeds[i], len(names))] for i in idx]
            for s in runs
        ],
        dtype=np.float64,
    ).reshape(len(runs), len(idx), len(names))
    with warnings.catch_warnings():  # an all-NaN record gives NaN: drawn as a gap
        warnings.simplefilter("ignore", RuntimeWarning)
        median = np.nanmedian(per_run, axis=0)  # record, layer
        low, high = np.nanmin(per_run, axis=0), np.nanmax(per_run, axis=0)
    lines = len(runs) if 1 < len(runs) <= MAX_RUN_LINES else 0
    records: list[Record] = []
    for k, i in enumerate(idx):
        for l, name in enumerate(names):
            rec: Record = {"x": num(runs[0].x[i]), "layer": name, "median": positive(median[k, l])}
            if len(runs) > 1:
                rec |= {"low": positive(low[k, l]), "high": positive(high[k, l])}
            rec |= {f"r{r}": positive(per_run[r, k, l]) for r in range(lines)}
            records.append(rec)
    return speed_bands(records, names, x_title=runs[0].x_name, runs=lines, width=640)


def _pad(row: Sequence[float | None], n: int) -> list[float | None]:
    return [row[l] if l < len(row) else None for l in range(n)]
