"""Shared test fixtures."""

from __future__ import annotations

import gzip
from collections.abc import Callable
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
