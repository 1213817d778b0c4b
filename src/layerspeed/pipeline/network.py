"""One network: ``layerspeed train`` and ``layerspeed speeds``."""

from __future__ import annotations

import datetime as _dt
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from layerspeed.errors import BadInput, LayerspeedError
from layerspeed.experiments.config import RunConfig, check_value
from layerspeed.experiments.datasets import load_data
from layerspeed.experiments.run import RunResult, train_run
from layerspeed.nn import Network
from layerspeed.store import check_writable, write_json_atomic


def _loaded(load_path: Path, dtype: str = "float64") -> Network:
    net = Network.load(load_path).astype(dtype)
    check_value("sizes", net.sizes, where=f"the network in {load_path}")
    return net


def network_speeds(
    *,
    load_path: Path | None,
    sizes: tuple[int, ...] | None,
    seed: int = 0,
    init: str = "default",
    activation: str = "sigmoid",
    cost: str = "cross-entropy",
    n_probe: int = 1000,
    offline: bool = False,
    dataset: str = "mnist",
) -> dict[str, Any]:
    """The speeds of one network (saved, or fresh from ``seed``) on the first ``n_probe``
    training images: what ``layerspeed speeds`` prints."""
    net = _loaded(load_path) if load_path is not None else None  # read once
    config = RunConfig(
        net.sizes if net is not None else sizes,  # type: ignore[arg-type]
        init=init,
        activation=net.activation if net is not None else activation,
        cost=net.cost if net is not None else cost,
        epochs=0, n_train=n_probe, n_probe=n_probe, record=("speeds", "neurons"), dataset=dataset,
        norm=net.norm if net is not None else "none", residual=net is not None and net.residual,
    )  # fmt: skip
    result = train_run(config, seed, load_data([config], offline=offline), net=net)
    return {
        "sizes": list(config.sizes),
        "source": str(load_path) if load_path else {"seed": seed, "init": init},
        "n_probe": n_probe,
        "dataset": dataset,
        **{k: v for k, v in result.epochs[0].items() if k != "epoch"},
    }


def train_network(
    config: RunConfig,
    seed: int,
    *,
    load_path: Path | None = None,
    save_path: Path | None = None,
    history_path: Path | None = None,
    offline: bool = False,
    on_epoch_end: Callable[[dict[str, Any]], None] | None = None,
) -> RunResult:
    """``layerspeed train``: one run, the network saved and its record written as a run
    folder's ``result.json`` is. Outputs are checked before training and written after; one
    that fails then is kept in the working folder or the data cache, and the error says
    where."""
    for label, path in (("--save", save_path), ("--history", history_path)):
        if path is not None:
            check_writable(path, label=label)
    if save_path is not None and history_path is not None and _same_file(save_path, history_path):
        raise BadInput(f"--save and --history both name {save_path}; give two different files")
    net = _loaded(load_path, config.dtype) if load_path is not None else None
    data = load_data([config], offline=offline)
    result = train_run(config, seed, data, net=net, on_epoch_end=on_epoch_end)
    if result.status != "done":
        raise LayerspeedError(result.message or "training diverged")
    lost = []
    if save_path is not None and result.net is not None:
        lost += _write_or_keep("--save", save_path, result.net.save, "network")
    if history_path is not None:
        body = result.to_dict(config, seed, "train") | {
            "load": str(load_path) if load_path else None
        }
        lost += _write_or_keep(
            "--history", history_path, lambda p: write_json_atomic(p, body), "history"
        )
    if lost:
        raise LayerspeedError("; ".join(lost))
    return result


def _same_file(a: Path, b: Path) -> bool:
    """Whether two output paths name one file, through symlinks (and hard links)."""
    if os.path.realpath(a) == os.path.realpath(b):
        return True
    try:
        return os.path.samefile(a, b)
    except OSError:  # one of them does not exist yet
        return False


def _write_or_keep(label: str, path: Path, write: Callable[[Path], None], what: str) -> list[str]:
    """``write(path)``; if that fails after the work is done, write the work to the working
    folder or, failing that, beside the data cache. One phrase per failure, saying where."""
    try:
        write(path)
        return []
    except (OSError, LayerspeedError) as e:
        reason = (e.strerror if isinstance(e, OSError) else None) or str(e)
    from layerspeed.data import data_dir

    name = f"layerspeed-{what}-{_dt.datetime.now():%Y%m%d-%H%M%S-%f}.json"
    for folder in (Path.cwd, data_dir):
        try:
            kept = folder() / name
            write(kept)
        except (OSError, LayerspeedError):
            continue
        return [f"could not write {label} {path} ({reason}); the {what} is kept in {kept}"]
    return [f"could not write {label} {path} ({reason}), nor keep the {what} anywhere"]
