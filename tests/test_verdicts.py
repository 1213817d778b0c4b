"""The words of the book's claims: every claim id renders its claim and its evidence from the
numbers the chapter's aggregators keep, and ``with_words`` puts both beside each verdict."""

from __future__ import annotations

import json
from typing import Any

import pytest

from layerspeed.views.text.verdicts import (
    CLAIMS,
    EVIDENCE,
    all_verdicts,
    claim,
    evidence,
    with_words,
)

# One verdict per claim id, with numbers shaped as layerspeed.experiments.chapter keeps them.
EXAMPLES: dict[str, dict[str, Any]] = {
    "depth.typical": {
        "rows": [
            {"hidden_layers": 1, "book": 96.48, "final": 96.5, "pi_low": 96.02,
             "pi_high": 96.98, "best": 96.7},
            {"hidden_layers": 2, "book": 96.9, "final": 97.1, "pi_low": None,
             "pi_high": None, "best": 97.2},
        ]
    },
    "depth.drop_3_4": {"mean_difference": -0.04, "p": 0.91, "book_difference": -0.04},
    "depth.second_layer": {"mean_difference": 0.6, "p": None},
    "depth.deeper_not_better": {"means": [[1, 96.5], [2, 97.1], [3, 96.8], [4, 96.8]]},
    "neurons.second_larger": {"share": 0.75, "n_runs": 20, "seed": 0, "larger": 5,
                              "n_neurons": 6},
    "initial.rising": {"shares": [[2, 1.0], [3, 0.95], [4, 0.9]]},
    "initial.typical": {
        "inside": 8, "total": 9, "q_low": 0.1, "q_high": 0.9,
        "outside": [{"hidden_layers": 4, "layer": 1, "book": 0.003, "low": 0.004,
                     "high": 0.02, "percentile": 0.0}],
    },
    "training.first_slowest": {
        "threshold": 0.9,
        "rows": [{"hidden_layers": 4, "n_runs": 5, "share_first_slowest": 0.97,
                  "seeds_first_always_slowest": 3, "share_ordered": 0.5,
                  "share_median_ordered": 0.8}],
    },
    "training.ratio_100": {"ratio": 95.2, "start": 90.0, "end": 110.0, "min": 80.0,
                           "max": 120.0, "book": 100.0, "roughly": 3.0},
}  # fmt: skip


def test_every_claim_has_words_and_evidence_and_an_example() -> None:
    assert set(CLAIMS) == set(EVIDENCE) == set(EXAMPLES)


@pytest.mark.parametrize("claim_id", sorted(EXAMPLES))
def test_each_claim_renders(claim_id: str) -> None:
    v = {"id": claim_id, "holds": True, "numbers": EXAMPLES[claim_id]}
    words, sentence = claim(v), evidence(v)
    assert words and sentence.endswith(".") and "\n" not in words + sentence
    assert "{" not in words + sentence  # nothing left unformatted


def test_the_evidence_quotes_the_numbers() -> None:
    def say(claim_id: str) -> str:
        return evidence({"id": claim_id, "holds": None, "numbers": EXAMPLES[claim_id]})

    assert "book 96.48%" in say("depth.typical") and "96.02%..96.98%" in say("depth.typical")
    assert "(95% PI -..-)" in say("depth.typical")  # an undefined interval
    assert say("depth.drop_3_4") == (
        "Welch t-test on the final accuracy: difference -0.04 points, p = 0.91 (book: -0.04)."
    )
    assert "p = undefined" in say("depth.second_layer") and "book" not in say("depth.second_layer")
    assert "2: 97.10%" in say("depth.deeper_not_better")
    assert "75% of (seed, neuron) pairs over 20 seeds; seed 0: 5 of 6" in say(
        "neurons.second_larger"
    )
    assert "95% of seeds with 3 hidden layers" in say("initial.rising")
    assert say("initial.typical").startswith("8 of 9 of the book's values are inside the band")
    assert "layer 1: book 0.003, band 0.004..0.02" in say("initial.typical")
    assert "97% of (seed, epoch) pairs with 4 hidden layers" in say("training.first_slowest")
    assert "over 90%" in say("training.first_slowest")
    assert "ratio last/first is 95" in say("training.ratio_100")
    assert "within a factor of 3" in say("training.ratio_100")


def test_the_band_of_initial_typical_comes_from_its_numbers() -> None:
    v = {"id": "initial.typical", "holds": True, "numbers": EXAMPLES["initial.typical"]}
    assert "10-90% band" in claim(v)
    v["numbers"] = v["numbers"] | {"q_low": 0.05, "q_high": 0.95}
    assert "5-95% band" in claim(v)


def test_no_outside_values_and_no_rows() -> None:
    n = EXAMPLES["initial.typical"] | {"inside": 9, "outside": []}
    assert evidence({"id": "initial.typical", "holds": True, "numbers": n}).endswith("band.")
    assert evidence({"id": "depth.typical", "holds": None, "numbers": {"rows": []}}) == (
        "no finished runs."
    )


def test_with_words_adds_claim_and_evidence_beside_the_numbers() -> None:
    results = {
        "meta": {"quick": True},
        "depth": {
            "rows": [],
            "verdicts": [
                {"id": "depth.drop_3_4", "holds": True, "numbers": EXAMPLES["depth.drop_3_4"]},
                {"id": "depth.second_layer", "holds": None,
                 "numbers": EXAMPLES["depth.second_layer"]},
            ],
        },
        "neurons": {"verdicts": []},
    }  # fmt: skip
    before = json.dumps(results)
    worded = with_words(results)
    assert json.dumps(results) == before  # the input is left as it was
    first, second = worded["depth"]["verdicts"]
    assert first["claim"].startswith("the drop from 3 to 4 hidden layers")
    assert first["evidence"].startswith("Welch t-test") and first["holds"] is True
    assert first["numbers"] == EXAMPLES["depth.drop_3_4"] and first["id"] == "depth.drop_3_4"
    assert second["claim"].startswith("a second hidden layer") and second["holds"] is None
    assert worded["meta"] == results["meta"] and worded["depth"]["rows"] == []
    assert worded["neurons"] == {"verdicts": []}
    assert [(name, v["id"]) for name, v in all_verdicts(worded)] == [
        ("depth", "depth.drop_3_4"),
        ("depth", "depth.second_layer"),
    ]
    json.dumps(worded, allow_nan=False)


def test_an_unknown_claim_is_an_error_not_a_silent_gap() -> None:
    with pytest.raises(KeyError):
        claim({"id": "depth.imaginary", "holds": True, "numbers": {}})
