"""The chain section and the problems as the JSON-ready dicts of ``results.json``.

Gathers :mod:`layerspeed.chain.analysis`, :mod:`layerspeed.chain.statistics` and
:mod:`layerspeed.chain.answers` into what ``layerspeed problems --json`` prints and what
``reproduce`` stores under ``"chain"``, with one entry per claim of the second half of "The
vanishing gradient problem" (Nielsen, chapter 5) and whether the numbers bear it out.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from layerspeed.chain.analysis import analyse
from layerspeed.chain.answers import (
    EXERCISE_WEIGHT_STDS,
    activation_comparison,
    activation_verdict,
    identity_check,
    problem1,
    width_bound,
    width_curve,
    width_maximum,
    width_scan,
)
from layerspeed.chain.model import default_chain, exploding_chain
from layerspeed.chain.statistics import chain_statistics


def problems(*, seed: int = 0, n_chains: int = 10_000, length: int = 4) -> dict[str, Any]:
    """The answers to problems 1-3 and the chain half of problem 4, JSON-ready.

    Keys: ``"min_abs_w"`` (float), ``"problem1"``, ``"width_max"`` (``abs_w``, ``width``),
    ``"width_check"`` (formula vs scan), ``"width_curve"``, ``"identity"`` (rows and a
    statement), ``"activations"`` (per-activation :class:`ChainStatistics` with N(0, 1)
    weights under ``"stats"`` and with N(0, 4^2) weights under ``"stats_large_weights"``,
    and a ``"verdict"`` computed from them).
    """
    p1 = problem1()
    wmax = width_maximum()
    checks = []
    for w, b in [(4.5, 0.0), (5.0, 1.0), (-6.9, 0.3), (8.0, -2.0), (12.0, 0.5), (-20.0, 4.0)]:
        formula = float(width_bound(abs(w)))
        scan = width_scan(w, b)
        checks.append({"w": w, "b": b, "formula": formula, "scan": scan})
    rows = identity_check()
    all_within = all(r.within_bound for r in rows)
    small = [r for r in rows if r.w1 <= 1.0]
    identity_statement = (
        f"Measured error <= w_1^2 |Delta|^3 / 12 at every x in [0, 1] for every w_1 tried "
        f"({', '.join(f'{r.w1:g}' for r in rows)}): {'yes' if all_within else 'NO'}. "
        "The bound holds for all w_1 > 0 (|tanh t - t| <= |t|^3/3), and is tight for small "
        f"w_1: error/bound at x = 1 is {small[0].tightness:.4f} for w_1 = {small[0].w1:g} "
        f"but {rows[-1].tightness:.2f} for w_1 = {rows[-1].w1:g}. So the neuron is an "
        f"identity (up to a constant) within w_1^2/96 on [0, 1]."
    )
    book_std, large_std = EXERCISE_WEIGHT_STDS
    comparison = activation_comparison(
        n_chains=n_chains, length=length, seed=seed, weight_std=book_std
    )
    large = activation_comparison(n_chains=n_chains, length=length, seed=seed, weight_std=large_std)
    return {
        "min_abs_w": p1.min_abs_w,
        "problem1": asdict(p1),
        "width_max": asdict(wmax),
        "width_max_book": {"abs_w": 6.9, "width": 0.45},
        "width_check": checks,
        "width_curve": width_curve(),
        "identity": {
            "rows": [asdict(r) for r in rows],
            "within_bound": all_within,
            "statement": identity_statement,
        },
        "activations": {
            "length": length,
            "n_chains": n_chains,
            "weight_std": book_std,
            "stats": {name: s.to_dict() for name, s in comparison.items()},
            "large_weight_std": large_std,
            "stats_large_weights": {name: s.to_dict() for name, s in large.items()},
            "verdict": activation_verdict(comparison, large),
        },
    }


def chapter_chain_results(*, seed: int = 0, n_chains: int = 10_000) -> dict[str, Any]:
    """All of the chain section and the problems, JSON-serializable.

    Returns
    -------
    dict
        ``"default"``: :meth:`ChainAnalysis.to_dict` of the synopsis chain;
        ``"exploding"``: the same for the exploding chain, plus ``"per_layer_growth"``
        (``dC/db_j / dC/db_{j+1}``);
        ``"vanishing"``: :class:`ChainStatistics` of sigmoid chains with N(0, 1) weights;
        ``"problems"``: :func:`problems`;
        ``"claims"``: one entry per claim of the book with ``"claim"``, ``"holds"``,
        ``"evidence"``.
    """
    default = analyse(default_chain())
    exploding = analyse(exploding_chain())
    growth = [
        exploding.nabla_b_backprop[j] / exploding.nabla_b_backprop[j + 1]
        for j in range(exploding.chain.length - 1)
    ]
    vanishing = chain_statistics(n_chains=n_chains, rng=seed)
    answers = problems(seed=seed, n_chains=n_chains)
    r13 = vanishing.ratio_1_3_median or float("nan")  # chains of 4 always have a dC/db_3
    wmax = answers["width_max"]
    claims = [
        {
            "claim": "sigma' reaches its maximum 1/4 at z = 0",
            "holds": abs(answers["problem1"]["max_sigma_prime"] - 0.25) < 1e-12
            and answers["problem1"]["argmax_z"] == 0.0,
            "evidence": f"max sigma' = {answers['problem1']['max_sigma_prime']:.6f} at "
            f"z = {answers['problem1']['argmax_z']:g}",
        },
        {
            "claim": "with N(0,1) weights, |w_j sigma'(z_j)| is usually < 1/4",
            "holds": vanishing.term_below_quarter > 0.5,
            "evidence": f"{vanishing.term_below_quarter:.1%} of terms are below 1/4",
        },
        {
            "claim": "dC/db_1 is typically 16 times smaller than dC/db_3, or more",
            "holds": (vanishing.ratio_1_3_sixteen or 0.0) > 0.5,
            "evidence": f"{vanishing.ratio_1_3_sixteen:.1%} of chains have "
            f"|dC/db_1| <= |dC/db_3|/16; median |dC/db_1 / dC/db_3| = "
            f"{r13:.4f} (1/{1 / r13:.0f})",
        },
        {
            "claim": "with w_j = 100 and z_j = 0, every term is 25 and the gradient grows "
            "25 times per layer",
            "holds": all(abs(t - 25.0) < 1e-12 for t in exploding.terms[1:-1])
            and all(abs(g - 25.0) < 1e-9 for g in growth),
            "evidence": f"terms {[round(t, 12) for t in exploding.terms[1:-1]]}, growth "
            f"{[round(g, 9) for g in growth]}",
        },
        {
            "claim": "|w sigma'(wa+b)| >= 1 needs |w| >= 4",
            "holds": abs(answers["min_abs_w"] - 4.0) < 1e-9,
            "evidence": f"numerical min |w| = {answers['min_abs_w']:.6f}",
        },
        {
            "claim": "the width bound (123) is greatest at |w| ~ 6.9, where it is ~ 0.45",
            "holds": round(wmax["abs_w"], 1) == 6.9 and round(wmax["width"], 2) == 0.45,
            "evidence": f"maximum at |w| = {wmax['abs_w']:.4f}, width {wmax['width']:.4f}",
        },
        {
            "claim": "w_2 sigma(w_1 x + b) ~ x + const on [0, 1] for small w_1",
            "holds": answers["identity"]["within_bound"],
            "evidence": answers["identity"]["statement"],
        },
    ]
    return {
        "seed": seed,
        "n_chains": n_chains,
        "default": default.to_dict(),
        "exploding": {**exploding.to_dict(), "per_layer_growth": growth},
        "vanishing": vanishing.to_dict(),
        "problems": answers,
        "claims": claims,
    }
