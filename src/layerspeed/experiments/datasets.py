"""What the runs read: the images, loaded once by the driver and shipped to the workers.

A run names its data set (``RunConfig.dataset``): ``mnist``, ``fashion-mnist`` (both real,
from :func:`layerspeed.data.load_dataset`, in the book's split) or ``synthetic``. Images
travel as :class:`DataSet`: uint8 grey levels, 8 times smaller than floats; a worker turns
them into ``k / 255`` float64 once (:func:`floats`), exactly as
:func:`layerspeed.data.load_dataset` does, so the numbers are those of the loaded data set.
:func:`with_dataset` points every run of a grid at one data set (``--dataset``).
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from layerspeed.data.synthetic import synthetic_split
from layerspeed.errors import BadInput
from layerspeed.experiments.config import RunConfig
from layerspeed.experiments.grid import Grid, Study

Array = np.ndarray
Data = dict[str, "DataSet"]  # data set name -> its images: what every run is handed


@dataclass(frozen=True)
class DataSet:
    """uint8 pixels (8x smaller to ship than floats) and labels.

    ``train_x`` (n_train, 784) and ``eval_x`` (n_eval, 784) are grey levels 0..255; the workers
    turn them into ``x / 255`` float64, exactly as :func:`layerspeed.data.load_dataset` does.
    """

    name: str  # "mnist", "fashion-mnist" or "synthetic"
    train_x: Array  # (n_train, 784) uint8
    train_labels: Array  # (n_train,) int64
    eval_x: Array  # (n_eval, 784) uint8
    eval_labels: Array  # (n_eval,) int64
    key: str = ""  # a fingerprint of the arrays, for the workers' cache

    @classmethod
    def make(
        cls, name: str, train_x: Array, train_labels: Array, eval_x: Array, eval_labels: Array
    ) -> DataSet:
        h = hashlib.sha1(name.encode())
        for a in (train_x, train_labels, eval_x, eval_labels):
            h.update(np.ascontiguousarray(a).tobytes())
        return cls(name, train_x, train_labels, eval_x, eval_labels, h.hexdigest())

    @classmethod
    def from_mnist(cls, mnist: Any, n_train: int, n_eval: int, name: str = "mnist") -> DataSet:
        """The first ``n_train`` training and ``n_eval`` validation images of a loaded data
        set in the book's split (MNIST's, or another's of the same shape, named ``name``)."""
        # The grey levels as loaded: no float64 copy of the splits is ever made here.
        return cls.make(
            name,
            mnist.training.pixels[:n_train],
            mnist.training.labels[:n_train],
            mnist.validation.pixels[:n_eval],
            mnist.validation.labels[:n_eval],
        )

    @classmethod
    def synthetic(cls, n_train: int, n_eval: int) -> DataSet:
        """The first images of :func:`layerspeed.data.synthetic.synthetic_split`."""
        return cls.make("synthetic", *synthetic_split(n_train, 0), *synthetic_split(n_eval, 1))


_FLOATS: dict[str, tuple[Array, Array]] = {}


def floats(d: DataSet) -> tuple[Array, Array]:
    """``(train_x, eval_x)`` as float64 in [0, 1], converted once per worker and data set."""
    if d.key not in _FLOATS:
        if len(_FLOATS) > 2:
            _FLOATS.clear()
        _FLOATS[d.key] = (
            np.divide(d.train_x, 255.0, dtype=np.float64),  # (n_train, 784)
            np.divide(d.eval_x, 255.0, dtype=np.float64),  # (n_eval, 784)
        )
    return _FLOATS[d.key]


def load_data(
    configs: Iterable[RunConfig],
    *,
    offline: bool = False,
    data_dir: str | os.PathLike[str] | None = None,
) -> Data:
    """The data sets the ``configs`` read, each loaded once, as large as its largest run needs.

    The real ones come from the local cache (fetched on first use); in the driver only:
    workers are handed what this returns.
    """
    needs: dict[str, tuple[int, int]] = {}
    for c in configs:
        n_train, n_eval = needs.get(c.dataset, (1, 1))
        evaluation = c.n_eval if c.records("accuracy") else 1
        needs[c.dataset] = (max(n_train, c.n_train_read), max(n_eval, evaluation))
    out: Data = {}
    for name, (n_train, n_eval) in sorted(needs.items()):
        if name == "synthetic":
            out[name] = DataSet.synthetic(n_train, n_eval)
        else:
            from layerspeed.data import load_dataset

            folder = Path(data_dir) if data_dir else None
            loaded = load_dataset(name, offline=offline, data_dir=folder)
            out[name] = DataSet.from_mnist(loaded, n_train, n_eval, name=name)
    return out


def with_dataset(grid: Grid, dataset: str | None) -> Grid:
    """``grid`` with every run on ``dataset`` (``--dataset``), over the grid's own value,
    axis or variants' values; the grid itself when ``dataset`` is None."""
    if dataset is None:
        return grid
    return replace(grid, studies=tuple(_study_on(s, dataset) for s in grid.studies))


def _study_on(study: Study, dataset: str) -> Study:
    axes = {k: v for k, v in study.axes.items() if k != "dataset"}
    if not axes:
        raise BadInput(
            f"{study.name}: --dataset {dataset} replaces the grid's only axis, dataset; "
            "drop --dataset, or add another axis to the grid"
        )
    quick = {k: v for k, v in study.quick.items() if k != "dataset"}
    variants = {  # a variant's own dataset would override --dataset's in [base]
        name: {k: v for k, v in values.items() if k != "dataset"}
        for name, values in study.variants.items()
    }
    return replace(
        study, base={**study.base, "dataset": dataset}, axes=axes, quick=quick, variants=variants
    )
