"""Every verdict's ``numbers`` by value, on hand-made aggregates: the evidence a reader sees must
be the numbers that decided the verdict, under the keys the text view reads."""

from __future__ import annotations

from types import MappingProxyType
from typing import Any

import pytest

from layerspeed.experiments.claims import CLAIMS, Claim
from layerspeed.experiments.verdicts import (
    depth_verdicts,
    initial_verdicts,
    neurons_verdict,
    training_verdicts,
)


def _depth_row(h: int, final: float, *, inside: bool = True, pi: bool = True,
               runs: int = 5, book: float | None = 96.5) -> dict[str, Any]:  # fmt: skip
    low = final - 0.5 if pi else None
    return {
        "label": f"h{h}",
        "hidden_layers": h,
        "n_runs": runs,
        "book": book,
        "book_in_final_pi": inside if pi else None,
        "final": {"mean": final, "pi_low": low, "pi_high": None if low is None else final + 0.5},
        "best": {"mean": final + 0.25},
    }


def _welch(a: str, b: str, diff: float, p: float | None, book: float | None = None):
    return {"a": a, "b": b, "measure": "final", "mean_difference": diff, "p": p,
            "book_difference": book}  # fmt: skip


def _by_id(verdicts) -> dict[str, Any]:
    return {v.claim: v for v in verdicts}


def test_depth_numbers_by_value() -> None:
    rows = [_depth_row(1, 96.5), _depth_row(2, 97.0, inside=False), _depth_row(3, 96.75),
            _depth_row(4, 96.625)]  # fmt: skip
    welch = [_welch("h1", "h2", 0.5, 0.01), _welch("h3", "h4", -0.125, 0.4, book=-0.04)]
    v = _by_id(depth_verdicts(rows, welch))
    assert v["depth.typical"].to_dict() == {
        "id": "depth.typical",
        "holds": False,  # 3 of 4 inside, the table asks for all
        "numbers": {
            "inside": 3,
            "total": 4,
            "rows": [
                {"hidden_layers": h, "book": 96.5, "final": m, "pi_low": m - 0.5,
                 "pi_high": m + 0.5, "best": m + 0.25}
                for h, m in ((1, 96.5), (2, 97.0), (3, 96.75), (4, 96.625))
            ],
        },
    }  # fmt: skip
    assert v["depth.drop_3_4"].numbers == {"mean_difference": -0.125, "p": 0.4,
                                           "book_difference": -0.04}  # fmt: skip
    assert v["depth.second_layer"].numbers == {"mean_difference": 0.5, "p": 0.01}
    assert v["depth.second_layer"].holds is True
    assert v["depth.deeper_not_better"].numbers == {
        "means": [[1, 96.5], [2, 97.0], [3, 96.75], [4, 96.625]]
    }


def test_depth_rows_without_runs_or_without_a_book_value_are_left_out() -> None:
    rows = [_depth_row(1, 96.5), _depth_row(2, 97.0, book=None), _depth_row(3, 96.0, runs=0)]
    (typical,) = depth_verdicts(rows, [])
    assert typical.numbers["total"] == 1 and typical.numbers["inside"] == 1
    assert [r["hidden_layers"] for r in typical.numbers["rows"]] == [1]
    assert typical.holds is True


def test_depth_typical_undecided_while_any_interval_is_missing() -> None:
    rows = [_depth_row(1, 96.5), _depth_row(2, 97.0, pi=False)]
    assert depth_verdicts(rows, [])[0].holds is None
    assert depth_verdicts([_depth_row(1, 96.5, pi=False)], [])[0].holds is None


def test_second_layer_on_its_boundaries() -> None:
    rows = [_depth_row(h, m) for h, m in zip((1, 2, 3, 4), (96.5, 97.0, 96.8, 96.7), strict=True)]

    def second(diff: float, p: float | None) -> bool | None:
        return _by_id(depth_verdicts(rows, [_welch("h1", "h2", diff, p)]))[
            "depth.second_layer"
        ].holds

    assert second(0.5, 0.05) is False  # p exactly at the level is not significant
    assert second(0.0, 0.001) is False  # no gain at all
    assert second(0.5, None) is None  # one run a side: no test
    assert second(0.5, 0.049) is True


def test_deeper_not_better_at_exactly_the_slack() -> None:
    # Computed the way the verdict does, so equality is exact: 97.0 + 1e-12.
    edge = 97.0 + CLAIMS["depth.deeper_not_better"]["slack"]
    rows = [_depth_row(h, m) for h, m in zip((1, 2, 3, 4), (96.5, 97.0, edge, 96.7), strict=True)]
    assert _by_id(depth_verdicts(rows, []))["depth.deeper_not_better"].holds is True


def test_neurons_numbers_keep_the_input_and_add_the_thresholds() -> None:
    given = {"share": 0.8, "median_ratio": 3.0, "n_runs": 2, "seed": 0, "larger": 5,
             "n_neurons": 6}  # fmt: skip
    v = neurons_verdict(given)
    assert v.claim == "neurons.second_larger" and v.holds is True
    assert v.numbers == given | {"much": 2.0, "mostly": 0.75}
    assert v.to_dict()["id"] == "neurons.second_larger"


def _initial_row(h: int, share: float, inside: list[bool], *, runs: int = 20,
                 book: bool = True) -> dict[str, Any]:  # fmt: skip
    values = [0.01 * (l + 1) for l in range(h)]
    return {
        "hidden_layers": h,
        "n_runs": runs,
        "book": values if book else None,
        "low": [b / 2 for b in values],
        "high": [b * 2 for b in values],
        "book_in_band": inside,
        "book_percentile": [0.95] * h,
        "share_increasing": share,
        "q_low": 0.1,
        "q_high": 0.9,
    }


def test_initial_numbers_by_value() -> None:
    rows = [_initial_row(2, 0.9, [True, False]), _initial_row(3, 0.8, [True] * 3)]
    rising, typical = initial_verdicts(rows)
    assert rising.to_dict() == {"id": "initial.rising", "holds": True,
                                "numbers": {"shares": [[2, 0.9], [3, 0.8]]}}  # fmt: skip
    assert typical.holds is False
    assert typical.numbers == {
        "inside": 4,
        "total": 5,
        "outside": [{"hidden_layers": 2, "layer": 2, "book": 0.02, "low": 0.01, "high": 0.04,
                     "percentile": 0.95}],
        "q_low": 0.1,
        "q_high": 0.9,
    }  # fmt: skip


def test_initial_rows_without_runs_or_book_values_are_left_out() -> None:
    rows = [_initial_row(2, 1.0, [True, True]), _initial_row(3, 0.1, [False] * 3, runs=0),
            _initial_row(4, 0.1, [False] * 4, book=False)]  # fmt: skip
    rising, typical = initial_verdicts(rows)
    assert rising.numbers == {"shares": [[2, 1.0]]} and rising.holds is True
    assert (typical.numbers["inside"], typical.numbers["total"]) == (2, 2)


def test_initial_rows_of_mismatched_lengths_are_an_error() -> None:
    row = _initial_row(3, 1.0, [True, True])  # one flag short of the three values
    with pytest.raises(ValueError, match="zip"):
        initial_verdicts([row])


def _training_row(
    h: int,
    *,
    share: float = 1.0,
    ratio_next: float = 3.0,
    curve: tuple[float, ...] = (100.0,),
    ratio: float = 100.0,
) -> dict[str, Any]:
    return {
        "hidden_layers": h,
        "n_runs": 5,
        "share_first_slowest": share,
        "seeds_first_always_slowest": 4,
        "share_ordered": 0.5,
        "share_median_ordered": 0.75,
        "median_next_over_first": ratio_next,
        "ratio_typical": ratio,
        "ratio_last_first": {"median": list(curve)},
    }  # fmt: skip


def test_training_numbers_by_value() -> None:
    rows = [_training_row(2), _training_row(4, curve=(80.0, 150.0, 60.0, 120.0), ratio=99.0)]
    slowest, ratio = training_verdicts(rows)
    keys = ("hidden_layers", "n_runs", "share_first_slowest", "seeds_first_always_slowest",
            "share_ordered", "share_median_ordered", "median_next_over_first")  # fmt: skip
    assert slowest.to_dict() == {
        "id": "training.first_slowest",
        "holds": True,
        "numbers": {"rows": [{k: r[k] for k in keys} for r in rows], "threshold": 0.9,
                    "much": 2.0},
    }  # fmt: skip
    assert ratio.to_dict() == {
        "id": "training.ratio_100",
        "holds": True,
        "numbers": {"ratio": 99.0, "start": 80.0, "end": 120.0, "min": 60.0, "max": 150.0,
                    "book": 100.0, "roughly": 3.0},
    }  # fmt: skip


@pytest.mark.parametrize(("ratio", "expected"), [(100.0 / 3.0, True), (300.0, True)])
def test_ratio_100_on_its_exact_edges(ratio: float, expected: bool) -> None:
    (_, v) = training_verdicts([_training_row(4, ratio=ratio)])
    assert v.holds is expected


def test_a_claim_keeps_a_read_only_copy_of_its_limits() -> None:
    limits = {"much": 2.0}
    c = Claim("x.y", "words", "quantity", "threshold", "ratio", "why.", limits)
    assert c["much"] == 2.0 and c.limits == {"much": 2.0}
    assert isinstance(c.limits, MappingProxyType)
    limits["much"] = 5.0  # the caller's dict changes; the claim does not
    assert c["much"] == 2.0
    with pytest.raises(TypeError):
        c.limits["much"] = 3.0  # type: ignore[index]
    assert Claim("x.z", "w", "q", "t", "speed", "why.").limits == {}
