"""Fault table: run folders and results files spoiled by hand, by a crash or by a kill -9.

The first table holds faults a command must refuse (``report`` on a results file it cannot
use), through the harness of ``tests/faults.py``. The second holds faults a sweep must mend:
a result that is not what its config writes is redone with a line naming it, and the
temporary files a killed writer left are removed; the sweep then ends as a clean one does.
The sweeps run on the synthetic data set, a few tiny networks, in seconds.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from pathlib import Path

import pytest

import faults
from faults import Fault, check, leftovers, run

GRID = """
name = "tiny"
seeds = 2
[base]
dataset = "synthetic"
depth = 2
width = 6
epochs = 2
n_train = 200
n_probe = 100
n_eval = 100
record = ["accuracy", "speeds", "diagnostics"]
[grid]
activation = ["sigmoid", "relu"]
"""
RUN = "runs/activation=relu/seed-1"


def _sweep(folder: Path) -> list[str]:
    (folder / "tiny.toml").write_text(GRID)
    return ["sweep", str(folder / "tiny.toml"), "--out", str(folder / "out"), "--workers", "1"]


def _swept(folder: Path) -> Path:
    """A finished sweep of the tiny grid in ``folder/out``."""
    proc = run(_sweep(folder), folder)
    assert proc.returncode == 0, proc.stderr
    return folder / "out"


def _chapter_run(folder: Path) -> None:
    run_dir = folder / "runs" / "depth" / "784-30-10" / "seed-0"
    run_dir.mkdir(parents=True)
    (run_dir / "config.json").write_text(json.dumps({"kind": "depth", "seed": 0, "config": {}}))
    (run_dir / "status.json").write_text(json.dumps({"status": "running"}))


def _results(text: str, *, name: str = "results.json") -> Callable[[Path], None]:
    def setup(folder: Path) -> None:
        _chapter_run(folder)
        (folder / name).write_bytes(text.encode("utf-8", "surrogateescape"))

    return setup


def _spoiled_run(change: dict[str, object]) -> Callable[[Path], None]:
    """A swept folder without its summary, one run's result changed: the generic section."""

    def setup(folder: Path) -> None:
        out = _swept(folder)
        (out / "summary.json").unlink()
        result = out / RUN / "result.json"
        result.write_text(json.dumps(json.loads(result.read_text()) | change))

    return setup


REFUSED = [
    Fault("corrupt results.json", ["report", "{d}"], 2, "results.json: not valid JSON",
          setup=_results('{"depth": {"rows": [')),
    Fault("list-shaped results.json", ["report", "{d}"], 2, "a JSON list, not an object",
          setup=_results('[{"depth": {}}]')),
    Fault("results.json of a number", ["report", "{d}"], 2, "a JSON number, not an object",
          setup=_results("2")),
    Fault("results.json not UTF-8", ["report", "{d}"], 2, "results.json: not valid JSON",
          setup=_results("\udcff\udcfe")),
    Fault("results.json missing beside the chapter's runs", ["report", "{d}"], 2,
          "results.json: missing", setup=_chapter_run),
    Fault("corrupt summary.json", ["report", "{d}"], 2, "summary.json: not valid JSON",
          setup=_results("{", name="summary.json")),
    Fault("a run's layer_names of 5", ["report", "{d}/out"], 2, "layer_names is 5",
          setup=_spoiled_run({"layer_names": 5})),
    Fault("a run's epochs of a number", ["report", "{d}/out"], 2, "epochs is 3, not a list",
          setup=_spoiled_run({"epochs": 3})),
    Fault("a run's speeds of a word", ["report", "{d}/out"], 2, "layer_speeds is 'fast'",
          setup=_spoiled_run({"epochs": [{"epoch": 0, "layer_speeds": "fast"}]})),
]  # fmt: skip


@pytest.mark.parametrize("fault", REFUSED, ids=[f.name for f in REFUSED])
def test_refused(fault: Fault, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The results file spoiled on purpose is the input, not something the command left.
    inputs = {tmp_path / "results.json", tmp_path / "summary.json"}
    monkeypatch.setattr(faults, "leftovers", lambda d: [p for p in leftovers(d) if p not in inputs])
    check(fault, tmp_path)
    assert not (tmp_path / "report.html").exists()


def _write_result(body: object) -> Callable[[Path], str]:
    def spoil(out: Path) -> str:
        (out / RUN / "result.json").write_text(json.dumps(body))
        return "result.json not valid"

    return spoil


def _typed(out: Path) -> str:
    result = out / RUN / "result.json"
    result.write_text(json.dumps(json.loads(result.read_text()) | {"layer_names": 5}))
    return "layer_names is 5"


def _stale_tmp(out: Path) -> str:
    for p in (out / RUN / ".result.json.k1ll3d00.tmp", out / ".summary.json.k1ll3d01.tmp"):
        p.write_text('{"half')
        hours_ago = time.time() - 2 * 3600
        os.utime(p, (hours_ago, hours_ago))
    return ""  # nothing to redo


def _killed_mid_run(out: Path) -> str:
    (out / RUN / "status.json").write_text(json.dumps({"status": "running"}))
    (out / RUN / ".result.json.x9y8z7w6.tmp").write_text('{"epochs": [')  # fresh, yet stale
    return ""


MENDED = [
    ("an empty result", _write_result({})),
    ("a list result", _write_result([1, 2])),
    ("layer_names of 5", _typed),
    ("stale temporary files", _stale_tmp),
    ("killed mid-run", _killed_mid_run),
]


@pytest.mark.parametrize(("name", "spoil"), MENDED, ids=[m[0] for m in MENDED])
def test_mended(name: str, spoil: Callable[[Path], str], tmp_path: Path) -> None:
    out = _swept(tmp_path)
    good = json.loads((out / RUN / "result.json").read_text())
    says = spoil(out)
    proc = run(_sweep(tmp_path), tmp_path)
    assert proc.returncode == 0 and "Traceback" not in proc.stderr, proc.stderr
    named = [line for line in proc.stderr.splitlines() if "redone" in line]
    if says:  # one line names the run and what was wrong
        assert len(named) == 1 and "activation=relu/seed-1" in named[0] and says in named[0]
    else:
        assert not named
    assert not leftovers(tmp_path), leftovers(tmp_path)
    again = json.loads((out / RUN / "result.json").read_text())
    assert {k: v for k, v in again.items() if k != "seconds"} == {
        k: v for k, v in good.items() if k != "seconds"
    }
    summary = json.loads((out / "summary.json").read_text())
    assert summary["runs"]["done"] == summary["runs"]["total"] == 4
