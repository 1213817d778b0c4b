"""Shared test fixtures, and MNIST for the tests that need the real data.

Tests that read the real MNIST carry ``@pytest.mark.mnist`` (or a module's ``pytestmark``),
those that read Fashion-MNIST ``@pytest.mark.fashion``. They use the cache that ``make test``
fills first (``layerspeed fetch``, ``layerspeed fetch --dataset fashion-mnist``, visibly);
with no cache they skip, with one reason, and they run offline, so no test downloads
mid-suite.
"""

from __future__ import annotations

import functools
import gzip
import os
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest


def idx_bytes(array: np.ndarray, magic: int | None = None) -> bytes:
    """The IDX encoding of a uint8 array: big-endian magic, dimensions, then the bytes."""
    array = np.asarray(array, dtype=np.uint8)
    magic = magic if magic is not None else 0x0800 + array.ndim
    header = magic.to_bytes(4, "big") + b"".join(d.to_bytes(4, "big") for d in array.shape)
    return header + array.tobytes()


@pytest.fixture
def write_idx(tmp_path: Path) -> Callable[..., Path]:
    """``write_idx(name, array, magic=None, gz=False, folder=tmp_path) -> Path``."""

    def write(
        name: str,
        array: np.ndarray,
        magic: int | None = None,
        gz: bool = False,
        folder: Path = tmp_path,
    ) -> Path:
        folder.mkdir(parents=True, exist_ok=True)
        data = idx_bytes(array, magic)
        path = folder / (name + ".gz" if gz else name)
        path.write_bytes(gzip.compress(data) if gz else data)
        return path

    return write


# marker -> the real data set its tests read
REAL_DATA = {"mnist": "mnist", "fashion": "fashion-mnist"}


@functools.cache
def real_data_missing(dataset: str = "mnist") -> str | None:
    """Why a real data set cannot be used (not in the cache), or None when it can."""
    from layerspeed.data.catalog import title
    from layerspeed.data.fetch import dataset_dir, fetch_dataset
    from layerspeed.errors import LayerspeedError

    if os.environ.get("LAYERSPEED_SKIP_REAL_DATA") == "1":
        return "LAYERSPEED_SKIP_REAL_DATA=1"
    try:
        fetch_dataset(dataset, offline=True, progress=False)
    except LayerspeedError:
        option = "" if dataset == "mnist" else f" --dataset {dataset}"
        return (
            f"{title(dataset)} is not in the cache ({dataset_dir(dataset)}) and tests do not "
            f"download it: run `layerspeed fetch{option}` (make test does it first)"
        )
    return None


def mnist_missing() -> str | None:
    """Why the real MNIST cannot be used (not in the cache), or None when it can."""
    return real_data_missing("mnist")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "mnist: needs the real MNIST in the cache")
    config.addinivalue_line("markers", "fashion: needs the real Fashion-MNIST in the cache")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for marker, dataset in REAL_DATA.items():
        marked = [item for item in items if item.get_closest_marker(marker)]
        if marked and (reason := real_data_missing(dataset)):
            for item in marked:
                item.add_marker(pytest.mark.skip(reason=reason))


@pytest.fixture(autouse=True)
def _offline_for_real_data(request: pytest.FixtureRequest) -> Iterator[None]:
    """A test on the real MNIST reads the cache only: a download would be refused."""
    if not any(request.node.get_closest_marker(marker) for marker in REAL_DATA):
        yield
        return
    mp = pytest.MonkeyPatch()
    mp.setenv("LAYERSPEED_OFFLINE", "1")
    try:
        yield
    finally:
        mp.undo()
