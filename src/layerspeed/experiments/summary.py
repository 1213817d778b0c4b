"""A study summed up per grid point: speed spread, flags and accuracy over seeds.

Each run of a sweep records the speeds of its hidden layers before every epoch and after the
last (:mod:`layerspeed.experiments.run`), and their :mod:`~layerspeed.experiments.instability`.
:func:`summarize` gives, per grid point, the mean and 95% interval over seeds of the speed
spread at initialization and in training, the flags' counts, the commonest flag (the point's
verdict), the accuracy and the health numbers at initialization, and the mean-field theory
beside the measured per-layer factors at initialization
(:func:`layerspeed.experiments.theory_check.point_theory`). The sentences that state the
findings are :mod:`layerspeed.views.text.sweep`'s.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from layerspeed import __version__, stats
from layerspeed.experiments.datasets import Data
from layerspeed.experiments.driver import RunRecord
from layerspeed.experiments.grid import GridPoint, Study
from layerspeed.experiments.schema import SCHEMA_VERSION, PointTheory
from layerspeed.experiments.theory_check import input_second_moment, point_theory
from layerspeed.stats import DescriptionDict

# Activations whose units can be dead (never active on the probe set).
DEAD_ACTIVATIONS = frozenset({"relu"})


def _describe(values: Sequence[float]) -> DescriptionDict | None:
    return stats.describe(values).to_dict() if values else None


def _initial_probe(result: Mapping[str, Any]) -> Mapping[str, Any]:
    """The probe's reading of the initial network (in the final probe if epoch 0 diverged)."""
    if result.get("epochs"):
        return result["epochs"][0]
    return result.get("final_probe") or {}


def _mean_of_layers(results: Sequence[dict[str, Any]], key: str) -> float | None:
    """Mean over seeds and hidden layers of a diagnostic at initialization."""
    vals = [v for r in results for v in (_initial_probe(r).get(key) or [])]
    vals = [v for v in vals if v is not None and math.isfinite(v)]
    return float(np.mean(vals)) if vals else None


def _theory(point: GridPoint, ended: Sequence[dict[str, Any]], data: Data | None) -> PointTheory:
    """The mean-field theory beside the point's speeds at initialization (epoch 0's probe)."""
    # Epoch 0's reading: the first of "epochs", or the final probe where epoch 1 diverged.
    initial = [m for m in map(_initial_probe, ended) if m.get("epoch") == 0]
    c = point.config
    m2 = input_second_moment(c, data) if data is not None and c.dataset in data else None
    return point_theory(c, point.label, initial, m2)


def _point_summary(
    point: GridPoint, rows: Sequence[RunRecord], data: Data | None = None
) -> dict[str, Any]:
    counts = {s: sum(r.status == s for r in rows) for s in ("done", "diverged", "failed")}
    counts["missing"] = len(rows) - sum(counts.values())
    ended = [r.result for r in rows if r.result is not None]

    def spreads(when: str) -> list[float]:
        return [r["instability"][when]["spread"] for r in ended if r["instability"][when]]

    def flags(when: str) -> dict[str, int]:
        got = [r["instability"][when]["flag"] for r in ended if r["instability"][when]]
        return {f: got.count(f) for f in ("vanishing", "balanced", "exploding")}

    def ratios(when: str) -> list[float]:
        return [r["instability"][when]["ratio"] for r in ended if r["instability"][when]]

    acc = [100 * r["final_accuracy"] for r in ended if r.get("final_accuracy") is not None]
    training_flags = flags("training")
    if counts["diverged"] and counts["diverged"] >= len(rows) / 2:
        verdict = "diverged"
    elif any(training_flags.values()):
        top = max(training_flags.values())
        tied = [f for f, k in training_flags.items() if k == top]
        verdict = tied[0] if len(tied) == 1 else "mixed"  # no majority: say so
    else:
        verdict = "unknown"
    dead = (
        _mean_of_layers(ended, "dead_share")
        if point.config.activation in DEAD_ACTIVATIONS
        else None
    )
    return {
        "label": point.label,
        "params": point.params,
        "n_runs": len(rows),
        "status": counts,
        "seeds": [r.task.seed for r in rows],
        "spread_initial": _describe(spreads("initial")),
        "spread_training": _describe(spreads("training")),
        "ratio_initial": stats.geometric_mean(ratios("initial")) if ratios("initial") else None,
        "ratio_training": stats.geometric_mean(ratios("training")) if ratios("training") else None,
        "flags_initial": flags("initial"),
        "flags_training": training_flags,
        "verdict": verdict,
        "accuracy": _describe(acc),  # percent, after the last epoch, runs that did not diverge
        "saturated_share": _mean_of_layers(ended, "saturated_share"),
        "dead_share": dead,
        "update_ratio": _mean_of_layers(ended, "update_ratio"),
        "theory": _theory(point, ended, data),
    }


def summarize(
    study: Study, rows: Sequence[RunRecord], *, data: Data | None = None
) -> dict[str, Any]:
    """Sum the runs up per grid point (mean and 95% CI over seeds) and state the findings.

    ``data`` (the images the runs read, :func:`layerspeed.experiments.datasets.load_data`)
    gives the theory the probe images' mean square, where the first hidden layer's q starts;
    without it the first hidden layer is taken to sit at the fixed point q*.

    Structure::

        {"name", "meta": {...}, "config": Sweep.to_dict(), "axes": {axis: [values]},
         "runs": {"total", "done", "diverged", "failed", "missing",
                  "problems": [{"run", "status", "message"}]},
         "points": [{"label", "params", "n_runs", "status": {...}, "seeds",
                     "spread_initial", "spread_training": Description | None,
                     "ratio_initial", "ratio_training": geometric mean of last/first,
                     "flags_initial", "flags_training": {"vanishing", "balanced", "exploding"},
                     "verdict": the commonest training flag ("mixed" on a tie), or
                                "diverged" (at least half the seeds),
                     "accuracy": Description (percent) | None,
                     "saturated_share", "dead_share", "update_ratio": at init, mean of layers,
                     "theory": the mean-field prediction beside the measured per-layer
                               factors at initialization (theory_check.point_theory)}]}

    The sentences of ``"findings"`` are added by :func:`layerspeed.views.text.sweep.findings`.
    """
    by_label: dict[str, list[RunRecord]] = {}
    for r in rows:
        by_label.setdefault(r.task.label, []).append(r)
    points = [_point_summary(p, by_label.get(p.label, []), data) for p in study.points()]
    statuses = [r.status for r in rows]
    runs = {s: statuses.count(s) for s in ("done", "diverged", "failed")}
    problems = [
        {"run": f"{r.task.label}/seed-{r.task.seed}", "status": r.status, "message": r.message}
        for r in rows
        if r.status not in ("done", "diverged")
    ]
    summary: dict[str, Any] = {
        "schema_version": SCHEMA_VERSION,
        "name": study.name,
        "meta": {"layerspeed_version": __version__},
        "config": study.to_dict(),
        "axes": study.to_dict()["grid"],
        "runs": {
            "total": len(rows),
            **runs,
            "missing": len(rows) - sum(runs.values()),
            "problems": problems,
        },
        "points": points,
    }
    return summary
