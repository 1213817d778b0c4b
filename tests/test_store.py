"""Run folders and atomic writes: a killed or failing write never leaves half a file."""

from __future__ import annotations

import json
import os

import pytest

from layerspeed.store import RunDir, iter_runs, result_record, write_json_atomic


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
