"""The summary's statistics on inputs small enough to work by hand, and the chapter's
aggregators on hand-made runs: the depth table, the bars, the speeds, and their verdicts."""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np
import pytest
from scipy import stats as st

from layerspeed import stats
from layerspeed.errors import BadInput
from layerspeed.experiments.chapter import (
    BOOK_DEPTH,
    BOOK_INITIAL,
    aggregate,
    aggregate_depth,
    aggregate_initial,
    aggregate_neurons,
    aggregate_training,
)
from layerspeed.experiments.driver import RunRecord, Task
from layerspeed.experiments.grid import Grid, Study, load_preset
from layerspeed.views.text.chapter import comparison_rows, to_markdown
from layerspeed.views.text.verdicts import with_words

T_975_4 = 2.7764451051977987  # t_{0.975} with 4 degrees of freedom (tables: 2.776)


def test_describe_one_to_five_by_hand():
    d = stats.describe([1, 2, 3, 4, 5])
    # mean = 15/5 = 3; squared deviations 4+1+0+1+4 = 10; sd = sqrt(10/4) = 1.5811
    assert d.n == 5 and d.mean == 3.0
    assert d.sd == pytest.approx(math.sqrt(2.5), rel=1e-12)
    # CI: 3 -+ 2.7764 * 1.5811 / sqrt(5) = 3 -+ 1.9632
    half = T_975_4 * math.sqrt(2.5) / math.sqrt(5)
    assert half == pytest.approx(1.9632, abs=1e-4)
    assert (d.ci_low, d.ci_high) == pytest.approx((3 - half, 3 + half), rel=1e-12)
    # PI of one more run: 3 -+ 2.7764 * 1.5811 * sqrt(1 + 1/5) = 3 -+ 4.8089
    half_pi = T_975_4 * math.sqrt(2.5) * math.sqrt(1.2)
    assert half_pi == pytest.approx(4.8089, abs=1e-4)
    assert (d.pi_low, d.pi_high) == pytest.approx((3 - half_pi, 3 + half_pi), rel=1e-12)
    assert (d.min, d.max, d.values) == (1.0, 5.0, [1.0, 2.0, 3.0, 4.0, 5.0])
    assert d.contains(5.5, interval="ci") is False and d.contains(4.9, interval="ci") is True
    assert d.contains(7.5, interval="pi") is True and d.contains(5.5, interval="range") is False


def test_describe_a_single_run_has_no_spread_and_stays_plain_json():
    d = stats.describe([96.5])
    assert d.mean == 96.5 and d.sd is None and d.ci_low is None and d.pi_high is None
    assert d.contains(96.5) is None and d.contains(96.5, interval="range") is True
    json.dumps(d.to_dict(), allow_nan=False)
    with pytest.raises(BadInput):
        stats.describe([])


def test_welch_by_hand_and_against_scipy():
    a, b = [1, 2, 3, 4, 5], [2, 4, 6, 8, 10]
    w = stats.welch(a, b)
    # var a = 2.5, var b = 10; se^2 = 2.5/5 + 10/5 = 2.5; t = (6 - 3)/sqrt(2.5) = 1.8974
    assert w.t == pytest.approx(3 / math.sqrt(2.5), rel=1e-12)
    # df = 2.5^2 / (0.5^2/4 + 2^2/4) = 6.25 / 1.0625 = 5.882
    assert w.df == pytest.approx(6.25 / 1.0625, rel=1e-12)
    assert w.p == pytest.approx(2 * st.t.sf(3 / math.sqrt(2.5), 6.25 / 1.0625), rel=1e-9)
    assert w.p == pytest.approx(st.ttest_ind(a, b, equal_var=False).pvalue, rel=1e-12)
    assert w.mean_difference == 3.0 and w.significant() is False


def test_welch_undefined_cases_are_none():
    assert stats.welch([1.0], [2.0, 3.0]).p is None
    same = stats.welch([1.0, 1.0], [1.0, 1.0])
    assert same.t is None and same.p is None and same.significant() is None


def test_quantile_band_by_hand():
    curves = [[1, 10], [2, 20], [3, 30], [4, 40], [5, 50]]
    band = stats.quantile_band(curves)
    # 10% of the way through 5 sorted values: position 0.4 between 1 and 2 -> 1.4
    assert band.median == [3.0, 30.0]
    assert band.low == pytest.approx([1.4, 14.0]) and band.high == pytest.approx([4.6, 46.0])
    one = stats.quantile_band([[7.0, 8.0]])
    assert one.median == one.low == one.high == [7.0, 8.0]
    with pytest.raises(BadInput):
        stats.quantile_band(curves, q_low=0.6)


def test_geometric_mean():
    assert stats.geometric_mean([1, 100]) == pytest.approx(10.0)
    with pytest.raises(BadInput):
        stats.geometric_mean([0.0, 1.0])


# ---- the chapter's aggregators on hand-made runs ---------------------------------------------
#
# The chapter preset's own studies (their labels and sizes), with records made by hand: each
# record is what a run folder holds, so the aggregators see exactly what collect() gives them.


CHAPTER = load_preset("chapter")
DEPTH, NEURONS, INITIAL, TRAINING = CHAPTER.studies


def record(
    study: Study, label: str, seed: int, result: dict[str, Any] | None, status: str = "done"
) -> RunRecord:
    point = next(p for p in study.points() if p.label == label)
    task = Task(study.name, label, point.params, point.config, seed, f"/nowhere/{seed}")
    return RunRecord(task, status, None if status == "done" else f"training {status}", result)


def verdicts(part: dict[str, Any]) -> dict[str, bool | None]:
    return {v["id"]: v["holds"] for v in part["verdicts"]}


def _depth_records(finals: dict[str, list[float]]) -> list[RunRecord]:
    records = []
    for label, values in finals.items():
        for seed, v in enumerate(values):
            curve = [v - 0.01, v + 0.002, v]  # best epoch 1, final epoch 2 (fractions)
            result = {
                "epochs": [{"epoch": e, "evaluation_accuracy": a} for e, a in enumerate(curve)]
            }
            records.append(record(DEPTH, label, seed, result))
    return records


FINALS = {
    "784-30-10": [0.963, 0.964, 0.965, 0.966, 0.967],  # mean 96.5, sd 0.158
    "784-30-30-10": [0.969, 0.970, 0.971, 0.972, 0.973],  # mean 97.1
    "784-30-30-30-10": [0.966, 0.967, 0.968, 0.969, 0.970],  # mean 96.8
    "784-30-30-30-30-10": [0.964, 0.967, 0.968, 0.970, 0.971],  # mean 96.8
}


def test_depth_table_and_verdicts_from_hand_made_runs():
    records = _depth_records(FINALS)
    # A diverged run is listed, not averaged.
    records.append(record(DEPTH, "784-30-10", 5, None, status="diverged"))
    d = aggregate_depth(DEPTH, records)
    one = d["rows"][0]
    assert one["n_runs"] == 5 and one["book"] == 96.48 and one["seeds"] == [0, 1, 2, 3, 4]
    assert one["final"]["mean"] == pytest.approx(96.5)
    assert one["final"]["sd"] == pytest.approx(math.sqrt(2.5) / 10)  # the 1..5 case in %
    assert one["best"]["mean"] == pytest.approx(96.7) and one["best_epoch"] == [1] * 5
    assert one["book_in_final_pi"] is True  # 96.48 is 0.02 from the mean
    assert one["curve"]["median"] == pytest.approx([95.5, 96.7, 96.5])
    # [784,30,30,10]: 97.1 -+ 2.776 * 0.158 * sqrt(1.2) = 97.1 -+ 0.481 = 96.62..97.58,
    # which contains the book's 96.90; its 95% CI of the mean, 96.90..97.30, just does too.
    row = d["rows"][1]
    assert (row["final"]["pi_low"], row["final"]["pi_high"]) == pytest.approx(
        (97.1 - 0.4811, 97.1 + 0.4811), abs=1e-3
    )
    assert row["book_in_final_pi"] is True
    welch = {(w["a"], w["b"], w["measure"]): w for w in d["welch"]}
    assert len(welch) == 3 * 2  # neighbouring depths, final and best
    w = welch[("784-30-30-30-10", "784-30-30-30-30-10", "final")]
    ref = st.ttest_ind(
        np.array(FINALS["784-30-30-30-10"]) * 100,
        np.array(FINALS["784-30-30-30-30-10"]) * 100,
        equal_var=False,
    )
    assert w["p"] == pytest.approx(ref.pvalue, rel=1e-9)
    assert w["book_difference"] == pytest.approx(96.53 - 96.57)
    holds = verdicts(d)
    assert set(holds) == {
        "depth.typical", "depth.drop_3_4", "depth.second_layer", "depth.deeper_not_better"
    }  # fmt: skip
    assert holds["depth.drop_3_4"] is True  # equal means: not significant
    assert holds["depth.second_layer"] is True  # +0.6 points with sd 0.16: p < 0.001
    assert holds["depth.deeper_not_better"] is True  # 96.8 and 96.8 below 97.1
    assert holds["depth.typical"] is True  # every book value inside its PI
    typical = next(v for v in d["verdicts"] if v["id"] == "depth.typical")
    assert [r["book"] for r in typical["numbers"]["rows"]] == list(BOOK_DEPTH.values())
    assert d["config"]["epochs"] == 30 and d["config"]["n_seeds"] == 5
    assert "sizes" not in d["config"]  # the one thing the depth study varies

    results = with_words(aggregate(CHAPTER, records))
    assert results["runs"]["diverged"] == 1 and results["runs"]["done"] == 20
    assert results["runs"]["total"] == 21
    assert results["runs"]["problems"] == [
        {"experiment": "depth", "label": "784-30-10", "seed": 5, "status": "diverged",
         "message": "training diverged"}
    ]  # fmt: skip
    # The other studies have no runs: their rows say so and they decide nothing.
    assert [r["n_runs"] for r in results["initial"]["rows"]] == [0, 0, 0]
    assert results["initial"]["verdicts"] == [] and results["training"]["verdicts"] == []
    assert results["neurons"]["n_runs"] == 0
    text = to_markdown(results)
    assert "96.48" in text and "96.50 ± 0.16" in text and "diverged" in text
    assert any(r[0] == "depth" and r[2] == "96.48" for r in comparison_rows(results))
    json.dumps(results, allow_nan=False)


def test_depth_drop_that_is_significant_does_not_hold():
    finals = dict(FINALS)
    finals["784-30-30-30-30-10"] = [0.950, 0.951, 0.952, 0.953, 0.954]  # 1.6 points lower
    holds = verdicts(aggregate_depth(DEPTH, _depth_records(finals)))
    assert holds["depth.drop_3_4"] is False
    assert holds["depth.typical"] is False  # 96.53 is far outside 95.2 -+ 0.48


def test_depth_with_one_seed_decides_nothing():
    records = _depth_records({k: v[:1] for k, v in FINALS.items()})
    d = aggregate_depth(DEPTH, records)
    assert d["rows"][0]["final"]["pi_low"] is None
    holds = verdicts(d)
    assert holds["depth.typical"] is None
    assert holds["depth.drop_3_4"] is None and holds["depth.second_layer"] is None


def _neuron_result(layers: list[list[float]]) -> dict[str, Any]:
    return {"epochs": [{"epoch": 0, "neuron_gradients": layers}]}


def test_neuron_bars_from_hand_made_runs():
    # Seed 0: layer 2 larger for 4 of the first 6 neurons; seed 1: for all 6. The 7th neuron
    # is not among the book's bars and must not count.
    layer1 = [0.1, -0.1, 0.1, -0.1, 0.1, -0.1, 9.0]
    seed0 = [layer1, [0.5, -0.5, 0.5, 0.5, 0.01, -0.01, 0.0]]
    seed1 = [layer1, [0.2, 0.2, -0.2, 0.2, 0.2, 0.2, 0.0]]
    records = [
        record(NEURONS, "784-30-30-10", 0, _neuron_result(seed0)),
        record(NEURONS, "784-30-30-10", 1, _neuron_result(seed1)),
    ]
    n = aggregate_neurons(NEURONS, records)
    assert n["n_runs"] == 2 and n["example"]["seed"] == 0
    assert n["example"]["layers"] == [layer1[:6], seed0[1][:6]]
    assert n["share_later_larger"] == pytest.approx(10 / 12)
    (v,) = n["verdicts"]
    assert v["id"] == "neurons.second_larger" and v["holds"] is True
    assert v["numbers"]["larger"] == 4 and v["numbers"]["n_neurons"] == 6
    assert n["mean_abs"][0]["median"] == pytest.approx([0.1] * 6)
    flipped = [record(NEURONS, "784-30-30-10", 0, _neuron_result([seed0[1], layer1]))]
    assert verdicts(aggregate_neurons(NEURONS, flipped)) == {"neurons.second_larger": False}


def _speeds_result(speeds: list[float]) -> dict[str, Any]:
    n = len(speeds)
    return {
        "epochs": [
            {"epoch": 0, "layer_speeds": speeds, "mean_example_norms": [1.0] * n,
             "weight_grad_norms": [2.0] * n}
        ]
    }  # fmt: skip


def test_initial_speeds_from_hand_made_runs():
    # Ten seeds per depth, each the book's speeds times 0.6, 0.7, ... 1.5: the book's values
    # sit at the 40th percentile, inside the 10-90% band; the speeds always rise.
    factors = [0.6 + 0.1 * k for k in range(10)]
    records = [
        record(INITIAL, p.label, seed, _speeds_result([f * b for b in BOOK_INITIAL[h]]))
        for p, h in zip(INITIAL.points(), (2, 3, 4), strict=True)
        for seed, f in enumerate(factors)
    ]
    d = aggregate_initial(INITIAL, records)
    four = d["rows"][2]
    assert four["n_runs"] == 10 and four["book"] == [0.003, 0.017, 0.070, 0.285]
    assert four["median"] == pytest.approx([1.05 * b for b in BOOK_INITIAL[4]])
    assert four["book_in_band"] == [True] * 4
    assert four["book_percentile"] == pytest.approx([0.4] * 4)
    assert four["share_increasing"] == 1.0
    assert four["weight_grad_norms"] == {"median": [2.0] * 4}
    assert verdicts(d) == {"initial.rising": True, "initial.typical": True}
    typical = next(v for v in d["verdicts"] if v["id"] == "initial.typical")
    assert typical["numbers"]["inside"] == typical["numbers"]["total"] == 2 + 3 + 4
    # Ten times the book's first layer for every seed: it leaves the band, and the speeds
    # of the shallowest network no longer rise.
    records[:10] = [
        record(INITIAL, "784-30-30-10", s, _speeds_result([10 * f * 0.07, f * 0.31]))
        for s, f in enumerate(factors)
    ]
    d = aggregate_initial(INITIAL, records)
    assert verdicts(d) == {"initial.rising": False, "initial.typical": False}
    typical = next(v for v in d["verdicts"] if v["id"] == "initial.typical")
    (outside,) = typical["numbers"]["outside"]
    assert (outside["hidden_layers"], outside["layer"], outside["percentile"]) == (2, 1, 0.0)


def _training_result(curve: list[list[float]], accuracy: float) -> dict[str, Any]:
    epochs = [{"epoch": e, "layer_speeds": s} for e, s in enumerate(curve)]
    return {"epochs": epochs, "final_training_accuracy": accuracy}


def test_training_speeds_from_hand_made_runs():
    # Four hidden layers, 3 epochs, two seeds; the last layer 100 times the first throughout.
    def curve(scale: float) -> list[list[float]]:
        return [[scale * 0.01, scale * 0.1, scale * 0.5, scale * 1.0] for _ in range(3)]

    records = [
        record(TRAINING, "784-30-30-30-30-10", 0, _training_result(curve(1.0), 0.9)),
        record(TRAINING, "784-30-30-30-30-10", 1, _training_result(curve(2.0), 0.8)),
    ]
    d = aggregate_training(TRAINING, records)
    row = d["rows"][2]
    assert [r["n_runs"] for r in d["rows"]] == [0, 0, 2]
    assert row["epochs"] == [0, 1, 2] and len(row["layers"]) == 4
    assert row["layers"][0]["median"] == pytest.approx([0.015] * 3)
    assert row["ratio_typical"] == pytest.approx(100.0)
    assert row["share_first_slowest"] == 1.0 and row["seeds_first_always_slowest"] == 2
    assert row["share_ordered"] == 1.0 and row["share_median_ordered"] == 1.0
    assert row["final_accuracy"]["mean"] == pytest.approx(85.0)
    assert verdicts(d) == {"training.first_slowest": True, "training.ratio_100": True}
    ratio = next(v for v in d["verdicts"] if v["id"] == "training.ratio_100")
    assert ratio["numbers"]["start"] == pytest.approx(100.0)
    # A first layer 1000 times slower is not "roughly 100 times" (a factor of 3 either way);
    # one where the second layer is the slowest half the time fails "throughout training".
    slow = [[0.001, 0.1, 0.5, 1.0]] * 3
    mixed = [[0.01, 0.001], [0.01, 0.1]] * 2  # two hidden layers
    records = [
        record(TRAINING, "784-30-30-30-30-10", 0, _training_result(slow, 0.9)),
        record(TRAINING, "784-30-30-10", 0, _training_result(mixed, 0.9)),
    ]
    d = aggregate_training(TRAINING, records)
    assert verdicts(d) == {"training.first_slowest": False, "training.ratio_100": False}
    assert d["rows"][0]["share_first_slowest"] == 0.5


def test_aggregate_gives_every_study_of_the_grid():
    grid = Grid("chapter", (DEPTH, INITIAL), nested=True)
    results = aggregate(grid, [])
    assert set(results) == {"runs", "depth", "initial"}
    assert results["runs"] == {"total": 0, "done": 0, "diverged": 0, "failed": 0, "problems": []}
    assert results["depth"]["title"] == DEPTH.display_title()
