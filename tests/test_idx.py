"""The IDX reader on small synthetic files: every check fires before data is trusted."""

from __future__ import annotations

import gzip

import numpy as np
import pytest

from conftest import idx_bytes
from layerspeed.data import read_idx
from layerspeed.data.idx import parse_idx, read_images, read_labels
from layerspeed.errors import DataError

IMAGES = np.arange(2 * 28 * 28, dtype=np.uint8).reshape(2, 28, 28)  # wraps mod 256
LABELS = np.array([3, 1, 4, 1, 5], dtype=np.uint8)


@pytest.mark.parametrize("gz", [False, True])
def test_reads_images_raw_and_gz(write_idx, gz):
    path = write_idx("train-images-idx3-ubyte", IMAGES, gz=gz)
    got = read_images(path)
    assert got.dtype == np.uint8
    np.testing.assert_array_equal(got, IMAGES)
    np.testing.assert_array_equal(read_idx(path), IMAGES)


@pytest.mark.parametrize("gz", [False, True])
def test_reads_labels_raw_and_gz(write_idx, gz):
    path = write_idx("train-labels-idx1-ubyte", LABELS, gz=gz)
    np.testing.assert_array_equal(read_labels(path), LABELS)


def test_header_worked_by_hand():
    # magic 0x00000801 = 2049, one dimension of size 3, then the three labels.
    data = bytes([0, 0, 8, 1, 0, 0, 0, 3, 7, 8, 9])
    np.testing.assert_array_equal(parse_idx(data), [7, 8, 9])


def test_wrong_magic_names_file_and_numbers(write_idx):
    path = write_idx("bad", LABELS, magic=2050)
    with pytest.raises(DataError, match=r"bad: wrong magic number 2050"):
        read_idx(path)


def test_labels_file_given_as_images(write_idx):
    path = write_idx("labels", LABELS)
    with pytest.raises(DataError, match=r"wrong magic number 2049 \(expected 2051\)"):
        read_images(path)


@pytest.mark.parametrize("gz", [False, True])
def test_truncated(tmp_path, gz):
    data = idx_bytes(IMAGES)[:-10]
    path = tmp_path / ("cut.gz" if gz else "cut")
    path.write_bytes(gzip.compress(data) if gz else data)
    n = 16 + IMAGES.size
    with pytest.raises(DataError, match=rf"cut(\.gz)?: truncated: expected {n} bytes got {n - 10}"):
        read_idx(path)


def test_truncated_header(tmp_path):
    path = tmp_path / "short"
    path.write_bytes(idx_bytes(IMAGES)[:9])
    with pytest.raises(DataError, match="short: truncated: expected at least 16 bytes got 9"):
        read_idx(path)


def test_too_long(tmp_path):
    path = tmp_path / "long"
    path.write_bytes(idx_bytes(LABELS) + b"\x00\x00")
    with pytest.raises(DataError, match="long: too long: expected 13 bytes got 15"):
        read_idx(path)


def test_wrong_dimensions(write_idx):
    path = write_idx("small-images", np.zeros((2, 27, 28), dtype=np.uint8))
    with pytest.raises(DataError, match=r"small-images: wrong dimensions \(2, 27, 28\)"):
        read_images(path)


def test_label_out_of_range(write_idx):
    path = write_idx("labels", np.array([1, 10], dtype=np.uint8))
    with pytest.raises(DataError, match="label 10 out of range"):
        read_labels(path)


def test_not_gzip(tmp_path):
    path = tmp_path / "fake.gz"
    path.write_bytes(idx_bytes(LABELS))
    with pytest.raises(DataError, match="fake.gz: cannot read"):
        read_idx(path)


def test_missing_file(tmp_path):
    with pytest.raises(DataError, match="nothing: cannot read"):
        read_idx(tmp_path / "nothing")
