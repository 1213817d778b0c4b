"""``layerspeed theory``: the mean-field q*, chi and predicted per-layer factor.

The numbers are :func:`layerspeed.theory.mean_field`'s; this module parses the options and
prints a rich table, or JSON with ``--json``. ``--all`` gives every activation and
initializer of the tables at once.
"""

from __future__ import annotations

import json
import math

import click
from rich import box
from rich.console import Console
from rich.table import Table

from layerspeed.cli._app import cli
from layerspeed.nn.activations import ACTIVATIONS
from layerspeed.nn.init import INITIALIZERS
from layerspeed.theory import CHAPTER_WIDTH, MeanField, mean_field


@cli.command("theory")
@click.option(
    "--activation",
    default="sigmoid",
    show_default=True,
    help=f"One of: {', '.join(sorted(ACTIVATIONS))}.",
)
@click.option(
    "--init", default="default", show_default=True, help=f"One of: {', '.join(INITIALIZERS)}."
)
@click.option("--gain", type=float, default=1.0, show_default=True, help="Weight scale factor.")
@click.option(
    "--bias-gain",
    type=float,
    default=1.0,
    show_default=True,
    help="Bias scale factor (initializers that start biases at 0 keep them at 0).",
)
@click.option(
    "--width",
    type=click.IntRange(min=1),
    default=CHAPTER_WIDTH,
    show_default=True,
    help="Units per hidden layer (Glorot's and the orthogonal variances depend on it).",
)
@click.option("--all", "every", is_flag=True, help="Every activation and initializer.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def theory_command(
    activation: str,
    init: str,
    gain: float,
    bias_gain: float,
    width: int,
    every: bool,
    as_json: bool,
) -> int:
    """q*, chi and the predicted factor speed^{l+1}/speed^l = 1/sqrt(chi) of a wide network."""
    pairs = [(a, i) for a in ACTIVATIONS for i in INITIALIZERS] if every else [(activation, init)]
    found = [mean_field(a, i, gain=gain, bias_gain=bias_gain, width=width) for a, i in pairs]
    if as_json:
        body = [m.to_dict() for m in found]
        click.echo(json.dumps(body if every else body[0], indent=2, allow_nan=False))
    else:
        _print(found)
    return 0


def _g(v: float | None, fmt: str = ".3g") -> str:
    if v is None:
        return "∞"
    return format(v, fmt) if math.isfinite(v) else str(v)


def _chi(chi: float, phase: str) -> str:
    """χ with enough digits that a χ beside "explode" or "vanish" never reads as 1."""
    text = _g(chi)
    return _g(chi, ".9g") if phase != "critical" and text == "1" else text


def _q(q: float | None) -> str:
    """q*, with a variance that has decayed to rounding shown as 0."""
    return "0" if q is not None and 0 <= q < 1e-9 else _g(q)


def _print(found: list[MeanField]) -> None:
    console = Console()
    if not console.is_terminal:  # piped: wide enough for the table of every initializer
        console = Console(width=100)
    m0 = found[0]
    table = Table(
        box=box.SIMPLE_HEAD,
        pad_edge=False,
        title=f"Mean field, {m0.width}-wide layers, gain {m0.gain:g}, bias gain {m0.bias_gain:g}",
    )
    for col in ("activation", "init", "σ_w²", "σ_b²", "q*", "χ", "1/√χ", "phase"):
        left = col in ("activation", "init")
        table.add_column(col, justify="left" if left else "right", no_wrap=True, min_width=4)
    for m in found:
        phase = "vanish" if m.chi < 1 - 1e-9 else "explode" if m.chi > 1 + 1e-9 else "critical"
        q = _q(m.q_star) + ("" if m.converged else "?")
        table.add_row(m.activation, m.init, _g(m.sigma_w2), _g(m.sigma_b2), q, _chi(m.chi, phase),
                      _g(m.factor), phase)  # fmt: skip
    console.print(table)
    console.print(
        "1/√χ: how many times slower each hidden layer learns than the next one "
        f"(the book's bound for the sigmoid: {m0.book_bound:g} or more); "
        "q* = ∞: the variance grows without bound, χ is its limit"
    )
