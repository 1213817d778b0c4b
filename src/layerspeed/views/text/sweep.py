"""The sweep in words: the findings (sentences with numbers) and the Markdown table.

Reads a sweep summary (:func:`layerspeed.experiments.summary.summarize`); computes nothing
that is not a rendering of its numbers, save the rank correlation the findings quote.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from layerspeed.errors import plural
from layerspeed.experiments.summary import DEAD_ACTIVATIONS
from layerspeed.views.text.verdicts import percent_ci, spread_ci


def _acc_text(p: dict[str, Any]) -> str:
    a = p["accuracy"]
    return "no accuracy (diverged)" if a is None else percent_ci(a)


def _spread_text(p: dict[str, Any], when: str = "training") -> str:
    s = p[f"spread_{when}"]
    return "-" if s is None else f"{s['mean']:.2f}"


def _mean_acc(p: Mapping[str, Any]) -> float:
    return p["accuracy"]["mean"] if p["accuracy"] else -1.0


def _listing(group: Sequence[dict[str, Any]], *, keep: int = 3) -> str:
    """``label (accuracy, spread)`` for each point; for a long list the best and worst few."""

    def one(p: dict[str, Any]) -> str:
        return f"{p['label']} ({_acc_text(p)}, spread {_spread_text(p)})"

    if len(group) <= 2 * keep:
        return ", ".join(one(p) for p in group)
    return (
        "best "
        + ", ".join(one(p) for p in group[:keep])
        + "; ...; worst "
        + ", ".join(one(p) for p in group[-keep:])
    )


def findings(summary: Mapping[str, Any]) -> list[str]:
    """Sentences with numbers: which grid points balance the speeds, and their accuracy."""
    points = summary["points"]
    out: list[str] = []
    groups: dict[str, list[dict[str, Any]]] = {}
    for p in points:
        groups.setdefault(p["verdict"], []).append(p)
    for verdict, words in (
        ("balanced", "keep the first and last hidden layers within 10x of each other in training"),
        ("vanishing", "leave the first hidden layer more than 10x slower than the last"),
        ("exploding", "make the first hidden layer more than 10x faster than the last"),
        ("mixed", "are balanced in some seeds and unbalanced in as many others"),
    ):
        g = sorted(groups.get(verdict, []), key=_mean_acc, reverse=True)
        if not g:
            continue
        accs = [p["accuracy"]["mean"] for p in g if p["accuracy"]]
        acc = f"; accuracy {min(accs):.2f}% to {max(accs):.2f}%" if accs else ""
        out.append(f"{len(g)} of {plural(len(points), 'grid point')} {words}{acc}: {_listing(g)}.")
    div = groups.get("diverged", [])
    if div:
        out.append(
            f"{plural(len(div), 'grid point')} diverged (NaN or inf) in most seeds: "
            + ", ".join(p["label"] for p in div)
            + "."
        )
    scored = [p for p in points if p["accuracy"] and p["spread_training"]]
    if scored:
        best = max(scored, key=_mean_acc)
        out.append(
            f"Best accuracy: {best['label']}, {_acc_text(best)}, speed spread "
            f"{_spread_text(best, 'initial')} at initialization and {_spread_text(best)} in "
            f"training ({best['verdict']})."
        )
        # Balance is needed, not sufficient: saturated units learn slowly in every layer alike.
        stuck = [
            p
            for p in groups.get("balanced", [])
            if p["accuracy"]
            and p["params"].get("activation") not in DEAD_ACTIVATIONS  # inactive, not flat
            and _mean_acc(p) < _mean_acc(best) - 5
            and (p["saturated_share"] or 0) > 0.1
        ]
        if stuck:
            out.append(
                "Balanced but held back by saturation (more than 10% of the units' derivatives "
                "below 1% of their maximum at initialization): "
                + ", ".join(
                    f"{p['label']} ({_acc_text(p)}, {100 * p['saturated_share']:.0f}% saturated)"
                    for p in sorted(stuck, key=_mean_acc, reverse=True)
                )
                + "."
            )
    if len(scored) >= 3:
        from scipy.stats import spearmanr

        rho = spearmanr(
            [p["spread_training"]["mean"] for p in scored], [_mean_acc(p) for p in scored]
        ).statistic
        if math.isfinite(rho):
            out.append(
                f"Across the {plural(len(scored), 'grid point')} that trained, the speed spread in "
                f"training and the accuracy have Spearman rank correlation {rho:+.2f} "
                f"(negative: the more unequal the layers' speeds, the lower the accuracy)."
            )
    out.extend(_scaled_sigmoid_findings(points))
    out.extend(theory_findings(points))
    return out


# ---- the mean-field theory beside each point ---------------------------------------------------

_SHORT = 6  # names listed before "and N more" (the table has every point)


def _named(items: Sequence[str]) -> str:
    if len(items) <= _SHORT:
        return ", ".join(items)
    return ", ".join(items[:_SHORT]) + f" and {len(items) - _SHORT} more"


def _start_words(points: Sequence[Mapping[str, Any]]) -> str:
    """Where the q map starts at the first hidden layer, as the points' theory says."""
    if {p["theory"]["start"] for p in points} == {"data"}:
        m2 = sorted({p["theory"]["input_second_moment"] for p in points})
        return "the first hidden layer's q from the probe images' mean square " + (
            f"{m2[0]:.3g}" if len(m2) == 1 else f"{m2[0]:.3g} to {m2[-1]:.3g}"
        )
    return (
        "the first hidden layer put at the fixed point q* like the others: the summary had "
        "no images to read the pixels' own mean square from"
    )


def _abs_or_inf(x: float | None) -> float:
    return math.inf if x is None else abs(x)


def _pct(x: float) -> str:
    return f"{100 * x:+.0f}%"


def _point_words(p: Mapping[str, Any]) -> str:
    """``label (measured 4.58, predicted 4.88, +7%)``, and for a miss what does hold."""
    t = p["theory"]
    if t["relative_error"] is None:
        return f"{p['label']} (no factor to compare)"
    extra = ""
    if not t["within"]:
        later = [q["within"] for q in t["pairs"] if not q["includes_first"]]
        if t.get("within_per_example"):
            extra = f"; per example {_pct(t['relative_error_per_example'])}"
        elif later and all(later):
            extra = "; every pair but the first hidden layer's within"
    return (
        f"{p['label']} (measured {_f(t['measured'])}, predicted {_f(t['predicted'])}, "
        f"{_pct(t['relative_error'])}{extra})"
    )


def theory_findings(points: Sequence[Mapping[str, Any]]) -> list[str]:
    """Where the mean-field per-layer factor holds within the tolerance, where not and why,
    and where it says nothing; the book's bound for the sigmoid points. Points summed up by
    an older layerspeed (no ``"theory"``) are left out."""
    with_theory = [p for p in points if p.get("theory")]
    applied = [p for p in with_theory if p["theory"]["applies"]]
    out: list[str] = []
    if applied:
        tol = 100 * applied[0]["theory"]["tolerance"]
        hold = sorted(
            (p for p in applied if p["theory"]["within"]),
            key=lambda p: abs(p["theory"]["relative_error"]),
        )
        miss = sorted(
            (p for p in applied if not p["theory"]["within"]),
            key=lambda p: -_abs_or_inf(p["theory"]["relative_error"]),
        )
        words = (
            "The mean-field theory's per-layer factor speed^{l+1}/speed^l at initialization "
            "(the geometric mean over the pairs of neighbouring hidden layers of the median "
            f"over seeds; {_start_words(applied)}) holds within {tol:.0f}% at "
            f"{len(hold)} of {plural(len(applied), 'grid point')} it applies to"
        )
        words += f": {_named([_point_words(p) for p in hold])}." if hold else "."
        if miss:
            words += f" It misses at {len(miss)}: {_named([_point_words(p) for p in miss])}."
        out.append(words)
        by_example = [p["label"] for p in miss if p["theory"].get("within_per_example")]
        if by_example:
            out.append(
                f"Of the {plural(len(miss), 'miss', 'misses')}, {len(by_example)} hold within "
                f"{tol:.0f}% on the mean per-example gradient norms, the quantity the theory "
                "speaks of (one example's gradient): there the book's speed, the norm of the "
                "gradient averaged over the probe images, is not what is predicted, as the "
                f"examples' gradients cancel unequally from layer to layer ({_named(by_example)})."
            )
    none = [p for p in with_theory if not p["theory"]["applies"]]
    if none:
        by_why: dict[str, list[str]] = {}
        for p in none:
            by_why.setdefault(p["theory"]["why"], []).append(p["label"])
        out.append(
            "No prediction at "
            + "; ".join(f"{_named(labels)}: {why}" for why, labels in by_why.items())
            + "."
        )
    sig = [p for p in applied if p["theory"]["book_bound"] and p["theory"]["measured"]]
    if sig:
        bound = sig[0]["theory"]["book_bound"]
        above = [p["label"] for p in sig if p["theory"]["measured"] >= bound]
        out.append(
            f"The book's bound, each layer back at least {bound:g}x slower from "
            f"|w sigma'| < 1/4 (sigmoid only): the measured factor reaches it at "
            f"{len(above)} of {plural(len(sig), 'sigmoid grid point')}"
            + (f" ({_named(above)})" if above else "")
            + "."
        )
    return out


def _f(x: float | None) -> str:
    return "-" if x is None else f"{x:.3g}"


def _theory_cells(p: Mapping[str, Any]) -> tuple[str, str]:
    """The table's "measured factor (median)" and "predicted" cells of a point."""
    t = p.get("theory")
    if not t:
        return "-", "-"
    if not t["applies"]:
        return _f(t["measured"]), f"none ({t['reason']})"
    err = "" if t["relative_error"] is None else f" ({_pct(t['relative_error'])})"
    return _f(t["measured"]), _f(t["predicted"]) + err


def _scaled_sigmoid_findings(points: Sequence[dict[str, Any]]) -> list[str]:
    """The chapter's exercise: would an activation with a larger derivative help?

    Pairs each sigmoid grid point with the scaled_sigmoid one (4 sigma - 2, maximum derivative
    1 instead of 1/4) that differs from it in nothing else.
    """

    def key(p: dict[str, Any]) -> tuple[Any, ...]:
        return tuple(sorted((k, v) for k, v in p["params"].items() if k != "activation"))

    scaled = {key(p): p for p in points if p["params"].get("activation") == "scaled_sigmoid"}
    pairs = [
        (p, scaled[key(p)])
        for p in points
        if p["params"].get("activation") == "sigmoid" and key(p) in scaled
    ]
    if not pairs:
        return []
    n_bal = [sum(x["verdict"] == "balanced" for x in side) for side in zip(*pairs, strict=True)]
    per_pair = "; ".join(
        (",".join(f"{k}={v}" for k, v in key(p)) or "same settings")
        + f": spread in training {_spread_text(q)} vs {_spread_text(p)}, "
        + f"accuracy {_mean_acc(q):.1f}% vs {_mean_acc(p):.1f}%"
        for p, q in pairs
    )
    return [
        "A larger derivative (the chapter's exercise): scaled_sigmoid = 4 sigma - 2, whose "
        "derivative reaches 1 instead of 1/4, balances the layers' speeds at "
        f"{n_bal[1]} of {len(pairs)} settings against sigmoid's {n_bal[0]} "
        f"(scaled_sigmoid vs sigmoid; {per_pair})."
    ]


CLIPPED_NOTE = "† clipped to 0..100%: the t interval of few seeds reaches past it."


def _acc_cell(d: Mapping[str, Any] | None) -> str:
    """An accuracy's mean and 95% CI in percent, the CI clipped to 0..100 (marked †)."""
    return "-" if d is None else percent_ci(d, unit="")


def _share(v: float | None) -> str:
    return "-" if v is None else f"{100 * v:.0f}%"


def sweep_markdown(summary: Mapping[str, Any]) -> str:
    """The summary as Markdown: the findings, then one table row per grid point."""
    runs = summary["runs"]
    cfg = summary["config"]
    lines = [
        f"## Sweep `{summary['name']}`",
        "",
        f"{plural(len(summary['points']), 'grid point')} x {plural(len(cfg['seeds']), 'seed')} = "
        f"{plural(runs['total'], 'run')}: "
        f"{runs['done']} done, {runs['diverged']} diverged, {runs['failed']} failed, "
        f"{runs['missing']} not run. Fixed: "
        + (", ".join(f"{k}={v}" for k, v in cfg["base"].items()) or "the defaults")
        + ".",
        "",
        "Speed spread = log10(max / min layer speed ||mean dC/db||) over the hidden layers; "
        "flags: vanishing (first hidden layer > 10x slower than the last), exploding "
        "(> 10x faster), balanced. Numbers are means over seeds with 95% t intervals. "
        "Saturated: the share of (example, unit) pairs whose derivative is below 1% of its "
        "maximum (for relu, the inactive ones, z <= 0); dead: relu units inactive on every "
        "probe image. Measured factor: speed^{l+1}/speed^l at initialization, the median "
        "over seeds for each pair of neighbouring hidden layers, then the geometric mean over "
        "the pairs (the typical factor from the first hidden layer to the last); predicted: "
        "the mean-field theory's for the same pairs, likewise, with its relative error "
        "(summary.json has every pair, its 10-90% band and the book's bound).",
        "",
    ]
    lines += [f"- {f}" for f in summary["findings"]]
    lines += [
        "",
        "| grid point | runs (done/diverged/failed) | spread at init | spread in training | "
        "flags in training (v/b/e) | accuracy % | saturated at init | dead at init "
        "| measured factor (median) | predicted |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for p in summary["points"]:
        st = p["status"]
        ft = p["flags_training"]
        measured, predicted = _theory_cells(p)
        lines.append(
            f"| {p['label']} | {st['done']}/{st['diverged']}/{st['failed']} "
            f"| {spread_ci(p['spread_initial'])} | {spread_ci(p['spread_training'])} "
            f"| {p['verdict']} ({ft['vanishing']}/{ft['balanced']}/{ft['exploding']}) "
            f"| {_acc_cell(p['accuracy'])} | {_share(p['saturated_share'])} "
            f"| {_share(p['dead_share'])} "
            f"| {measured} | {predicted} |"
        )
    if any("†" in line for line in lines):
        lines += ["", CLIPPED_NOTE]
    problems = runs["problems"]
    if problems:
        lines += ["", "Runs that did not finish:"]
        lines += [
            f"- {q['run']}: {q['status'] or 'not run'} {q['message'] or ''}".rstrip()
            for q in problems
        ]
    return "\n".join(lines) + "\n"


def remedies_section(summary: Mapping[str, Any]) -> str:
    """The remedies sweep as a section of the reproduction's summary.md."""
    lines = sweep_markdown(summary).rstrip().splitlines()[1:]  # without its own heading
    return (
        "## Remedies: activations and initializers side by side\n\n"
        "The chapter asks how to deal with unstable gradients. The remedies sweep trains the "
        "deep [784,30,30,30,30,10] network with every activation and initializer, each over "
        "several seeds, and measures the speed spread beside the accuracy.\n"
        + "\n".join(lines)
        + "\n\n![remedies](remedies/figures/sweep.png)\n"
    )


def describe_instability(i: Mapping[str, Any]) -> str:
    """An instability's flag with its numbers: ``vanishing: first hidden layer 0.003, ...``."""
    if i["ratio"] >= 1:
        rel = f"the first {i['ratio']:.3g}x slower"
    else:
        rel = f"the first {1 / i['ratio']:.3g}x faster"
    return (
        f"{i['flag']}: first hidden layer {i['first']:.3g}, last {i['last']:.3g} "
        f"({rel}; spread {i['spread']:.2f})"
    )
