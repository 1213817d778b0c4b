"""The chapter's problems: |w| >= 4, the width bound (123) and its maximum, the identity
neuron, the activation comparison, and the ``problems`` command and summary functions."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from scipy.optimize import brentq

from layerspeed import chain as ch
from layerspeed.cli import main
from layerspeed.errors import BadInput
from layerspeed.views.figures import identity_error, render, sigma_prime, spec, width_bound
from layerspeed.views.text.chain import to_markdown


def test_problem1_needs_abs_w_at_least_4() -> None:
    p = ch.problem1()
    assert p.argmax_z == 0.0
    assert p.max_sigma_prime == 0.25
    assert p.min_abs_w == 4.0
    assert p.best_just_below < 1.0 <= p.best_at_bound


@pytest.mark.parametrize("w", [4.0001, 4.5, 5.0, 6.9, -6.9, 10.0, 15.0, -20.0])
@pytest.mark.parametrize("b", [0.0, 0.7, -2.5])
def test_width_formula_matches_scan(w: float, b: float) -> None:
    # Near |w| = 4 the set is a sliver where |w sigma'| - 1 barely reaches 0, and the scan's
    # linear interpolation of the crossings is good to about 1e-8 there.
    assert ch.width_scan(w, b) == pytest.approx(ch.width_bound(abs(w)), rel=1e-7, abs=1e-8)


def test_no_width_below_4() -> None:
    assert ch.width_scan(3.9, 0.2) == 0.0
    assert ch.width_bound(4.0) == 0.0  # ln(4 * 1 / 2 - 1) = ln 1 = 0
    with pytest.raises(BadInput):
        ch.width_bound(3.0)


def test_width_maximum_is_the_books() -> None:
    m = ch.width_maximum()
    # Computed: |w| = 6.8942, width = 0.4477; the book: |w| ~ 6.9, width ~ 0.45.
    assert m.abs_w == pytest.approx(6.8942, abs=5e-4)
    assert m.width == pytest.approx(0.4477, abs=5e-4)
    assert round(m.abs_w, 1) == 6.9
    assert round(m.width, 2) == 0.45
    # It is a maximum: nearby values are lower.
    assert ch.width_bound(m.abs_w - 0.01) < m.width > ch.width_bound(m.abs_w + 0.01)


def test_width_maximum_is_where_the_derivative_vanishes() -> None:
    # With r = sqrt(1 - 4/w) and g = w (1 + r)/2 - 1, (123) is (2/w) ln g, whose derivative
    # is (2/w^2) (w g'/g - ln g) with g' = (1 + r)/2 + 1/(w r). Its root, found to rounding,
    # is an independent reference for the value-only search.
    def slope(w: float) -> float:
        r = math.sqrt(1.0 - 4.0 / w)
        g = w * (1.0 + r) / 2.0 - 1.0
        return w * ((1.0 + r) / 2.0 + 1.0 / (w * r)) / g - math.log(g)

    peak = brentq(slope, 5.0, 10.0, xtol=1e-14)
    m = ch.width_maximum()
    # The peak is flat: values alone locate it to about sqrt(eps) * |w|, yet give its height.
    assert m.abs_w == pytest.approx(peak, abs=1e-7)
    assert m.width == pytest.approx(ch.width_bound(peak), rel=1e-15)


def test_identity_neuron_by_hand() -> None:
    # w_1 = 1: b = -1/2, w_2 = 4. At x = 1/2 (Delta = 0): 4 sigma(0) = 2 = x + c with
    # c = 2/w_1 - 1/2 = 3/2, so the error is exactly 0.
    assert ch.identity_neuron(1.0, 0.5) == 2.0
    assert ch.identity_error_bound(1.0, 0.5) == 0.0


@pytest.mark.parametrize("w1", [0.01, 0.1, 0.5, 1.0, 2.0, 5.0, 20.0])
def test_identity_error_within_bound(w1: float) -> None:
    x = np.linspace(0.0, 1.0, 2001)
    out = ch.identity_neuron(w1, x)
    target = x + 2.0 / w1 - 0.5
    error = np.abs(out - target)
    slack = 8 * np.finfo(float).eps * np.abs(target)  # rounding of two numbers near 2/w_1
    assert np.all(error <= ch.identity_error_bound(w1, x) + slack)


def test_identity_bound_is_tight_for_small_w1() -> None:
    rows = {r.w1: r for r in ch.identity_check()}
    assert all(r.within_bound for r in rows.values())
    assert rows[0.01].tightness == pytest.approx(1.0, abs=1e-4)
    assert rows[0.1].tightness == pytest.approx(1.0, abs=1e-3)
    assert rows[5.0].tightness < 0.8  # loose once w_1 |Delta| is not small
    # The worst error on [0, 1] is w_1^2 / 96, at |Delta| = 1/2.
    assert rows[0.1].max_bound == pytest.approx(0.01 / 96)


def test_activation_comparison_spreads() -> None:
    book = ch.activation_comparison(n_chains=4000, seed=2)
    large = ch.activation_comparison(n_chains=4000, seed=2, weight_std=4.0)
    sig = book["sigmoid"]
    for name in ("tanh", "relu", "scaled_sigmoid"):
        # A larger derivative moves the typical term up, and fewer chains vanish ...
        assert book[name].term_median_nonzero > sig.term_median_nonzero
        assert book[name].vanishing < sig.vanishing
        # ... but the log ratio still spreads over more than a decade.
        assert book[name].log10_ratio_p95 - book[name].log10_ratio_p05 > 1.0
    # With larger weights, the same activations explode for some chains, vanish for others.
    for name in ("tanh", "relu", "scaled_sigmoid"):
        assert large[name].exploding > 0.0 and large[name].vanishing > 0.3
    # The sigmoid never explodes in 4-neuron chains at these scales.
    assert sig.exploding == 0.0 and large["sigmoid"].exploding == 0.0
    verdict = ch.activation_verdict(book, large)
    assert "toward 1" in verdict and "explode" in verdict


def test_problems_command_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["problems", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["min_abs_w"] == 4.0
    assert round(out["width_max"]["abs_w"], 1) == 6.9
    assert round(out["width_max"]["width"], 2) == 0.45
    assert out["identity"]["within_bound"] is True
    assert set(out["activations"]["stats"]) == {"sigmoid", "tanh", "relu", "scaled_sigmoid"}
    assert isinstance(out["activations"]["verdict"], str)
    for row in out["width_check"]:
        assert row["scan"] == pytest.approx(row["formula"], rel=1e-7)


def test_problems_command_table(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["problems", "--n-chains", "500"]) == 0
    out = capsys.readouterr().out
    assert "6.89" in out and "identity neuron" in out


def test_chapter_chain_results_is_json_and_claims_hold() -> None:
    r = ch.chapter_chain_results(seed=0, n_chains=2000)
    text = json.dumps(r, allow_nan=False)  # JSON-ready, no NaN
    assert json.loads(text) == r
    assert {"default", "exploding", "vanishing", "problems", "claims"} <= set(r)
    assert r["exploding"]["per_layer_growth"] == [25.0, 25.0, 25.0]
    assert all(c["holds"] for c in r["claims"]), [c for c in r["claims"] if not c["holds"]]
    md = to_markdown(r)
    assert md.startswith("## ")
    assert "| dC/db_1, backprop |" in md
    # Every table row has the same number of cells as its header (no stray | in a cell).
    for block in md.split("\n\n"):
        rows = [line for line in block.splitlines() if line.startswith("|")]
        if rows:
            counts = {line.replace("\\|", "").count("|") for line in rows}
            assert len(counts) == 1, block


def test_chain_figures_show_the_answers() -> None:
    results = ch.chapter_chain_results(n_chains=200)
    for chart in (sigma_prime(), width_bound(results["problems"]), identity_error()):
        assert render(chart, "svg").startswith(b"<svg")
    layers = spec(sigma_prime())["layer"]
    peak = layers[1]["data"]["values"]
    assert [(p["z"], p["prime"]) for p in peak] == [(0.0, 0.25)]
    assert math.isclose(max(p["prime"] for p in layers[0]["data"]["values"]), 0.25)
    marks = spec(width_bound(results["problems"]))["layer"][1]["data"]["values"]
    wmax = results["problems"]["width_max"]
    assert math.isclose(marks[0]["width"], wmax["width"], rel_tol=1e-3)
