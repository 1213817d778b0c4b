"""The ``layerspeed`` click group and the options that several subcommands share."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click

from layerspeed import __version__
from layerspeed.errors import plural

F = TypeVar("F", bound=Callable[..., Any])


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="layerspeed")
def cli() -> None:
    """See, measure and fix unstable gradients in deep neural networks.

    A reproduction of "The vanishing gradient problem" (Nielsen, Neural Networks and
    Deep Learning, chapter 5), and tools that go beyond it.
    """


def offline_option(f: F) -> F:
    """``--offline``: never touch the network (also LAYERSPEED_OFFLINE=1)."""
    return click.option(
        "--offline",
        is_flag=True,
        envvar="LAYERSPEED_OFFLINE",
        help="Never touch the network; use only cached or --from files (env LAYERSPEED_OFFLINE=1).",
    )(f)


def dataset_option(*, default: str | None, help: str = "") -> Callable[[F], F]:
    """``--dataset NAME``: the real data set the runs read (mnist, fashion-mnist)."""
    from layerspeed.data.catalog import NAMES

    return click.option(
        "--dataset",
        type=click.Choice(NAMES),
        default=default,
        show_default=default is not None,
        help=help or "The data set: MNIST (the chapter's) or Fashion-MNIST, fetched on first use.",
    )


def workers_option(f: F) -> F:
    """``--workers N``: local worker processes."""
    return click.option(
        "--workers",
        type=click.IntRange(min=1),
        default=None,
        help="Local worker processes [default: the number of cores].",
    )(f)


def seed_option(help: str) -> Callable[[F], F]:
    """``--seed N`` (>= 0, default 0) with its own help text."""
    return click.option(
        "--seed", type=click.IntRange(min=0), default=0, show_default=True, help=help
    )


def exit_status(unfinished: list[str]) -> int:
    """0, or 1 after one line on stderr when some runs did not finish."""
    if not unfinished:
        return 0
    click.echo(
        f"layerspeed: error: {plural(len(unfinished), 'run')} did not finish; run again to retry "
        f"{'it' if len(unfinished) == 1 else 'them'}",
        err=True,
    )
    return 1


def parse_sizes(text: str) -> tuple[int, ...]:
    """``"784,30,10"`` -> ``(784, 30, 10)``, raising click.BadParameter on anything else."""
    try:
        sizes = tuple(int(s) for s in text.replace(" ", "").split(","))
    except ValueError:
        raise click.BadParameter(
            f"{text!r} is not a comma-separated list of integers, e.g. 784,30,30,10",
            param_hint="--sizes",
        ) from None
    if len(sizes) < 2 or any(s <= 0 for s in sizes):
        raise click.BadParameter(
            f"{text!r}: give at least two layer sizes, all positive, e.g. 784,30,10",
            param_hint="--sizes",
        )
    return sizes
