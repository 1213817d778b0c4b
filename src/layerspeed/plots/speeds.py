"""Figures of the chapter's experiments, drawn from ``results.json`` (see
:mod:`layerspeed.experiments.chapter` for its structure).

- :func:`plot_neuron_bars`: dC/db of the first six neurons of each hidden layer at
  initialization (the section's first figure);
- :func:`plot_depth`: validation accuracy against depth, mean with its 95% interval, each seed,
  and the book's single runs; :func:`plot_accuracy_curves`: accuracy per epoch;
- :func:`plot_initial_speeds`: ||delta^l|| at initialization on a log scale, median and 10-90%
  band over seeds, beside the book's values;
- :func:`plot_training_speeds`: ||delta^l|| before each full-batch epoch, log scale, median
  and band over seeds, one curve per hidden layer (the section's three training figures).

Each ``plot_*`` draws on a given ``Axes`` and returns it. :func:`chapter_figures` builds every
figure as a :class:`matplotlib.figure.Figure` (no pyplot, no global backend), and
:func:`save_figure` writes one as PNG and SVG, each atomically.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

BOOK_STYLE: dict[str, Any] = {
    "marker": "*",
    "color": "crimson",
    "markersize": 11,
    "linestyle": "none",
}


def plot_neuron_bars(ax: Axes, neurons: Mapping[str, Any]) -> Axes:
    """Bars of |dC/db| for the first neurons of each hidden layer of one network (seed 0),
    with the median over seeds and its band as black whiskers."""
    layers = neurons["example"]["layers"]  # per hidden layer: dC/db of the first neurons
    k = len(layers[0])
    width = 0.8 / len(layers)
    for l, grads in enumerate(layers):
        pos = np.arange(k) + (l - (len(layers) - 1) / 2) * width
        ax.bar(
            pos,
            np.abs(grads),
            width=width,
            color=f"C{l}",
            label=f"hidden layer {l + 1} (seed {neurons['example']['seed']})",
        )
        band = neurons.get("mean_abs", [])
        if l < len(band):
            med, lo, hi = (np.asarray(band[l][key]) for key in ("median", "low", "high"))
            ax.errorbar(
                pos,
                med,
                yerr=[med - lo, hi - med],
                fmt="_",
                color="black",
                capsize=2,
                lw=0.8,
                label=(
                    f"median and {100 * band[l]['q_low']:.0f}-{100 * band[l]['q_high']:.0f}% "
                    f"over {neurons['n_runs']} seeds"
                    if l == 0
                    else None
                ),
            )
    ax.set_xticks(np.arange(k), [f"neuron {j + 1}" for j in range(k)])
    ax.set_ylabel(r"$|\partial C/\partial b|$, mean over the probe images")
    ax.set_title(f"Per-neuron gradient at initialization, [{neurons['label'].replace('-', ',')}]")
    ax.legend(fontsize="small")
    return ax


def plot_depth(ax: Axes, depth: Mapping[str, Any]) -> Axes:
    """Final and best-epoch validation accuracy against the number of hidden layers."""
    rows = [r for r in depth["rows"] if r["n_runs"]]
    h = np.array([r["hidden_layers"] for r in rows], dtype=float)
    for i, (measure, name) in enumerate((("final", "final epoch"), ("best", "best epoch"))):
        x = h + (i - 0.5) * 0.18
        mean = np.array([r[measure]["mean"] for r in rows])
        lo = np.array(
            [r[measure]["ci_low"] if r[measure]["ci_low"] is not None else np.nan for r in rows]
        )
        hi = np.array(
            [r[measure]["ci_high"] if r[measure]["ci_high"] is not None else np.nan for r in rows]
        )
        yerr = np.nan_to_num(np.vstack([mean - lo, hi - mean]))
        ax.errorbar(
            x, mean, yerr=yerr, fmt="o", color=f"C{i}", capsize=4,
            label=f"{name}: mean, 95% CI",
        )  # fmt: skip
        for xi, r in zip(x, rows, strict=True):
            vals = r[measure]["values"]
            ax.plot(np.full(len(vals), xi + 0.06), vals, ".", color=f"C{i}", alpha=0.4, ms=4)
    book = [(r["hidden_layers"], r["book"]) for r in depth["rows"] if r["book"] is not None]
    if book:
        bx, by = zip(*book, strict=True)
        ax.plot(bx, by, label="book (single run)", **BOOK_STYLE)
    ax.set_xticks(h, [str(int(k)) for k in h])
    ax.set_xlabel("hidden layers of 30 neurons")
    ax.set_ylabel("validation accuracy (%)")
    ax.set_title("Accuracy against depth (dots: single seeds)")
    ax.legend(fontsize="small")
    return ax


def plot_accuracy_curves(ax: Axes, depth: Mapping[str, Any]) -> Axes:
    """Validation accuracy per epoch for each depth: median and band over seeds."""
    for i, r in enumerate(r for r in depth["rows"] if r["n_runs"]):
        c = r["curve"]
        epochs = np.arange(1, len(c["median"]) + 1)
        ax.plot(epochs, c["median"], color=f"C{i}", label=f"{r['hidden_layers']} hidden")
        ax.fill_between(epochs, c["low"], c["high"], color=f"C{i}", alpha=0.2, lw=0)
    ax.set_xlabel("epoch")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_ylabel("validation accuracy (%)")
    ax.set_title("Validation accuracy during training (median, 10-90% band)")
    ax.legend(fontsize="small")
    return ax


def plot_initial_speeds(ax: Axes, initial: Mapping[str, Any]) -> Axes:
    """||delta^l|| at initialization per hidden layer, one series per network, log scale."""
    rows = [r for r in initial["rows"] if r["n_runs"]]
    for i, r in enumerate(rows):
        layers = np.arange(1, r["hidden_layers"] + 1) + (i - (len(rows) - 1) / 2) * 0.12
        med, lo, hi = (np.asarray(r[k]) for k in ("median", "low", "high"))
        q = f"{100 * r['q_low']:.0f}-{100 * r['q_high']:.0f}%"
        ax.errorbar(
            layers, med, yerr=[med - lo, hi - med], fmt="o-", color=f"C{i}", capsize=3,
            label=f"{r['hidden_layers']} hidden: median, {q} over {r['n_runs']} seeds",
        )  # fmt: skip
        if r.get("book"):
            ax.plot(
                layers, r["book"], marker="*", ms=11, ls="none", mfc="none", mec=f"C{i}",
                label=f"{r['hidden_layers']} hidden: book",
            )  # fmt: skip
    ax.set_yscale("log")
    n = max((r["hidden_layers"] for r in rows), default=1)
    ax.set_xticks(np.arange(1, n + 1))
    ax.set_xlabel("hidden layer")
    ax.set_ylabel(
        r"speed of learning $\|\delta^l\| = \|\mathrm{mean}_x\, \partial C_x/\partial b^l\|$"
    )
    ax.set_title("Speed of learning at initialization")
    ax.legend(fontsize="x-small")
    return ax


def plot_training_speeds(ax: Axes, row: Mapping[str, Any]) -> Axes:
    """||delta^l|| before each full-batch epoch of one network: median and band per layer."""
    epochs = np.asarray(row["epochs"])
    for l, band in enumerate(row["layers"]):
        ax.plot(epochs, band["median"], color=f"C{l}", label=f"hidden layer {l + 1}")
        ax.fill_between(epochs, band["low"], band["high"], color=f"C{l}", alpha=0.2, lw=0)
    ax.set_yscale("log")
    ax.set_xlabel("epoch")
    ax.set_ylabel(r"speed of learning $\|\delta^l\|$")
    ax.set_title(f"[{row['label'].replace('-', ',')}] (median, 10-90% over {row['n_runs']} seeds)")
    ax.legend(fontsize="small")
    return ax


def chapter_figures(results: Mapping[str, Any]) -> dict[str, Figure]:
    """Every figure of a reproduction, by file stem; experiments without runs are left out."""
    figs: dict[str, Figure] = {}
    neurons = results.get("neurons")
    if neurons and neurons.get("n_runs"):
        fig = Figure(figsize=(7, 4), layout="constrained")
        plot_neuron_bars(fig.add_subplot(), neurons)
        figs["neurons"] = fig
    depth = results.get("depth")
    if depth and any(r["n_runs"] for r in depth["rows"]):
        fig = Figure(figsize=(11, 4.5), layout="constrained")
        a, b = fig.subplots(1, 2)
        plot_depth(a, depth)
        plot_accuracy_curves(b, depth)
        figs["depth"] = fig
    initial = results.get("initial")
    if initial and any(r["n_runs"] for r in initial["rows"]):
        fig = Figure(figsize=(7, 5), layout="constrained")
        plot_initial_speeds(fig.add_subplot(), initial)
        figs["initial_speeds"] = fig
    training = results.get("training") or {}
    rows = [r for r in training.get("rows", []) if r["n_runs"]]
    if rows:
        fig = Figure(figsize=(5 * len(rows), 4.2), layout="constrained")
        axes = np.atleast_1d(fig.subplots(1, len(rows), sharey=True))
        for ax, row in zip(axes, rows, strict=True):
            plot_training_speeds(ax, row)
        fig.suptitle(training["title"])
        figs["training_speeds"] = fig
    chain = results.get("chain")
    if chain:
        from layerspeed.plots.chain import plot_sigma_prime, plot_width_bound

        fig = Figure(figsize=(6, 4), layout="constrained")
        plot_sigma_prime(fig.add_subplot())
        figs["chain_sigma_prime"] = fig
        fig = Figure(figsize=(6, 4), layout="constrained")
        plot_width_bound(fig.add_subplot(), chain)
        figs["chain_width_bound"] = fig
    return figs


def save_figure(
    fig: Figure, stem: str | os.PathLike[str], *, formats: tuple[str, ...] = ("png", "svg")
) -> list[Path]:
    """Write ``fig`` as ``stem.png`` and ``stem.svg``, each through a temporary file."""
    base = Path(stem)
    base.parent.mkdir(parents=True, exist_ok=True)
    paths = []
    for fmt in formats:
        path = base.with_name(f"{base.name}.{fmt}")
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        try:
            with os.fdopen(fd, "wb") as f:
                fig.savefig(f, format=fmt, dpi=150)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        paths.append(path)
    return paths
