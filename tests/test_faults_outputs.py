"""Fault table: outputs (issue 11, defects 1 and 2).

A save never replaces a symlink or a device: a symlink is written through to its target, a
character device, a FIFO or ``-`` is written directly, any other special file is refused with
one line and exit 2. Every output is checked for write access before any work: a row that
must fail before training also asserts that no epoch ran, and a reproduction's or a sweep's
that no run was planned.
"""

from __future__ import annotations

import json
import os
import socket
import stat
from pathlib import Path

import pytest

from conftest import mnist_missing
from faults import Fault, check, leftovers, run
from layerspeed.nn import Network
from layerspeed.store import RunDir, result_record

TRAIN = ["train", "--sizes", "784,30,10", "--n-train", "100", "--epochs", "1"]
ROOT = os.geteuid() == 0
BLOCK = next(
    (p for p in sorted(Path("/dev").glob("loop*")) if stat.S_ISBLK(p.stat().st_mode)), None
)


# ---- setups and checks -------------------------------------------------------------------


def _char_device(d: Path) -> None:
    os.mknod(d / "n", 0o666 | stat.S_IFCHR, os.makedev(1, 3))  # a /dev/null of our own


def _still_char_device(d: Path) -> None:
    mode = (d / "n").lstat().st_mode
    assert stat.S_ISCHR(mode) and (d / "n").lstat().st_rdev == os.makedev(1, 3), oct(mode)


def _socket(d: Path) -> None:
    with socket.socket(socket.AF_UNIX) as s:
        s.bind(str(d / "sock"))  # the socket file outlives the socket


def _still_socket(d: Path) -> None:
    assert stat.S_ISSOCK((d / "sock").lstat().st_mode)


def _link(d: Path) -> None:
    (d / "real").mkdir()
    (d / "real" / "out.json").write_text('{"old": true}')
    (d / "link.json").symlink_to(Path("real") / "out.json")


def _link_kept_network(d: Path) -> None:
    assert (d / "link.json").is_symlink()
    assert Network.load(d / "real" / "out.json").sizes == (784, 30, 10)


def _page_link(d: Path) -> None:
    (d / "real").mkdir()
    (d / "link.html").symlink_to(Path("real") / "page.html")


def _link_kept_page(d: Path) -> None:
    assert (d / "link.html").is_symlink()
    assert (d / "real" / "page.html").read_text().startswith("<!DOCTYPE html>")


def _link_untouched(d: Path) -> None:
    assert (d / "link.json").is_symlink()
    assert json.loads((d / "real" / "out.json").read_text()) == {"old": True}


def _file(d: Path) -> None:
    (d / "f").write_text("keep me")


def _file_untouched(d: Path) -> None:
    assert (d / "f").read_text() == "keep me"


def _under_a_file(d: Path) -> None:
    (d / "afile").write_text("")


def _read_only(d: Path) -> None:
    (d / "ro").mkdir(mode=0o555)


def _block_link(d: Path) -> None:
    assert BLOCK is not None
    (d / "disk.json").symlink_to(BLOCK)


def _results(d: Path) -> None:
    """A folder of one finished run, enough for a report."""
    run_dir = RunDir(d / "res" / "runs" / "a" / "seed-0")
    config = {"sizes": [784, 30, 10]}
    run_dir.start(config, seed=0, kind="train")
    epochs = [{"epoch": 0, "layer_speeds": [0.1]}]
    run_dir.finish(result_record(config, seed=0, kind="train", epochs=epochs, layer_names=["h1"]))


def _both(*steps):
    def step(d: Path) -> None:
        for s in steps:
            s(d)

    return step


def _nothing_written(d: Path) -> None:
    assert not list(d.glob("*.json")), list(d.iterdir())


root_only = pytest.mark.skipif(not ROOT, reason="mknod of a character device needs root")
not_root = pytest.mark.skipif(ROOT, reason="root writes into a chmod 555 folder anyway")
block = pytest.mark.skipif(BLOCK is None, reason="no block device on this machine")


# ---- the table -----------------------------------------------------------------------------

FAULTS = [
    # train: devices, sockets, symlinks
    pytest.param(Fault("history on a char device", [*TRAIN, "--history", "{d}/n"], 0, "",
                       _char_device, _still_char_device), marks=root_only),
    pytest.param(Fault("save on a char device", [*TRAIN, "--save", "{d}/n"], 0, "",
                       _char_device, _still_char_device), marks=root_only),
    Fault("history on a socket", [*TRAIN, "--history", "{d}/sock"], 2, "is a socket",
          _socket, _still_socket),
    pytest.param(Fault("save on a block device", [*TRAIN, "--save", "{d}/disk.json"], 2,
                       "is a block device", _block_link), marks=block),
    Fault("save through a symlink", [*TRAIN, "--save", "{d}/link.json"], 0, "", _link,
          _link_kept_network),
    # train: paths that cannot be written, found before training
    Fault("save in /proc", [*TRAIN, "--epochs", "5", "--n-train", "20000", "--save",
          "/proc/net.json"], 2, "--save /proc/net.json: cannot write in /proc"),
    Fault("history under /proc", [*TRAIN, "--history", "/proc/nowhere/h.json"], 2,
          "cannot write in /proc"),
    pytest.param(Fault("save in a read-only folder", [*TRAIN, "--save", "{d}/ro/net.json"], 2,
                       "cannot write in", _read_only), marks=not_root),
    Fault("save is a folder", [*TRAIN, "--save", "{d}"], 2, "is a folder; give a file name"),
    Fault("history under a file", [*TRAIN, "--history", "{d}/afile/h.json"], 2,
          "Not a directory", _under_a_file),
    Fault("save and history the same", [*TRAIN, "--save", "{d}/o.json", "--history",
          "{d}/o.json"], 2, "--save and --history both name", None, _nothing_written),
    Fault("save and history the same through a symlink", [*TRAIN, "--save", "{d}/link.json",
          "--history", "{d}/real/out.json"], 2, "both name", _link, _link_untouched),
    # reproduce: the output folder, before MNIST is loaded and workers start
    Fault("reproduce out an existing file", ["reproduce", "--quick", "--out", "{d}/f"], 2,
          "f is a file, not a folder", _file, _file_untouched),
    Fault("reproduce out in /proc", ["reproduce", "--quick", "--out", "/proc/ls-x"], 2,
          "--out /proc/ls-x: cannot write in /proc"),
    pytest.param(Fault("reproduce out a char device", ["reproduce", "--quick", "--out",
                       "{d}/n"], 2, "not a folder", _char_device, _still_char_device),
                 marks=root_only),
    # sweep: the same
    Fault("sweep out in /proc", ["sweep", "--preset", "remedies", "--quick", "--out",
          "/proc/ls-x"], 2, "--out /proc/ls-x: cannot write in /proc"),
    Fault("sweep out an existing file", ["sweep", "--preset", "remedies", "--quick", "--out",
          "{d}/f"], 2, "is a file", _file, _file_untouched),
    # report: its page
    Fault("report out in /proc", ["report", "{d}/res", "--out", "/proc/r.html"], 2,
          "--out /proc/r.html: cannot write in /proc", _results),
    Fault("report out a socket", ["report", "{d}/res", "--out", "{d}/sock"], 2, "is a socket",
          _both(_results, _socket), _still_socket),
    Fault("report out through a symlink", ["report", "{d}/res", "--out", "{d}/link.html"], 0,
          "", _both(_results, _page_link), _link_kept_page),
    pytest.param(Fault("report out a char device", ["report", "{d}/res", "--out", "{d}/n"], 0,
                       "", _both(_results, _char_device), _still_char_device),
                 marks=root_only),
]  # fmt: skip


def _id(row: object) -> str:
    fault = row.values[0] if hasattr(row, "values") else row
    return fault.name.replace(" ", "-")  # type: ignore[union-attr]


@pytest.mark.parametrize("fault", FAULTS, ids=_id)
def test_output_fault(fault: Fault, tmp_path: Path) -> None:
    if fault.code == 0 and (reason := mnist_missing()):
        pytest.skip(reason)  # it trains on MNIST, from the cache only
    if fault.code != 0:
        proc = check(fault, tmp_path)
        # Refused before any work: no epoch trained, no run planned.
        assert "Epoch" not in proc.stdout and " runs in " not in proc.stderr, proc.stderr
        return
    # A write that must succeed: exit 0, no traceback, nothing half-written, the file kept.
    if fault.setup is not None:
        fault.setup(tmp_path)
    proc = run([a.replace("{d}", str(tmp_path)) for a in fault.args], tmp_path)
    assert proc.returncode == 0 and "Traceback" not in proc.stderr, proc.stderr
    assert not leftovers(tmp_path)
    if fault.after is not None:
        fault.after(tmp_path)


@pytest.mark.mnist
def test_history_on_stdout_is_written_there_and_no_file_named_dash(tmp_path: Path) -> None:
    proc = run([*TRAIN, "--history", "-"], tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["config"]["sizes"] == [784, 30, 10]
    assert list(tmp_path.iterdir()) == []


def test_report_on_stdout(tmp_path: Path) -> None:
    _results(tmp_path)
    proc = run(["report", "res", "--out", "-"], tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("<!DOCTYPE html>") and not (tmp_path / "-").exists()
