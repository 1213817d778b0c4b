"""The theory's figures: the measured speeds beside the mean-field line, and order to chaos.

- :func:`theory_speeds`: one network of ``results["theory"]`` (see
  :mod:`layerspeed.experiments.theory_check`): the measured speed ``||delta^l||`` of each
  hidden layer at initialization (median over seeds, band) on a log axis, with the mean-field
  prediction as a line anchored at the last hidden layer (a straight line where every layer
  sits at the fixed point) and the book's bound of 4 per layer as a dashed one;
- :func:`order_to_chaos`: the measured speed spread against chi, one point per (activation,
  gain, bias gain), with the critical line chi = 1 where the theory says gradients neither
  vanish nor explode and the spread the theory predicts; each activation's smallest
  measured spread is ringed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import altair as alt

from layerspeed.views.figures._base import (
    BOOK_COLOR,
    SPEED_TITLE,
    Chart,
    Record,
    data,
    layered,
    num,
    positive,
)

THEORY_COLOR = "#0072b2"


def theory_speeds(row: Mapping[str, Any], *, book_bound: float = 4.0) -> Chart:
    """Measured speeds per hidden layer (median dot, band bar), the mean-field prediction (line)
    and the book's bound (dashed), for one row of ``results["theory"]``."""
    h = row["hidden_layers"]
    speeds = row["speeds"]
    line = row["predicted_speeds"]
    last = speeds["median"][-1]
    points: list[Record] = []
    for l in range(h):
        points.append(
            {"layer": l + 1, "what": "measured"}
            | {k: positive(speeds[k][l]) for k in ("median", "low", "high")}
            | {"predicted": positive(line[l]), "book": positive(last / book_bound ** (h - 1 - l))}
        )
    x = alt.X("layer:O", title="hidden layer", axis=alt.Axis(labelAngle=0))
    y = alt.Y("low:Q", title=SPEED_TITLE, scale=alt.Scale(type="log"))
    base = alt.Chart(data(points)).encode(x=x)
    tips = [
        alt.Tooltip("layer:O", title="hidden layer"),
        alt.Tooltip("median:Q", title="measured median", format=".4g"),
        alt.Tooltip("low:Q", format=".4g"),
        alt.Tooltip("high:Q", format=".4g"),
        alt.Tooltip("predicted:Q", title="mean field", format=".4g"),
    ]
    q = f"{100 * speeds['q_low']:.0f}–{100 * speeds['q_high']:.0f}%"
    return layered(
        base.mark_rule(strokeWidth=3, color="grey", opacity=0.6).encode(y=y, y2="high:Q"),
        base.mark_point(filled=True, size=70, color="black").encode(y="median:Q", tooltip=tips),
        base.mark_line(color=THEORY_COLOR, point=True).encode(y="predicted:Q", tooltip=tips),
        base.mark_line(color=BOOK_COLOR, strokeDash=[4, 3]).encode(y="book:Q"),
    ).properties(
        title=f"[{row['label'].replace('-', ',')}]: measured (median, {q}), mean field (blue), "
        f"book's {book_bound:g}× (dashed)",
        width=300,
        height=240,
    )


def theory_figures(theory: Mapping[str, Any]) -> dict[str, Chart]:
    """One figure per measured network, by file stem (``theory_784-30-30-10``)."""
    bound = float(theory.get("mean_field", {}).get("book_bound", 4.0))
    return {
        f"theory_{r['label']}": theory_speeds(r, book_bound=bound)
        for r in theory["rows"]
        if r["n_runs"] and r["hidden_layers"] >= 2 and "speeds" in r
    }


def order_to_chaos(rows: Sequence[Mapping[str, Any]]) -> Chart:
    """Speed spread ``log10(max/min)`` against chi (log axis): ``rows`` of ``{"activation",
    "gain", "bias_gain", "chi", "median", "low", "high"}`` (the spread's median and band over
    seeds) and, where given, ``"predicted_spread"`` (drawn as the theory's grey line). The
    rule at chi = 1 is the critical line; each activation's smallest median is ringed."""
    points: list[Record] = [
        {
            "activation": str(r["activation"]),
            "gain": num(r["gain"]),
            "bias_gain": num(r.get("bias_gain", 1.0)),
            "chi": positive(r["chi"]),
            "predicted": num(r.get("predicted_spread")),
            **{k: num(r[k]) for k in ("median", "low", "high")},
        }
        for r in rows
    ]
    best: dict[str, Record] = {}
    for p in points:
        a = p["activation"]
        if p["median"] is not None and (a not in best or p["median"] < best[a]["median"]):
            best[a] = p
    x = alt.X("chi:Q", title="χ = σ_w² E[φ′(z)²] at q*", scale=alt.Scale(type="log"))
    color = alt.Color("activation:N", title="activation")
    base = alt.Chart(data(points)).encode(x=x, color=color)
    tips = [
        alt.Tooltip("activation:N"),
        alt.Tooltip("gain:Q"),
        alt.Tooltip("bias_gain:Q", title="bias gain"),
        alt.Tooltip("chi:Q", title="χ", format=".3g"),
        alt.Tooltip("median:Q", title="spread, median", format=".3g"),
        alt.Tooltip("low:Q", format=".3g"),
        alt.Tooltip("high:Q", format=".3g"),
        alt.Tooltip("predicted:Q", title="spread, mean field", format=".3g"),
    ]
    y = alt.Y("low:Q", title="speed spread, log10(fastest / slowest layer)")
    theory = sorted(
        ({"chi": p["chi"], "predicted": p["predicted"]} for p in points
         if p["chi"] is not None and p["predicted"] is not None),
        key=lambda t: t["chi"],
    )  # fmt: skip
    layers: list[Any] = [
        alt.Chart(data([{"chi": 1.0}])).mark_rule(color="black", strokeDash=[5, 3]).encode(x=x)
    ]
    if theory:
        layers.append(
            alt.Chart(data(theory))
            .mark_line(color="grey", strokeWidth=1.5)
            .encode(x=x, y="predicted:Q", order="chi:Q")
        )
    layers += [
        base.mark_rule().encode(y=y, y2="high:Q"),
        base.mark_point(filled=True, size=50).encode(y="median:Q", tooltip=tips),
        alt.Chart(data(list(best.values())))
        .mark_point(size=250, strokeWidth=2, filled=False)
        .encode(x=x, y="median:Q", color=color, tooltip=tips),
    ]
    return layered(*layers).properties(
        title="Order to chaos: speed spread against χ (dashed: χ = 1; grey: mean field; "
        "ringed: smallest spread)",
        width=420,
        height=280,
    )


__all__ = ["order_to_chaos", "theory_figures", "theory_speeds"]
