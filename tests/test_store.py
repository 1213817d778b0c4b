"""Run folders and atomic writes: a killed or failing write never leaves half a file."""

from __future__ import annotations

import json
import os
import socket
import stat
import threading
from pathlib import Path

import pytest

from layerspeed.errors import BadInput
from layerspeed.store import (
    RunDir,
    check_writable,
    iter_runs,
    result_record,
    write_json_atomic,
    write_text_atomic,
)


def test_a_failing_write_keeps_the_old_file_and_leaves_no_temporary(tmp_path):
    path = tmp_path / "result.json"
    write_json_atomic(path, {"answer": 1})
    with pytest.raises(TypeError):
        write_json_atomic(path, {"answer": object()})  # not JSON-serializable, mid-write
    assert json.loads(path.read_text()) == {"answer": 1}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["result.json"]


def test_written_files_are_readable_strict_json(tmp_path):
    path = tmp_path / "x.json"
    write_json_atomic(path, {"speeds": [1.5, float("nan"), float("inf")], "n": (1, 2)})
    assert os.stat(path).st_mode & 0o777 == 0o644  # not mkstemp's 0600
    # NaN and inf are not JSON: they are written as null.
    assert json.loads(path.read_text(), parse_constant=lambda c: 1 / 0) == {
        "speeds": [1.5, None, None],
        "n": [1, 2],
    }


def test_a_done_status_with_an_unreadable_result_is_not_ended(tmp_path):
    run = RunDir(tmp_path)
    run.start({}, seed=0, kind="depth")
    run.finish(result_record({}, seed=0, kind="depth", epochs=[], layer_names=[]))
    assert run.is_ended()
    (tmp_path / "result.json").write_text("")  # e.g. lost in a crash
    assert not run.is_ended()


def test_run_dir_lifecycle(tmp_path):
    run = RunDir(tmp_path / "runs" / "a" / "seed-0")
    assert run.status is None and not run.is_ended()
    run.start({"eta": 0.1}, seed=0, kind="depth")
    assert run.status == "running" and not run.is_ended()
    assert run.config["seed"] == 0 and run.config["layerspeed_version"]
    record = result_record(
        {"eta": 0.1}, seed=0, kind="depth", epochs=[{"epoch": 0}], layer_names=["h1"]
    )
    run.finish(record, status="diverged", message="epoch 3")
    assert run.is_ended() and run.result["epochs"] == [{"epoch": 0}]
    status = json.loads((run.path / "status.json").read_text())
    assert status["message"] == "epoch 3" and status["started"] and status["finished"]
    other = RunDir(tmp_path / "runs" / "b")
    other.start({}, seed=1, kind="depth")
    other.fail("boom")
    assert other.status == "failed" and not other.is_ended()
    assert [r.path.name for r in iter_runs(tmp_path)] == ["seed-0", "b"]
    with pytest.raises(ValueError, match="unknown status"):
        run.finish(record, status="finished")


# ---- symlinks, devices, FIFOs, stdout --------------------------------------------------------


def test_a_symlink_is_written_through_and_stays_a_link(tmp_path):
    target = tmp_path / "real" / "net.json"
    target.parent.mkdir()
    target.write_text('{"old": true}')
    link = tmp_path / "link.json"
    link.symlink_to(Path("real") / "net.json")  # relative, as `ln -s` makes them
    inode = target.stat().st_ino
    write_json_atomic(link, {"new": True})
    assert link.is_symlink() and os.readlink(link) == str(Path("real") / "net.json")
    assert json.loads(target.read_text()) == {"new": True}
    assert target.stat().st_ino != inode  # replaced atomically, not rewritten in place
    # The temporary file was made beside the target, and nothing is left of it anywhere.
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["link.json", "net.json", "real"]


def test_a_link_to_nothing_yet_creates_its_target(tmp_path):
    link = tmp_path / "link.json"
    link.symlink_to(tmp_path / "later" / "x.json")
    write_text_atomic(link, "hello")
    assert link.is_symlink() and (tmp_path / "later" / "x.json").read_text() == "hello"


@pytest.mark.skipif(os.geteuid() != 0, reason="mknod of a character device needs root")
def test_a_character_device_is_written_and_kept(tmp_path):
    dev = tmp_path / "null"
    os.mknod(dev, 0o666 | stat.S_IFCHR, os.makedev(1, 3))  # like /dev/null
    write_json_atomic(dev, {"speeds": [1.0]})
    check_writable(dev)
    assert stat.S_ISCHR(dev.stat().st_mode) and dev.stat().st_rdev == os.makedev(1, 3)
    assert [p.name for p in tmp_path.iterdir()] == ["null"]


def test_a_fifo_is_written_directly_to_its_reader(tmp_path):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    check_writable(fifo)  # does not open it: that would block, or end the reader's stream
    got: list[bytes] = []
    # A daemon: where the FIFO was replaced by a file, the reader waits forever.
    reader = threading.Thread(target=lambda: got.append(fifo.read_bytes()), daemon=True)
    reader.start()
    write_json_atomic(fifo, {"a": [1, 2]})
    reader.join(timeout=10)
    assert got and json.loads(got[0]) == {"a": [1, 2]}
    assert stat.S_ISFIFO(fifo.stat().st_mode) and [p.name for p in tmp_path.iterdir()] == ["pipe"]


def test_dash_is_stdout(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    check_writable("-")
    write_json_atomic("-", {"to": "stdout"})
    assert json.loads(capsys.readouterr().out) == {"to": "stdout"}
    assert list(tmp_path.iterdir()) == []  # no file named "-"


def test_a_socket_is_refused_and_kept(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # a short relative name: socket paths are limited in length
    with socket.socket(socket.AF_UNIX) as s:
        s.bind("sock")
        for call in (lambda: write_json_atomic("sock", {}), lambda: check_writable("sock")):
            with pytest.raises(BadInput, match="is a socket"):
                call()
        assert stat.S_ISSOCK(os.stat("sock").st_mode)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["sock"]


@pytest.mark.skipif(
    not any(stat.S_ISBLK(p.stat().st_mode) for p in Path("/dev").glob("loop*")),
    reason="no block device to point a link at",
)
def test_a_block_device_is_refused(tmp_path):
    block = next(p for p in Path("/dev").glob("loop*") if stat.S_ISBLK(p.stat().st_mode))
    link = tmp_path / "disk.json"
    link.symlink_to(block)
    with pytest.raises(BadInput, match="is a block device"):
        write_json_atomic(link, {})
    with pytest.raises(BadInput, match="is a block device"):
        check_writable(link)


def test_a_folder_is_refused_where_a_file_is_wanted(tmp_path):
    with pytest.raises(BadInput, match="is a folder; give a file name"):
        write_text_atomic(tmp_path, "x")
    with pytest.raises(BadInput, match="is a folder; give a file name"):
        check_writable(tmp_path, label="--save")


# ---- check_writable ----------------------------------------------------------------------------


def test_check_writable_leaves_nothing_but_the_missing_folders(tmp_path):
    check_writable(tmp_path / "a" / "b" / "net.json")
    check_writable(tmp_path / "runs", folder=True)
    assert sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*")) == [
        "a",
        "a/b",
        "runs",
    ]


def test_check_writable_refuses_a_file_where_a_folder_is_wanted(tmp_path):
    (tmp_path / "f").write_text("")
    with pytest.raises(BadInput, match="--out .*f is a file, not a folder"):
        check_writable(tmp_path / "f", folder=True, label="--out")
    with pytest.raises(BadInput, match="standard output, not a folder"):
        check_writable("-", folder=True)


@pytest.mark.parametrize("path", ["/proc/net.json", "/proc/nowhere/x.json"])
def test_check_writable_refuses_a_place_that_takes_no_files(path):
    # /proc takes no new files, even from root, unlike a chmod 555 folder.
    with pytest.raises(BadInput, match=f"--save {path}: cannot write in /proc"):
        check_writable(path, label="--save")


def test_check_writable_refuses_a_path_under_a_file(tmp_path):
    (tmp_path / "afile").write_text("")
    with pytest.raises(BadInput, match="afile/h.json: Not a directory"):
        check_writable(tmp_path / "afile" / "h.json")


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into a read-only folder anyway")
def test_check_writable_refuses_a_read_only_folder(tmp_path):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    try:
        with pytest.raises(BadInput, match="cannot write in"):
            check_writable(ro / "net.json")
    finally:
        ro.chmod(0o755)
