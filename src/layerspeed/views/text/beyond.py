"""Beyond the book, in words: the remedies side by side, depth, and the order-to-chaos line.

Pure functions of ``results["beyond"]`` (:mod:`layerspeed.experiments.beyond`). Every number
in the sentences is read from it; which sentence is said depends on what the numbers show
(a remedy that evens the layers, one that does not, what each costs in accuracy).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from layerspeed.views.text.verdicts import percent_ci, spread_ci

Json = Mapping[str, Any]
WHEN = {"initial": "at initialization", "after": "after the epoch"}
TENFOLD = 1.0  # a speed spread of 1: the fastest hidden layer ten times the slowest


def _f(v: float | None, fmt: str = ".3g") -> str:
    return "–" if v is None else format(v, fmt)


def _acc(d: Json | None) -> str:
    """``mean% [lo, hi]``, the 95% CI clipped to 0..100 (``†``: few seeds reach past it)."""
    return "– (diverged)" if not d else percent_ci(d)


def _flags(f: Json) -> str:
    return f"{f.get('vanishing', 0)}/{f.get('balanced', 0)}/{f.get('exploding', 0)}"


# ---- modern ---------------------------------------------------------------------------------


def modern_rows(modern: Json) -> list[list[str]]:
    """One row per variant and depth: spreads (mean [95% CI]), training flags
    (vanishing/balanced/exploding), the verdict and the accuracy (mean [95% CI])."""
    return [
        [
            r["variant"],
            str(r["depth"]),
            spread_ci(r["spread_initial"], "–"),
            spread_ci(r["spread_training"], "–"),
            _flags(r["flags_training"]),
            str(r["verdict"]),
            _acc(r["accuracy"]),
        ]
        for r in modern["rows"]
    ]


def _mean(r: Json, key: str) -> float | None:
    return (r.get(key) or {}).get("mean")


def _overlap(a: Json | None, b: Json | None) -> bool | None:
    if not a or not b or a.get("ci_low") is None or b.get("ci_low") is None:
        return None
    return bool(a["ci_low"] <= b["ci_high"] and b["ci_low"] <= a["ci_high"])


def modern_findings(modern: Json) -> list[str]:
    """Per depth: which variants even the layers (training spread under tenfold) and at what
    cost in accuracy against the book's network; what LARS evens and what it does not."""
    out = []
    depths = sorted({r["depth"] for r in modern["rows"]})
    for depth in depths:
        mine = [r for r in modern["rows"] if r["depth"] == depth]
        book = next((r for r in mine if r["variant"] == "book"), mine[0])
        b_spread, b_acc = _mean(book, "spread_training"), book["accuracy"]
        others = [r for r in mine if r is not book and _mean(r, "spread_training") is not None]
        evens = [r for r in others if (_mean(r, "spread_training") or 0.0) < TENFOLD]
        uneven = [r for r in others if r not in evens]
        head = (
            f"{depth} hidden layers: the book's network ({book['variant']}) has a speed spread "
            f"of {_f(b_spread, '.2f')} during training (mean over seeds; a spread of 1 is a "
            f"tenfold gap) "
            f"and {_acc(b_acc)} validation accuracy."
        )
        parts = [head]
        if evens:
            parts.append(
                "Under tenfold during training: " + "; ".join(_cost(r, b_acc) for r in evens) + "."
            )
        if uneven:
            parts.append(
                "Still over tenfold: "
                + ", ".join(f"{r['variant']} ({_f(_mean(r, 'spread_training'), '.2f')}, "
                            f"{r['verdict']})" for r in uneven)
                + "."
            )  # fmt: skip
        out.append(" ".join(parts))
        out += [_lars(r) for r in mine if r.get("lars_step") is not None]
    return out


def _cost(r: Json, book_acc: Json | None) -> str:
    spread = f"{r['variant']} (spread {_f(_mean(r, 'spread_training'), '.2f')}"
    a = r["accuracy"]
    if not a or not book_acc:
        return spread + ", no accuracy to compare)"
    diff = a["mean"] - book_acc["mean"]
    same = _overlap(a, book_acc)
    judged = (
        "the 95% CIs overlap"
        if same
        else "the 95% CIs do not overlap"
        if same is not None
        else "too few seeds for a CI"
    )
    return f"{spread}, accuracy {a['mean']:.2f}%, {diff:+.2f} points against the book's; {judged})"


def _lars(r: Json) -> str:
    """LARS evens the steps by construction; whether the dC/db spread follows is measured."""
    step = f"{100 * r['lars_step']:.3g}%"
    s = _mean(r, "spread_training")
    v = r["flags_training"].get("vanishing", 0)
    n = sum(r["flags_training"].values())
    head = (
        f"{r['variant']} at {r['depth']} hidden layers: the trust ratio moves every layer's "
        f"weights by the same {step} of their norm a step, slow layer or fast"
    )
    if s is None:
        return head + "; no run measured its speeds during training."
    if s >= TENFOLD:
        return (
            f"{head}, yet the speed spread of dC/db during training stays {s:.2f} (vanishing in "
            f"{v} of {n} runs): LARS evens how far each layer's weights move, not how fast "
            "its gradient is."
        )
    return (
        f"{head}, and the speed spread of dC/db during training is {s:.2f} (vanishing in {v} of "
        f"{n} runs): under tenfold."
    )


# ---- depth ----------------------------------------------------------------------------------


def depth_rows(depth: Json) -> list[list[str]]:
    """One row per variant and depth: the ratio at initialization and after the epoch
    (geometric mean [10-90% band]) and the mean-field line."""

    def cell(m: Json | None) -> str:
        if not m:
            return "–"
        return f"{m['geomean']:.3g} [{m['low']:.3g}, {m['high']:.3g}]"

    return [
        [r["variant"], str(p["depth"]), cell(p["initial"]), cell(p["after"]), _f(p["theory"])]
        + [", ".join(w for w, n in (p.get("floored") or {}).items() if n)]
        for r in depth["rows"]
        for p in r["points"]
    ]


def depth_findings(depth: Json) -> list[str]:
    """The chapter's point, each variant's measured per-layer factor beside the theory's."""
    out = []
    c = depth.get("chapter") or {}
    if c.get("initial"):
        after = c.get("after") or {}
        out.append(
            f"The chapter's network ({c['depth']} hidden layers of {c['variant']}): the last "
            f"hidden layer learns {c['initial']['geomean']:.3g} times faster than the first at "
            f"initialization (geometric mean over {c['initial']['n']} seeds) and "
            f"{_f(after.get('geomean'))} after the epoch; the book says roughly {c['book']:g}, "
            f"the mean-field line {_f(c.get('theory'))}."
        )
    for r in depth["rows"]:
        t, fit = r["theory"], r.get("fitted") or {}
        if t["applies"]:
            said = (
                f"the ratio grows by a factor of {_f(fit.get('initial'))} per hidden layer at "
                f"initialization and {_f(fit.get('after'))} after the epoch (a line through 1 "
                f"fitted on a log scale); the mean field predicts 1/√χ = {_f(t['factor'])} "
                f"(χ = {_f(t['chi'])})"
            )
        else:
            said = f"no mean-field line applies ({t['why']}); " + "; ".join(
                _span(r["points"], w) for w in ("initial", "after")
            )
        out.append(f"{r['variant']}: {said}.")
        floored = [p["depth"] for p in r["points"] if any((p.get("floored") or {}).values())]
        if floored:
            out.append(
                f"{r['variant']} at {', '.join(map(str, floored))} hidden layers: the first "
                "layer's speed fell to the floor of 1e-12 in some runs, so those ratios are "
                "lower bounds and are left out of the fit."
            )
    return out


def _span(points: Sequence[Json], when: str) -> str:
    """The measured ratios' range over the depths past one hidden layer."""
    got = [(p["depth"], p[when]["geomean"]) for p in points if p.get(when) and p["depth"] > 1]
    if not got:
        return f"no ratio measured {WHEN[when]}"
    lo, hi = min(got, key=lambda g: g[1]), max(got, key=lambda g: g[1])
    return (
        f"{WHEN[when]} the ratio stays between {lo[1]:.3g} ({lo[0]} hidden layers) and "
        f"{hi[1]:.3g} ({hi[0]} hidden layers)"
    )


# ---- chaos ----------------------------------------------------------------------------------


def _point(r: Json) -> str:
    return (
        f"{r['activation']} at gain {r['gain']:g}, bias gain {r['bias_gain']:g} (χ = "
        f"{r['chi']:.3g}): spread {r['median']:.2f} [{r['low']:.2f}, {r['high']:.2f}]"
    )


def chaos_findings(chaos: Json) -> list[str]:
    """Where the measured spread is smallest, and how near χ = 1 that is."""
    rows: Sequence[Json] = chaos["rows"]
    if not rows or chaos.get("smallest") is None:
        return []
    out = [f"The smallest measured speed spread over the sweep: {_point(chaos['smallest'])}."]
    for act, best in chaos["by_activation"].items():
        mine = [r for r in rows if r["activation"] == act and r["chi"] > 0]
        nearest = min(mine, key=lambda r: abs(math.log(r["chi"])))
        where = (
            "the point nearest the critical line χ = 1"
            if nearest["label"] == best["label"]
            else f"not the point nearest χ = 1 ({_point(nearest)})"
        )
        out.append(f"{act}: smallest spread at {_point(best)}, {where}.")
    return out


def beyond_markdown(beyond: Json) -> str:
    """``summary.md``'s section on the presets beyond the book."""
    lines = ["## Beyond the book", ""]
    if "modern" in beyond:
        lines += [
            "### The remedies side by side (`modern`, in `modern/`)",
            "",
            "Speed spread log10(fastest / slowest hidden layer): mean [95% CI, cut at 0] "
            "over seeds; training flags vanishing/balanced/exploding; validation accuracy: "
            "mean [95% CI] († clipped to 0..100%: the t interval of few seeds reaches past it).",
            "",
            "| variant | hidden layers | spread at init | spread in training | flags "
            "| verdict | accuracy |",
            "|---|---|---|---|---|---|---|",
            *("| " + " | ".join(r) + " |" for r in modern_rows(beyond["modern"])),
            "",
            *(f"- {s}" for s in modern_findings(beyond["modern"])),
            "",
            "![modern](figures/beyond_modern.png)",
            "",
        ]
    if "depth" in beyond:
        lines += [
            "### Deeper (`depth`, in `depth/`)",
            "",
            "First-to-last speed ratio (last hidden layer / first): geometric mean [10–90% "
            "band] over seeds, and the mean-field line factor^(depth − 1).",
            "",
            "| variant | hidden layers | at init | after the epoch | mean field | at floor |",
            "|---|---|---|---|---|---|",
            *("| " + " | ".join(r) + " |" for r in depth_rows(beyond["depth"])),
            "",
            *(f"- {s}" for s in depth_findings(beyond["depth"])),
            "",
            "![depth](figures/beyond_depth.png)",
            "",
        ]
    if "chaos" in beyond:
        lines += [
            "### The order-to-chaos line (`chaos`, in `chaos/`)",
            "",
            *(f"- {s}" for s in chaos_findings(beyond["chaos"])),
            "",
            "![order to chaos](figures/beyond_chaos.png)",
            "",
        ]
    return "\n".join(lines)


__all__ = [
    "beyond_markdown",
    "chaos_findings",
    "depth_findings",
    "depth_rows",
    "modern_findings",
    "modern_rows",
]
