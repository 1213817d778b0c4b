"""``layerspeed reproduce`` (the whole section, book beside measured) and ``layerspeed speeds``
(the speeds of one network, now)."""

from __future__ import annotations

import datetime as _dt
import json
import platform
import sys
import time
from pathlib import Path
from typing import Any

import click
import numpy as np

from layerspeed import __version__
from layerspeed.cli._app import cli, offline_option, parse_sizes
from layerspeed.console import progress, stdout
from layerspeed.errors import BadInput
from layerspeed.nn import COSTS, INITIALIZERS, Network
from layerspeed.nn.activations import ACTIVATIONS


def _versions() -> dict[str, str]:
    import matplotlib
    import scipy

    return {
        "layerspeed_version": __version__,
        "python": platform.python_version(),
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "matplotlib": matplotlib.__version__,
    }


@cli.command()
@click.option(
    "--out",
    "out",
    type=click.Path(path_type=Path),
    default=Path("layerspeed-results"),
    show_default=True,
    help="Output folder (runs/, figures/, summary.md, results.json).",
)
@click.option(
    "--seeds",
    type=click.IntRange(min=1),
    default=None,
    help="Seeds for the depth and training-speed runs [default: 5, or 2 with --quick]; 4x as many (at least 20) for the cheap initial-speed runs.",
)
@click.option(
    "--workers",
    type=click.IntRange(min=1),
    default=None,
    help="Worker processes [default: the number of cores].",
)
@click.option(
    "--quick",
    is_flag=True,
    help="A smoke run of about a minute: 2 epochs on 5000 images, 50 full-batch epochs.",
)
@click.option(
    "--no-remedies",
    is_flag=True,
    help="Only the book's experiments: skip the remedies sweep (activation x initializer).",
)
@offline_option
def reproduce(
    out: Path, seeds: int | None, workers: int | None, quick: bool, no_remedies: bool, offline: bool
) -> int:
    """Reproduce the chapter's experiments: depth table, neuron bars, initial and training speeds.

    Then the single-neuron chain and the chapter's problems, and the remedies sweep
    (activation x initializer on [784,30,30,30,30,10]); at the end OUT/report.html.
    Rerunning skips the runs already done; a killed reproduction loses only the runs that
    were in progress.
    """
    from layerspeed.chain import chapter_chain_results
    from layerspeed.data import load_mnist
    from layerspeed.experiments import Plan, aggregate, chapter_experiments, collect, run_all
    from layerspeed.experiments.runner import default_workers, is_current, plan_tasks
    from layerspeed.experiments.sweep import run_preset, sweep_markdown
    from layerspeed.plots.speeds import chapter_figures, save_figure
    from layerspeed.report import write_report
    from layerspeed.store import write_json_atomic, write_text_atomic
    from layerspeed.summary import to_markdown

    start = time.perf_counter()
    plan = Plan.smoke(seeds or 2) if quick else Plan.chapter(seeds or 5)
    experiments = chapter_experiments(plan)
    n_workers = workers or default_workers()
    # The driver makes sure MNIST is in the local cache; the workers only ever read it.
    load_mnist(offline=offline)

    tasks = plan_tasks(experiments, out)
    pending = sum(not is_current(t) for t in tasks)
    click.echo(
        f"{len(tasks)} runs in {out}: {len(tasks) - pending} already done, {pending} to run "
        f"on {n_workers} worker{'s' * (n_workers > 1)}" + (" (quick)" if quick else ""),
        err=True,
    )
    problems: list[str] = []
    with progress(pending, "runs") as advance:

        def report(outcome: Any) -> None:
            advance(f"{outcome.task.name} {outcome.status} ({outcome.seconds:.1f} s)")
            if outcome.status != "done":
                problems.append(f"{outcome.task.name}: {outcome.status}: {outcome.message}")

        run_all(experiments, out, workers=n_workers, offline=offline, on_outcome=report)

    # The chapter asks "how should we deal with it?": the remedies, measured side by side.
    remedies: dict[str, Any] | None = None
    remedies_failed = 0
    if not no_remedies:
        remedies = run_preset(
            "remedies", out / "remedies", workers=n_workers, quick=quick, progress=progress,
            offline=offline,
        )  # fmt: skip
        remedies_failed = remedies["runs"]["failed"] + remedies["runs"]["missing"]
        if remedies_failed:
            problems.append(f"remedies: {remedies_failed} runs failed or are missing")

    results: dict[str, Any] = {
        "meta": {
            **_versions(),
            "date": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
            "argv": list(sys.argv),
            "quick": quick,
            "seeds": {e.name: e.n_seeds for e in experiments},
            "workers": n_workers,
            "runs_this_time": pending,  # the rest were already done
        }
    }
    results |= aggregate(experiments, collect(experiments, out))
    results["chain"] = chapter_chain_results(seed=0, n_chains=10_000)
    if remedies is not None:
        results["remedies"] = remedies
    results["meta"]["elapsed_s"] = time.perf_counter() - start

    for stem, fig in chapter_figures(results).items():
        save_figure(fig, out / "figures" / stem)
    summary = to_markdown(results)
    if remedies is not None:
        summary += "\n" + _remedies_markdown(sweep_markdown(remedies))
    write_json_atomic(out / "results.json", results, indent=1)
    write_text_atomic(out / "summary.md", summary)
    _print_summary(results)
    report_path = write_report(out)
    click.echo(
        f"Wrote {out / 'summary.md'}, {out / 'results.json'} and {out / 'figures'}/", err=True
    )
    for p in problems:
        click.echo(f"layerspeed: {p}", err=True)
    failed = results["runs"]["failed"] + sum(
        1 for p in results["runs"]["problems"] if p["status"] in (None, "running")
    )
    failed += remedies_failed
    click.echo(f"The report: {report_path.resolve()}")
    if failed:
        click.echo(
            f"layerspeed: error: {failed} runs did not finish; run again to retry them", err=True
        )
        return 1
    return 0


def _remedies_markdown(text: str) -> str:
    """The sweep's summary as a section of summary.md, its figure under remedies/."""
    lines = text.rstrip().splitlines()
    if lines and lines[0].startswith("#"):
        lines = lines[1:]
    body = "\n".join(lines)
    return (
        "## Remedies: activations and initializers side by side\n\n"
        "The chapter asks how to deal with unstable gradients. The remedies sweep trains the "
        "deep [784,30,30,30,30,10] network with every activation and initializer, each over "
        "several seeds, and measures the speed spread beside the accuracy.\n"
        + body
        + "\n\n![remedies](remedies/figures/sweep.png)\n"
    )


def _print_summary(results: dict[str, Any]) -> None:
    from rich.table import Table

    from layerspeed.experiments import verdicts
    from layerspeed.summary import comparison_rows

    table = Table(title="The book against the measurements", show_lines=False)
    for name in ("experiment", "quantity", "book", "measured", "inside"):
        table.add_column(name, overflow="fold")
    for row in comparison_rows(results):
        table.add_row(*(c.replace("**", "") for c in row))
    stdout.print(table)
    claims = Table(title="The book's claims")
    for name in ("experiment", "claim", "holds", "evidence"):
        claims.add_column(name, overflow="fold")
    for name, v in verdicts(results):
        word = {True: "[green]yes[/]", False: "[red]no[/]", None: "undecided"}[v["holds"]]
        claims.add_row(name, v["claim"], word, v["evidence"])
    stdout.print(claims)


@cli.command()
@click.option(
    "--load", "load_path", type=click.Path(path_type=Path), help="A saved network (network2 JSON)."
)
@click.option("--sizes", help="Layer sizes of a fresh network, e.g. 784,30,30,10.")
@click.option(
    "--seed",
    type=click.IntRange(min=0),
    default=0,
    show_default=True,
    help="Seeds the fresh network as `layerspeed train --seed` does.",
)
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
    offline: bool,
) -> None:
    """Print each hidden layer's speed of learning and its neurons' dC/db, for one network.

    The speed is the chapter's ||delta^l||: the norm of dC/db^l averaged over the probe images.
    """
    from layerspeed.data import load_mnist, one_hot
    from layerspeed.probes import layer_speeds

    if (sizes is None) == (load_path is None):
        raise click.UsageError("give exactly one of --sizes and --load")
    if load_path is not None:
        net = Network.load(load_path)
    else:
        net = Network.create(
            parse_sizes(sizes or ""), rng=np.random.default_rng([seed, 0]), init=init,
            activation=activation, cost=cost,
        )  # fmt: skip
    if net.sizes[0] != 784 or net.sizes[-1] != 10:
        raise BadInput(f"network of sizes {list(net.sizes)}: MNIST needs 784 inputs and 10 outputs")
    if net.num_hidden < 1:
        raise BadInput(f"network of sizes {list(net.sizes)} has no hidden layer to measure")
    mnist = load_mnist(offline=offline)
    x = mnist.training.x[:n_probe]
    y = one_hot(mnist.training.labels[:n_probe])
    report = layer_speeds(net, x, y)
    data = {
        "sizes": list(net.sizes),
        "source": str(load_path) if load_path else {"seed": seed, "init": init},
        "n_probe": n_probe,
        **report.to_dict(),
    }
    if as_json:
        click.echo(json.dumps(data))
        return
    from rich.table import Table

    table = Table(title=f"Speed of learning of {list(net.sizes)} on {n_probe} images")
    table.add_column("hidden layer", justify="right")
    table.add_column("||mean dC/db|| (speed)", justify="right")
    table.add_column("mean ||delta_x||", justify="right")
    table.add_column("||mean dC/dw||", justify="right")
    for l, (s, e, w) in enumerate(
        zip(report.layer_speeds, report.mean_example_norms, report.weight_grad_norms, strict=True)
    ):
        table.add_row(str(l + 1), f"{s:.4g}", f"{e:.4g}", f"{w:.4g}")
    stdout.print(table)
    neurons = Table(title="dC/db per neuron (mean over the probe images)")
    neurons.add_column("hidden layer", justify="right")
    neurons.add_column("dC/db_j, j = 1, 2, ...", overflow="fold")
    for l, grads in enumerate(report.neuron_gradients):
        neurons.add_row(str(l + 1), "  ".join(f"{g:+.4f}" for g in grads))
    stdout.print(neurons)
