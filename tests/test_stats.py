"""The summary's statistics on inputs small enough to work by hand, and the aggregation of
hand-made runs into the depth table and its verdicts."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from scipy import stats as st

from layerspeed import stats
from layerspeed.errors import BadInput
from layerspeed.experiments.chapter import (
    DepthRun,
    Experiment,
    RunRecord,
    aggregate,
    aggregate_depth,
)
from layerspeed.summary import comparison_rows, to_markdown

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


def _depth_records(finals: dict[str, list[float]]) -> list[RunRecord]:
    records = []
    for label, values in finals.items():
        for seed, v in enumerate(values):
            curve = [v - 0.01, v + 0.002, v]  # best epoch 1, final epoch 2 (fractions)
            result = {
                "epochs": [{"epoch": e, "evaluation_accuracy": a} for e, a in enumerate(curve)]
            }
            records.append(RunRecord("depth", label, seed, "done", None, result))
    return records


def test_depth_table_and_verdicts_from_hand_made_runs():
    sizes = [(784, 30, 10), (784, 30, 30, 10), (784, 30, 30, 30, 10), (784, 30, 30, 30, 30, 10)]
    exp = Experiment("depth", "depth", tuple(DepthRun(s) for s in sizes), n_seeds=5)
    finals = {
        "784-30-10": [0.963, 0.964, 0.965, 0.966, 0.967],  # mean 96.5, sd 0.158
        "784-30-30-10": [0.969, 0.970, 0.971, 0.972, 0.973],  # mean 97.1
        "784-30-30-30-10": [0.966, 0.967, 0.968, 0.969, 0.970],  # mean 96.8
        "784-30-30-30-30-10": [0.964, 0.967, 0.968, 0.970, 0.971],  # mean 96.8
    }
    records = _depth_records(finals)
    # A diverged run is listed, not averaged.
    records.append(RunRecord("depth", "784-30-10", 5, "diverged", "training diverged", None))
    d = aggregate_depth(exp, records)
    one = d["rows"][0]
    assert one["n_runs"] == 5 and one["book"] == 96.48
    assert one["final"]["mean"] == pytest.approx(96.5)
    assert one["final"]["sd"] == pytest.approx(math.sqrt(2.5) / 10)  # the 1..5 case in %
    assert one["best"]["mean"] == pytest.approx(96.7) and one["best_epoch"] == [1] * 5
    assert one["book_in_final_pi"] is True  # 96.48 is 0.02 from the mean
    # [784,30,30,10]: 97.1 -+ 2.776 * 0.158 * sqrt(1.2) = 97.1 -+ 0.481 = 96.62..97.58,
    # which contains the book's 96.90; its 95% CI of the mean, 96.90..97.30, just does too.
    row = d["rows"][1]
    assert (row["final"]["pi_low"], row["final"]["pi_high"]) == pytest.approx(
        (97.1 - 0.4811, 97.1 + 0.4811), abs=1e-3
    )
    assert row["book_in_final_pi"] is True
    welch = {(w["a"], w["b"], w["measure"]): w for w in d["welch"]}
    w = welch[("784-30-30-30-10", "784-30-30-30-30-10", "final")]
    ref = st.ttest_ind(
        np.array(finals["784-30-30-30-10"]) * 100,
        np.array(finals["784-30-30-30-30-10"]) * 100,
        equal_var=False,
    )
    assert w["p"] == pytest.approx(ref.pvalue, rel=1e-9)
    assert w["book_difference"] == pytest.approx(96.53 - 96.57)
    claims = {v["claim"]: v["holds"] for v in d["verdicts"]}
    drop = next(c for c in claims if c.startswith("the drop from 3 to 4"))
    assert claims[drop] is True  # equal means: not significant
    second = next(c for c in claims if c.startswith("a second hidden layer"))
    assert claims[second] is True  # +0.6 points with sd 0.16: p < 0.001

    results = aggregate([exp], records)
    assert results["runs"]["diverged"] == 1 and results["runs"]["done"] == 20
    text = to_markdown(results)
    assert "96.48" in text and "96.50 ± 0.16" in text and "diverged" in text
    assert any(r[0] == "depth" and r[2] == "96.48" for r in comparison_rows(results))
    json.dumps(results, allow_nan=False)
