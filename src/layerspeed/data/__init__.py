"""The real data sets for the chapter: a strict IDX reader, a verified fetch-and-cache, the
book's split. MNIST, and Fashion-MNIST beside it (:mod:`layerspeed.data.catalog`).

``load_mnist()`` (or ``load_dataset("fashion-mnist")``) is all most code needs; it fetches
the files on first use.
"""

from __future__ import annotations

from layerspeed.data.idx import read_idx
from layerspeed.data.mnist import (
    MNIST,
    Fetched,
    Split,
    data_dir,
    fetch_dataset,
    fetch_mnist,
    load_dataset,
    load_mnist,
    one_hot,
)

__all__ = [
    "MNIST",
    "Fetched",
    "Split",
    "data_dir",
    "fetch_dataset",
    "fetch_mnist",
    "load_dataset",
    "load_mnist",
    "one_hot",
    "read_idx",
]
