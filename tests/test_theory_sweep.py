"""The mean-field theory beside every sweep point: the summary's ``"theory"`` and its words.

Hand-made runs (seeded speeds, no training) are summed up by
:func:`layerspeed.experiments.summary.summarize` and checked by value against the theory's own
functions; the table and the findings of :mod:`layerspeed.views.text.sweep` are read off them.
One tiny sweep on the synthetic set checks that real runs carry the entry through.
"""

from __future__ import annotations

import math
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from layerspeed import pipeline
from layerspeed import theory as th
from layerspeed.experiments.config import RunConfig
from layerspeed.experiments.datasets import DataSet, floats
from layerspeed.experiments.driver import RunRecord, Task
from layerspeed.experiments.grid import Study, parse_grid
from layerspeed.experiments.summary import summarize
from layerspeed.experiments.theory_check import (
    NO_THEORY,
    TOLERANCE,
    fixed_point_moment,
    point_theory,
)
from layerspeed.views.text.sweep import findings, sweep_markdown, theory_findings

SIZES = (784, 30, 30, 30, 30, 10)


def _speeds(factors: list[float], n_seeds: int = 9, seed: int = 5) -> np.ndarray:
    """(seed, hidden layer) speeds whose per-pair factors scatter around ``factors``."""
    rng = np.random.default_rng(seed)
    last = 0.3 * np.exp(0.1 * rng.standard_normal(n_seeds))
    f = np.asarray(factors) * np.exp(0.1 * rng.standard_normal((n_seeds, len(factors))))
    cols = [last]
    for k in range(len(factors) - 1, -1, -1):
        cols.insert(0, cols[0] / f[:, k])
    return np.stack(cols, axis=1)


def _readings(speeds: np.ndarray, examples: np.ndarray | None = None) -> list[dict[str, Any]]:
    """Epoch 0's probe readings; the per-example norms ``examples`` (or 1.5 x the speeds)."""
    examples = 1.5 * speeds if examples is None else examples
    return [
        {"epoch": 0, "layer_speeds": s.tolist(), "mean_example_norms": e.tolist()}
        for s, e in zip(speeds, examples, strict=True)
    ]


def _medians(speeds: np.ndarray) -> list[float]:
    return [float(np.median(speeds[:, k + 1] / speeds[:, k])) for k in range(speeds.shape[1] - 1)]


def _geomean(xs: list[float]) -> float:
    return math.exp(sum(math.log(x) for x in xs) / len(xs))


def test_a_point_sets_the_measured_factors_beside_the_prediction_by_value() -> None:
    config = RunConfig(SIZES, epochs=0, n_train=1000, record=("speeds",))
    pred = th.network_prediction("sigmoid", "default", SIZES, 0.1)
    speeds = _speeds([f or 1.0 for f in pred.factors])
    t = point_theory(config, config.label, _readings(speeds), 0.1)
    assert t["applies"] and t["start"] == "data" and t["n_runs"] == 9
    medians = _medians(speeds)
    assert [p["pair"] for p in t["pairs"]] == [[1, 2], [2, 3], [3, 4]]
    for p, m, f in zip(t["pairs"], medians, pred.factors, strict=True):
        assert p["measured"]["median"] == pytest.approx(m)
        assert p["measured"]["low"] <= m <= p["measured"]["high"]
        assert p["predicted"] == pytest.approx(f)
        assert p["relative_error"] == pytest.approx((f - m) / m)
        assert p["book_bound"] == th.BOOK_BOUND
    assert t["measured"] == pytest.approx(_geomean(medians))
    assert t["measured_per_example"] == pytest.approx(t["measured"])  # examples = 1.5 x speeds
    assert t["predicted"] == pytest.approx(_geomean([float(f) for f in pred.factors if f]))
    err = (t["predicted"] - t["measured"]) / t["measured"]
    assert t["relative_error"] == pytest.approx(err)
    assert t["within"] == (abs(err) <= TOLERANCE)
    assert t["q"][0] == pytest.approx(1.0 * 0.1 + 1.0)  # sigma_w^2 m2 + sigma_b^2, the book's
    assert t["mean_field_factor"] == pytest.approx(th.mean_field().factor)


def test_a_factor_far_from_the_theory_is_not_within() -> None:
    config = RunConfig(SIZES, activation="tanh", init="xavier_normal", epochs=0, n_train=1000,
                       record=("speeds",))  # fmt: skip
    pred = th.network_prediction("tanh", "xavier_normal", SIZES, 0.1)
    speeds = _speeds([3 * (f or 1.0) for f in pred.factors])  # three times the prediction
    t = point_theory(config, config.label, _readings(speeds), 0.1)
    assert t["applies"] and t["within"] is False and t["relative_error"] < -0.5
    assert t["book_bound"] is None  # the bound is the sigmoid's
    assert all(p["book_bound"] is None for p in t["pairs"])


def test_without_the_data_the_first_layer_starts_at_the_fixed_point() -> None:
    config = RunConfig(SIZES, epochs=0, n_train=1000, record=("speeds",))
    speeds = _speeds([4.0, 4.0, 4.0])
    t = point_theory(config, config.label, _readings(speeds), None)
    assert t["start"] == "fixed point" and t["input_second_moment"] is None
    q_star = th.mean_field().q_star
    assert q_star is not None
    assert t["q"][0] == pytest.approx(q_star, rel=1e-9)
    # every hidden layer then sits at q*, so every pair has the deep layers' factor
    for p in t["pairs"][:-1]:
        assert p["predicted"] == pytest.approx(th.mean_field().factor, rel=1e-6)
    he = RunConfig(SIZES, activation="relu", init="he", epochs=0, n_train=1000)
    assert fixed_point_moment(he) >= 0.0


@pytest.mark.parametrize(
    ("settings", "reason"),
    [
        ({"norm": "batch"}, "batch norm"),
        ({"residual": True}, "residual"),
    ],
)
def test_batch_norm_and_skips_get_no_prediction_and_say_why(
    settings: dict[str, Any], reason: str
) -> None:
    config = RunConfig(SIZES, epochs=0, n_train=1000, record=("speeds",), **settings)
    speeds = _speeds([1.1, 1.0, 0.9])
    t = point_theory(config, config.label, _readings(speeds), 0.1)
    assert t["applies"] is False and t["reason"] == reason and t["why"] == NO_THEORY[reason]
    assert t["predicted"] is None and t["relative_error"] is None and t["pairs"] == []
    # the measurement is still given, beside no prediction
    assert t["measured"] == pytest.approx(_geomean(_medians(speeds)))


def test_one_hidden_layer_and_no_measurement_say_why() -> None:
    one = RunConfig((784, 30, 10), epochs=0, n_train=1000, record=("speeds",))
    t = point_theory(one, one.label, [{"epoch": 0, "layer_speeds": [0.1],
                                       "mean_example_norms": [0.2]}], 0.1)  # fmt: skip
    assert (t["applies"], t["reason"]) == (False, "one hidden layer")
    deep = RunConfig(SIZES, epochs=0, n_train=1000, record=("speeds",))
    dead = [{"epoch": 0, "layer_speeds": [0.0, 0.1, 0.2, 0.3], "mean_example_norms": [1] * 4}]
    t = point_theory(deep, deep.label, dead, 0.1)
    assert (t["applies"], t["reason"], t["n_left_out"]) == (False, "no measurement", 1)


# ---- summarize, on hand-made runs ---------------------------------------------------------------


def _study() -> Study:
    grid = parse_grid(
        {
            "name": "hand",
            "seeds": 3,
            "base": {
                "depth": 4,
                "width": 30,
                "epochs": 0,
                "n_train": 200,
                "n_probe": 100,
                "dataset": "synthetic",
                "record": ["speeds"],
            },  # fmt: skip
            "grid": {"activation": ["sigmoid", "tanh"], "norm": ["none", "batch"]},
        }
    )
    return grid.studies[0]


def _records(
    study: Study, factors: dict[str, list[float]], example_factors: dict[str, list[float]]
) -> list[RunRecord]:
    out = []
    for p in study.points():
        n = len(study.seeds)
        speeds = _speeds(factors[p.config.activation], n_seeds=n)
        examples = _speeds(example_factors[p.config.activation], n_seeds=n, seed=6)
        for seed, reading in zip(study.seeds, _readings(speeds, examples), strict=True):
            task = Task(study.name, p.label, p.params, p.config, seed, "/nowhere")
            result = {"epochs": [reading], "instability": {"initial": None, "training": None}}
            out.append(RunRecord(task, "done", None, result))
    return out


def _summary(data: Any = None) -> dict[str, Any]:
    study = _study()
    m2 = 0.3
    sig = th.network_prediction("sigmoid", "default", SIZES, m2).factors
    tanh = th.network_prediction("tanh", "default", SIZES, m2).factors
    # tanh's speeds fall twice as steeply as predicted; its per-example norms as predicted
    examples = {"sigmoid": [f or 1.0 for f in sig], "tanh": [f or 1.0 for f in tanh]}
    factors = examples | {"tanh": [2.0 * (f or 1.0) for f in tanh]}
    summary = summarize(study, _records(study, factors, examples), data=data)
    summary["findings"] = findings(summary)
    return summary


def test_summarize_gives_every_point_its_theory_from_the_datas_mean_square() -> None:
    data = {"synthetic": DataSet.synthetic(200, 10)}
    summary = _summary(data)
    m2 = float(np.mean(floats(data["synthetic"])[0][:100] ** 2))
    by_label = {p["label"]: p["theory"] for p in summary["points"]}
    for label, t in by_label.items():
        if "norm=batch" in label:
            assert t["applies"] is False and t["reason"] == "batch norm"
        else:
            assert t["applies"] and t["start"] == "data"
            assert t["input_second_moment"] == pytest.approx(m2)
            act = "sigmoid" if "sigmoid" in label else "tanh"
            q1 = th.init_variances("default", 784, 30).sigma_w2 * m2 + 1.0
            assert t["q"][0] == pytest.approx(q1)
            assert t["n_runs"] == 3
            assert (t["book_bound"] is not None) == (act == "sigmoid")
    without = _summary()
    assert {p["theory"]["start"] for p in without["points"]} == {"fixed point"}


def test_the_sweep_markdown_has_the_theory_columns_and_the_findings_say_where_it_holds() -> None:
    summary = _summary({"synthetic": DataSet.synthetic(200, 10)})
    md = sweep_markdown(summary)
    assert "4 grid points x 3 seeds = 12 runs: 12 done, 0 diverged" in md
    header = next(line for line in md.splitlines() if line.startswith("| grid point"))
    assert header.endswith("| measured factor (median) | predicted |")
    rows = {line.split(" | ")[0][2:]: line for line in md.splitlines() if line.startswith("| ")}
    for p in summary["points"]:
        t = p["theory"]
        cells = rows[p["label"]].rstrip(" |").split(" | ")
        assert cells[-2] == f"{t['measured']:.3g}"
        if t["applies"]:
            assert cells[-1].startswith(f"{t['predicted']:.3g} (")
        else:
            assert cells[-1] == "none (batch norm)"
    words = theory_findings(summary["points"])
    held = [p["label"] for p in summary["points"] if p["theory"]["within"]]
    missed = [
        p["label"]
        for p in summary["points"]
        if p["theory"]["applies"] and not p["theory"]["within"]
    ]
    assert held and missed  # tanh's speeds were made twice as steep as its prediction
    sentence = next(w for w in words if w.startswith("The mean-field theory"))
    assert f"holds within 15% at {len(held)} of 2 grid points" in sentence
    assert all(label in sentence.split("It misses")[0] for label in held)
    assert all(label in sentence.split("It misses")[1] for label in missed)
    assert all(
        p["theory"]["within_per_example"] for p in summary["points"] if p["theory"]["applies"]
    )
    by_example = next(w for w in words if w.startswith("Of the 1 miss,"))
    assert "1 hold within 15% on the mean per-example gradient norms" in by_example
    assert all(label in by_example for label in missed)
    assert any(w.startswith("No prediction at") and "batch norm" in w for w in words)
    assert any(w.startswith("The book's bound") for w in words)
    assert all(w in md for w in words)


def test_an_older_summary_without_theory_still_renders() -> None:
    summary = _summary()
    for p in summary["points"]:
        del p["theory"]
    assert theory_findings(summary["points"]) == []
    md = sweep_markdown(summary | {"findings": findings(summary)})
    assert "| - | - |" in md


def test_a_tiny_sweep_carries_the_theory_into_its_summary(tmp_path: Path) -> None:
    grid = parse_grid(
        {
            "name": "tiny",
            "seeds": 2,
            "base": {
                "depth": 3,
                "width": 8,
                "epochs": 1,
                "n_train": 200,
                "n_probe": 100,
                "n_eval": 100,
                "dataset": "synthetic",
                "record": ["accuracy", "speeds"],
            },  # fmt: skip
            "grid": {"activation": ["sigmoid", "relu"]},
        }
    )
    with ThreadPoolExecutor(2) as ex:
        done = pipeline.sweep(grid, tmp_path / "out", executor=ex)
    points = done.summary["points"]
    for p in points:
        t = p["theory"]
        assert t["n_runs"] + t["n_left_out"] == 2
        if t["applies"]:
            assert len(t["pairs"]) == 2 and t["predicted"] is not None
    md = (tmp_path / "out" / "summary.md").read_text()
    assert "| measured factor (median) | predicted |" in md
