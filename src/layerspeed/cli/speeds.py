"""``layerspeed speeds``: the speed of learning of each hidden layer of one network, now.

Parses, calls :func:`layerspeed.pipeline.network_speeds`, prints.
"""

from __future__ import annotations

import json
from pathlib import Path

import click

from layerspeed.cli._app import cli, dataset_option, offline_option, parse_sizes, seed_option
from layerspeed.console import stdout
from layerspeed.nn import COSTS, INITIALIZERS
from layerspeed.nn.activations import ACTIVATIONS


@cli.command()
@click.option(
    "--load", "load_path", type=click.Path(path_type=Path), help="A saved network (network2 JSON)."
)
@click.option("--sizes", help="Layer sizes of a fresh network, e.g. 784,30,30,10.")
@seed_option("Seeds the fresh network as `layerspeed train --seed` does.")
@click.option("--init", type=click.Choice(list(INITIALIZERS)), default="default", show_default=True)
@click.option(
    "--activation", type=click.Choice(list(ACTIVATIONS)), default="sigmoid", show_default=True
)
@click.option("--cost", type=click.Choice(list(COSTS)), default="cross-entropy", show_default=True)
@click.option(
    "--n-probe",
    type=click.IntRange(min=1, max=50_000),
    default=1000,
    show_default=True,
    help="Measure on the first N training images.",
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON on stdout instead of tables.")
@dataset_option(default="mnist")
@offline_option
def speeds(
    load_path: Path | None,
    sizes: str | None,
    seed: int,
    init: str,
    activation: str,
    cost: str,
    n_probe: int,
    as_json: bool,
    dataset: str,
    offline: bool,
) -> None:
    """Print each hidden layer's speed of learning and its neurons' dC/db, for one network.

    The speed is the chapter's ||delta^l||: the norm of dC/db^l averaged over the probe images.
    """
    from layerspeed import pipeline
    from layerspeed.experiments.budget import check_memory, network_bytes

    if (sizes is None) == (load_path is None):
        raise click.UsageError("give exactly one of --sizes and --load")
    if sizes is not None:
        shape = parse_sizes(sizes)
        check_memory(network_bytes(shape, batch=n_probe), f"{list(shape)} on {n_probe} images")
    data = pipeline.network_speeds(
        load_path=load_path,
        sizes=parse_sizes(sizes) if sizes is not None else None,
        seed=seed, init=init, activation=activation, cost=cost,
        n_probe=n_probe, offline=offline, dataset=dataset,
    )  # fmt: skip
    if as_json:
        click.echo(json.dumps(data))
        return
    from rich.table import Table

    from layerspeed.data.catalog import title

    table = Table(
        title=f"Speed of learning of {data['sizes']} on {n_probe} {title(dataset)} images"
    )
    table.add_column("hidden layer", justify="right")
    table.add_column("||mean dC/db|| (speed)", justify="right")
    table.add_column("mean ||delta_x||", justify="right")
    table.add_column("||mean dC/dw||", justify="right")
    for l, (s, e, w) in enumerate(
        zip(
            data["layer_speeds"], data["mean_example_norms"], data["weight_grad_norms"], strict=True
        )
    ):
        table.add_row(str(l + 1), f"{s:.4g}", f"{e:.4g}", f"{w:.4g}")
    stdout.print(table)
    neurons = Table(title="dC/db per neuron (mean over the probe images)")
    neurons.add_column("hidden layer", justify="right")
    neurons.add_column("dC/db_j, j = 1, 2, ...", overflow="fold")
    for l, grads in enumerate(data["neuron_gradients"]):
        neurons.add_row(str(l + 1), "  ".join(f"{g:+.4f}" for g in grads))
    stdout.print(neurons)
