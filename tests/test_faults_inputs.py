"""Bad inputs of every command, one row each: sizes past the machine, grids past reason,
network files that are not networks, flags that contradict each other.

Each row runs ``layerspeed`` in a subprocess (offline) and is held to the harness's promise
(:mod:`faults`): its exit code, one ``layerspeed: error:`` line that says what was wrong, no
traceback, nothing half-written. None of them allocates what it refuses: the sizes are
estimated, the runs counted, before anything is built.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from faults import Fault, check


def _network(name: str, *, sizes: list[int], edit: Callable[[dict], None] | None = None
             ) -> Callable[[Path], None]:  # fmt: skip
    """A setup that writes a network2 JSON file ``name`` of ``sizes`` (then ``edit``-ed)."""

    def setup(folder: Path) -> None:
        from layerspeed.nn import Network

        data = Network.create(tuple(sizes), rng=0).to_dict()
        if edit is not None:
            edit(data)
        (folder / name).write_text(json.dumps(data))

    return setup


def _file(name: str, text: str) -> Callable[[Path], None]:
    def setup(folder: Path) -> None:
        (folder / name).write_text(text)

    return setup


def _fashion_files(*, corrupt: bool = False, truncate: bool = False) -> Callable[[Path], None]:
    """A folder src/ of the four Fashion-MNIST files, as .gz: tiny, so they fail the real
    checksums (``corrupt``), or the real header cut short (``truncate``)."""

    def setup(folder: Path) -> None:
        import gzip

        from layerspeed.data.sources import FILES

        (folder / "src").mkdir()
        for name in FILES:
            data = gzip.compress(b"\x00\x00\x08\x01" + bytes(8))
            (folder / "src" / f"{name}.gz").write_bytes(
                data[: len(data) // 2] if truncate else data
            )
        assert corrupt or truncate

    return setup


def _fraction(data: dict) -> None:
    data["sizes"] = [784, 30.7, 10]


def _truncated(folder: Path) -> None:
    # Not named .json: the harness would take the user's broken input for our leftover.
    _network("net.json", sizes=[784, 30, 10])(folder)
    text = (folder / "net.json").read_text()
    (folder / "net.json").unlink()
    (folder / "truncated-net").write_text(text[: len(text) // 2])  # cut off mid-write


HUGE_GRID = "seeds = 1\n[grid]\n" + "\n".join(
    f"{key} = [{', '.join(str(start + 0.01 * i) for i in range(30))}]"
    for key, start in (("eta", 0.01), ("lmbda", 0.0), ("gain", 0.5))
)
GRID = '[grid]\nactivation = ["sigmoid", "relu"]\n'

FAULTS = [
    # chain and problems
    Fault(
        "chain seed with weights and biases",
        ["chain", "--seed", "1", "--weights", "1,2", "--biases", "0,0"],
        2,
        "--seed draws the weights and biases",
    ),
    Fault("chain too long", ["chain", "--seed", "1", "--length", "1000000"], 2, "100,000"),
    Fault("chain length zero", ["chain", "--seed", "1", "--length", "0"], 2, "positive"),
    Fault("chain not numbers", ["chain", "--weights", "1,x", "--biases", "0,0"], 2, "numbers"),
    Fault("chain not finite", ["chain", "--weights", "nan", "--biases", "0"], 2, "finite"),
    Fault("problems no chains", ["problems", "--n-chains", "0"], 2, "--n-chains"),
    Fault("problems a billion chains", ["problems", "--n-chains", "1000000000"], 2, "10,000,000"),
    # speeds
    Fault(
        "speeds too wide for memory",
        ["speeds", "--sizes", "784,200000,10", "--n-probe", "50000"],
        2,
        "of memory, more than",
    ),
    Fault(
        "speeds of a 100-input network",
        ["speeds", "--load", "{d}/net.json"],
        2,
        "net.json",
        setup=_network("net.json", sizes=[100, 30, 10]),
    ),
    Fault("speeds zero width", ["speeds", "--sizes", "784,0,10"], 2, "--sizes"),
    # train
    Fault(
        "train too wide for memory",
        ["train", "--sizes", "784,200000,10"],
        2,
        "of memory, more than",
    ),
    Fault(
        "train a 100-input network",
        ["train", "--load", "{d}/net.json", "--epochs", "1"],
        2,
        "the network in",
        setup=_network("net.json", sizes=[100, 30, 10]),
    ),
    Fault(
        "train a fractional layer size",
        ["train", "--load", "{d}/net.json", "--epochs", "1"],
        2,
        "whole numbers of neurons",
        setup=_network("net.json", sizes=[784, 30, 10], edit=_fraction),
    ),
    Fault(
        "train a truncated network file",
        ["train", "--load", "{d}/truncated-net"],
        2,
        "not readable JSON",
        setup=_truncated,
    ),
    Fault("train negative eta", ["train", "--sizes", "784,30,10", "--eta", "-1"], 2, "eta"),
    Fault(
        "train negative weight decay",
        ["train", "--sizes", "784,30,10", "--eta", "100", "--lmbda", "1000", "--n-train", "100"],
        2,
        "weight decay factor",
    ),
    Fault("train zero width", ["train", "--sizes", "784,0,10"], 2, "--sizes"),
    # sweep
    Fault(
        "sweep not TOML", ["sweep", "{d}/bad.toml"], 2, "not valid TOML", _file("bad.toml", "[grid")
    ),
    Fault(
        "sweep unknown key",
        ["sweep", "{d}/g.toml"],
        2,
        "unknown key",
        _file("g.toml", "colour = 1\n" + GRID),
    ),
    Fault(
        "sweep no seeds", ["sweep", "{d}/g.toml"], 2, "seeds", _file("g.toml", "seeds = 0\n" + GRID)
    ),
    Fault(
        "sweep a billion seeds",
        ["sweep", "{d}/g.toml"],
        2,
        "1,000,000,000 seeds",
        _file("g.toml", "seeds = 1000000000\n" + GRID),
    ),
    Fault("sweep a huge grid", ["sweep", "{d}/g.toml"], 2, "--yes", _file("g.toml", HUGE_GRID)),
    Fault(
        "sweep negative eta",
        ["sweep", "{d}/g.toml"],
        2,
        "eta",
        _file("g.toml", "[base]\neta = -0.5\n" + GRID),
    ),
    Fault(
        "sweep a run too wide for memory",
        ["sweep", "{d}/g.toml"],
        2,
        "of memory, more than",
        _file("g.toml", "[base]\nsizes = [784, 200000, 10]\n" + GRID),
    ),
    Fault(
        "fetch fashion-mnist offline without a cache",
        ["fetch", "--dataset", "fashion-mnist"],
        1,
        "could not obtain the Fashion-MNIST files (offline",
        env={"LAYERSPEED_DATA": "cache"},
    ),
    Fault(
        "fetch fashion-mnist files that fail their sha256",
        ["fetch", "--dataset", "fashion-mnist", "--from", "{d}/src"],
        1,
        "sha256 mismatch",
        _fashion_files(corrupt=True),
        env={"LAYERSPEED_DATA": "cache"},
    ),
    Fault(
        "fetch fashion-mnist truncated files",
        ["fetch", "--dataset", "fashion-mnist", "--from", "{d}/src"],
        1,
        "cannot read",
        _fashion_files(truncate=True),
        env={"LAYERSPEED_DATA": "cache"},
    ),
    Fault("reproduce an unknown data set", ["reproduce", "--dataset", "cifar"], 2, "cifar"),
    Fault(
        "reproduce a billion seeds",
        ["reproduce", "--seeds", "1000000000", "--out", "{d}/out"],
        2,
        "give fewer seeds",
    ),
]


@pytest.mark.parametrize("fault", FAULTS, ids=[f.name for f in FAULTS])
def test_bad_input(fault: Fault, tmp_path: Path) -> None:
    check(fault, tmp_path)
