"""The figures of the chain of single neurons and the chapter's problems.

- :func:`sigma_prime`: the activation's derivative with its maximum marked (sigma' peaks at
  1/4 at z = 0, the heart of equation (122));
- :func:`width_bound`: problem 2, the width bound (123) against |w|, its maximum, the book's
  value, and the brute-force scans;
- :func:`identity_error`: problem 3, the identity neuron's error beside its bound.

The derivatives come from :data:`layerspeed.nn.activations.ACTIVATIONS`; nothing here writes
them again.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import altair as alt
import numpy as np

from layerspeed import chain as ch
from layerspeed.nn.activations import ACTIVATIONS
from layerspeed.views.figures._base import BOOK_COLOR, Chart, Record, data, layered, num


def sigma_prime(activation: str = "sigmoid", *, z_max: float = 6.0) -> Chart:
    """The derivative of ``activation`` on ``[-z_max, z_max]`` with its maximum marked."""
    act = ACTIVATIONS[activation]
    z = np.linspace(-z_max, z_max, 241)
    prime = act.prime(z)
    curve = [{"z": num(a), "prime": num(b)} for a, b in zip(z, prime, strict=True)]
    k = int(np.argmax(prime))
    peak = [{"z": num(z[k]), "prime": num(prime[k]), "label": f"maximum {prime[k]:.4g}"}]
    x = alt.X("z:Q", title="z")
    y = alt.Y("prime:Q", title=f"{activation}′(z)", scale=alt.Scale(domainMin=0))
    line = alt.Chart(data(curve)).mark_line().encode(x=x, y=y)
    dot = alt.Chart(data(peak)).encode(x=x, y=y)
    return layered(
        line.encode(
            tooltip=[alt.Tooltip("z:Q", format=".3g"), alt.Tooltip("prime:Q", format=".4g")]
        ),
        dot.mark_point(filled=True, size=70, color=BOOK_COLOR),
        dot.mark_text(align="left", dx=8, dy=-8, color=BOOK_COLOR).encode(text="label:N"),
    ).properties(title=f"The derivative of the {activation} function", width=420, height=240)


def width_bound(problems: Mapping[str, Any]) -> Chart:
    """Equation (123) against ``|w|`` from :func:`layerspeed.chain.problems`'s results: the
    curve, its maximum, the book's reading of it, and the scans of ``width_check``."""
    curve_data = problems["width_curve"]
    curve = [
        {"abs_w": num(w), "width": num(v)}
        for w, v in zip(curve_data["abs_w"], curve_data["width"], strict=True)
    ]
    wmax = problems["width_max"]
    marks: list[Record] = [
        {
            "abs_w": num(wmax["abs_w"]),
            "width": num(wmax["width"]),
            "label": f"max {wmax['width']:.3f} at |w| = {wmax['abs_w']:.2f}",
        }
    ]
    book = problems.get("width_max_book")
    if book:
        marks.append(
            {
                "abs_w": num(book["abs_w"]),
                "width": num(book["width"]),
                "label": f"book: {book['width']:g} at {book['abs_w']:g}",
            }
        )
    scans = [
        {"abs_w": num(abs(c["w"])), "width": num(c["scan"])}
        for c in problems.get("width_check") or []
    ]
    x = alt.X("abs_w:Q", title="|w|")
    y = alt.Y("width:Q", title="width of {a : |w σ′(wa + b)| ≥ 1}", scale=alt.Scale(domainMin=0))
    tips = [alt.Tooltip("abs_w:Q", format=".4g"), alt.Tooltip("width:Q", format=".4g")]
    layers: list[Any] = [
        alt.Chart(data(curve)).mark_line().encode(x=x, y=y, tooltip=tips),
        alt.Chart(data(marks))
        .mark_point(size=80, filled=True)
        .encode(
            x=x,
            y=y,
            color=alt.Color("label:N", title=None, scale=alt.Scale(range=[BOOK_COLOR, "#555555"])),
            tooltip=["label:N"],
        ),
    ]
    if scans:
        layers.append(
            alt.Chart(data(scans))
            .mark_point(shape="cross", size=60, color="#009e73")
            .encode(x=x, y=y, tooltip=tips)
        )
    return layered(*layers).properties(
        title="Problem 2: the inputs that avoid a vanishing term (crosses: scans over a)",
        width=420,
        height=260,
    )


def identity_error(w1_values: Sequence[float] = (0.5, 1.0, 2.0)) -> Chart:
    """Problem 3: ``|w_2 sigma(w_1 x + b) - (x + c)|`` on [0, 1] and its bound
    ``w_1^2 |Delta|^3 / 12`` (dashed), for each ``w_1``."""
    x = np.linspace(0.0, 1.0, 201)
    records: list[Record] = []
    for w1 in w1_values:
        error = np.abs(ch.identity_neuron(w1, x) - (x + 2.0 / w1 - 0.5))
        bound = np.asarray(ch.identity_error_bound(w1, x))
        records += [
            {"x": num(a), "w1": f"w₁ = {w1:g}", "error": num(e), "bound": num(b)}
            for a, e, b in zip(x, error, bound, strict=True)
        ]
    base = alt.Chart(data(records)).encode(
        x=alt.X("x:Q", title="x"), color=alt.Color("w1:N", title=None)
    )
    return layered(
        base.mark_line().encode(y=alt.Y("error:Q", title="|w₂σ(w₁x + b) − (x + c)|")),
        base.mark_line(strokeDash=[4, 3], strokeWidth=1).encode(y="bound:Q"),
    ).properties(title="Identity neuron: error and its bound w₁²|Δ|³/12 (dashed)")
