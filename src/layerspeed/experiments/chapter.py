"""The chapter's experiments summed up over seeds, and the book's claims judged by the numbers.

"The vanishing gradient problem" (Nielsen, ch. 5) runs four experiments on MNIST, the studies
of ``presets/chapter.toml``:

1. ``depth``: train [784,30,10] ... [784,30,30,30,30,10] for 30 epochs (mini-batch 10,
   eta 0.1, lmbda 5.0) and compare validation accuracies; the book's single runs give
   96.48, 96.90, 96.57 and 96.53 percent.
2. ``neurons``: dC/db for the first six neurons of each hidden layer of a freshly initialized
   [784,30,30,10], averaged over the first 1000 training images (the book's bar figure).
3. ``initial``: the speed of learning ||delta^l|| of each hidden layer at initialization, for
   2, 3 and 4 hidden layers; the book's single networks give (0.07, 0.31),
   (0.012, 0.060, 0.283) and (0.003, 0.017, 0.070, 0.285).
4. ``training``: the same speeds recorded before each of 500 epochs of full-batch gradient
   descent on the first 1000 training images (eta 0.1, lmbda 5.0).

:func:`aggregate` turns the runs' records into the plain data of ``results.json`` (its shape:
:mod:`layerspeed.experiments.schema`). Each part carries its :class:`Verdict` s: a claim's
identifier, whether it holds, and the numbers that decide it; the words of the claim and the
sentence of evidence are :mod:`layerspeed.views.text.verdicts`'. Every threshold is read from
the table of :mod:`layerspeed.experiments.claims` by :mod:`layerspeed.experiments.verdicts`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from layerspeed import stats
from layerspeed.experiments.driver import RunRecord
from layerspeed.experiments.grid import Grid, Study
from layerspeed.experiments.schema import Part, Results, RunsInfo
from layerspeed.experiments.verdicts import (
    Verdict,
    depth_verdicts,
    initial_verdicts,
    neurons_verdict,
    training_verdicts,
)

# ---- the book's numbers -------------------------------------------------------------------

# Validation accuracy (percent) of the book's single 30-epoch runs, by number of hidden layers.
BOOK_DEPTH: dict[int, float] = {1: 96.48, 2: 96.90, 3: 96.57, 4: 96.53}
# ||delta^l|| at initialization, first hidden layer first, by number of hidden layers.
BOOK_INITIAL: dict[int, tuple[float, ...]] = {
    2: (0.07, 0.31),
    3: (0.012, 0.060, 0.283),
    4: (0.003, 0.017, 0.070, 0.285),
}
N_NEURONS = 6  # the book's bars show the first six neurons of each hidden layer


# ---- helpers -------------------------------------------------------------------------------


def _done(records: Sequence[RunRecord], label: str) -> list[RunRecord]:
    return sorted(
        (r for r in records if r.task.label == label and r.status == "done" and r.result),
        key=lambda r: r.task.seed,
    )


def _series(result: dict[str, Any] | None, key: str) -> list[Any]:
    return [e[key] for e in (result or {}).get("epochs", []) if key in e]


def _rectangular(curves: list[list[Any]]) -> list[list[Any]]:
    """Cut curves to the shortest one, so they stack (runs of one config have equal lengths)."""
    n = min(len(c) for c in curves)
    return [c[:n] for c in curves]


def _common_config(study: Study) -> dict[str, Any]:
    """The hyper-parameters the study's configs share (all but ``sizes``)."""
    dicts = [p.config.to_dict() for p in study.points()]
    common = {k: v for k, v in dicts[0].items() if k != "sizes"}
    common = {k: v for k, v in common.items() if all(d.get(k) == v for d in dicts)}
    return common | {"n_seeds": len(study.seeds), "seeds": list(study.seeds)}


def _row(label: str, sizes: Sequence[int], runs: Sequence[RunRecord]) -> dict[str, Any]:
    return {
        "label": label,
        "sizes": list(sizes),
        "hidden_layers": len(sizes) - 2,
        "n_runs": len(runs),
    }


def _part(study: Study, rows: list[dict[str, Any]], verdicts: list[Verdict]) -> Part:
    return {
        "title": study.display_title(),
        "config": _common_config(study),
        "rows": rows,
        "verdicts": [v.to_dict() for v in verdicts],
    }


# ---- depth ---------------------------------------------------------------------------------


def aggregate_depth(study: Study, records: Sequence[RunRecord]) -> Part:
    """The depth table: final and best validation accuracy (percent) per depth, with Welch."""
    rows: list[dict[str, Any]] = []
    for p in study.points():
        runs = _done(records, p.label)
        row = _row(p.label, p.config.sizes, runs)
        row |= {"seeds": [r.task.seed for r in runs], "book": BOOK_DEPTH.get(row["hidden_layers"])}
        if runs:
            curves = [[100 * a for a in _series(r.result, "evaluation_accuracy")] for r in runs]
            final = stats.describe([c[-1] for c in curves])
            best = stats.describe([max(c) for c in curves])
            row |= {
                "final": final.to_dict(),
                "best": best.to_dict(),
                "best_epoch": [int(np.argmax(c)) for c in curves],
                "curve": stats.quantile_band(_rectangular(curves)).to_dict(),
            }
            if row["book"] is not None:
                row |= {
                    "book_in_final_pi": final.contains(row["book"], interval="pi"),
                    "book_in_best_pi": best.contains(row["book"], interval="pi"),
                    "book_in_final_range": final.contains(row["book"], interval="range"),
                    "book_in_best_range": best.contains(row["book"], interval="range"),
                }
        rows.append(row)
    welch = []
    for a, b in zip(rows[:-1], rows[1:], strict=True):
        if not (a["n_runs"] and b["n_runs"]):
            continue
        for measure in ("final", "best"):
            w = stats.welch(a[measure]["values"], b[measure]["values"])
            book_diff = (
                b["book"] - a["book"] if a["book"] is not None and b["book"] is not None else None
            )
            welch.append(
                {"a": a["label"], "b": b["label"], "measure": measure, **w.to_dict()}
                | {"book_difference": book_diff}
            )
    part = _part(study, rows, depth_verdicts(rows, welch))
    part["welch"] = welch
    return part


# ---- the bars ------------------------------------------------------------------------------


def aggregate_neurons(study: Study, records: Sequence[RunRecord]) -> Part:
    """The bar figure's data: seed 0's first six dC/db per hidden layer, and spread over seeds."""
    p = study.points()[0]
    runs = _done(records, p.label)
    out: Part = {
        "title": study.display_title(),
        "config": p.config.to_dict(),
        "label": p.label,
        "sizes": list(p.config.sizes),
        "n_neurons": N_NEURONS,
        "n_runs": len(runs),
        "verdicts": [],
    }
    if not runs:
        return out
    grads = [np.asarray(r.result["epochs"][0]["neuron_gradients"]) for r in runs if r.result]
    first = [[g[:N_NEURONS] for g in run] for run in grads]  # run, layer, neuron
    n_layers = len(first[0])
    out["example"] = {"seed": runs[0].task.seed, "layers": [g.tolist() for g in first[0]]}
    out["mean_abs"] = [
        stats.quantile_band([np.abs(run[l]) for run in first]).to_dict() for l in range(n_layers)
    ]
    if n_layers >= 2:
        later = np.array([np.abs(run[1]) > np.abs(run[0]) for run in first])  # seed, neuron
        ratio = np.array([np.abs(run[1]) / np.abs(run[0]) for run in first])  # seed, neuron
        share = float(later.mean())
        out["share_later_larger"] = share
        numbers = {
            "share": share,
            "median_ratio": float(np.median(ratio)),
            "n_runs": len(runs),
            "seed": runs[0].task.seed,
            "larger": int(later[0].sum()),
            "n_neurons": N_NEURONS,
        }
        out["verdicts"] = [neurons_verdict(numbers).to_dict()]
    return out


# ---- speeds at initialization --------------------------------------------------------------


def aggregate_initial(study: Study, records: Sequence[RunRecord]) -> Part:
    """Per-layer speeds at initialization: median and 10-90% band over seeds, beside the book."""
    rows = []
    for p in study.points():
        runs = _done(records, p.label)
        row = _row(p.label, p.config.sizes, runs)
        h = row["hidden_layers"]
        row["book"] = list(BOOK_INITIAL[h]) if h in BOOK_INITIAL else None
        if runs:
            readings = [r.result["epochs"][0] for r in runs if r.result]
            speeds = np.array([m["layer_speeds"] for m in readings])
            band = stats.quantile_band(speeds)
            row |= band.to_dict()
            if row["book"] is not None:
                row["book_in_band"] = [
                    bool(lo <= b <= hi)
                    for b, lo, hi in zip(row["book"], band.low, band.high, strict=True)
                ]
                # Where the book's network sits among ours: the share of seeds below it.
                row["book_percentile"] = [
                    float(np.mean(speeds[:, l] < b)) for l, b in enumerate(row["book"])
                ]
            for key in ("mean_example_norms", "weight_grad_norms"):
                values = np.array([m[key] for m in readings])
                row[key] = {"median": np.median(values, axis=0).tolist()}
            row["share_increasing"] = float(np.mean(np.all(np.diff(speeds, axis=1) > 0, axis=1)))
        rows.append(row)
    return _part(study, rows, initial_verdicts(rows))


# ---- speeds during training ----------------------------------------------------------------


def aggregate_training(study: Study, records: Sequence[RunRecord]) -> Part:
    """Speeds before each full-batch epoch: median and band per hidden layer over seeds."""
    rows = []
    for p in study.points():
        runs = _done(records, p.label)
        row = _row(p.label, p.config.sizes, runs)
        h = row["hidden_layers"]
        if runs:
            speeds = np.array(
                _rectangular([_series(r.result, "layer_speeds") for r in runs])
            )  # (seed, epoch, layer)
            row["epochs"] = list(range(speeds.shape[1]))
            row["layers"] = [stats.quantile_band(speeds[:, :, l]).to_dict() for l in range(h)]
            ratio = speeds[:, :, -1] / speeds[:, :, 0]  # (seed, epoch)
            ratio_band = stats.quantile_band(ratio)
            row["ratio_last_first"] = ratio_band.to_dict()
            row["ratio_typical"] = stats.geometric_mean(ratio_band.median)
            row["share_ordered"] = float(np.mean(np.all(np.diff(speeds, axis=2) > 0, axis=2)))
            first_slowest = np.argmin(speeds, axis=2) == 0  # (seed, epoch)
            row["share_first_slowest"] = float(np.mean(first_slowest))
            row["seeds_first_always_slowest"] = int(np.sum(np.all(first_slowest, axis=1)))
            # How much slower: the next-slowest layer's speed over the first's.
            next_over_first = np.min(speeds[:, :, 1:], axis=2) / speeds[:, :, 0]  # (seed, epoch)
            row["median_next_over_first"] = float(np.median(next_over_first))
            medians = np.array([b["median"] for b in row["layers"]])  # (layer, epoch)
            row["share_median_ordered"] = float(
                np.mean(np.all(np.diff(medians, axis=0) > 0, axis=0))
            )
            acc = [
                100 * a
                for r in runs
                if (a := (r.result or {}).get("final_training_accuracy")) is not None
            ]
            row["final_accuracy"] = stats.describe(acc).to_dict() if acc else None
        rows.append(row)
    return _part(study, rows, training_verdicts(rows))


AGGREGATORS = {
    "depth": aggregate_depth,
    "neurons": aggregate_neurons,
    "initial": aggregate_initial,
    "training": aggregate_training,
}


def aggregate(grid: Grid, records: Sequence[RunRecord]) -> Results:
    """Every study's results, keyed by study name, plus the runs' bookkeeping."""
    runs: RunsInfo = {
        "total": len(records),
        "done": sum(r.status == "done" for r in records),
        "diverged": sum(r.status == "diverged" for r in records),
        "failed": sum(r.status == "failed" for r in records),
        "problems": [
            {
                "experiment": r.task.study,
                "label": r.task.label,
                "seed": r.task.seed,
                "status": r.status,
                "message": r.message,
            }
            for r in records
            if r.status != "done"
        ],
    }
    out: Results = {"runs": runs}
    for study in grid.studies:
        mine = [r for r in records if r.task.study == study.name]
        out[study.name] = AGGREGATORS[study.name](study, mine)  # type: ignore[literal-required]
    return out
