"""kill -9 in the middle of a reproduction and of a sweep, then a rerun.

Each case starts the command as a user would, in a session of its own, waits until a few
runs are done and sends SIGKILL to the main process alone (its workers must follow it) or to
the whole process group. Then: no process of the session is left after 10 seconds; the rerun
ends cleanly; every JSON file parses and no temporary file is left; no run done before the
kill was done again; and the report builds. The runs read the real MNIST (fetched once if it
is not cached), ``--quick`` on two workers: about a minute in all.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from faults import leftovers

pytestmark = [
    pytest.mark.mnist,  # the cache only; skipped without it (conftest.py)
    pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc (Linux)"),
]

ORPHAN_WINDOW_S = 10  # the promise: nothing of the job alive 10 s after the kill
START_TIMEOUT_S = 240  # enough for a first fetch of MNIST on a slow line
RUN_TIMEOUT_S = 300

COMMANDS = {
    "reproduce": ["reproduce", "--quick", "--no-remedies", "--workers", "2"],
    "sweep": ["sweep", "--preset", "remedies", "--quick", "--workers", "2"],
}


def layerspeed(*args: str) -> list[str]:
    return [sys.executable, "-m", "layerspeed", *args]


@pytest.fixture(scope="module", autouse=True)
def mnist() -> None:
    """MNIST in the cache before any command is timed or killed."""
    proc = subprocess.run(layerspeed("fetch"), capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr


def session_members(sid: int) -> list[str]:
    """``pid command`` of every live process of session ``sid`` (zombies have ended)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:  # ended while we looked
            continue
        # pid (comm) state ppid pgrp session ...: comm may hold spaces, so split after ")"
        fields = text.rsplit(")", 1)[1].split()
        if int(fields[3]) == sid and fields[0] not in ("Z", "X"):
            found.append(f"{stat.parent.name} {text.split(')')[0].split('(', 1)[1]}")
    return found


def done_runs(out: Path) -> dict[str, tuple[int, str]]:
    """Every run folder that ended (done or diverged): its result.json's mtime and finishing
    time."""
    done = {}
    for status_file in out.rglob("status.json"):
        try:
            status = json.loads(status_file.read_text())
            mtime = (status_file.parent / "result.json").stat().st_mtime_ns
        except (OSError, ValueError):  # being written this instant
            continue
        if status.get("status") in ("done", "diverged"):
            done[str(status_file.parent.relative_to(out))] = (mtime, status["finished"])
    return done


def as_if_killed_mid_write(out: Path) -> None:
    """The temporary files a kill in the middle of a write leaves (a kill cannot be timed to
    land there): in a run folder left running, and an old one in the output folder."""
    running = [p.parent for p in out.rglob("status.json")
               if json.loads(p.read_text())["status"] == "running"]  # fmt: skip
    assert running, "a kill during the runs leaves some running"
    (running[0] / ".result.json.k1ll3d00.tmp").write_text('{"epochs": [')
    old = out / ".results.json.k1ll3d01.tmp"
    old.write_text('{"meta": {')
    hours_ago = time.time() - 2 * 3600
    os.utime(old, (hours_ago, hours_ago))


@pytest.mark.parametrize("target", ["main", "group"])
@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_kill_9_then_rerun(tmp_path: Path, command: str, target: str) -> None:
    out = tmp_path / "out"
    args = [*COMMANDS[command], "--out", str(out)]
    with open(tmp_path / "log", "w") as log:
        proc = subprocess.Popen(
            layerspeed(*args), stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while len(done_runs(out)) < 3 and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        before = done_runs(out)
        assert proc.poll() is None and len(before) >= 3, (tmp_path / "log").read_text()
        if target == "main":
            os.kill(proc.pid, signal.SIGKILL)
        else:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        deadline = time.monotonic() + ORPHAN_WINDOW_S
        while session_members(proc.pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert session_members(proc.pid) == [], "orphans of the killed job"
    finally:  # never leave the job behind, whatever failed
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass

    as_if_killed_mid_write(out)
    again = subprocess.run(layerspeed(*args), capture_output=True, text=True,
                           timeout=RUN_TIMEOUT_S)  # fmt: skip
    assert again.returncode == 0, again.stderr[-3000:]
    assert "Traceback" not in again.stderr
    assert leftovers(out) == []  # every JSON file parses; no temporary file is left
    after = done_runs(out)
    redone = sorted(k for k, v in before.items() if after.get(k) != v)
    assert not redone, f"runs done before the kill were done again: {redone}"
    assert len(after) == sum(1 for _ in out.rglob("status.json"))  # every run has ended now
    report = subprocess.run(layerspeed("report", str(out)), capture_output=True, text=True,
                            timeout=RUN_TIMEOUT_S)  # fmt: skip
    assert report.returncode == 0, report.stderr
    assert (out / "report.html").read_text().startswith("<!DOCTYPE html>")
