"""The verdicts tested both ways: for every claim of the table, a hand-made aggregate where it
holds, one where it does not, and one on each side of its threshold.

The thresholds are written here as numbers, not read from the table, so a changed threshold
(ROUGHLY 3 -> 30, THROUGHOUT 0.9 -> 0.5, ...) fails a test rather than moving with it.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from layerspeed.experiments.chapter import aggregate_neurons, aggregate_training
from layerspeed.experiments.claims import CLAIMS, INTERVALS, Claim
from layerspeed.experiments.driver import RunRecord, Task
from layerspeed.experiments.grid import load_preset
from layerspeed.experiments.verdicts import (
    depth_verdicts,
    initial_verdicts,
    neurons_verdict,
    training_verdicts,
)
from layerspeed.views.text.verdicts import CLAIMS as WORDS
from layerspeed.views.text.verdicts import MEASURED, claim, measured

DEPTH, NEURONS, INITIAL, TRAINING = load_preset("chapter").studies


def holds(verdicts: list[Any]) -> dict[str, bool | None]:
    return {v.claim: v.holds for v in verdicts}


# ---- the table ------------------------------------------------------------------------------


def test_the_table_has_every_claim_once_with_all_its_parts() -> None:
    assert set(CLAIMS) == set(WORDS) == set(MEASURED)
    for c in CLAIMS.values():
        assert c.words and c.quantity and c.threshold and c.why.endswith(".")
        assert c.kind in INTERVALS
    assert set(INTERVALS) == {"accuracy", "speed", "ratio"}


def test_every_much_roughly_mostly_has_a_number() -> None:
    for c in CLAIMS.values():
        if "much" in c.words:
            assert c["much"] == 2.0
        if "mostly" in c.words:
            assert c["mostly"] == 0.75
        if "roughly" in c.words:
            assert c["roughly"] == 3.0
        if "throughout" in c.words:
            assert c["throughout"] == 0.9


def test_the_words_come_from_the_table() -> None:
    v = {"id": "neurons.second_larger", "holds": True, "numbers": {}}
    assert claim(v) == CLAIMS["neurons.second_larger"].words


def test_a_claim_of_an_unknown_kind_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown kind 'speedy'"):
        Claim("x", "w", "q", "t", "speedy", "why.")


# ---- depth ----------------------------------------------------------------------------------


def _depth_row(h: int, final: float, *, inside: bool = True, pi: bool = True) -> dict[str, Any]:
    low = final - 0.5 if pi else None
    return {
        "label": f"h{h}",
        "hidden_layers": h,
        "n_runs": 5,
        "book": 96.5,
        "book_in_final_pi": inside if pi else None,
        "book_in_best_pi": True,  # the best epoch never decides: the claim is on the final
        "final": {"mean": final, "pi_low": low, "pi_high": None if low is None else final + 0.5},
        "best": {"mean": final + 0.2},
    }


def _welch(a: str, b: str, diff: float, p: float | None) -> dict[str, Any]:
    return {"a": a, "b": b, "measure": "final", "mean_difference": diff, "p": p,
            "book_difference": None}  # fmt: skip


def _depth(
    means: tuple[float, ...] = (96.5, 97.0, 96.8, 96.7),
    p_34: float | None = 0.5,
    p_12: float | None = 0.01,
    inside: tuple[bool, ...] = (True,) * 4,
) -> dict[str, bool | None]:
    rows = [_depth_row(h, m, inside=i) for h, m, i in zip((1, 2, 3, 4), means, inside, strict=True)]
    welch = [
        _welch("h1", "h2", means[1] - means[0], p_12),
        _welch("h3", "h4", means[3] - means[2], p_34),
    ]
    return holds(depth_verdicts(rows, welch))


def test_depth_all_hold() -> None:
    assert _depth() == {
        "depth.typical": True,
        "depth.drop_3_4": True,
        "depth.second_layer": True,
        "depth.deeper_not_better": True,
    }


def test_depth_typical_on_the_final_epoch_only() -> None:
    # The book's value inside the best epoch's interval but not the final's: it does not hold.
    assert _depth(inside=(True, True, False, True))["depth.typical"] is False
    rows = [_depth_row(h, 96.5, pi=False) for h in (1, 2, 3, 4)]
    assert holds(depth_verdicts(rows, []))["depth.typical"] is None  # one run: no interval


@pytest.mark.parametrize(
    ("p", "expected"), [(0.9, True), (0.0501, True), (0.05, True), (0.0499, False), (0.01, False)]
)
def test_drop_3_4_not_significant_at_5_percent(p: float, expected: bool) -> None:
    assert _depth(p_34=p)["depth.drop_3_4"] is expected
    assert _depth(p_34=None)["depth.drop_3_4"] is None


@pytest.mark.parametrize(
    ("p", "means", "expected"),
    [
        (0.01, (96.5, 97.0, 96.8, 96.7), True),
        (0.0499, (96.5, 97.0, 96.8, 96.7), True),
        (0.0501, (96.5, 97.0, 96.8, 96.7), False),
        (0.01, (97.0, 96.5, 96.4, 96.3), False),  # significant, but a loss
    ],
)
def test_second_layer_a_significant_gain(
    p: float, means: tuple[float, ...], expected: bool
) -> None:
    assert _depth(means=means, p_12=p)["depth.second_layer"] is expected


@pytest.mark.parametrize(
    ("means", "expected"),
    [
        ((96.5, 97.0, 96.8, 96.7), True),
        ((96.5, 97.0, 97.0, 96.7), True),  # equal is not better
        ((96.5, 97.0, 97.0 + 1e-9, 96.7), False),  # just better: past the rounding slack
        ((96.5, 97.0, 96.8, 97.5), False),  # the fourth layer helps by half a point
    ],
)
def test_deeper_not_better(means: tuple[float, ...], expected: bool) -> None:
    assert _depth(means=means)["depth.deeper_not_better"] is expected


# ---- the bars ---------------------------------------------------------------------------------


def _bars(share: float, median_ratio: float) -> bool | None:
    numbers = {"share": share, "median_ratio": median_ratio, "n_runs": 20, "seed": 0,
               "larger": 5, "n_neurons": 6}  # fmt: skip
    return neurons_verdict(numbers).holds


@pytest.mark.parametrize(
    ("share", "ratio", "expected"),
    [
        (0.9, 6.0, True),  # the full reproduction's numbers, about
        (0.75, 2.0, True),  # on both thresholds
        (0.74, 6.0, False),  # larger, but not "mostly"
        (0.5, 6.0, False),  # a coin flip
        (0.9, 1.99, False),  # mostly larger, but not "much"
        (1.0, 1.5, False),
    ],
)
def test_bars_mostly_much_larger(share: float, ratio: float, expected: bool) -> None:
    assert _bars(share, ratio) is expected


def _neuron_record(seed: int, layers: list[list[float]]) -> RunRecord:
    point = NEURONS.points()[0]
    task = Task(NEURONS.name, point.label, point.params, point.config, seed, f"/nowhere/{seed}")
    return RunRecord(task, "done", None, {"epochs": [{"neuron_gradients": layers}]})


def test_bars_from_hand_made_gradients() -> None:
    # Seed 0: layer 2 is 3x layer 1 for neurons 1-5 and 0.5x for neuron 6 (negative signs:
    # the bars compare sizes). Seed 1: 4x for all six. 11 of 12 pairs larger (92%); the
    # ratios are 3 x5, 0.5, 4 x6, whose median is (3 + 4) / 2 = 3.5.
    one = [[-0.01] * 6, [0.03] * 5 + [-0.005]]
    two = [[0.02] * 6, [0.08] * 6]
    d = aggregate_neurons(NEURONS, [_neuron_record(0, one), _neuron_record(1, two)])
    (v,) = d["verdicts"]
    assert v["numbers"]["share"] == pytest.approx(11 / 12)
    assert v["numbers"]["median_ratio"] == pytest.approx(3.5)
    assert v["numbers"]["larger"] == 5 and v["holds"] is True
    # Layer 2 only 1.5x larger everywhere: larger in every pair, but not much larger.
    flat = [[0.02] * 6, [0.03] * 6]
    d = aggregate_neurons(NEURONS, [_neuron_record(0, flat)])
    assert d["verdicts"][0]["holds"] is False
    assert d["verdicts"][0]["numbers"]["median_ratio"] == pytest.approx(1.5)


# ---- speeds at initialization -----------------------------------------------------------------


def _initial_row(h: int, share: float, inside: list[bool]) -> dict[str, Any]:
    book = [0.01 * (l + 1) for l in range(h)]
    return {
        "hidden_layers": h,
        "n_runs": 20,
        "book": book,
        "low": [b / 2 for b in book],
        "high": [b * 2 for b in book],
        "book_in_band": inside,
        "book_percentile": [0.5] * h,
        "share_increasing": share,
        "q_low": 0.1,
        "q_high": 0.9,
    }


def _initial(shares: tuple[float, float, float], n_outside: int = 0) -> dict[str, bool | None]:
    rows = []
    left = n_outside
    for h, s in zip((2, 3, 4), shares, strict=True):
        inside = [True] * h
        for l in range(min(left, h)):
            inside[l] = False
        left -= min(left, h)
        rows.append(_initial_row(h, s, inside))
    return holds(initial_verdicts(rows))


@pytest.mark.parametrize(
    ("shares", "expected"),
    [
        ((1.0, 1.0, 1.0), True),
        ((0.55, 1.0, 1.0), True),  # just over a majority
        ((0.5, 1.0, 1.0), False),  # half the seeds is no majority
        ((1.0, 1.0, 0.4), False),
        ((1.0, 1.0, 0.0), False),
    ],
)
def test_initial_rising_in_a_majority_of_seeds(
    shares: tuple[float, float, float], expected: bool
) -> None:
    assert _initial(shares)["initial.rising"] is expected


@pytest.mark.parametrize(("n_outside", "expected"), [(0, True), (1, False), (2, False)])
def test_initial_typical_all_nine_inside(n_outside: int, expected: bool) -> None:
    assert _initial((1.0, 1.0, 1.0), n_outside)["initial.typical"] is expected


def test_initial_typical_lists_the_values_outside() -> None:
    (rising, typical) = initial_verdicts([_initial_row(4, 1.0, [False, True, True, True])])
    assert typical.numbers["inside"] == 3 and typical.numbers["total"] == 4
    assert [o["layer"] for o in typical.numbers["outside"]] == [1]
    assert initial_verdicts([]) == []


# ---- speeds during training -------------------------------------------------------------------


def _training_row(
    h: int, share: float = 1.0, ratio_next: float = 3.0, ratio: float = 100.0
) -> dict[str, Any]:
    return {
        "hidden_layers": h,
        "n_runs": 5,
        "share_first_slowest": share,
        "seeds_first_always_slowest": 5,
        "share_ordered": 1.0,
        "share_median_ordered": 1.0,
        "median_next_over_first": ratio_next,
        "ratio_typical": ratio,
        "ratio_last_first": {"median": [ratio, ratio]},
    }


@pytest.mark.parametrize(
    ("share", "ratio_next", "expected"),
    [
        (1.0, 3.0, True),
        (0.91, 2.0, True),  # just over "throughout", exactly "much"
        (0.9, 3.0, False),  # 90% is not over 90%
        (0.85, 3.0, False),
        (0.6, 3.0, False),
        (1.0, 1.99, False),  # always the slowest, but not "much" more slowly
    ],
)
def test_first_slowest_throughout_and_much(share: float, ratio_next: float, expected: bool) -> None:
    rows = [_training_row(2), _training_row(3, share, ratio_next), _training_row(4)]
    assert holds(training_verdicts(rows))["training.first_slowest"] is expected


@pytest.mark.parametrize(
    ("ratio", "expected"),
    [
        (100.0, True),
        (34.0, True),
        (32.0, False),  # under 100/3
        (290.0, True),
        (310.0, False),  # over 100*3
        (1000.0, False),
        (10.0, False),
    ],
)
def test_ratio_100_roughly_within_a_factor_of_3(ratio: float, expected: bool) -> None:
    assert holds(training_verdicts([_training_row(4, ratio=ratio)]))["training.ratio_100"] is (
        expected
    )


def test_no_training_rows_no_verdicts() -> None:
    assert training_verdicts([]) == []
    assert set(holds(training_verdicts([_training_row(2)]))) == {"training.first_slowest"}


def _training_record(label: str, seed: int, curve: list[list[float]]) -> RunRecord:
    point = next(p for p in TRAINING.points() if p.label == label)
    task = Task(TRAINING.name, label, point.params, point.config, seed, f"/nowhere/{seed}")
    epochs = [{"epoch": e, "layer_speeds": s} for e, s in enumerate(curve)]
    return RunRecord(task, "done", None, {"epochs": epochs, "final_training_accuracy": 0.9})


def test_training_ratios_from_hand_made_speeds() -> None:
    # Layers 0.01, 0.05, 0.5, 1.0: last / first = 100 (last / second would be 20); the
    # next-slowest over the first is 0.05 / 0.01 = 5.
    curve = [[0.01, 0.05, 0.5, 1.0]] * 3
    d = aggregate_training(TRAINING, [_training_record("784-30-30-30-30-10", 0, curve)])
    row = d["rows"][2]
    assert row["ratio_typical"] == pytest.approx(100.0)
    assert row["median_next_over_first"] == pytest.approx(5.0)
    verdicts = {v["id"]: v["holds"] for v in d["verdicts"]}
    assert verdicts == {"training.first_slowest": True, "training.ratio_100": True}
    # The second layer only 1.5 times the first: the first is the slowest, not much slower.
    close = [[0.01, 0.015, 0.5, 1.0]] * 3
    d = aggregate_training(TRAINING, [_training_record("784-30-30-30-30-10", 0, close)])
    assert d["rows"][2]["median_next_over_first"] == pytest.approx(1.5)
    assert d["verdicts"][0]["holds"] is False and d["verdicts"][1]["holds"] is True


# ---- the measured values, as the report's claims table shows them ---------------------------


def test_the_measured_cell_of_each_claim() -> None:
    def cell(claim_id: str, numbers: dict[str, Any]) -> str:
        return measured({"id": claim_id, "holds": True, "numbers": numbers})

    assert cell("depth.drop_3_4", {"mean_difference": -0.1, "p": 0.49}) == "-0.10 points, p = 0.49"
    assert cell("neurons.second_larger", {"share": 0.89, "median_ratio": 6.0}) == (
        "median ratio 6, larger in 89%"
    )
    assert cell("training.ratio_100", {"ratio": 75.2}) == "75"
    assert cell("initial.typical", {"inside": 8, "total": 9}) == "8 of 9 inside"
    assert "3 hidden: slowest in 100%, ratio 1.77" in cell(
        "training.first_slowest",
        {"rows": [{"hidden_layers": 3, "share_first_slowest": 1.0,
                   "median_next_over_first": 1.77}]},
    )  # fmt: skip
    assert np.isfinite(CLAIMS["training.ratio_100"]["book"])
