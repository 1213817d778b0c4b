"""``layerspeed train``: the book's ``net.SGD(...)`` on MNIST (or Fashion-MNIST) from the
command line.

Parses, calls :func:`layerspeed.pipeline.train_network`, prints. The history it writes is a
run folder's ``result.json``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from layerspeed.cli._app import cli, dataset_option, offline_option, parse_sizes, seed_option
from layerspeed.console import progress
from layerspeed.errors import plural
from layerspeed.nn import COSTS, INITIALIZERS
from layerspeed.nn.activations import ACTIVATIONS
from layerspeed.store import STDOUT

N_PROBE = 1000  # the chapter measures speeds on the first 1000 training images


@cli.command()
@click.option("--sizes", help="Layer sizes, e.g. 784,30,30,10 (first 784, last 10 for MNIST).")
@click.option(
    "--load",
    "load_path",
    type=click.Path(path_type=Path),
    help="Start from a saved network (network2 JSON).",
)
@click.option("--epochs", type=click.IntRange(min=0), default=30, show_default=True)
@click.option("--mini-batch", type=click.IntRange(min=1), default=10, show_default=True)
@click.option("--eta", type=float, default=0.1, show_default=True, help="Learning rate.")
@click.option("--lmbda", type=float, default=5.0, show_default=True, help="L2 regularization.")
@seed_option("Seeds the initial weights and the shuffles.")
@click.option(
    "--n-train",
    type=click.IntRange(min=1, max=50000),
    default=None,
    help="Train on the first N training images.",
)
@click.option("--init", type=click.Choice(list(INITIALIZERS)), default="default", show_default=True)
@click.option(
    "--activation",
    type=click.Choice(list(ACTIVATIONS)),
    default="sigmoid",
    show_default=True,
    help="Hidden layers' activation.",
)
@click.option("--cost", type=click.Choice(list(COSTS)), default="cross-entropy", show_default=True)
@click.option(
    "--dtype", type=click.Choice(["float64", "float32"]), default="float64", show_default=True
)
@click.option(
    "--engine",
    type=click.Choice(["auto", "fast", "numpy"]),
    default="auto",
    show_default=True,
    help="Mini-batch epochs compiled (fast, where it applies) or the NumPy reference.",
)
@click.option(
    "--save",
    "save_path",
    type=click.Path(path_type=Path),
    help="Write the trained network (network2 JSON); - for stdout.",
)
@click.option(
    "--history",
    "history_path",
    type=click.Path(path_type=Path),
    help="Write per-epoch accuracy and cost as JSON; - for stdout.",
)
@click.option(
    "--track-speeds",
    is_flag=True,
    help="Record each hidden layer's speed of learning every epoch, before its update.",
)
@dataset_option(default="mnist")
@offline_option
def train(
    sizes: str | None,
    load_path: Path | None,
    epochs: int,
    mini_batch: int,
    eta: float,
    lmbda: float,
    seed: int,
    n_train: int | None,
    init: str,
    activation: str,
    cost: str,
    dtype: str,
    engine: str,
    save_path: Path | None,
    history_path: Path | None,
    track_speeds: bool,
    dataset: str,
    offline: bool,
) -> None:
    """Train a network on MNIST (or --dataset fashion-mnist) by mini-batch SGD and print its
    validation accuracy per epoch.

    The defaults are the chapter's: 30 epochs, mini-batch 10, eta 0.1, lmbda 5.0.
    """
    from layerspeed import pipeline
    from layerspeed.data.catalog import title
    from layerspeed.experiments.budget import check_run
    from layerspeed.experiments.config import RunConfig, check_value
    from layerspeed.nn import Network

    if (sizes is None) == (load_path is None):
        raise click.UsageError("give exactly one of --sizes and --load")
    loaded = Network.load(load_path) if load_path is not None else None
    if loaded is not None:  # blame the file, not a --sizes that was never given
        check_value("sizes", loaded.sizes, where=f"the network in {load_path}")
    n = n_train or 50_000
    config = RunConfig(
        loaded.sizes if loaded is not None else parse_sizes(sizes or ""),
        activation=loaded.activation if loaded is not None else activation,
        init=init,
        cost=loaded.cost if loaded is not None else cost,
        epochs=epochs,
        mini_batch_size=mini_batch,
        eta=eta,
        lmbda=lmbda,
        n_train=n,
        # The chapter measures on the first 1000 images, or the whole training set when
        # smaller, in which case full-batch training needs no extra backward pass.
        n_probe=min(N_PROBE, n),
        record=("accuracy", "speeds") if track_speeds else ("accuracy",),
        dtype=dtype,
        engine=engine,
        dataset=dataset,
        # A saved network brings its remedies, as it brings its activation and cost.
        norm=loaded.norm if loaded is not None else "none",
        residual=loaded is not None and loaded.residual,
    )
    check_run(config, f"training {list(config.sizes)} on {n} images")
    # With an output on stdout, the words go to stderr, so that stdout is the JSON alone.
    to_err = STDOUT in (str(save_path), str(history_path))
    click.echo(
        f"Training {list(config.sizes)} on {n} {title(dataset)} images: {plural(epochs, 'epoch')}, mini-batch {mini_batch}, "
        f"eta {eta}, lmbda {lmbda}, seed {seed}",
        err=to_err,
    )
    with progress(epochs, "epochs") as advance:

        def report(record: dict[str, Any]) -> None:
            acc = record["evaluation_accuracy"]
            advance(f"validation {100 * acc:.2f}%")
            click.echo(f"Epoch {record['epoch']}: validation accuracy {100 * acc:.2f}%", err=to_err)

        pipeline.train_network(
            config, seed, load_path=load_path, save_path=save_path, history_path=history_path,
            offline=offline, on_epoch_end=report,
        )  # fmt: skip
    if save_path is not None:
        click.echo(f"Saved the network to {save_path}", err=to_err)
    if history_path is not None:
        click.echo(f"Wrote the history to {history_path}", err=to_err)
