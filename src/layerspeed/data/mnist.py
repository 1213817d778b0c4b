"""Load MNIST (or Fashion-MNIST) in the book's 50,000 / 10,000 / 10,000 split, from a
verified cache.

Nielsen's chapter 5 trains on the first 50,000 of the 60,000 MNIST training images,
keeps the last 10,000 as validation data and tests on the 10,000 ``t10k`` images; pixels
are grey levels scaled to ``[0, 1]``. :func:`load_mnist` returns exactly that, and
:func:`load_dataset` the same split of any data set of :mod:`layerspeed.data.catalog`
(Fashion-MNIST has the same shapes and sizes, so its split is the same: the first 50,000
training images train, the last 10,000 validate, its 10,000 test images test).

The four raw IDX files are obtained once and kept in the data set's cache folder by
:func:`~layerspeed.data.fetch.fetch_dataset` (from the sources of
:mod:`layerspeed.data.catalog`, each file checked against its sha256). This module parses
them, and keeps the parsed uint8 arrays in an uncompressed ``.npz`` next to the raw files,
with a small JSON stamp holding its sha256; a later load reads only that (well under a
second) and rebuilds it whenever it is missing or fails its check. Both are written through
:func:`layerspeed.store.atomic_writer`.
"""

from __future__ import annotations

import functools
import hashlib
import io
import json
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from layerspeed.data.catalog import SPECS, DataSpec, spec
from layerspeed.data.fetch import (
    Fetched,
    data_dir,
    dataset_dir,
    fetch_dataset,
    fetch_mnist,
    resolve_dir,
    say,
)
from layerspeed.data.idx import parse_idx, read_images, read_labels
from layerspeed.data.sources import FILES, GZ_SHA256, MIRRORS, SHA256, find_file
from layerspeed.errors import BadInput, DataError
from layerspeed.store import atomic_writer

N_VALIDATION = 10_000  # the book keeps the last 10,000 training images for validation
N_PIXELS = 784  # 28 * 28

PARSED_KEYS = ("train_x", "train_labels", "test_x", "test_labels")


# --------------------------------------------------------------------------- result types


@dataclass(frozen=True)
class Split:
    """One part of the data set.

    The grey levels are kept as they are in the files, one byte a pixel; the float64 pixels
    ``x`` are made from them on first use and kept. Code that can read grey levels (the fast
    path's :func:`~layerspeed.nn.fast.sparse_rows`, the experiments' data sets) reads
    ``pixels`` and never pays for ``x``: for the 50,000 training images that is 39 MB
    instead of 314 MB.

    Attributes
    ----------
    pixels : numpy.ndarray of uint8, shape (n, 784)
        Grey levels 0..255, one image per row.
    labels : numpy.ndarray of int64, shape (n,)
        The digit shown, 0..9.
    x : numpy.ndarray of float64, shape (n, 784)
        Pixels scaled to ``[0, 1]``: exactly ``np.float64(k) / 255.0`` for grey level ``k``.
    """

    pixels: np.ndarray
    labels: np.ndarray

    @functools.cached_property
    def x(self) -> np.ndarray:
        # One pass, straight into float64: about 4x faster than astype then /= for 70k images.
        return np.divide(self.pixels, 255.0, dtype=np.float64)  # (n, 784)

    def __len__(self) -> int:
        return int(self.labels.shape[0])


@dataclass(frozen=True)
class MNIST:
    """The book's split: 50,000 training, 10,000 validation, 10,000 test images."""

    training: Split
    validation: Split
    test: Split


# ------------------------------------------------------------------- the parsed cache


def _parsed_key(data: DataSpec = SPECS["mnist"]) -> str:
    """Names the parsed cache after the raw files' checksums, so new files mean a new cache."""
    joined = "".join(data.sha256[name] for name in FILES)
    return hashlib.sha256(joined.encode()).hexdigest()[:16]


def _parsed_paths(cache: Path, data: DataSpec = SPECS["mnist"]) -> tuple[Path, Path]:
    """``<name>-uint8-<key>.npz`` and its ``.json`` stamp in the data set's cache folder."""
    stem = f"{data.parsed_stem}-uint8-{_parsed_key(data)}"
    return cache / f"{stem}.npz", cache / f"{stem}.json"


def _check_parsed(arrays: dict[str, np.ndarray]) -> bool:
    """Shapes and dtypes of the parsed arrays are what :func:`_parse_raw` writes."""
    if set(arrays) != set(PARSED_KEYS):
        return False
    x, y, tx, ty = (arrays[k] for k in PARSED_KEYS)
    return (
        all(a.dtype == np.uint8 for a in (x, y, tx, ty))
        and x.ndim == 2
        and tx.ndim == 2
        and x.shape[1] == tx.shape[1] == N_PIXELS
        and y.shape == (x.shape[0],)
        and ty.shape == (tx.shape[0],)
    )


def _load_parsed(cache: Path, data: DataSpec = SPECS["mnist"]) -> dict[str, np.ndarray] | None:
    """The parsed arrays if the parsed cache exists and passes its checks, else None."""
    npz, stamp = _parsed_paths(cache, data)
    if not npz.is_file() or not stamp.is_file():
        return None
    try:
        meta = json.loads(stamp.read_text())
        body = npz.read_bytes()
        if len(body) != meta["size"] or hashlib.sha256(body).hexdigest() != meta["sha256"]:
            raise ValueError("checksum mismatch")
        with np.load(io.BytesIO(body), allow_pickle=False) as f:
            arrays = {k: f[k] for k in f.files}
        if not _check_parsed(arrays):
            raise ValueError("unexpected arrays")
    except (OSError, ValueError, KeyError, TypeError, zlib.error) as e:
        say(f"the parsed cache {npz} is damaged ({e}); rebuilding it from the raw files")
        return None
    return arrays


def _save_parsed(
    cache: Path, arrays: dict[str, np.ndarray], data: DataSpec = SPECS["mnist"]
) -> None:
    """Write the parsed cache, then its stamp, each atomically. A failure only costs speed."""
    npz, stamp = _parsed_paths(cache, data)
    buf = io.BytesIO()
    np.savez(buf, **arrays)  # type: ignore[arg-type]  # numpy's stub: allow_pickle
    body = buf.getvalue()
    raw = dict(data.sha256)
    meta = {"sha256": hashlib.sha256(body).hexdigest(), "size": len(body), "raw": raw}
    try:
        for path, payload in ((npz, body), (stamp, json.dumps(meta, indent=1).encode())):
            with atomic_writer(path, binary=True) as out:
                out.write(payload)
    except OSError as e:
        say(f"cannot write the parsed cache {npz} ({e.strerror or e}); the next load parses again")


def _parse_raw(paths: dict[str, Path]) -> dict[str, np.ndarray]:
    """Read the four raw files into flat uint8 arrays (images ``(n, 784)``, labels ``(n,)``)."""
    train_x = read_images(paths[FILES[0]])
    train_labels = read_labels(paths[FILES[1]])
    test_x = read_images(paths[FILES[2]])
    test_labels = read_labels(paths[FILES[3]])
    for x, labels, what in ((train_x, train_labels, "training"), (test_x, test_labels, "test")):
        if x.shape[0] != labels.shape[0]:
            raise DataError(
                f"the {what} files disagree: {x.shape[0]} images but {labels.shape[0]} labels"
            )
    return {
        "train_x": train_x.reshape(train_x.shape[0], N_PIXELS),
        "train_labels": train_labels,
        "test_x": test_x.reshape(test_x.shape[0], N_PIXELS),
        "test_labels": test_labels,
    }


def _to_split(x: np.ndarray, labels: np.ndarray) -> Split:
    """uint8 ``(n, 784)`` pixels and labels -> a :class:`Split` (float64 ``x`` made on use)."""
    return Split(pixels=x, labels=labels.astype(np.int64))


def split_book(arrays: dict[str, np.ndarray], *, n_validation: int = N_VALIDATION) -> MNIST:
    """The book's split of the parsed arrays: the training set's last ``n_validation``
    images become validation data, the rest training data; ``t10k`` is the test set.

    Parameters
    ----------
    arrays : dict of str to numpy.ndarray
        ``train_x`` (60000, 784) uint8, ``train_labels`` (60000,), ``test_x``, ``test_labels``.
    n_validation : int
        How many training images to hold out (10,000 in the book).
    """
    train_x, train_labels = arrays["train_x"], arrays["train_labels"]
    n_training = train_x.shape[0] - n_validation
    if n_training <= 0 or n_validation < 0:
        raise DataError(f"cannot hold out {n_validation} validation images from {train_x.shape[0]}")
    return MNIST(
        training=_to_split(train_x[:n_training], train_labels[:n_training]),
        validation=_to_split(train_x[n_training:], train_labels[n_training:]),
        test=_to_split(arrays["test_x"], arrays["test_labels"]),
    )


def load_mnist(
    *,
    offline: bool = False,
    data_dir: str | Path | None = None,
    source_dir: str | Path | None = None,
) -> MNIST:
    """Load MNIST in the book's split, fetching the files first if needed
    (:func:`load_dataset` of ``"mnist"``)."""
    return load_dataset("mnist", offline=offline, data_dir=data_dir, source_dir=source_dir)


def load_dataset(
    name: str,
    *,
    offline: bool = False,
    data_dir: str | Path | None = None,
    source_dir: str | Path | None = None,
) -> MNIST:
    """Load a data set in the book's split, fetching its files first if needed.

    Parameters
    ----------
    name : str
        ``"mnist"`` or ``"fashion-mnist"``.
    offline : bool
        Never touch the network (see :func:`~layerspeed.data.fetch.fetch_dataset`).
    data_dir : str or Path, optional
        The cache folder; default :func:`data_dir` (the data set is in its
        :func:`~layerspeed.data.fetch.dataset_dir`).
    source_dir : str or Path, optional
        A folder with the four files, tried before the network.

    Returns
    -------
    MNIST
        ``training`` (50000, 784), ``validation`` (10000, 784), ``test`` (10000, 784);
        ``x`` float64 in ``[0, 1]`` (``pixels`` the uint8 grey levels), labels int64 in 0..9.
    """
    data = spec(name)
    cache = dataset_dir(name, data_dir)
    arrays = _load_parsed(cache, data)
    if arrays is None:
        root = resolve_dir(data_dir)
        fetched = fetch_dataset(name, offline=offline, source_dir=source_dir, data_dir=root)
        arrays = _parse_raw(fetched.paths)
        _save_parsed(cache, arrays, data)
    return split_book(arrays, n_validation=N_VALIDATION)


def one_hot(labels: np.ndarray, n_classes: int = 10) -> np.ndarray:
    """Labels as one-hot rows, the book's vectorized targets.

    Parameters
    ----------
    labels : numpy.ndarray of int, shape (n,)
        Each in ``0..n_classes - 1``.
    n_classes : int

    Returns
    -------
    numpy.ndarray of float64, shape (n, n_classes)
        Row ``i`` is 1.0 at column ``labels[i]``, 0.0 elsewhere.
    """
    labels = np.asarray(labels)
    if labels.ndim != 1 or not np.issubdtype(labels.dtype, np.integer):
        raise BadInput(f"labels must be a 1-D integer array, got {labels.dtype} {labels.shape}")
    if labels.size and (labels.min() < 0 or labels.max() >= n_classes):
        raise BadInput(f"labels must lie in 0..{n_classes - 1}, got {labels.min()}..{labels.max()}")
    out = np.zeros((labels.shape[0], n_classes), dtype=np.float64)  # (n, n_classes)
    out[np.arange(labels.shape[0]), labels] = 1.0
    return out


__all__ = [
    "FILES",
    "GZ_SHA256",
    "MIRRORS",
    "MNIST",
    "SHA256",
    "Fetched",
    "Split",
    "data_dir",
    "fetch_dataset",
    "fetch_mnist",
    "find_file",
    "load_dataset",
    "load_mnist",
    "one_hot",
    "parse_idx",
    "split_book",
]
