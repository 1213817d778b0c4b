"""Fashion-MNIST beside MNIST: its fetch (a folder, the web, Debian's package), its cache, its
split, ``--dataset`` on the commands, and the chapter reproduced on it.

All but the tests marked ``fashion`` use tiny synthetic IDX files whose sha256s are patched
into Fashion-MNIST's checksum table, with every network function replaced by one that fails
the test; the Debian source unpacks a ``.deb`` built here with ``dpkg-deb -b``.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import shutil
import subprocess
import tomllib
import urllib.error
from pathlib import Path

import numpy as np
import pytest

from conftest import idx_bytes
from layerspeed.cli import main
from layerspeed.data import debian, fetch_dataset, load_dataset, load_mnist, sources
from layerspeed.data import mnist as m
from layerspeed.data.catalog import SPECS
from layerspeed.errors import BadInput, DataError
from layerspeed.experiments.config import RunConfig
from layerspeed.experiments.datasets import load_data, with_dataset
from layerspeed.experiments.grid import parse_grid

FASHION = SPECS["fashion-mnist"]
DEB_DIR = "usr/share/datasets/fashion-mnist"
RNG = np.random.default_rng(1)
ARRAYS = {
    "train-images-idx3-ubyte": RNG.integers(0, 256, (12, 28, 28), dtype=np.uint8),
    "train-labels-idx1-ubyte": RNG.integers(0, 10, 12, dtype=np.uint8),
    "t10k-images-idx3-ubyte": RNG.integers(0, 256, (3, 28, 28), dtype=np.uint8),
    "t10k-labels-idx1-ubyte": RNG.integers(0, 10, 3, dtype=np.uint8),
}
RAW = {name: idx_bytes(a) for name, a in ARRAYS.items()}
REAL_APT_DOWNLOAD = debian._apt_download


def network_called(*args, **kwargs):
    pytest.fail("the network was touched")


@pytest.fixture
def cache(tmp_path, monkeypatch) -> Path:
    """An empty cache root, synthetic Fashion-MNIST checksums, and no network at all."""
    root = tmp_path / "cache"
    monkeypatch.setenv("LAYERSPEED_DATA", str(root))
    monkeypatch.delenv("LAYERSPEED_OFFLINE", raising=False)
    for name, data in RAW.items():
        monkeypatch.setitem(FASHION.sha256, name, hashlib.sha256(data).hexdigest())
    monkeypatch.setattr(sources, "_urlopen", network_called)
    monkeypatch.setattr(sources, "_npm_pack", network_called)
    monkeypatch.setattr(debian, "_apt_download", network_called)
    monkeypatch.setattr("urllib.request.urlopen", network_called)
    return root


@pytest.fixture
def unreachable(monkeypatch):
    """Web sources that cannot be resolved, as on a machine that reaches only registries."""

    def urlopen(url, timeout):
        raise urllib.error.URLError("Name or service not known")

    monkeypatch.setattr(sources, "_urlopen", urlopen)


def write_source(folder: Path, *, gz: bool = False) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, data in RAW.items():
        (folder / (f"{name}.gz" if gz else name)).write_bytes(gzip.compress(data) if gz else data)
    return folder


def fake_deb(tmp_path: Path, files: dict[str, bytes], member_dir: str = DEB_DIR) -> Path:
    """A real .deb, built with ``dpkg-deb -b``, holding ``files`` gzipped in ``member_dir``."""
    if shutil.which("dpkg-deb") is None:
        pytest.skip("dpkg-deb is not on PATH (not a Debian machine)")
    tree = tmp_path / "deb-tree"
    (tree / "DEBIAN").mkdir(parents=True)
    (tree / "DEBIAN" / "control").write_text(
        "Package: dataset-fashion-mnist\nVersion: 1.0\nArchitecture: all\n"
        "Maintainer: test <test@example.org>\nDescription: a fake for the tests\n"
    )
    folder = tree / member_dir
    folder.mkdir(parents=True)
    for name, data in files.items():
        (folder / f"{name}.gz").write_bytes(gzip.compress(data))
    deb = tmp_path / "dataset-fashion-mnist_1.0_all.deb"
    subprocess.run(["dpkg-deb", "-b", str(tree), str(deb)], check=True, capture_output=True)
    return deb


def apt_gives(deb: Path):
    """An ``_apt_download`` that 'downloads' ``deb`` into the folder, recording the calls."""
    calls: list[str] = []

    def download(package: str, folder: Path) -> Path:
        calls.append(package)
        return Path(shutil.copy(deb, folder))

    return download, calls


# ------------------------------------------------------------------------------ fetching


def test_a_folder_fills_its_own_cache_folder_beside_mnist(cache, tmp_path):
    src = write_source(tmp_path / "src", gz=True)
    fetched = fetch_dataset("fashion-mnist", source_dir=src)
    assert fetched.directory == cache / "fashion-mnist"
    assert set(fetched.sources.values()) == {f"folder {src}"}
    for name, data in RAW.items():
        assert (cache / "fashion-mnist" / name).read_bytes() == data
    # MNIST's files are the cache folder's own: none of them was written.
    assert sorted(p.name for p in cache.iterdir()) == ["fashion-mnist"]
    # The second time the cache answers.
    assert set(fetch_dataset("fashion-mnist").sources.values()) == {"cache"}


def test_the_publishers_download_checks_the_raw_files(cache, monkeypatch):
    """The web source: no .gz checksum of our own for Fashion-MNIST (Debian's .gz differ
    from the publisher's), so the raw file's sha256 decides; a wrong one is refused."""
    import io

    served = {f"{FASHION.mirrors[0]}{n}.gz": gzip.compress(d) for n, d in RAW.items()}
    bad = f"{FASHION.mirrors[0]}t10k-labels-idx1-ubyte.gz"
    served[bad] = gzip.compress(b"not the labels")

    def urlopen(url, timeout):
        if url not in served:  # the second site: unreachable
            raise urllib.error.URLError("Name or service not known")
        return io.BytesIO(served[url])

    monkeypatch.setattr(sources, "_urlopen", urlopen)

    def no_apt(package, folder):
        raise DataError("apt-get not found on PATH")

    monkeypatch.setattr(debian, "_apt_download", no_apt)
    with pytest.raises(DataError) as e:
        fetch_dataset("fashion-mnist", progress=False)
    assert f"{bad}: sha256 mismatch" in str(e.value)
    assert "the Fashion-MNIST files t10k-labels-idx1-ubyte" in str(e.value)
    served[bad] = gzip.compress(RAW["t10k-labels-idx1-ubyte"])
    fetched = fetch_dataset("fashion-mnist", progress=False)
    assert fetched.sources["t10k-labels-idx1-ubyte"] == FASHION.mirrors[0]
    assert fetched.sources["train-images-idx3-ubyte"] == "cache"


def test_debian_package_is_downloaded_and_unpacked(cache, tmp_path, monkeypatch, unreachable):
    deb = fake_deb(tmp_path, RAW)
    download, calls = apt_gives(deb)
    monkeypatch.setattr(debian, "_apt_download", download)
    fetched = fetch_dataset("fashion-mnist", progress=False)
    assert calls == ["dataset-fashion-mnist"]
    assert set(fetched.sources.values()) == {"debian dataset-fashion-mnist"}
    for name, data in RAW.items():
        assert fetched.paths[name].read_bytes() == data
    # Only the four files, nothing of the unpacked package, is left in the cache.
    assert sorted(p.name for p in (cache / "fashion-mnist").iterdir()) == sorted(RAW)


def test_debian_package_with_a_bad_file_installs_nothing_of_it(
    cache, tmp_path, monkeypatch, unreachable
):
    bad = dict(RAW)
    bad["t10k-labels-idx1-ubyte"] = RAW["t10k-labels-idx1-ubyte"][:-1] + b"\x09"
    monkeypatch.setattr(debian, "_apt_download", apt_gives(fake_deb(tmp_path, bad))[0])
    with pytest.raises(DataError) as e:
        fetch_dataset("fashion-mnist", progress=False)
    message = str(e.value)
    assert "the Fashion-MNIST files t10k-labels-idx1-ubyte" in message
    assert f"dataset-fashion-mnist:/{DEB_DIR}/t10k-labels-idx1-ubyte.gz: sha256 mismatch" in message
    assert "--dataset fashion-mnist --from DIR" in message
    assert not (cache / "fashion-mnist" / "t10k-labels-idx1-ubyte").exists()
    assert not list((cache / "fashion-mnist").glob(".*.tmp"))


def test_debian_package_without_the_folder(cache, tmp_path, monkeypatch, unreachable):
    deb = fake_deb(tmp_path, RAW, member_dir="usr/share/elsewhere")
    monkeypatch.setattr(debian, "_apt_download", apt_gives(deb)[0])
    with pytest.raises(DataError, match=f"has no folder /{DEB_DIR}"):
        fetch_dataset("fashion-mnist", progress=False)


def test_apt_retries_with_lists_of_its_own(tmp_path, monkeypatch):
    """A fresh machine without package lists: one more try after `apt-get update` into the
    temporary folder, never the system's lists; its error is the one reported."""
    calls: list[list[str]] = []

    def run(argv, folder, timeout):
        calls.append(argv[1:])
        return subprocess.CompletedProcess(argv, 100, "", "E: Unable to locate package x\n")

    monkeypatch.setattr(debian, "_run", run)
    monkeypatch.setattr(shutil, "which", lambda name: f"/usr/bin/{name}")
    with pytest.raises(DataError, match="apt-get download x failed: E: Unable to locate package"):
        debian._apt_download("x", tmp_path)
    own = f"-oDir::State::Lists={tmp_path / 'lists'}"
    assert calls[0] == ["download", "x"]
    assert calls[1][0] == "update" and own in calls[1]
    assert calls[2][0] == "download" and own in calls[2] and calls[2][-1] == "x"


def test_no_apt_is_one_problem_among_the_sources(cache, tmp_path, monkeypatch, unreachable):
    monkeypatch.setattr(debian, "_apt_download", REAL_APT_DOWNLOAD)
    monkeypatch.setattr(shutil, "which", lambda name: None)
    with pytest.raises(DataError) as e:
        fetch_dataset("fashion-mnist", progress=False)
    message = str(e.value)
    assert "debian dataset-fashion-mnist: apt-get not found on PATH" in message
    for base in FASHION.mirrors:
        assert f"{base}: unreachable" in message


def test_offline_without_cache_says_what_to_do(cache, monkeypatch):
    monkeypatch.setattr(debian, "_apt_download", network_called)
    with pytest.raises(DataError) as e:
        fetch_dataset("fashion-mnist", offline=True)
    message = str(e.value)
    assert message.startswith("could not obtain the Fashion-MNIST files (offline")
    assert message.count("skipped (offline)") == len(FASHION.mirrors) + 1
    assert "zalandoresearch/fashion-mnist" in message and "--dataset fashion-mnist" in message


def test_a_corrupt_cached_file_is_replaced(cache, tmp_path, capsys):
    src = write_source(tmp_path / "src")
    fetch_dataset("fashion-mnist", source_dir=src)
    path = cache / "fashion-mnist" / "train-labels-idx1-ubyte"
    path.write_bytes(path.read_bytes()[:-3])  # truncated after the fact
    fetched = fetch_dataset("fashion-mnist", source_dir=src)
    assert "fails its sha256 check" in capsys.readouterr().err
    assert fetched.sources["train-labels-idx1-ubyte"] == f"folder {src}"
    assert path.read_bytes() == RAW["train-labels-idx1-ubyte"]


def test_unknown_data_set():
    with pytest.raises(
        BadInput, match="unknown data set 'cifar'; give one of mnist, fashion-mnist"
    ):
        fetch_dataset("cifar")


# ------------------------------------------------------------------------------- loading


def test_load_gives_the_books_split_and_its_own_parsed_cache(cache, tmp_path, monkeypatch):
    monkeypatch.setattr(m, "N_VALIDATION", 2)
    data = load_dataset("fashion-mnist", source_dir=write_source(tmp_path / "src"))
    images = ARRAYS["train-images-idx3-ubyte"].reshape(12, 784)
    np.testing.assert_array_equal(data.training.pixels, images[:10])
    np.testing.assert_array_equal(data.validation.pixels, images[10:])
    np.testing.assert_array_equal(data.test.labels, ARRAYS["t10k-labels-idx1-ubyte"])
    folder = cache / "fashion-mnist"
    npz, stamp = m._parsed_paths(folder, FASHION)
    assert npz.name.startswith("fashion-mnist-uint8-") and npz.is_file() and stamp.is_file()
    assert json.loads(stamp.read_text())["raw"] == dict(FASHION.sha256)
    # A second load reads the parsed cache only.
    monkeypatch.setattr(m, "fetch_dataset", network_called)
    for name in RAW:
        (folder / name).unlink()
    np.testing.assert_array_equal(load_dataset("fashion-mnist").test.x, data.test.x)


def test_mnist_keeps_its_cache_names(tmp_path):
    """MNIST's parsed cache is named as before data sets had names (the cache stays valid)."""
    joined = "".join(sources.SHA256[name] for name in sources.FILES)
    key = hashlib.sha256(joined.encode()).hexdigest()[:16]
    npz, _ = m._parsed_paths(tmp_path)
    assert npz == tmp_path / f"mnist-uint8-{key}.npz"
    assert m._parsed_paths(tmp_path, SPECS["mnist"]) == m._parsed_paths(tmp_path)
    assert SPECS["mnist"].sha256 is sources.SHA256 and SPECS["mnist"].subdir == ""


def test_load_data_loads_each_data_set_once(monkeypatch):
    loaded: list[str] = []
    splits = m.split_book(
        {
            "train_x": np.zeros((30, 784), np.uint8),
            "train_labels": np.zeros(30, np.uint8),
            "test_x": np.zeros((3, 784), np.uint8),
            "test_labels": np.zeros(3, np.uint8),
        },
        n_validation=10,
    )

    def load(name, **kwargs):
        loaded.append(name)
        return splits

    monkeypatch.setattr(m, "load_dataset", load)
    monkeypatch.setattr("layerspeed.data.load_dataset", load)
    configs = [
        RunConfig((784, 10, 10), epochs=1, n_train=n, n_probe=5, n_eval=5, dataset=d)
        for d in ("fashion-mnist", "mnist")
        for n in (10, 20)
    ]
    data = load_data(configs)
    assert sorted(loaded) == ["fashion-mnist", "mnist"]
    assert (
        data["fashion-mnist"].name == "fashion-mnist" and len(data["fashion-mnist"].train_x) == 20
    )
    assert data["fashion-mnist"].key != data["mnist"].key  # the workers' caches keep both


# ----------------------------------------------------------------------- the run model


GRID = """
[studies.one]
seeds = 1
[studies.one.base]
sizes = [784, 10, 10]
epochs = 1
n_train = 20
n_eval = 10
dataset = "synthetic"
[studies.one.grid]
activation = ["sigmoid", "tanh"]
[studies.two]
seeds = 1
[studies.two.base]
sizes = [784, 10, 10]
epochs = 1
n_train = 20
n_eval = 10
[studies.two.grid]
dataset = ["mnist", "synthetic"]
eta = [0.1, 0.2]
"""


def test_with_dataset_overrides_the_grids_value_and_axis():
    grid = parse_grid(tomllib.loads(GRID))
    assert with_dataset(grid, None) is grid
    moved = with_dataset(grid, "fashion-mnist")
    points = [p for s in moved.studies for p in s.points()]
    assert len(points) == 4 and {p.config.dataset for p in points} == {"fashion-mnist"}
    assert "dataset" not in moved.studies[1].axes
    with pytest.raises(BadInput, match="only axis, dataset"):
        only = tomllib.loads("[grid]\ndataset = ['mnist', 'synthetic']\n")
        with_dataset(parse_grid(only), "mnist")


def test_with_dataset_overrides_a_variants_dataset():
    text = """
[base]
sizes = [784, 10, 10]
epochs = 1
[variants.plain]
eta = 0.1
[variants.elsewhere]
eta = 0.2
dataset = "synthetic"
"""
    grid = parse_grid(tomllib.loads(text))
    before = {p.config.eta: p.config.dataset for p in grid.studies[0].points()}
    assert before == {0.1: "mnist", 0.2: "synthetic"}
    moved = with_dataset(grid, "fashion-mnist")
    after = {p.config.eta: p.config.dataset for p in moved.studies[0].points()}
    assert after == {0.1: "fashion-mnist", 0.2: "fashion-mnist"}


def test_run_config_takes_fashion_mnist():
    assert RunConfig((784, 30, 10), dataset="fashion-mnist").dataset == "fashion-mnist"
    with pytest.raises(BadInput, match="dataset"):
        RunConfig((784, 30, 10), dataset="cifar")


# ---------------------------------------------------------------------- the command line


def test_fetch_command_names_the_data_set(cache, tmp_path, capsys):
    src = write_source(tmp_path / "src", gz=True)
    assert main(["fetch", "--dataset", "fashion-mnist", "--from", str(src)]) == 0
    out = capsys.readouterr().out
    assert f"Fashion-MNIST files verified in {cache / 'fashion-mnist'}" in out
    assert main(["fetch", "--dataset", "cifar"]) == 2


# -------------------------------------------------------------- on the real Fashion-MNIST


@pytest.mark.fashion
def test_the_real_files_split_as_mnist_is():
    data = load_dataset("fashion-mnist", offline=True)
    assert (len(data.training), len(data.validation), len(data.test)) == (50_000, 10_000, 10_000)
    assert set(np.unique(data.test.labels)) == set(range(10))
    # Ten classes of 6,000 training images each (the publisher's balance), 7,000 in all.
    counts = np.bincount(np.concatenate([data.training.labels, data.validation.labels]))
    assert counts.tolist() == [6000] * 10


@pytest.mark.fashion
@pytest.mark.mnist
def test_it_is_not_mnist():
    fashion, digits = load_dataset("fashion-mnist", offline=True), load_mnist(offline=True)
    assert not np.array_equal(fashion.test.pixels[:100], digits.test.pixels[:100])


@pytest.mark.fashion
def test_speeds_and_train_read_it(tmp_path, capsys):
    assert main(["speeds", "--sizes", "784,30,30,10", "--n-probe", "200", "--json",
                 "--dataset", "fashion-mnist"]) == 0  # fmt: skip
    data = json.loads(capsys.readouterr().out)
    assert data["dataset"] == "fashion-mnist" and len(data["layer_speeds"]) == 2
    history = tmp_path / "h.json"
    args = ["train", "--sizes", "784,30,10", "--epochs", "1", "--n-train", "1000",
            "--dataset", "fashion-mnist", "--history", str(history)]  # fmt: skip
    assert main(args) == 0
    assert "1000 Fashion-MNIST images" in capsys.readouterr().out
    assert json.loads(history.read_text())["config"]["dataset"] == "fashion-mnist"


@pytest.mark.fashion
def test_sweep_dataset_overrides_the_grid(tmp_path):
    grid = tmp_path / "g.toml"
    grid.write_text(
        "seeds = 1\n[base]\nsizes = [784, 10, 10]\nepochs = 1\n"
        "n_train = 200\nn_probe = 100\nn_eval = 100\n"
        'dataset = "synthetic"\n[grid]\nactivation = ["sigmoid", "tanh"]\n'
    )
    out = tmp_path / "out"
    args = ["sweep", str(grid), "--dataset", "fashion-mnist", "--out", str(out), "--workers", "1"]
    assert main(args) == 0
    configs = [json.loads(p.read_text()) for p in out.glob("runs/*/*/config.json")]
    assert len(configs) == 2
    assert {c.get("config", c).get("dataset") for c in configs} == {"fashion-mnist"}


@pytest.mark.fashion
def test_reproduce_quick_on_fashion_mnist_names_it_in_every_verdict(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)  # the default output folder is layerspeed-results/fashion-mnist
    assert main(["reproduce", "--dataset", "fashion-mnist", "--quick"]) == 0
    out = tmp_path / "layerspeed-results" / "fashion-mnist"
    results = json.loads((out / "results.json").read_text())
    assert results["meta"]["dataset"] == "fashion-mnist"
    verdicts = [v for part in results.values() if isinstance(part, dict)
                for v in part.get("verdicts", [])]  # fmt: skip
    assert len(verdicts) >= 8
    for v in verdicts:
        assert v["holds"] in (True, False, None) and v["claim"]
        assert v["evidence"].startswith("On Fashion-MNIST: ")
    summary = (out / "summary.md").read_text()
    assert summary.splitlines()[0].endswith("on Fashion-MNIST")
    assert "still holds on Fashion-MNIST" in summary
    assert "reads <strong>fashion-mnist</strong>" in (out / "report.html").read_text()
    printed = capsys.readouterr().out
    assert "The book's claims on Fashion-MNIST" in printed
    for pattern in ("runs/*/*/*/config.json", "remedies/runs/*/*/config.json"):
        configs = [json.loads(p.read_text()) for p in out.glob(pattern)]
        assert configs, pattern
        assert {c.get("config", c).get("dataset") for c in configs} == {"fashion-mnist"}
