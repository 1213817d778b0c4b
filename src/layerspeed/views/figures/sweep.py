"""The figure of a sweep, from its summary (:func:`layerspeed.experiments.sweep.summarize`).

For a full grid of two or more axes (activation x initializer, say): heatmaps of the speed
spread at initialization, in training, and of the accuracy, beside accuracy against the
spread; otherwise the same numbers as bars per grid point. The *speed spread* is
log10(fastest hidden layer's speed / slowest's); past 1 the layers differ more than tenfold.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, Literal

import altair as alt

from layerspeed.views.figures._base import Chart, Record, data, layered, num

Summary = Mapping[str, Any]

VERDICT_COLORS = {
    "balanced": "#009e73",
    "vanishing": "#0072b2",
    "exploding": "#d55e00",
    "mixed": "#e69f00",
    "diverged": "black",
    "unknown": "grey",
}
THRESHOLD = 1.0  # the flag threshold of the spread: a tenfold difference


def _mean_ci(d: Mapping[str, Any] | None, prefix: str) -> Record:
    d = d or {}
    return {
        prefix: num(d.get("mean")),
        f"{prefix}_low": num(d.get("ci_low")),
        f"{prefix}_high": num(d.get("ci_high")),
    }


def points(summary: Summary) -> list[Record]:
    """One record per grid point: its parameters, spreads, accuracy and verdict."""
    out = []
    for p in summary["points"]:
        params = {str(k): str(v) for k, v in p["params"].items()}
        out.append(
            params
            | {"label": p["label"], "verdict": p["verdict"], "n_runs": p["n_runs"]}
            | {"diverged": p["status"]["diverged"]}
            | _mean_ci(p["spread_initial"], "initial")
            | _mean_ci(p["spread_training"], "training")
            | _mean_ci(p["accuracy"], "accuracy")
        )
    return out


def _verdict_color() -> alt.Color:
    return alt.Color(
        "verdict:N",
        title="in training",
        scale=alt.Scale(domain=list(VERDICT_COLORS), range=list(VERDICT_COLORS.values())),
    )


def _tooltip() -> list[alt.Tooltip]:
    return [
        alt.Tooltip("label:N", title="grid point"),
        alt.Tooltip("verdict:N"),
        alt.Tooltip("initial:Q", title="spread at init", format=".2f"),
        alt.Tooltip("training:Q", title="spread in training", format=".2f"),
        alt.Tooltip("accuracy:Q", title="accuracy (%)", format=".2f"),
        alt.Tooltip("n_runs:Q", title="runs"),
        alt.Tooltip("diverged:Q", title="diverged"),
    ]


def heatmap(
    summary: Summary, key: str, *, title: str, scheme: Literal["magma", "viridis"]
) -> alt.LayerChart:
    """``key`` ("initial", "training" or "accuracy") over the grid's first two axes, the mean
    over seeds written in each cell; grey where every run diverged."""
    rows_axis, cols_axis = list(summary["axes"])[:2]
    recs = points(summary)
    values = [r[key] for r in recs if r[key] is not None]
    mid = (min(values) + max(values)) / 2 if values else 0.0
    base = alt.Chart(data(recs)).encode(
        x=alt.X(f"{cols_axis}:N", sort=[str(v) for v in summary["axes"][cols_axis]]),
        y=alt.Y(f"{rows_axis}:N", sort=[str(v) for v in summary["axes"][rows_axis]]),
        tooltip=_tooltip(),
    )
    measured = f"datum.{key} != null"
    return layered(
        base.mark_rect(color="lightgrey"),  # shows where every run diverged
        base.mark_rect()
        .encode(color=alt.Color(f"{key}:Q", title=None, scale=alt.Scale(scheme=scheme)))
        .transform_filter(measured),
        base.mark_text(fontSize=10)
        .encode(
            text=alt.Text(f"{key}:Q", format=".2f"),
            color=alt.condition(f"datum.{key} < {mid}", alt.value("white"), alt.value("black")),
        )
        .transform_filter(measured),
        title=title,
        width=260,
        height=200,
    )


def spread_accuracy(summary: Summary) -> alt.LayerChart:
    """Accuracy against the speed spread in training, one point per grid point, with 95%
    intervals; the red rule is the flag threshold."""
    recs = [r for r in points(summary) if r["training"] is not None and r["accuracy"] is not None]
    xs, ys = [r["training"] for r in recs] or [0.0], [r["accuracy"] for r in recs] or [0.0]
    # A 95% t interval over two or three seeds can be wider than the whole range: keep the
    # view on the means and clip such bars.
    x_domain = [min(0.0, min(xs)) - 0.2, max(1.2, max(xs)) + 0.3]
    y_domain = [max(0.0, min(ys) - 5), min(100.0, max(ys) + 3)]
    base = alt.Chart(data(recs)).encode(color=_verdict_color())
    x = alt.X(
        "training:Q",
        title="speed spread in training, log10(max / min)",
        scale=alt.Scale(domain=x_domain),
    )
    y = alt.Y("accuracy:Q", title="accuracy (%)", scale=alt.Scale(domain=y_domain))
    return layered(
        base.mark_rule(opacity=0.6, clip=True).encode(
            x="training_low:Q", x2="training_high:Q", y=y
        ),
        base.mark_rule(opacity=0.6, clip=True).encode(
            x=x, y="accuracy_low:Q", y2="accuracy_high:Q"
        ),
        base.mark_point(filled=True, size=50).encode(x=x, y=y, tooltip=_tooltip()),
        alt.Chart(data([{"t": THRESHOLD}]))
        .mark_rule(color="crimson", strokeDash=[4, 3])
        .encode(x="t:Q"),
        title="Accuracy against the spread",
        width=260,
        height=200,
    )


def bars(summary: Summary, key: str, *, title: str) -> alt.LayerChart:
    """Horizontal bars of ``key`` per grid point, mean and 95% interval."""
    base = alt.Chart(data(points(summary))).encode(
        y=alt.Y("label:N", title=None, sort=[p["label"] for p in summary["points"]])
    )
    return layered(
        base.mark_bar().encode(
            x=alt.X(f"{key}:Q", title=title), color=_verdict_color(), tooltip=_tooltip()
        ),
        base.mark_rule().encode(x=f"{key}_low:Q", x2=f"{key}_high:Q"),
        width=220,
        height=alt.Step(14),
    )


def _is_full_grid(summary: Summary) -> bool:
    axes = list(summary["axes"].values())
    return len(axes) >= 2 and len(summary["points"]) == math.prod(len(v) for v in axes[:2])


def sweep_figure(summary: Summary) -> Chart:
    """The sweep at a glance: heatmaps for a grid of two or more axes, bars otherwise."""
    title = f"Sweep {summary['name']}: how evenly the hidden layers learn, and the accuracy"
    if _is_full_grid(summary):
        return (
            alt.vconcat(
                alt.hconcat(
                    heatmap(
                        summary, "initial", title="speed spread at initialization", scheme="magma"
                    ),
                    heatmap(summary, "training", title="speed spread in training", scheme="magma"),
                ).resolve_scale(color="independent"),
                alt.hconcat(
                    heatmap(summary, "accuracy", title="accuracy (%)", scheme="viridis"),
                    spread_accuracy(summary),
                ).resolve_scale(color="independent"),
            )
            .resolve_scale(color="independent")
            .properties(title=title)
        )
    return alt.hconcat(
        bars(summary, "initial", title="speed spread at initialization"),
        bars(summary, "training", title="speed spread in training"),
        bars(summary, "accuracy", title="accuracy after the last epoch (%)"),
        spread_accuracy(summary),
    ).properties(title=title)
