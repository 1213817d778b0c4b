"""What the figures share: the layer colours, the data helpers, and the one chart of speeds.

Every figure is a Vega-Lite chart built with Altair from plain lists of records (no pandas),
so the same object renders to PNG and SVG (:mod:`layerspeed.views.figures.render`) and runs
in the page. :func:`speed_bands` is the chart of "speed of learning per layer against time,
median line and band across seeds" that the training-speed figure and the run folders share.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import altair as alt

Record = dict[str, Any]
Chart = alt.TopLevelMixin  # what every figure function returns: a chart, layered or not

# One colour per layer, the same in every figure and in the page's tables (Okabe-Ito, then
# more): the page's stylesheet repeats them as .layer-0 ... .layer-9.
LAYER_COLORS = (
    "#0072b2",
    "#e69f00",
    "#009e73",
    "#cc79a7",
    "#d55e00",
    "#56b4e9",
    "#882255",
    "#44aa99",
    "#999933",
    "#332288",
)
BOOK_COLOR = "crimson"
SIGNIFICANT = 4  # significant digits of the numbers a chart carries: the page stays small
MAX_POINTS = 600  # points per curve; longer runs are thinned evenly
SPEED_TITLE = "speed of learning ‖δˡ‖"


def num(v: Any) -> float | None:
    """A finite number cut to :data:`SIGNIFICANT` digits, or None (drawn as a gap)."""
    if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v):
        return None
    return float(f"{float(v):.{SIGNIFICANT}g}")


def positive(v: Any) -> float | None:
    """:func:`num` for a log axis: None also for zero and negative values."""
    f = num(v)
    return f if f is not None and f > 0 else None


def thin(n: int, limit: int = MAX_POINTS) -> list[int]:
    """At most ``limit`` evenly spread indices of ``range(n)``, the first and last kept."""
    if n <= limit:
        return list(range(n))
    return sorted({round(i * (n - 1) / (limit - 1)) for i in range(limit)})


def data(records: Sequence[Mapping[str, Any]]) -> alt.Data:
    """Inline data for a chart: the records travel inside its spec."""
    return alt.Data(values=[dict(r) for r in records])


def layered(*charts: Any, **properties: Any) -> alt.LayerChart:
    """``alt.layer`` typed as what it makes: the charts drawn over each other."""
    return alt.LayerChart(layer=list(charts), **properties)


def layer_color(names: Sequence[str], *, title: str = "layer", lines: bool = True) -> alt.Color:
    """Colour by layer name, in the page's layer colours; a legend click picks the layers shown."""
    colors = [LAYER_COLORS[i % len(LAYER_COLORS)] for i in range(len(names))]
    legend = (
        alt.Legend(title=title, symbolType="stroke", symbolStrokeWidth=3)
        if lines
        else alt.Legend(title=title, symbolType="square")
    )
    return alt.Color(
        "layer:N",
        scale=alt.Scale(domain=list(names), range=colors),
        legend=legend,
        sort=list(names),
    )


def layer_toggle(names: Sequence[str]) -> Any:
    """The layers shown, bound to the legend: a click shows one layer alone, a shift-click
    adds or removes one, a double-click shows them all again. ``names``: the layers."""
    return alt.selection_point(name="shown", fields=["layer"], bind="legend")


def speed_bands(
    records: Sequence[Mapping[str, Any]],
    names: Sequence[str],
    *,
    x_title: str,
    runs: int = 0,
    width: int = 260,
    height: int = 220,
    title: str = "",
    shown: Any = None,
    owner: bool = True,
    zoom: str = "zoom",
) -> alt.LayerChart:
    """Speeds against time on a log axis: per layer the median line and the band across seeds.

    ``records``: ``{"x", "layer", "median", "low", "high"}`` and, where ``runs`` > 0, the
    single runs as ``"r0"`` ... ``"r{runs-1}"`` (thin lines). Layers toggle from the legend;
    the x axis zooms and pans (wheel, drag; double-click resets). Panels side by side share
    one ``shown`` (:func:`layer_toggle`), which only its ``owner`` panel defines, with the
    legend (Vega-Lite binds a legend only in the view that draws it); each names its ``zoom``.
    """
    shown = layer_toggle(names) if shown is None else shown
    base = alt.Chart(data(records)).encode(
        x=alt.X("x:Q", title=x_title, axis=alt.Axis(tickMinStep=1, format="~s")),
        color=layer_color(names) if owner else layer_color(names).legend(None),
    )
    y_scale = alt.Scale(type="log")
    band = base.mark_area().encode(
        y=alt.Y("low:Q", scale=y_scale),
        y2="high:Q",
        opacity=alt.condition(shown, alt.value(0.2), alt.value(0.0)),
    )
    line = base.mark_line(strokeWidth=2).encode(
        y=alt.Y("median:Q", scale=y_scale, title=SPEED_TITLE),
        opacity=alt.condition(shown, alt.value(1.0), alt.value(0.0)),
        tooltip=[
            alt.Tooltip("layer:N"),
            alt.Tooltip("x:Q", title=x_title),
            alt.Tooltip("median:Q", format=".4g", title="median"),
            alt.Tooltip("low:Q", format=".4g", title="low"),
            alt.Tooltip("high:Q", format=".4g", title="high"),
        ],
    )
    zooming = alt.selection_interval(name=zoom, bind="scales", encodings=["x"])
    # The line first: Vega-Lite binds the legend to the selection of the layer that owns it.
    layers: list[Any] = [line.add_params(shown, zooming) if owner else line.add_params(zooming)]
    layers.append(band)
    if runs:
        folded: list[Any] = [f"r{i}" for i in range(runs)]
        layers.append(
            base.transform_fold(folded, as_=["run", "speed"])
            .mark_line(strokeWidth=0.7)
            .encode(
                y=alt.Y("speed:Q", scale=y_scale),
                detail="run:N",
                opacity=alt.condition(shown, alt.value(0.45), alt.value(0.0)),
            )
        )
    return layered(*layers, width=width, height=height, title=title)
