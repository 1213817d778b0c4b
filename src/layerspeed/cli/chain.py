"""``layerspeed chain`` and ``layerspeed problems``: the single-neuron chain and the problems.

The numbers come from :mod:`layerspeed.chain` (the chain the options describe from
:func:`~layerspeed.chain.build_chain`); this module only parses options and prints, a rich
table for people or JSON with ``--json``.
"""

from __future__ import annotations

import json
import math
from typing import Any

import click
from rich import box
from rich.console import Console
from rich.table import Table

from layerspeed import chain as ch
from layerspeed.cli._app import cli, seed_option
from layerspeed.errors import BadInput
from layerspeed.nn.activations import ACTIVATIONS
from layerspeed.store import finite

# Problem 4 holds a few (n_chains, L) arrays per activation: 10 million chains is ~3 GiB.
MAX_CHAINS = 10_000_000


def _parse_floats(text: str | None, option: str) -> tuple[float, ...] | None:
    if text is None:
        return None
    try:
        values = tuple(float(s) for s in text.replace(" ", "").split(","))
    except ValueError:
        raise BadInput(
            f"{option} {text!r} is not a comma-separated list of numbers, e.g. 0.9,-1.7,2.3"
        ) from None
    if not all(math.isfinite(v) for v in values):
        raise BadInput(f"{option} {text!r}: every value must be finite")
    return values


@cli.command("chain")
@click.option("--weights", default=None, help="w_1..w_L, comma-separated, e.g. 0.9,-1.7,2.3,0.6")
@click.option("--biases", default=None, help="b_1..b_L, comma-separated, e.g. 0.4,-0.2,0.3,-0.5")
@click.option("--x", "x", type=float, default=ch.DEFAULT_X, show_default=True, help="Input a_0.")
@click.option(
    "--y", "y", type=float, default=ch.DEFAULT_Y, show_default=True, help="Desired output."
)
@click.option(
    "--seed",
    type=click.IntRange(min=0),
    default=None,
    help="Draw weights and biases from N(0, 1) with this seed.",
)
@click.option(
    "--exploding", is_flag=True, help="The book's exploding example: w_j = 100, b_j = -100 a_{j-1}."
)
@click.option(
    "--length",
    type=int,
    default=None,
    help="Number of neurons L for --seed or --exploding (default 4).",
)
@click.option(
    "--activation",
    default="sigmoid",
    show_default=True,
    help=f"One of: {', '.join(sorted(ACTIVATIONS))}.",
)
@click.option(
    "--cost", default="quadratic", show_default=True, help=f"One of: {', '.join(sorted(ch.COSTS))}."
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def chain_command(
    weights: str | None,
    biases: str | None,
    x: float,
    y: float,
    seed: int | None,
    exploding: bool,
    length: int | None,
    activation: str,
    cost: str,
    as_json: bool,
) -> int:
    """The terms of equation (122) and dC/db_1 three ways, for one chain of neurons."""
    chain = ch.build_chain(
        weights=_parse_floats(weights, "--weights"),
        biases=_parse_floats(biases, "--biases"),
        x=x,
        y=y,
        seed=seed,
        exploding=exploding,
        length=length,
        activation=activation,
        cost=cost,
    )
    result = ch.analyse(chain)
    if as_json:
        click.echo(json.dumps(result.to_json_dict(), indent=2, allow_nan=False))
    else:
        _print_chain(result)
    return 0


def _print_chain(r: ch.ChainAnalysis) -> None:
    console = Console()
    c = r.chain
    n = c.length
    table = Table(
        box=box.SIMPLE_HEAD,
        pad_edge=False,
        title=f"Chain of {n} {c.activation} neurons, x = {c.x:g}, y = {c.y:g}, {c.cost} cost",
    )
    # The book writes sigma'; for another activation f the same terms are w_j f'(z_j).
    prime = "σ′" if c.activation == "sigmoid" else "f′"
    for col in ("j", "w_j", "b_j", "z_j", "a_j", "term of (122)", "value", "dC/db_j"):
        table.add_column(col, justify="right", no_wrap=True)
    for j in range(n):
        label = f"{prime}(z_1)" if j == 0 else f"w_{j + 1} {prime}(z_{j + 1})"
        table.add_row(
            str(j + 1),
            f"{c.weights[j]:.3g}",
            f"{c.biases[j]:.3g}",
            f"{r.zs[j]:.3g}",
            f"{r.activations[j + 1]:.3g}",
            label,
            f"{r.terms[j]:.4g}",
            f"{r.nabla_b_backprop[j]:.4g}",
        )
    table.add_row("", "", "", "", "", f"dC/da_{n}", f"{r.terms[-1]:.4g}", "")
    table.add_row("", "", "", "", "", "product", f"{r.dC_db1_formula:.4g}", "")
    console.print(table)
    console.print(f"dC/db_1 by the formula (122): {r.dC_db1_formula:.12g}")
    console.print(f"dC/db_1 by backprop:          {r.dC_db1_backprop:.12g}")
    console.print(f"dC/db_1 by finite differences: {r.dC_db1_finite_difference:.12g}")
    if r.ratio_1_3 is not None:
        console.print(
            f"dC/db_1 / dC/db_3 = {r.ratio_1_3:.4g} (the book, for N(0,1) weights: "
            "typically 1/16 or smaller)"
        )
    if r.ratio_1_L is not None and n > 1:
        console.print(f"dC/db_1 / dC/db_{n} = {r.ratio_1_L:.4g}")
    overflowed = r.overflowed()
    if overflowed:
        console.print(
            "Overflow: these values are beyond the float64 range and show as inf (nan where "
            f"an inf met another or a zero): {', '.join(overflowed)}",
            soft_wrap=True,
        )


@cli.command("problems")
@seed_option("Seed for the random chains of problem 4.")
@click.option(
    "--n-chains",
    type=int,
    default=10_000,
    show_default=True,
    help="Random chains per activation in problem 4.",
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of tables.")
def problems_command(seed: int, n_chains: int, as_json: bool) -> int:
    """The chapter's problems 1-3 and the chain half of problem 4, answered numerically."""
    if not 1 <= n_chains <= MAX_CHAINS:
        raise BadInput(f"--n-chains must be between 1 and {MAX_CHAINS:,}; got {n_chains:,}")
    answers = ch.problems(seed=seed, n_chains=n_chains)
    if as_json:
        click.echo(json.dumps(finite(answers), indent=2, allow_nan=False))
    else:
        _print_problems(answers)
    return 0


def _print_problems(p: dict[str, Any]) -> None:
    console = Console()
    p1 = p["problem1"]
    console.print(
        "[bold]1.[/bold] |w sigma'(wa+b)| <= |w| max sigma' = |w|/4, so >= 1 needs |w| >= 4."
    )
    console.print(
        f"   numerically: max sigma' = {p1['max_sigma_prime']:.6g} at z = {p1['argmax_z']:g}; "
        f"min |w| = {p['min_abs_w']:.6g}"
    )
    console.print("[bold]2.[/bold] width of {a : |w sigma'(wa+b)| >= 1}, formula (123) vs scan:")
    t = Table(box=box.SIMPLE_HEAD, pad_edge=False)
    for col in ("w", "b", "formula (123)", "scan"):
        t.add_column(col, justify="right")
    for row in p["width_check"]:
        t.add_row(f"{row['w']:g}", f"{row['b']:g}", f"{row['formula']:.8f}", f"{row['scan']:.8f}")
    console.print(t)
    wm, book = p["width_max"], p["width_max_book"]
    console.print(
        f"   maximum at |w| = {wm['abs_w']:.4f}, width {wm['width']:.4f} "
        f"(the book: |w| ~ {book['abs_w']}, width ~ {book['width']})"
    )
    console.print("[bold]3.[/bold] identity neuron, b = -w_1/2, w_2 = 4/w_1:")
    t = Table(box=box.SIMPLE_HEAD, pad_edge=False)
    for col in ("w_1", "max error", "max bound w_1^2|D|^3/12", "error/bound at x=1", "within"):
        t.add_column(col, justify="right")
    for row in p["identity"]["rows"]:
        t.add_row(
            f"{row['w1']:g}",
            f"{row['max_error']:.4g}",
            f"{row['max_bound']:.4g}",
            f"{row['tightness']:.4f}",
            "yes" if row["within_bound"] else "NO",
        )
    console.print(t)
    console.print("   " + p["identity"]["statement"])
    acts = p["activations"]
    console.print(
        f"[bold]4.[/bold] chains of {acts['length']} neurons, {acts['n_chains']} random draws "
        "per activation. term: median nonzero |w_j f'(z_j)|; > 1: share of terms above 1; "
        "r = |dC/db_1 / dC/db_L|; 5%, 50%, 95%: quantiles of log10 r; vanish: r <= 1/16; "
        "expl. (explode): r >= 16."
    )
    t = Table(box=box.SIMPLE_HEAD, pad_edge=False)
    t.add_column("activation", no_wrap=True, min_width=len("scaled_sigmoid"))
    for col in ("w std", "term", "> 1", "5%", "50%", "95%", "vanish", "expl."):
        t.add_column(col, justify="right", min_width=len(col))
    for s in [*acts["stats"].values(), *acts["stats_large_weights"].values()]:
        t.add_row(
            s["activation"],
            f"{s['weight_std']:g}",
            f"{s['term_median_nonzero']:.3f}",
            f"{s['term_above_one']:.1%}",
            f"{s['log10_ratio_p05']:.2f}",
            f"{s['log10_ratio_median']:.2f}",
            f"{s['log10_ratio_p95']:.2f}",
            f"{s['vanishing']:.1%}",
            f"{s['exploding']:.1%}",
        )
    console.print(t)
    console.print("   " + acts["verdict"])
