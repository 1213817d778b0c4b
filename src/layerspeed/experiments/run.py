"""One run: :func:`train_run` trains a network as its config says and records what it asks.

This is the only place a network is trained for an experiment: the chapter's depth,
initial-speed and training-speed runs, every sweep run and ``layerspeed train`` all come
through here, so they share one record format (``result.json``, see :mod:`layerspeed.store`).

The record of epoch ``e`` holds the training cost and, with ``"accuracy"``, the validation
cost and accuracy after its update; with ``"speeds"`` it also holds the probe's reading of the
network *before* that update (:class:`layerspeed.probes.SpeedProbe`). The reading after the
last epoch is ``final_probe``. A run of zero epochs has one record, epoch 0, with the reading
of the initialized network and nothing else.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from layerspeed import __version__
from layerspeed.data import one_hot
from layerspeed.errors import BadInput, DivergenceError
from layerspeed.experiments.config import RunConfig, shuffle_rng, weight_rng
from layerspeed.experiments.datasets import Data, floats
from layerspeed.experiments.instability import instability
from layerspeed.nn import Network, SGDConfig, accuracy, sgd
from layerspeed.probes import SpeedProbe

Record = dict[str, Any]
STATUSES = ("done", "diverged")


@dataclass(frozen=True)
class RunResult:
    """What one run measured. ``to_dict`` gives the ``result.json`` body."""

    status: str  # "done" or "diverged"
    message: str | None  # why it diverged
    epochs: list[Record]  # one record per epoch (see the module docstring)
    layer_names: list[str]  # "hidden 1", "hidden 2", ...
    final_probe: Record | None = None  # the reading after the last epoch (or before the
    # update that diverged); None without "speeds", or for a run of zero epochs
    instability: dict[str, Any] | None = None  # spread and flag of the readings
    final_accuracy: float | None = None  # a fraction, after the last epoch; None if diverged
    best_accuracy: float | None = None  # the best epoch's
    best_epoch: int | None = None
    diverged_epoch: int | None = None  # the epoch whose update diverged
    final_training_accuracy: float | None = None  # on the training images, with that record
    extra_backward_passes: int | None = None  # the probe's, beside training's own
    net: Network | None = field(default=None, compare=False, repr=False)  # the trained network

    def to_dict(self, config: RunConfig, seed: int | None, kind: str) -> dict[str, Any]:
        body: dict[str, Any] = {
            "layerspeed_version": __version__,
            "kind": kind,
            "seed": seed,
            "config": config.to_dict(),
            "layer_names": self.layer_names,
            "epochs": self.epochs,
        }
        if config.records("speeds"):
            body |= {"final_probe": self.final_probe, "instability": self.instability}
            body["extra_backward_passes"] = self.extra_backward_passes
        if config.records("accuracy"):
            body |= {
                "final_accuracy": self.final_accuracy,
                "best_accuracy": self.best_accuracy,
                "best_epoch": self.best_epoch,
            }
        if config.records("training_accuracy"):
            body["final_training_accuracy"] = self.final_training_accuracy
        body["diverged_epoch"] = self.diverged_epoch
        return body


def make_network(config: RunConfig, seed: int) -> Network:
    """The run's initialized network, its weights drawn from the seed's weight stream."""
    return Network.create(
        config.sizes,
        rng=weight_rng(seed),
        init=config.init,
        gain=config.gain,
        activation=config.activation,
        cost=config.cost,
        dtype=config.dtype,
        bias_gain=config.bias_gain,
        norm=config.norm,
        residual=config.residual,
    )


def train_run(
    config: RunConfig,
    seed: int,
    data: Data,
    *,
    net: Network | None = None,
    on_epoch_end: Callable[[Record], None] | None = None,
) -> RunResult:
    """Train and measure one run; a run that diverges is recorded, not raised.

    ``data`` maps data set names to their images (:func:`layerspeed.experiments.datasets.
    load_data`); ``net`` starts from a given network instead of the seed's (``train --load``);
    ``on_epoch_end`` sees each finished epoch record (progress bars).
    """
    d = data[config.dataset]
    train_x, eval_x = floats(d)
    x = train_x[: config.n_train]  # (n_train, 784)
    labels = d.train_labels[: config.n_train]
    y = one_hot(labels)  # (n_train, 10)
    net = net if net is not None else make_network(config, seed)
    if (net.norm, net.residual) != (config.norm, config.residual):
        raise BadInput(
            f"the network has norm {net.norm} and residual {str(net.residual).lower()}, the "
            f"run norm {config.norm} and residual {str(config.residual).lower()}; give the same"
        )
    measured: list[Record] = []  # every probe reading, also one sgd never recorded
    callbacks = []
    probe = None
    if config.records("speeds"):
        # When training is full-batch on the probe set, the probe reads each step's gradient.
        same = config.n_probe == config.n_train
        probe = SpeedProbe(
            x if same else x[: config.n_probe],
            y if same else y[: config.n_probe],
            eta=config.eta if config.records("diagnostics") else None,
            neurons=config.records("neurons"),
        )

        def read_probe(epoch: int, net: Network, full_batch: Any) -> Record:
            assert probe is not None
            measured.append({"epoch": epoch, **probe(epoch, net, full_batch)})
            return measured[-1]

        callbacks.append(read_probe)

    records: list[Record] = []
    status, message = "done", None
    evaluation = None
    if config.records("accuracy"):
        evaluation = (eval_x[: config.n_eval], d.eval_labels[: config.n_eval])
    if config.epochs:
        sgd_config = SGDConfig(config.epochs, config.mini_batch_size, config.eta, config.lmbda,
                               layer_lr=config.layer_lr, clip=config.clip)  # fmt: skip

        def keep(record: Record) -> None:
            records.append(record)
            if on_epoch_end is not None:
                on_epoch_end(record)

        try:
            sgd(net, x, y, sgd_config, rng=shuffle_rng(seed), evaluation=evaluation,
                callbacks=callbacks, on_epoch_end=keep, engine=config.engine)  # fmt: skip
        except DivergenceError as e:
            status, message = "diverged", str(e)
    passes = probe.backward_passes if probe is not None else None
    if probe is not None and status == "done":
        with np.errstate(over="ignore", invalid="ignore"):
            read_probe(config.epochs, net, None)  # the trained network
    if not config.epochs and measured:
        records, measured = measured, measured[:1]  # the initialized network is epoch 0
    final_probe = measured[-1] if len(measured) > len(records) else None
    acc = [r["evaluation_accuracy"] for r in records if "evaluation_accuracy" in r]
    return RunResult(
        status=status,
        message=message,
        epochs=records,
        layer_names=[f"hidden {l + 1}" for l in range(config.hidden_layers)],
        final_probe=final_probe,
        instability=instability([m["layer_speeds"] for m in measured]) if probe else None,
        final_accuracy=acc[-1] if acc and status == "done" else None,
        best_accuracy=max(acc) if acc else None,
        best_epoch=int(np.argmax(acc)) if acc else None,
        diverged_epoch=len(records) if status == "diverged" else None,
        final_training_accuracy=(
            accuracy(net, x, labels)
            if config.records("training_accuracy") and status == "done"
            else None
        ),
        extra_backward_passes=passes,
        net=net,
    )
