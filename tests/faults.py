"""The harness of the fault tables (``tests/test_faults_*.py``): one bad input or fault per
row, each run as a user runs it, in a subprocess, and held to the same promise.

A :class:`Fault` names the command line, the exit code it must end with and a piece of the one
line it must print on stderr; :func:`check` runs it in a folder of its own and asserts:

- the exit code;
- stderr ends in exactly one line starting ``layerspeed: error:`` (or the given prefix) that
  contains the expected words, with no Python traceback anywhere;
- no partial file is left behind: no ``.tmp`` / ``.part`` file anywhere in the folder, and
  every ``.json`` file in it parses;
- whatever ``after`` checks (a file not overwritten, a device still a device, ...).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

TIMEOUT_S = 120


@dataclass(frozen=True)
class Fault:
    """One row of a fault table."""

    name: str  # the test's id
    args: list[str]  # the command line after ``layerspeed``; "{d}" is the test's folder
    code: int  # the exit code it must end with
    says: str  # words the last line of stderr must contain
    setup: Callable[[Path], None] | None = None  # prepares the folder (bad files, devices)
    after: Callable[[Path], None] | None = None  # further checks on the folder
    env: dict[str, str] = field(default_factory=dict)
    stdin: str | None = None


def run(args: list[str], cwd: Path, env: dict[str, str] | None = None, stdin: str | None = None
        ) -> subprocess.CompletedProcess[str]:  # fmt: skip
    """``layerspeed ARGS`` in a subprocess, offline, with the test's environment."""
    full_env = {**os.environ, "LAYERSPEED_OFFLINE": "1", **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "layerspeed", *args],
        cwd=cwd,
        env=full_env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
    )


def leftovers(folder: Path) -> list[Path]:
    """Temporary files of an interrupted write, and JSON files that do not parse."""
    bad = []
    for p in folder.rglob("*"):
        if not p.is_file() or p.is_symlink():
            continue
        if p.name.endswith((".tmp", ".part")):
            bad.append(p)
        elif p.suffix == ".json":
            try:
                json.loads(p.read_text())
            except (ValueError, UnicodeDecodeError):
                bad.append(p)
    return bad


def check(fault: Fault, folder: Path) -> subprocess.CompletedProcess[str]:
    """Run one row and assert the promise; returns the finished process for more checks."""
    if fault.setup is not None:
        fault.setup(folder)
    args = [a.replace("{d}", str(folder)) for a in fault.args]
    proc = run(args, folder, fault.env, fault.stdin)
    where = f"layerspeed {' '.join(args)}\nstdout: {proc.stdout[-2000:]}\nstderr: {proc.stderr}"
    assert proc.returncode == fault.code, where
    assert "Traceback" not in proc.stderr and "Traceback" not in proc.stdout, where
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert lines, where
    assert lines[-1].startswith("layerspeed: "), where
    assert fault.says in lines[-1], where
    assert not leftovers(folder), f"{where}\nleft: {leftovers(folder)}"
    if fault.after is not None:
        fault.after(folder)
    return proc
