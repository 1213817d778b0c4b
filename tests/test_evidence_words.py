"""The evidence sentences and the claims table's cells in full, word for word, from hand-made
numbers; and ``with_words`` over every part of a results dict."""

from __future__ import annotations

from typing import Any

from layerspeed.experiments.claims import CLAIMS as TABLE
from layerspeed.views.text.verdicts import (
    CLAIMS,
    claim,
    clip_percent,
    evidence,
    measured,
    with_words,
)


def _say(claim_id: str, numbers: dict[str, Any]) -> str:
    return evidence({"id": claim_id, "holds": True, "numbers": numbers})


def test_every_claims_words_are_the_tables() -> None:
    for claim_id, words in CLAIMS.items():
        said = words({"q_low": 0.1, "q_high": 0.9})
        assert said.startswith(TABLE[claim_id].words)
    assert claim({"id": "initial.typical", "numbers": {"q_low": 0.25, "q_high": 0.75}}) == (
        f"{TABLE['initial.typical'].words} (inside the 25-75% band over seeds)"
    )
    assert claim({"id": "initial.typical", "numbers": {"q_low": 0.6, "q_high": 0.9}}).endswith(
        "(inside the 60-90% band over seeds)"
    )


def test_clip_percent() -> None:
    assert clip_percent(None, 5.0) == (None, 5.0, False)
    assert clip_percent(5.0, None) == (5.0, None, False)
    assert clip_percent(0.5, 99.5) == (0.5, 99.5, False)  # inside: untouched
    assert clip_percent(-3.0, 100.5) == (0.0, 100.0, True)
    assert clip_percent(99.0, 101.0) == (99.0, 100.0, True)
    assert clip_percent(-0.5, 50.0) == (0.0, 50.0, True)
    assert clip_percent(100.5, 100.7) == (100.0, 100.0, True)
    assert clip_percent(0.25, 0.5) == (0.25, 0.5, False)  # below 1%, not clipped
    assert clip_percent(-3.0, -1.0) == (0.0, 0.0, True)


def test_depth_typical_sentence() -> None:
    rows = [
        {"hidden_layers": 1, "book": 96.48, "final": 96.5, "pi_low": 96.0, "pi_high": 97.0,
         "best": 96.7},
        {"hidden_layers": 2, "book": 96.9, "final": 99.9, "pi_low": 99.5, "pi_high": 100.3,
         "best": 99.95},
    ]  # fmt: skip
    assert _say("depth.typical", {"rows": rows}) == (
        "1 hidden: book 96.48%, final 96.50% (95% PI 96.00%..97.00%), best 96.70%; "
        "2 hidden: book 96.90%, final 99.90% (95% PI 99.50%..100.00%, clipped to 0..100%), "
        "best 99.95%."
    )


def test_welch_sentence_with_three_significant_digits() -> None:
    assert _say("depth.second_layer", {"mean_difference": 0.5, "p": 0.0123456}) == (
        "Welch t-test on the final accuracy: difference +0.50 points, p = 0.0123."
    )
    assert measured({"id": "depth.second_layer", "numbers": {"mean_difference": 0.5,
                                                             "p": 1.23456e-5}}) == (
        "+0.50 points, p = 1.23e-05"
    )  # fmt: skip


def test_deeper_and_rising_sentences() -> None:
    assert _say("depth.deeper_not_better", {"means": [[2, 97.0], [3, 96.5]]}) == (
        "mean final accuracy by hidden layers: 2: 97.00%, 3: 96.50%."
    )
    assert _say("initial.rising", {"shares": [[2, 1.0], [3, 0.5]]}) == (
        "the speeds rise from the first hidden layer to the last in 100% of seeds with 2 "
        "hidden layers, 50% of seeds with 3 hidden layers."
    )


def test_neurons_sentence_with_and_without_the_ratio() -> None:
    base = {"share": 0.8, "n_runs": 1, "seed": 3, "larger": 4, "n_neurons": 6}
    assert _say("neurons.second_larger", base) == (
        "|dC/db| of neuron j is larger in hidden layer 2 than in hidden layer 1 for 80% of "
        "(seed, neuron) pairs over 1 seed; seed 3: 4 of 6."
    )
    full = base | {"median_ratio": 3.14159, "much": 2.0, "mostly": 0.75}
    assert _say("neurons.second_larger", full).endswith(
        "seed 3: 4 of 6; the median ratio is 3.14 ('much' taken as >= 2, 'mostly' as >= 75% "
        "of the pairs)."
    )


def test_initial_typical_sentence_lists_every_value_outside() -> None:
    outside = [
        {"hidden_layers": 2, "layer": 1, "book": 0.5, "low": 0.1, "high": 0.2, "percentile": 1.0},
        {"hidden_layers": 3, "layer": 2, "book": 0.01, "low": 0.1, "high": 0.2,
         "percentile": 0.0},
    ]  # fmt: skip
    said = _say("initial.typical", {"inside": 7, "total": 9, "outside": outside})
    assert said == (
        "7 of 9 of the book's values are inside the band; outside: 2 hidden, layer 1: book "
        "0.5, band 0.1..0.2, above 100% of the seeds; 3 hidden, layer 2: book 0.01, band "
        "0.1..0.2, above 0% of the seeds."
    )


def _slow_row(h: int, runs: int, with_ratio: bool) -> dict[str, Any]:
    row = {
        "hidden_layers": h,
        "n_runs": runs,
        "share_first_slowest": 0.95,
        "seeds_first_always_slowest": 1,
        "share_ordered": 0.5,
        "share_median_ordered": 0.25,
    }
    return row | ({"median_next_over_first": 2.345} if with_ratio else {})  # fmt: skip


def test_first_slowest_sentence_in_full() -> None:
    rows = [_slow_row(2, 1, True), _slow_row(3, 2, False)]
    assert _say("training.first_slowest", {"rows": rows, "threshold": 0.9, "much": 2.0}) == (
        "the first hidden layer is the slowest in 95% of (seed, epoch) pairs with 2 hidden "
        "layers (in all epochs for 1 of 1 seed; speeds in strictly rising order: 50%; median "
        "curves in rising order: 25% of epochs; the next-slowest layer 2.35 times faster, "
        "median), 95% of (seed, epoch) pairs with 3 hidden layers (in all epochs for 1 of 2 "
        "seeds; speeds in strictly rising order: 50%; median curves in rising order: 25% of "
        "epochs); the claim is taken to hold where the first is the slowest in over 90% and "
        "at least 2 times slower (median)."
    )
    assert _say("training.first_slowest", {"rows": rows[1:], "threshold": 0.9}).endswith(
        "of epochs); the claim is taken to hold where the first is the slowest in over 90%."
    )


def test_measured_cells() -> None:
    def cell(claim_id: str, numbers: dict[str, Any]) -> str:
        return measured({"id": claim_id, "numbers": numbers})

    assert cell("depth.typical", {"inside": 3, "total": 4, "rows": []}) == "3 of 4 inside"
    assert cell("depth.typical", {"rows": [{}, {}]}) == "2 depths"
    assert cell("neurons.second_larger", {"share": 0.5}) == "larger in 50%"
    assert cell("training.first_slowest", {"rows": [_slow_row(2, 1, False)]}) == (
        "2 hidden: slowest in 95%"
    )


def test_with_words_over_every_part() -> None:
    v = {"id": "depth.second_layer", "holds": True,
         "numbers": {"mean_difference": 0.5, "p": 0.01}}  # fmt: skip
    results = {
        "depth": None,  # a part not run: skipped, and the parts after it still worded
        "neurons": {"rows": []},  # a part without verdicts
        "initial": {"verdicts": [{"note": "no id"}]},  # not a verdict: left as it is
        "training": {"verdicts": [v]},
    }
    worded = with_words(results)
    assert worded["depth"] is None
    assert worded["neurons"] == {"rows": [], "verdicts": []}
    assert worded["initial"]["verdicts"] == [{"note": "no id"}]
    (w,) = worded["training"]["verdicts"]
    assert w["claim"] == TABLE["depth.second_layer"].words
    assert w["evidence"].startswith("Welch t-test")


def test_another_data_set_is_named_in_every_evidence_sentence() -> None:
    from layerspeed.views.text.verdicts import data_set

    assert data_set({}) is None and data_set({"meta": None}) is None
    assert data_set({"meta": {"dataset": "mnist"}}) is None
    assert data_set({"meta": {}}) is None  # older results: MNIST
    assert data_set({"meta": {"dataset": "fashion-mnist"}}) == "Fashion-MNIST"
    v = {"id": "depth.second_layer", "holds": True,
         "numbers": {"mean_difference": 0.5, "p": 0.01}}  # fmt: skip
    fashion = with_words({"meta": {"dataset": "fashion-mnist"}, "depth": {"verdicts": [v]}})
    assert fashion["depth"]["verdicts"][0]["evidence"] == (
        "On Fashion-MNIST: Welch t-test on the final accuracy: difference +0.50 points, p = 0.01."
    )
    book = with_words({"meta": {"dataset": "mnist"}, "depth": {"verdicts": [v]}})
    assert book["depth"]["verdicts"][0]["evidence"].startswith("Welch t-test")
