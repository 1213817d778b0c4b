"""The book's claims decided from the chapter's aggregates, each by its threshold in the table.

:mod:`layerspeed.experiments.chapter` sums the runs up into rows; the functions here read the
rows and decide each claim as a :class:`Verdict`: its id, whether it holds and the numbers that
decide it. Every threshold comes from :data:`layerspeed.experiments.claims.CLAIMS`; there is no
number here that decides a verdict.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from layerspeed.experiments.claims import CLAIMS
from layerspeed.experiments.schema import VerdictDict


@dataclass(frozen=True)
class Verdict:
    """One of the book's claims judged: ``holds`` is None where too few runs decide it."""

    claim: str  # the claim's identifier, "depth.typical"; its words are the text view's
    holds: bool | None
    numbers: dict[str, Any]  # what decides it, for the evidence

    def to_dict(self) -> VerdictDict:
        return {"id": self.claim, "holds": self.holds, "numbers": self.numbers}


def depth_verdicts(rows: list[dict[str, Any]], welch: list[dict[str, Any]]) -> list[Verdict]:
    measured = [r for r in rows if r["n_runs"] and r["book"] is not None]
    # One accuracy, the final epoch's (why: the table of claims).
    inside = [r for r in measured if r.get("book_in_final_pi")]
    decidable = [r for r in measured if r["final"]["pi_low"] is not None]
    typical = CLAIMS["depth.typical"]
    out = [
        Verdict(
            typical.id,
            (len(inside) >= typical["share_inside"] * len(measured))
            if decidable and len(decidable) == len(measured)
            else None,
            {
                "inside": len(inside),
                "total": len(measured),
                "rows": [
                    {
                        "hidden_layers": r["hidden_layers"],
                        "book": r["book"],
                        "final": r["final"]["mean"],
                        "pi_low": r["final"]["pi_low"],
                        "pi_high": r["final"]["pi_high"],
                        "best": r["best"]["mean"],
                    }
                    for r in measured
                ],
            },
        )
    ]
    by = {(w["a"], w["b"], w["measure"]): w for w in welch}
    labels = [r["label"] for r in rows]
    if len(labels) < 4:
        return out
    w = by.get((labels[2], labels[3], "final"))
    if w is not None:
        holds = None if w["p"] is None else w["p"] >= CLAIMS["depth.drop_3_4"]["significance"]
        numbers = {k: w[k] for k in ("mean_difference", "p", "book_difference")}
        out.append(Verdict("depth.drop_3_4", holds, numbers))
    w = by.get((labels[0], labels[1], "final"))
    if w is not None:
        alpha = CLAIMS["depth.second_layer"]["significance"]
        holds = None if w["p"] is None else bool(w["p"] < alpha and w["mean_difference"] > 0)
        out.append(
            Verdict("depth.second_layer", holds, {k: w[k] for k in ("mean_difference", "p")})
        )
    means = [r["final"]["mean"] for r in rows if r["n_runs"]]
    if len(means) == len(rows):
        slack = CLAIMS["depth.deeper_not_better"]["slack"]
        deeper_not_better = max(means[2:]) <= means[1] + slack
        numbers = {"means": [[r["hidden_layers"], m] for r, m in zip(rows, means, strict=True)]}
        out.append(Verdict("depth.deeper_not_better", deeper_not_better, numbers))
    return out


def neurons_verdict(numbers: dict[str, Any]) -> Verdict:
    """The bars: ``numbers`` holds the share of (seed, neuron) pairs where layer 2's |dC/db|
    is the larger, and the median ratio layer 2 / layer 1 over the pairs."""
    c = CLAIMS["neurons.second_larger"]
    holds = bool(numbers["median_ratio"] >= c["much"] and numbers["share"] >= c["mostly"])
    return Verdict(c.id, holds, numbers | {"much": c["much"], "mostly": c["mostly"]})


def initial_verdicts(rows: list[dict[str, Any]]) -> list[Verdict]:
    measured = [r for r in rows if r["n_runs"] and r["book"] is not None]
    if not measured:
        return []
    n_in = sum(sum(r["book_in_band"]) for r in measured)
    n_all = sum(len(r["book"]) for r in measured)
    outside = [
        {"hidden_layers": r["hidden_layers"], "layer": l + 1, "book": b, "low": lo, "high": hi,
         "percentile": pct}
        for r in measured
        for l, (b, lo, hi, ok, pct) in enumerate(
            zip(r["book"], r["low"], r["high"], r["book_in_band"], r["book_percentile"],
                strict=True)
        )
        if not ok
    ]  # fmt: skip
    shares = [[r["hidden_layers"], r["share_increasing"]] for r in measured]
    band = {"q_low": measured[0]["q_low"], "q_high": measured[0]["q_high"]}
    rising, typical = CLAIMS["initial.rising"], CLAIMS["initial.typical"]
    return [
        Verdict(rising.id, min(s for _, s in shares) > rising["majority"], {"shares": shares}),
        Verdict(
            typical.id,
            n_in >= typical["share_inside"] * n_all,
            {"inside": n_in, "total": n_all, "outside": outside, **band},
        ),
    ]


def training_verdicts(rows: list[dict[str, Any]]) -> list[Verdict]:
    measured = [r for r in rows if r["n_runs"]]
    if not measured:
        return []
    keys = ("hidden_layers", "n_runs", "share_first_slowest", "seeds_first_always_slowest",
            "share_ordered", "share_median_ordered", "median_next_over_first")  # fmt: skip
    slowest = CLAIMS["training.first_slowest"]
    holds = all(
        r["share_first_slowest"] > slowest["throughout"]
        and r["median_next_over_first"] >= slowest["much"]
        for r in measured
    )
    out = [
        Verdict(
            slowest.id,
            holds,
            {
                "rows": [{k: r[k] for k in keys} for r in measured],
                "threshold": slowest["throughout"],
                "much": slowest["much"],
            },
        )
    ]
    four = [r for r in measured if r["hidden_layers"] == 4]
    if four:
        c = CLAIMS["training.ratio_100"]
        ratio = four[0]["ratio_typical"]
        med = four[0]["ratio_last_first"]["median"]
        numbers = {
            "ratio": ratio,
            "start": med[0],
            "end": med[-1],
            "min": min(med),
            "max": max(med),
            "book": c["book"],
            "roughly": c["roughly"],
        }
        holds = c["book"] / c["roughly"] <= ratio <= c["book"] * c["roughly"]
        out.append(Verdict(c.id, holds, numbers))
    return out
