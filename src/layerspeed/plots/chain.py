"""Figures for the chain section: sigma' with its maximum, the width bound (123), and the
identity neuron's error against its bound.

Each function draws on a given ``Axes`` and returns it; no pyplot, no files.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from matplotlib.axes import Axes

from layerspeed import chain as ch
from layerspeed.nn.activations import sigmoid_prime


def plot_sigma_prime(ax: Axes, *, z_max: float = 6.0) -> Axes:
    """Plot ``sigma'(z)`` on ``[-z_max, z_max]`` with its maximum, 1/4 at ``z = 0``, marked."""
    z = np.linspace(-z_max, z_max, 601)
    ax.plot(z, sigmoid_prime(z), color="C0", label="σ′(z)")
    ax.axhline(0.25, color="0.6", lw=0.8, ls="--")
    ax.plot([0.0], [0.25], "o", color="C3", label="maximum σ′(0) = 1/4")
    ax.annotate("σ′(0) = 1/4", xy=(0.0, 0.25), xytext=(1.0, 0.22), color="C3")
    ax.set_xlabel("z")
    ax.set_ylabel("σ′(z)")
    ax.set_title("Derivative of the sigmoid function")
    ax.set_ylim(0.0, 0.28)
    ax.legend(loc="upper left", fontsize="small")
    return ax


def plot_width_bound(ax: Axes, results: dict[str, Any] | None = None) -> Axes:
    """Plot the width bound (123) against ``|w|``, with its maximum marked.

    ``results`` is :func:`layerspeed.chain.chapter_chain_results` or
    :func:`layerspeed.chain.problems` output (its ``"width_curve"`` and ``"width_max"`` are
    used, and any ``"width_check"`` scans are drawn as points); with None the curve is
    computed here.
    """
    if results is not None and "problems" in results:
        results = results["problems"]
    if results is None:
        curve, wmax, checks = ch.width_curve(), ch.width_maximum(), []
        peak_w, peak_width = wmax.abs_w, wmax.width
    else:
        curve, checks = results["width_curve"], results.get("width_check", [])
        peak_w, peak_width = results["width_max"]["abs_w"], results["width_max"]["width"]
    ax.plot(curve["abs_w"], curve["width"], color="C0", label="bound (123)")
    if checks:
        ax.plot(
            [abs(c["w"]) for c in checks],
            [c["scan"] for c in checks],
            "x",
            color="C2",
            label="brute-force scan over a",
        )
    ax.plot([peak_w], [peak_width], "o", color="C3")
    ax.annotate(
        f"max {peak_width:.3f} at |w| = {peak_w:.2f}",
        xy=(peak_w, peak_width),
        xytext=(peak_w + 3.0, peak_width - 0.12),
        color="C3",
        arrowprops={"arrowstyle": "->", "color": "C3"},
    )
    ax.set_xlabel("|w|")
    ax.set_ylabel("width of {a : |w σ′(wa + b)| ≥ 1}")
    ax.set_title("Range of inputs that avoid a vanishing term")
    ax.set_ylim(0.0, 0.5)
    ax.legend(loc="lower right", fontsize="small")
    return ax


def plot_identity_error(ax: Axes, w1_values: tuple[float, ...] = (0.5, 1.0, 2.0)) -> Axes:
    """Plot the identity neuron's measured error and its bound ``w_1^2 |Delta|^3 / 12``."""
    x = np.linspace(0.0, 1.0, 201)
    for i, w1 in enumerate(w1_values):
        error = np.abs(ch.identity_neuron(w1, x) - (x + 2.0 / w1 - 0.5))
        ax.plot(x, error, color=f"C{i}", label=f"error, w₁ = {w1:g}")
        ax.plot(x, ch.identity_error_bound(w1, x), color=f"C{i}", ls="--", lw=0.9)
    ax.plot([], [], color="0.4", ls="--", lw=0.9, label="bound w₁²|Δ|³/12")
    ax.set_xlabel("x")
    ax.set_ylabel("|w₂σ(w₁x + b) − (x + c)|")
    ax.set_title("Identity neuron: error and its bound")
    ax.legend(fontsize="small")
    return ax
