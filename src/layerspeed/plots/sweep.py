"""Figures of a sweep, drawn from its summary (see :func:`layerspeed.experiments.sweep.summarize`).

- :func:`plot_grid`: a heatmap over a two-axis grid (activation x initializer, say) of one
  quantity, the mean over seeds written in each cell;
- :func:`plot_spread`: the speed spread of every grid point, at initialization and in training,
  mean and 95% interval over seeds;
- :func:`plot_accuracy`: the accuracy of every grid point, mean and 95% interval;
- :func:`plot_spread_accuracy`: accuracy against the speed spread in training, one point per
  grid point: what balancing the layers does to accuracy.

Each ``plot_*`` draws on a given ``Axes`` and returns it; :func:`sweep_figure` builds the whole
figure as a :class:`matplotlib.figure.Figure` without pyplot.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import matplotlib
import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

VERDICT_COLORS = {
    "balanced": "tab:green",
    "vanishing": "tab:blue",
    "exploding": "tab:red",
    "mixed": "tab:orange",
    "diverged": "black",
    "unknown": "grey",
}


def _mean(d: Mapping[str, Any] | None) -> float:
    return float("nan") if d is None else float(d["mean"])


def _err(ds: Sequence[Mapping[str, Any] | None]) -> np.ndarray:
    """(2, n) distances from the mean to the 95% CI ends (0 where undefined)."""
    lo, hi = [], []
    for d in ds:
        if d is None or d["ci_low"] is None:
            lo.append(0.0)
            hi.append(0.0)
        else:
            lo.append(d["mean"] - d["ci_low"])
            hi.append(d["ci_high"] - d["mean"])
    return np.array([lo, hi])


def plot_grid(
    ax: Axes, summary: Mapping[str, Any], key: str, *, title: str, cmap: str = "viridis"
) -> Axes:
    """Heatmap of ``point[key]["mean"]`` over the first two axes of the grid.

    A cell notes how many of its runs diverged; grey where all did."""
    axes = list(summary["axes"])
    rows_axis, cols_axis = axes[0], axes[1]
    rows, cols = summary["axes"][rows_axis], summary["axes"][cols_axis]
    grid = np.full((len(rows), len(cols)), np.nan)
    diverged = np.zeros((len(rows), len(cols)), dtype=int)
    n_runs = np.zeros((len(rows), len(cols)), dtype=int)
    for p in summary["points"]:
        i = rows.index(p["params"][rows_axis])
        j = cols.index(p["params"][cols_axis])
        grid[i, j] = _mean(p[key])
        diverged[i, j] = p["status"]["diverged"]
        n_runs[i, j] = p["n_runs"]
    colormap = matplotlib.colormaps[cmap].with_extremes(bad="lightgrey")  # all runs diverged
    im = ax.imshow(np.ma.masked_invalid(grid), cmap=colormap, aspect="auto")
    finite = grid[np.isfinite(grid)]
    mid = (finite.min() + finite.max()) / 2 if finite.size else 0.0
    for i in range(len(rows)):
        for j in range(len(cols)):
            v = grid[i, j]
            text = "-" if np.isnan(v) else f"{v:.2f}" if abs(v) < 10 else f"{v:.1f}"
            if diverged[i, j]:
                text += f"\n{diverged[i, j]}/{n_runs[i, j]} div."
            dark = not np.isnan(v) and v < mid
            ax.text(
                j, i, text, ha="center", va="center", fontsize=7, color="white" if dark else "black"
            )
    ax.set_xticks(range(len(cols)), [str(c) for c in cols], rotation=30, ha="right")
    ax.set_yticks(range(len(rows)), [str(r) for r in rows])
    ax.set_xlabel(cols_axis)
    ax.set_ylabel(rows_axis)
    ax.set_title(title, fontsize=10)
    ax.figure.colorbar(im, ax=ax, shrink=0.8)
    return ax


def plot_spread(ax: Axes, summary: Mapping[str, Any]) -> Axes:
    """Horizontal bars: the speed spread at initialization and in training, per grid point."""
    points = summary["points"]
    y = np.arange(len(points))
    for off, when, color in ((-0.2, "initial", "tab:grey"), (0.2, "training", "tab:purple")):
        ds = [p[f"spread_{when}"] for p in points]
        ax.barh(
            y + off,
            [_mean(d) for d in ds],
            height=0.4,
            xerr=_err(ds),
            color=color,
            label="at initialization" if when == "initial" else "in training",
            error_kw={"lw": 0.8, "capsize": 2},
        )
    ax.axvline(1.0, color="crimson", lw=0.8, ls="--", label="10x (flag threshold)")
    ax.set_yticks(y, [p["label"] for p in points], fontsize=7)
    ax.invert_yaxis()
    ax.set_xlabel("speed spread, log10(max / min layer speed)")
    ax.legend(fontsize=7, loc="lower right")
    return ax


def plot_accuracy(ax: Axes, summary: Mapping[str, Any]) -> Axes:
    """Horizontal bars: accuracy (percent) per grid point, colored by its training verdict."""
    points = summary["points"]
    y = np.arange(len(points))
    ds = [p["accuracy"] for p in points]
    ax.barh(
        y,
        [_mean(d) for d in ds],
        xerr=_err(ds),
        color=[VERDICT_COLORS.get(p["verdict"], "grey") for p in points],
        error_kw={"lw": 0.8, "capsize": 2},
    )
    ax.set_yticks(y, [p["label"] for p in points], fontsize=7)
    ax.invert_yaxis()
    ax.set_xlabel("accuracy after the last epoch (%)")
    return ax


def plot_spread_accuracy(ax: Axes, summary: Mapping[str, Any]) -> Axes:
    """Accuracy against the speed spread in training; error bars are 95% intervals.

    Points more than 5 points below the best, or past the threshold, are named.

    The red line is the flag threshold: right of it the first and last hidden layers' speeds
    differ by more than 10x."""
    seen = set()
    accs = [_mean(p["accuracy"]) for p in summary["points"] if p["accuracy"]]
    best = max(accs) if accs else 0.0
    for p in summary["points"]:
        s, a = p["spread_training"], p["accuracy"]
        if s is None or a is None:
            continue
        verdict = p["verdict"]
        ax.errorbar(
            _mean(s),
            _mean(a),
            xerr=_err([s]),
            yerr=_err([a]),
            fmt="o",
            ms=4,
            lw=0.7,
            color=VERDICT_COLORS.get(verdict, "grey"),
            label=verdict if verdict not in seen else None,
        )
        seen.add(verdict)
        if _mean(a) < best - 5 or _mean(s) > 1:  # name the outliers; the crowd at the top
            ax.annotate(  # would be unreadable
                ",".join(str(v) for v in p["params"].values()),
                (_mean(s), _mean(a)),
                fontsize=6,
                xytext=(3, 2),
                textcoords="offset points",
            )
    ax.axvline(1.0, color="crimson", lw=0.8, ls="--")
    # A 95% t interval over two or three seeds can be wider than the whole range: keep the
    # view on the means and let such bars run off it.
    xs = [_mean(p["spread_training"]) for p in summary["points"] if p["spread_training"]]
    ys = [_mean(p["accuracy"]) for p in summary["points"] if p["accuracy"]]
    if xs and ys:
        ax.set_xlim(min(0.0, min(xs)) - 0.2, max(1.2, max(xs)) + 0.3)
        ax.set_ylim(max(0.0, min(ys) - 5), min(100.0, max(ys) + 3))
    ax.set_xlabel("speed spread in training, log10(max / min)")
    ax.set_ylabel("accuracy (%)")
    if seen:
        ax.legend(fontsize=7, title="in training", title_fontsize=7)
    return ax


def sweep_figure(summary: Mapping[str, Any]) -> Figure:
    """The sweep at a glance: heatmaps for a grid of two or more axes, bars otherwise."""
    name = summary["name"]
    if len(summary["axes"]) >= 2 and len(summary["points"]) == np.prod(
        [len(v) for v in list(summary["axes"].values())[:2]]
    ):
        fig = Figure(figsize=(13, 10), layout="constrained")
        (a, b), (c, d) = fig.subplots(2, 2)
        plot_grid(
            a, summary, "spread_initial", title="speed spread at initialization", cmap="magma"
        )
        plot_grid(b, summary, "spread_training", title="speed spread in training", cmap="magma")
        plot_grid(c, summary, "accuracy", title="accuracy (%)", cmap="viridis")
        plot_spread_accuracy(d, summary)
    else:
        n = len(summary["points"])
        fig = Figure(figsize=(13, max(4.0, 0.3 * n + 1.5)), layout="constrained")
        a, b, c = fig.subplots(1, 3)
        plot_spread(a, summary)
        plot_accuracy(b, summary)
        plot_spread_accuracy(c, summary)
    fig.suptitle(f"Sweep {name}: how evenly the hidden layers learn, and the accuracy")
    return fig
