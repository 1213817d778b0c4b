"""The figures beyond the book, from ``results["beyond"]`` (:mod:`layerspeed.experiments.beyond`).

- :func:`depth_figure`: the first-to-last speed ratio against the number of hidden layers on a
  log axis, one line per variant (geometric mean over seeds, 10-90% band as bars), the
  mean-field line ``factor ** (depth - 1)`` dashed in the variant's colour, and the chapter's
  "roughly 100 times" at four hidden layers marked; at initialization and after one epoch,
  side by side;
- :func:`modern_figure`: the speed spread at initialization and during training per variant
  (mean over seeds, its 95% CI as a bar, cut at 0: a spread is never negative), one panel per depth;
- :func:`beyond_figures`: those two and :func:`~layerspeed.views.figures.theory.order_to_chaos`
  of the chaos sweep, by file stem.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import altair as alt

from layerspeed.views.figures._base import BOOK_COLOR, Chart, Record, data, layered, num, positive
from layerspeed.views.figures.theory import order_to_chaos

WHEN = {"initial": "at initialization", "after": "after the epoch"}
SPREADS = {"spread_initial": "at initialization", "spread_training": "during training"}


def _depth_panel(depth: Mapping[str, Any], when: str) -> alt.LayerChart:
    points: list[Record] = []
    theory: list[Record] = []
    for r in depth["rows"]:
        for p in r["points"]:
            m = p.get(when) or {}
            points.append(
                {"variant": r["variant"], "depth": p["depth"], "n": m.get("n")}
                | {k: positive(m.get(k)) for k in ("geomean", "low", "high")}
            )
            if p.get("theory") is not None:
                theory.append(
                    {"variant": r["variant"], "depth": p["depth"], "theory": positive(p["theory"])}
                )
    variants = [r["variant"] for r in depth["rows"]]
    color = alt.Color("variant:N", title="variant", sort=variants)
    depths = [p["depth"] for p in points] or [1]
    x = alt.X(
        "depth:Q", title="hidden layers",
        scale=alt.Scale(type="log", domain=[min(depths), max(depths)], nice=False),
    )  # fmt: skip
    # The measured ratios set the axis; the theory's line is clipped to it (it runs to 1e20).
    seen = [v for p in points for v in (p["low"], p["high"]) if v is not None] or [1.0]
    y_scale = alt.Scale(type="log", domain=[min(1.0, *seen), max(seen) * 10])
    base = alt.Chart(data(points)).encode(x=x, color=color)
    tips = [
        alt.Tooltip("variant:N"),
        alt.Tooltip("depth:Q", title="hidden layers"),
        alt.Tooltip("geomean:Q", title="ratio, geometric mean", format=".3g"),
        alt.Tooltip("low:Q", format=".3g"),
        alt.Tooltip("high:Q", format=".3g"),
        alt.Tooltip("n:Q", title="seeds"),
    ]
    layers: list[Any] = [
        base.mark_rule().encode(
            y=alt.Y("low:Q", scale=y_scale, title=_y_title(), axis=alt.Axis(format="~e")),
            y2="high:Q",
        ),
        base.mark_line(point=True).encode(y="geomean:Q", tooltip=tips),
    ]
    if theory:
        layers.append(
            alt.Chart(data(theory))
            .mark_line(strokeDash=[5, 3], opacity=0.8, clip=True)
            .encode(
                x=x,
                y=alt.Y("theory:Q", scale=y_scale),
                color=color,
                tooltip=["variant:N", "depth:Q", alt.Tooltip("theory:Q", format=".3g")],
            )  # fmt: skip
        )
    chapter = depth.get("chapter") or {}
    if chapter.get("book") is not None:
        book = {"depth": chapter["depth"], "book": num(chapter["book"])}
        layers.append(
            alt.Chart(data([book]))
            .mark_point(shape="diamond", size=160, filled=False, strokeWidth=2, color=BOOK_COLOR)
            .encode(x=x, y="book:Q", tooltip=[alt.Tooltip("book:Q", title="the book's ratio")])
        )
    return layered(*layers).properties(title=WHEN[when], width=300, height=260)


def _y_title() -> str:
    return "speed ratio, last hidden layer / first"


def depth_figure(depth: Mapping[str, Any]) -> Chart:
    """The ratio against depth at initialization and after the epoch (see the module)."""
    return alt.hconcat(_depth_panel(depth, "initial"), _depth_panel(depth, "after")).properties(
        title="First-to-last speed ratio against depth (dashed: mean field, factor^(depth−1); "
        "diamond: the book's ~100× at 4 hidden layers)"
    )


def _modern_panel(rows: list[Record], depth: int, variants: list[str]) -> alt.LayerChart:
    color = alt.Color("when:N", title="speed spread")  # one legend for the panels
    base = alt.Chart(data([r for r in rows if r["depth"] == depth])).encode(
        x=alt.X("variant:N", sort=variants, title=None, axis=alt.Axis(labelAngle=-30)),
        xOffset=alt.XOffset("when:N"),
        color=color,
    )
    tips = [
        alt.Tooltip("variant:N"),
        alt.Tooltip("when:N"),
        alt.Tooltip("mean:Q", title="spread, mean", format=".3g"),
        alt.Tooltip("ci_low:Q", title="95% CI of the mean, low", format=".3g"),
        alt.Tooltip("ci_high:Q", title="high", format=".3g"),
        alt.Tooltip("accuracy:Q", title="accuracy, %", format=".2f"),
    ]
    y = alt.Y("ci_low:Q", title="speed spread, log10(fastest / slowest layer)")
    rule = alt.Chart(data([{"y": 1.0}])).mark_rule(color="grey", strokeDash=[4, 3])
    return layered(
        rule.encode(y="y:Q"),
        base.mark_rule(strokeWidth=2).encode(y=y, y2="ci_high:Q"),
        base.mark_point(filled=True, size=60).encode(y="mean:Q", tooltip=tips),
    ).properties(title=f"{depth} hidden layers", width=260, height=240)


def modern_figure(modern: Mapping[str, Any]) -> Chart:
    """Speed spread per variant at initialization and during training, one panel per depth."""
    rows: list[Record] = []
    for r in modern["rows"]:
        acc = (r.get("accuracy") or {}).get("mean")
        for key, when in SPREADS.items():
            d = r.get(key) or {}
            rows.append(
                {"variant": r["variant"], "depth": r["depth"], "when": when, "accuracy": num(acc)}
                | {k: num(d.get(k)) for k in ("mean", "ci_high")}
                | {"ci_low": None if d.get("ci_low") is None else max(0.0, d["ci_low"])}
            )
    variants = list(dict.fromkeys(r["variant"] for r in modern["rows"]))
    depths = sorted({r["depth"] for r in modern["rows"]})
    panels = [_modern_panel(rows, d, variants) for d in depths]
    return alt.hconcat(*panels).properties(
        title="The remedies: speed spread per variant (mean, 95% CI; dashed: tenfold)"
    )


def beyond_figures(beyond: Mapping[str, Any]) -> dict[str, Chart]:
    """The figures of the parts that ran, by file stem."""
    out: dict[str, Chart] = {}
    if beyond.get("modern", {}).get("rows"):
        out["beyond_modern"] = modern_figure(beyond["modern"])
    if beyond.get("depth", {}).get("rows"):
        out["beyond_depth"] = depth_figure(beyond["depth"])
    if beyond.get("chaos", {}).get("rows"):
        out["beyond_chaos"] = order_to_chaos(beyond["chaos"]["rows"])
    return out


__all__ = ["beyond_figures", "depth_figure", "modern_figure"]
