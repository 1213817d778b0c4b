"""The figures of the chapter's experiments, from the parts of ``results.json``.

"The vanishing gradient problem" (Nielsen, ch. 5) draws four kinds of figure; here each is one
function from its part of the results (see :mod:`layerspeed.experiments.chapter`) to an Altair
chart:

- :func:`neuron_bars`: dC/db of the first neurons of each hidden layer at initialization
  (the section's first figure), with the median and band of |dC/db| over seeds;
- :func:`depth_accuracy`: validation accuracy against depth, and per epoch;
- :func:`initial_speeds`: ||delta^l|| at initialization, log scale, beside the book's values;
- :func:`training_speeds`: ||delta^l|| before each full-batch epoch, log scale, one panel per
  network (the section's three training figures), zoomable along the epochs.

:func:`chapter_figures` gives every figure a reproduction writes, by file stem.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import altair as alt

from layerspeed.views.figures._base import (
    BOOK_COLOR,
    SPEED_TITLE,
    Chart,
    Record,
    data,
    layer_color,
    layer_toggle,
    layered,
    num,
    positive,
    speed_bands,
    thin,
)
from layerspeed.views.figures.chain import sigma_prime, width_bound

Results = Mapping[str, Any]


def hidden_names(n: int) -> list[str]:
    """``["hidden 1", ..., "hidden n"]``: the legend's names of the hidden layers."""
    return [f"hidden {l + 1}" for l in range(n)]


def neuron_bars(neurons: Results) -> Chart:
    """Bars of |dC/db| for the first neurons of each hidden layer of one network (one seed).

    Hovering a bar shows its signed value; the black whiskers are the median of |dC/db| over
    seeds and its band. Layers toggle from the legend.
    """
    example = neurons["example"]
    names = [f"hidden layer {l + 1}" for l in range(len(example["layers"]))]
    bars: list[Record] = [
        {"layer": names[l], "neuron": j + 1, "value": num(v), "abs": num(abs(v))}
        for l, values in enumerate(example["layers"])
        for j, v in enumerate(values)
    ]
    whiskers: list[Record] = [
        {"layer": names[l], "neuron": j + 1, "median": num(m), "low": num(lo), "high": num(hi)}
        for l, band in enumerate(neurons.get("mean_abs") or [])
        for j, (m, lo, hi) in enumerate(zip(band["median"], band["low"], band["high"], strict=True))
    ]
    shown = layer_toggle(names)
    x = alt.X("neuron:O", title="neuron j", axis=alt.Axis(labelAngle=0))
    offset = alt.XOffset("layer:N", sort=names)
    visible = alt.condition(shown, alt.value(1.0), alt.value(0.0))
    bar = (
        alt.Chart(data(bars))
        .mark_bar()
        .encode(
            x=x,
            xOffset=offset,
            y=alt.Y("abs:Q", title="|∂C/∂b|, mean over the probe images"),
            color=layer_color(names, title=f"seed {example['seed']}", lines=False),
            opacity=visible,
            tooltip=[
                alt.Tooltip("layer:N"),
                alt.Tooltip("neuron:O", title="neuron"),
                alt.Tooltip("value:Q", title="∂C/∂b", format=".4g"),
            ],
        )
        .add_params(shown)
    )
    layers: list[Any] = [bar]
    if whiskers:
        q = neurons["mean_abs"][0]
        what = f"median and {100 * q['q_low']:.0f}–{100 * q['q_high']:.0f}% over seeds"
        base = alt.Chart(data(whiskers)).encode(x=x, xOffset=offset, opacity=visible)
        tips = [
            alt.Tooltip("layer:N"),
            alt.Tooltip("median:Q", title=f"|∂C/∂b|, {what}", format=".4g"),
            alt.Tooltip("low:Q", format=".4g"),
            alt.Tooltip("high:Q", format=".4g"),
        ]
        layers += [
            base.mark_rule(color="black").encode(y="low:Q", y2="high:Q", tooltip=tips),
            base.mark_tick(color="black", thickness=2).encode(y="median:Q", tooltip=tips),
        ]
    title = f"Per-neuron gradient at initialization, [{neurons['label'].replace('-', ',')}]"
    return layered(*layers).properties(title=title, width=420, height=260)


def depth_accuracy(depth: Results) -> Chart:
    """Final and best-epoch validation accuracy against depth (mean, 95% CI, every seed, the
    book's single runs), beside the accuracy per epoch (median and band) of each depth."""
    rows = [r for r in depth["rows"] if r["n_runs"]]
    means, seeds, curves = [], [], []
    for r in rows:
        for measure in ("final", "best"):
            d = r[measure]
            what = f"{measure} epoch"
            means.append(
                {"hidden": r["hidden_layers"], "measure": what, "mean": num(d["mean"])}
                | {"low": num(d["ci_low"]), "high": num(d["ci_high"])}
            )
            seeds += [
                {"hidden": r["hidden_layers"], "measure": what, "acc": num(v)} for v in d["values"]
            ]
        c = r["curve"]
        curves += [
            {"epoch": e + 1, "network": f"{r['hidden_layers']} hidden"}
            | {"median": num(m), "low": num(lo), "high": num(hi)}
            for e, (m, lo, hi) in enumerate(zip(c["median"], c["low"], c["high"], strict=True))
        ]
    book = [
        {"hidden": r["hidden_layers"], "book": num(r["book"])}
        for r in depth["rows"]
        if r["book"] is not None
    ]
    x = alt.X("hidden:O", title="hidden layers of 30 neurons", axis=alt.Axis(labelAngle=0))
    offset = alt.XOffset("measure:N")
    color = alt.Color("measure:N", title="validation accuracy")
    y = alt.Y("low:Q", title="validation accuracy (%)", scale=alt.Scale(zero=False))
    tips = [alt.Tooltip("measure:N"), alt.Tooltip("mean:Q", format=".2f")]
    left = layered(
        alt.Chart(data(means))
        .mark_rule()
        .encode(x=x, xOffset=offset, y=y, y2="high:Q", color=color)
        .transform_filter("datum.low != null"),
        alt.Chart(data(means))
        .mark_point(filled=True, size=60)
        .encode(x=x, xOffset=offset, y="mean:Q", color=color, tooltip=tips),
        alt.Chart(data(seeds))
        .mark_point(size=15, opacity=0.4)
        .encode(x=x, xOffset=offset, y="acc:Q", color=color),
        alt.Chart(data(book))
        .mark_point(shape="diamond", size=90, color=BOOK_COLOR, filled=True)
        .encode(x=x, y="book:Q", tooltip=[alt.Tooltip("book:Q", title="book (single run)")]),
    ).properties(title="Accuracy against depth (dots: single seeds; diamond: the book)")
    network = alt.Color("network:N", title="network")
    curve_base = alt.Chart(data(curves)).encode(
        x=alt.X("epoch:Q", axis=alt.Axis(tickMinStep=1, format="d")), color=network
    )
    right = layered(
        curve_base.mark_line().encode(
            y=alt.Y("median:Q", title="validation accuracy (%)", scale=alt.Scale(zero=False)),
            tooltip=["network:N", "epoch:Q", alt.Tooltip("median:Q", format=".2f")],
        ),
        curve_base.mark_area(opacity=0.2).encode(y="low:Q", y2="high:Q"),
    ).properties(title="Validation accuracy during training (median, 10–90% band)")
    return alt.hconcat(
        left.properties(width=300, height=260), right.properties(width=300, height=260)
    ).resolve_scale(color="independent")


def initial_speeds(initial: Results) -> Chart:
    """||delta^l|| at initialization per hidden layer (log scale): the median over seeds (dot),
    its band (bar) and the book's value (open diamond), one colour per network."""
    rows = [r for r in initial["rows"] if r["n_runs"]]
    points: list[Record] = []
    for r in rows:
        net = f"{r['hidden_layers']} hidden"
        book = r.get("book") or [None] * r["hidden_layers"]
        for l in range(r["hidden_layers"]):
            points.append(
                {"network": net, "layer": l + 1, "book": positive(book[l])}
                | {k: positive(r[k][l]) for k in ("median", "low", "high")}
            )
    q = f"{100 * rows[0]['q_low']:.0f}–{100 * rows[0]['q_high']:.0f}%" if rows else ""
    base = alt.Chart(data(points)).encode(
        x=alt.X("layer:O", title="hidden layer", axis=alt.Axis(labelAngle=0)),
        xOffset="network:N",
        color=alt.Color("network:N", title="network"),
    )
    y = alt.Y("low:Q", title=SPEED_TITLE, scale=alt.Scale(type="log"))
    tips = [
        alt.Tooltip("network:N"),
        alt.Tooltip("layer:O", title="hidden layer"),
        alt.Tooltip("median:Q", format=".4g"),
        alt.Tooltip("low:Q", title=f"{q} low", format=".4g"),
        alt.Tooltip("high:Q", title=f"{q} high", format=".4g"),
        alt.Tooltip("book:Q", format=".4g"),
    ]
    return layered(
        base.mark_rule(strokeWidth=2).encode(y=y, y2="high:Q"),
        base.mark_point(filled=True, size=60).encode(y="median:Q", tooltip=tips),
        base.mark_point(shape="diamond", size=110, strokeWidth=1.5)
        .encode(y="book:Q", tooltip=tips)
        .transform_filter("datum.book != null"),
    ).properties(
        title=f"Speed of learning at initialization: median, {q} band, book (diamond)",
        width=420,
        height=280,
    )


def training_speeds(training: Results) -> Chart:
    """||delta^l|| before each full-batch epoch, one panel per network: the median over seeds
    and its band per hidden layer, log scale; layers toggle, the epochs zoom."""
    rows = [r for r in training["rows"] if r["n_runs"] and r.get("layers")]
    n_layers = max(len(r["layers"]) for r in rows)
    names = hidden_names(n_layers)
    shown = layer_toggle(names)  # one legend toggles the layers of every panel
    panels = []
    for i, r in enumerate(rows):
        epochs = list(r.get("epochs") or range(len(r["layers"][0]["median"])))
        records = [
            {"x": epochs[k], "layer": names[l]}
            | {q: positive(band[q][k]) for q in ("median", "low", "high")}
            for l, band in enumerate(r["layers"])
            for k in thin(len(epochs))
        ]
        title = f"[{r['label'].replace('-', ',')}]"
        panels.append(
            speed_bands(
                records,
                names,
                x_title="epoch",
                width=210,
                title=title,
                shown=shown,
                owner=i == len(rows) - 1,  # the last panel, so the legend is at the right
                zoom=f"zoom{i}",
            )
        )
    return (
        alt.hconcat(*panels, title=training["title"])
        .resolve_scale(y="shared")
        .resolve_legend(color="independent")
    )


def chapter_figures(results: Results) -> dict[str, Chart]:
    """Every figure of a reproduction, by file stem; experiments without runs are left out."""
    figs: dict[str, Chart] = {}
    neurons = results.get("neurons")
    if neurons and neurons.get("n_runs"):
        figs["neurons"] = neuron_bars(neurons)
    depth = results.get("depth")
    if depth and any(r["n_runs"] for r in depth["rows"]):
        figs["depth"] = depth_accuracy(depth)
    initial = results.get("initial")
    if initial and any(r["n_runs"] for r in initial["rows"]):
        figs["initial_speeds"] = initial_speeds(initial)
    training = results.get("training")
    if training and any(r["n_runs"] and r.get("layers") for r in training["rows"]):
        figs["training_speeds"] = training_speeds(training)
    chain = results.get("chain")
    if chain:
        figs["chain_sigma_prime"] = sigma_prime()
        figs["chain_width_bound"] = width_bound(chain["problems"])
    return figs
