"""``layerspeed train``: the book's ``net.SGD(...)`` on MNIST from the command line."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click
import numpy as np

from layerspeed import __version__
from layerspeed.cli._app import cli, offline_option, parse_sizes
from layerspeed.console import progress
from layerspeed.errors import BadInput
from layerspeed.nn import COSTS, INITIALIZERS, Network, SGDConfig, sgd
from layerspeed.nn.activations import ACTIVATIONS
from layerspeed.store import write_json_atomic

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
@click.option(
    "--seed",
    type=click.IntRange(min=0),
    default=0,
    show_default=True,
    help="Seeds the initial weights and the shuffles.",
)
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
    "--save",
    "save_path",
    type=click.Path(path_type=Path),
    help="Write the trained network (network2 JSON).",
)
@click.option(
    "--history",
    "history_path",
    type=click.Path(path_type=Path),
    help="Write per-epoch accuracy and cost as JSON.",
)
@click.option(
    "--track-speeds",
    is_flag=True,
    help="Record each hidden layer's speed of learning every epoch, before its update.",
)
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
    save_path: Path | None,
    history_path: Path | None,
    track_speeds: bool,
    offline: bool,
) -> None:
    """Train a network on MNIST by mini-batch SGD and print its validation accuracy per epoch.

    The defaults are the chapter's: 30 epochs, mini-batch 10, eta 0.1, lmbda 5.0.
    """
    if (sizes is None) == (load_path is None):
        raise click.UsageError("give exactly one of --sizes and --load")
    config = SGDConfig(epochs=epochs, mini_batch_size=mini_batch, eta=eta, lmbda=lmbda)
    if load_path is not None:
        net = Network.load(load_path).astype(dtype)
    else:
        layer_sizes = parse_sizes(sizes or "")
        net = Network.create(
            layer_sizes,
            rng=np.random.default_rng([seed, 0]),
            init=init,
            activation=activation,
            cost=cost,
            dtype=dtype,
        )
    if net.sizes[0] != 784 or net.sizes[-1] != 10:
        raise BadInput(
            f"--sizes {','.join(map(str, net.sizes))}: MNIST needs 784 inputs and 10 outputs, "
            "e.g. 784,30,10"
        )

    # Find out now, not after training, whether the outputs can be written.
    for out in (save_path, history_path):
        if out is not None:
            out.parent.mkdir(parents=True, exist_ok=True)
            if out.is_dir():
                raise BadInput(f"{out} is a folder; give a file name")

    from layerspeed.data import load_mnist, one_hot
    from layerspeed.probes import SpeedProbe

    mnist = load_mnist(offline=offline)
    n = n_train or len(mnist.training.x)
    x = mnist.training.x[:n].astype(dtype, copy=False)
    y = one_hot(mnist.training.labels[:n]).astype(dtype)
    callbacks = []
    if track_speeds:
        # The probe set is the first 1000 images, or the whole training set when smaller,
        # in which case full-batch training needs no extra backward pass.
        k = min(N_PROBE, n)
        probe_x, probe_y = (x, y) if k == n else (x[:k], y[:k])
        callbacks.append(SpeedProbe(probe_x, probe_y))

    click.echo(
        f"Training {list(net.sizes)} on {n} images: {epochs} epochs, mini-batch {mini_batch}, "
        f"eta {eta}, lmbda {lmbda}, seed {seed}"
    )
    with progress(epochs, "epochs") as advance:

        def report(record: dict[str, Any]) -> None:
            acc = record["evaluation_accuracy"]
            advance(f"validation {100 * acc:.2f}%")
            click.echo(f"Epoch {record['epoch']}: validation accuracy {100 * acc:.2f}%")

        history = sgd(
            net,
            x,
            y,
            config,
            rng=np.random.default_rng([seed, 1]),
            evaluation=(mnist.validation.x, mnist.validation.labels),
            callbacks=callbacks,
            on_epoch_end=report,
        )
    # Outputs are written only once training has finished, each atomically.
    if save_path is not None:
        net.save(save_path)
        click.echo(f"Saved the network to {save_path}")
    if history_path is not None:
        write_json_atomic(
            history_path,
            {
                "layerspeed_version": __version__,
                "seed": seed,
                "config": {
                    "sizes": list(net.sizes),
                    "epochs": epochs,
                    "mini_batch_size": mini_batch,
                    "eta": eta,
                    "lmbda": lmbda,
                    "seed": seed,
                    "n_train": n,
                    "init": None if load_path else init,
                    "activation": net.activation,
                    "cost": net.cost,
                    "dtype": dtype,
                    "load": str(load_path) if load_path else None,
                },
                "epochs": history.epochs,
            },
        )
        click.echo(f"Wrote the history to {history_path}")
