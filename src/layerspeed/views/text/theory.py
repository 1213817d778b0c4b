"""The theory beside the measurement, in words: a markdown table and where the theory holds.

Pure functions of ``results["theory"]`` (:mod:`layerspeed.experiments.theory_check`). The
sentences say where the mean-field prediction (Poole et al. 2016; Schoenholz et al. 2017)
meets the measured speeds of the chapter's networks at initialization, where it does not,
and which of its assumptions the chapter's networks break: inputs at the fixed point (the
first hidden layer sees MNIST pixels), infinite width (the layers have 30 units), the
per-example gradient (the book's speed is the norm of the gradient averaged over the probe
images), and weights as initialized (training moves them).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

Json = Mapping[str, Any]


def _f(v: float | None, fmt: str = ".3g") -> str:
    return "–" if v is None else format(v, fmt)


def _pct(v: float | None) -> str:
    return "–" if v is None else f"{100 * v:+.1f}%"


def _size(v: float | None) -> str:
    """A relative error's size, without its sign."""
    return "–" if v is None else f"{100 * abs(v):.1f}%"


def _seeds(theory: Json) -> str:
    counts = sorted({r["n_runs"] for r in theory["rows"] if r["n_runs"]})
    return " to ".join(str(n) for n in (counts[:1] + counts[-1:] if len(counts) > 1 else counts))


def _net(label: str) -> str:
    return f"[{label.replace('-', ',')}]"


def table_rows(theory: Json) -> list[list[str]]:
    """One row per pair of neighbouring hidden layers of every measured network."""
    rows = []
    for r in theory["rows"]:
        for p in r["pairs"]:
            m, e = p["measured"], p["measured_per_example"]
            rows.append(
                [
                    _net(r["label"]),
                    f"{p['pair'][0]} → {p['pair'][1]}",
                    f"{_f(m['median'])} ({_f(m['low'])}–{_f(m['high'])})",
                    _f(e["median"]),
                    _f(p["predicted"]),
                    _f(p["book_bound"], "g"),
                    _pct(p["relative_error"]),
                    "yes" if p["within"] else "no",
                ]
            )
    return rows


def findings(theory: Json) -> list[str]:
    """Where the theory holds, where it does not, and why: one sentence each."""
    mf, check = theory["mean_field"], theory["check"]
    tol = 100 * theory["tolerance"]
    act = mf["activation"]
    prime = "σ′" if act == "sigmoid" else "φ′"
    out = [
        f"Mean field for {act} with the {mf['init']} initializer: σ_w² = {_f(mf['sigma_w2'])}, "
        f"σ_b² = {_f(mf['sigma_b2'])}, the fixed point q* = {_f(mf['q_star'])}, "
        f"χ = σ_w² E[{prime}(z)²] = {_f(mf['chi'])}: each hidden layer learns "
        f"{_f(mf['factor'])} times slower than the next."
    ]
    pairs = [p for r in theory["rows"] for p in r["pairs"]]
    if not pairs:
        return [*out, "No network with two or more hidden layers was measured."]
    if check["holds"] is None:
        out.append("No pair of hidden layers past the first was measured.")
    else:
        verdict = "holds" if check["holds"] else "does not hold"
        out.append(
            f"Past the first hidden layer the prediction {verdict}: the {check['n_pairs']} "
            "pairs of neighbouring layers are predicted within "
            f"{_size(check['worst_relative_error'])} of the measured median at worst "
            f"(the test: {tol:.0f}%)."
        )
    q = theory["rows"][0]["q"]
    first = check["first_pair_worst_relative_error"]
    out.append(
        f"The first hidden layer's input is the MNIST pixels (mean square "
        f"{_f(theory['input_second_moment'])}), not the fixed point: its pre-activations have "
        f"variance q¹ = σ_w² · {_f(theory['input_second_moment'])} + σ_b² = {_f(q[0])} rather "
        f"than q* = {_f(mf['q_star'])}, which the q map then approaches layer by layer; the "
        f"prediction made from the pixels is within {_size(first)} of the measured first "
        "factor at worst."
    )
    per_example = max(abs(p["relative_error_per_example"] or 0.0) for p in pairs)
    gap = max(abs(p["measured"]["median"] / p["measured_per_example"]["median"] - 1) for p in pairs)
    out.append(
        "The theory speaks of one example's gradient, E‖δˡ‖²; the book's speed is the norm of "
        "the gradient averaged over the probe images, which can be smaller where the examples' "
        f"gradients point different ways. Here the two measured factors differ by at most "
        f"{100 * gap:.0f}% and the prediction meets the per-example one within "
        f"{100 * per_example:.0f}%: every image shares a unit's bias (σ_b² = "
        f"{_f(mf['sigma_b2'])}), so a unit's pre-activations are strongly correlated across "
        f"images, its {prime} takes similar values on all of them, and averaging over the "
        "images shrinks each layer's gradient alike."
        if mf["sigma_b2"] > 0
        else f"Here the two measured factors differ by at most {100 * gap:.0f}%, and the "
        f"prediction meets the per-example one within {100 * per_example:.0f}%."
    )
    low = min(p["measured"]["low"] for p in pairs)
    high = max(p["measured"]["high"] for p in pairs)
    out.append(
        f"The theory is for infinitely wide layers; at {mf['width']} units one network's "
        f"factor scatters around it from seed to seed (10–90% bands from {_f(low)} to "
        f"{_f(high)}), so it predicts the median over seeds, not any one "
        "network, and the book's single networks are such draws. The medians here are over "
        f"{_seeds(theory)} seeds; over few seeds (a --quick run has 8) they scatter by several "
        "percent themselves."
    )
    below = [p for p in pairs if p["measured"]["median"] < p["book_bound"]]
    out.append(
        f"The book's bound of {_f(mf['book_bound'], 'g')} per layer comes from |w{prime}| < 1/4 "
        "for one neuron; "
        + (
            f"every measured median is above it, and so is the prediction, because {prime} "
            f"averages well below its maximum: E[{prime}(z)²] = "
            f"{_f(mf['chi'] / mf['sigma_w2'] if mf['sigma_w2'] else None)} < 1/16."
            if not below
            else f"{len(below)} measured medians fall below it."
        )
    )
    out.append(
        "Training moves the weights away from the independent draws the theory assumes, so "
        "the prediction is for initialization only; the speeds during training are not "
        "compared with it."
    )
    return out


def theory_markdown(theory: Json, *, figures: bool = True) -> str:
    """``summary.md``'s section on the theory beside the measurement."""
    lines = ["## The theory beside the measurement", ""]
    lines += [
        "Per-layer factor speed^(l+1) / speed^l at initialization: the measured median "
        "(10–90% band over seeds) of the book's speed, the median of the mean per-example "
        "norm, the mean-field prediction 1/√χ from the q map started at the pixels, the "
        "book's bound and the prediction's error relative to the measured median.",
        "",
        "| network | hidden layers | measured | per example | mean field | book | error "
        f"| within {100 * theory['tolerance']:.0f}% |",
        "|---|---|---|---|---|---|---|---|",
    ]
    lines += ["| " + " | ".join(r) + " |" for r in table_rows(theory)]
    lines.append("")
    lines += [f"- {s}" for s in findings(theory)]
    if figures:
        stems = [f"theory_{r['label']}" for r in theory["rows"] if r.get("speeds")]
        if stems:
            lines += ["", "Figures: " + ", ".join(f"`figures/{s}.png`" for s in stems) + "."]
    return "\n".join(lines) + "\n"
