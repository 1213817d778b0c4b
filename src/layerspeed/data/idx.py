"""A strict reader for the IDX files that MNIST is distributed in.

The format (LeCun et al., http://yann.lecun.com/exdb/mnist/): a big-endian 4-byte magic
number whose third byte is the element type (0x08 = unsigned byte) and whose fourth byte
is the number of dimensions, then one big-endian uint32 per dimension, then the elements.
MNIST images have magic 2051 (0x00000803: uint8, 3 dimensions, ``(n, 28, 28)``) and labels
2049 (0x00000801: uint8, 1 dimension, ``(n,)``).

Every check runs before a byte of the payload is trusted: magic number, number and size of
the dimensions, and the exact file length. Files may be raw or gzip-compressed (``.gz``).
Any problem raises :class:`~layerspeed.errors.DataError` naming the file and what is wrong.
"""

from __future__ import annotations

import gzip
import math
import zlib
from pathlib import Path

import numpy as np

from layerspeed.errors import DataError

IMAGES_MAGIC = 2051  # 0x00000803: unsigned byte, 3 dimensions
LABELS_MAGIC = 2049  # 0x00000801: unsigned byte, 1 dimension
MAGIC_NDIM = {IMAGES_MAGIC: 3, LABELS_MAGIC: 1}

IMAGE_ROWS = 28
IMAGE_COLS = 28


def read_bytes(path: str | Path) -> bytes:
    """Return the (decompressed, if the name ends in ``.gz``) contents of ``path``.

    Raises
    ------
    DataError
        If the file cannot be read or is not valid gzip.
    """
    path = Path(path)
    try:
        if path.suffix == ".gz":
            with gzip.open(path, "rb") as f:
                return f.read()
        return path.read_bytes()
    except (OSError, EOFError, zlib.error) as e:
        # gzip.BadGzipFile is an OSError; a cut-off .gz raises EOFError.
        raise DataError(f"{path}: cannot read: {e}") from None


def parse_idx(
    data: bytes,
    *,
    name: str = "<bytes>",
    expected_magic: int | None = None,
    expected_shape: tuple[int | None, ...] | None = None,
) -> np.ndarray:
    """Parse the bytes of an unsigned-byte IDX file into an array.

    Parameters
    ----------
    data : bytes
        The whole (uncompressed) file.
    name : str
        What to call the file in error messages.
    expected_magic : int, optional
        Require this magic number (2051 images, 2049 labels). Default: either.
    expected_shape : tuple of (int or None), optional
        Require these dimensions; ``None`` matches any size, e.g. ``(None, 28, 28)``.

    Returns
    -------
    numpy.ndarray of uint8, shape given by the header
        A fresh (writable) array, e.g. ``(n, 28, 28)`` for images, ``(n,)`` for labels.

    Raises
    ------
    DataError
        Wrong magic number, wrong dimensions, or a length that does not match the header.
    """
    if len(data) < 4:
        raise DataError(f"{name}: truncated: expected at least 4 bytes got {len(data)}")
    magic = int.from_bytes(data[:4], "big")
    allowed = (expected_magic,) if expected_magic is not None else tuple(MAGIC_NDIM)
    if magic not in allowed:
        want = " or ".join(str(m) for m in allowed)
        raise DataError(f"{name}: wrong magic number {magic} (expected {want}); not an IDX file?")
    ndim = MAGIC_NDIM[magic]
    header_len = 4 + 4 * ndim
    if len(data) < header_len:
        raise DataError(f"{name}: truncated: expected at least {header_len} bytes got {len(data)}")
    dims = tuple(int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    if expected_shape is not None and not _shape_matches(dims, expected_shape):
        want_text = "(" + ", ".join("n" if d is None else str(d) for d in expected_shape) + ")"
        raise DataError(f"{name}: wrong dimensions {dims}, expected {want_text}")
    expected_len = header_len + math.prod(dims)
    if len(data) < expected_len:
        raise DataError(
            f"{name}: truncated: expected {expected_len} bytes got {len(data)} "
            f"(header says dimensions {dims})"
        )
    if len(data) > expected_len:
        raise DataError(
            f"{name}: too long: expected {expected_len} bytes got {len(data)} "
            f"(header says dimensions {dims})"
        )
    return np.frombuffer(data, dtype=np.uint8, offset=header_len).reshape(dims).copy()


def _shape_matches(dims: tuple[int, ...], expected: tuple[int | None, ...]) -> bool:
    """``dims`` has ``expected``'s length and agrees with it wherever it is not None."""
    return len(dims) == len(expected) and all(
        want is None or want == got for want, got in zip(expected, dims, strict=True)
    )


def read_idx(
    path: str | Path,
    *,
    expected_magic: int | None = None,
    expected_shape: tuple[int | None, ...] | None = None,
) -> np.ndarray:
    """Read a raw or ``.gz`` IDX file of unsigned bytes; see :func:`parse_idx`.

    Returns
    -------
    numpy.ndarray of uint8
        Shape as the header gives it, e.g. ``(n, 28, 28)`` or ``(n,)``.
    """
    return parse_idx(
        read_bytes(path),
        name=str(path),
        expected_magic=expected_magic,
        expected_shape=expected_shape,
    )


def read_images(path: str | Path) -> np.ndarray:
    """Read an MNIST image file; return uint8 pixels of shape ``(n, 28, 28)``."""
    return read_idx(
        path, expected_magic=IMAGES_MAGIC, expected_shape=(None, IMAGE_ROWS, IMAGE_COLS)
    )


def read_labels(path: str | Path, *, n_classes: int = 10) -> np.ndarray:
    """Read an MNIST label file; return uint8 labels of shape ``(n,)``, each < ``n_classes``."""
    labels = read_idx(path, expected_magic=LABELS_MAGIC, expected_shape=(None,))
    if labels.size and int(labels.max()) >= n_classes:
        raise DataError(
            f"{path}: label {int(labels.max())} out of range (expected 0..{n_classes - 1})"
        )
    return labels
