"""The driver: one folder per (study, grid point, seed), resume after an interruption, failures
and divergence recorded, results independent of the executor.

The runs read the synthetic data set (no MNIST, no network) with tiny networks.
"""

from __future__ import annotations

import contextlib
import json
import os
import pickle
import signal
import subprocess
import sys
import time
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from layerspeed.experiments import driver
from layerspeed.experiments.chapter import aggregate
from layerspeed.experiments.datasets import load_data
from layerspeed.experiments.driver import (
    LocalPool,
    Outcome,
    Task,
    collect,
    is_current,
    pending,
    plan,
    process_pool,
    run_tasks,
)
from layerspeed.experiments.grid import Grid, parse_grid
from layerspeed.store import RunDir

SYNTHETIC = {"dataset": "synthetic"}


class SerialExecutor(Executor):
    """Runs each task at once, in this process: the simplest Executor there is."""

    def submit(self, fn, /, *args, **kwargs):  # type: ignore[no-untyped-def]
        f: Future[Any] = Future()
        try:
            f.set_result(fn(*args, **kwargs))
        except BaseException as e:
            f.set_exception(e)
        return f


def small(*names: str) -> Grid:
    """The chapter's kinds of run in miniature: depth, initial speeds, training speeds."""
    studies = {
        "depth": {
            "seeds": 2,
            "base": SYNTHETIC | {"epochs": 2, "n_train": 200, "n_eval": 100},
            "grid": {"sizes": [[784, 10, 10]]},
        },
        "initial": {
            "seeds": 3,
            "base": SYNTHETIC
            | {"epochs": 0, "n_train": 50, "n_probe": 50, "record": ["speeds", "neurons"]},
            "grid": {"sizes": [[784, 8, 8, 10]]},
        },
        "training": {
            "seeds": 2,
            "base": SYNTHETIC
            | {"epochs": 5, "n_train": 100, "mini_batch_size": 100, "n_probe": 100,
               "record": ["speeds", "training_accuracy"]},
            "grid": {"sizes": [[784, 8, 8, 10]]},
        },
    }  # fmt: skip
    chosen = {k: v for k, v in studies.items() if not names or k in names}
    return parse_grid({"name": "small", "studies": chosen})


@pytest.fixture
def loads(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """How many tasks each data load was for: the driver loads only when a run is left."""
    calls: list[int] = []

    def counting(configs: Any, **kwargs: Any) -> Any:
        configs = list(configs)
        calls.append(len(configs))
        return load_data(configs, **kwargs)

    monkeypatch.setattr(driver, "load_data", counting)
    return calls


def run_all(grid: Grid, out: Path, executor: Executor | None = None, **kw: Any) -> list[Outcome]:
    """Plan ``grid`` into ``out`` and run what is not ended; the outcomes, in no given order."""
    outcomes: list[Outcome] = []
    run_tasks(plan(grid, out), executor=executor, on_outcome=outcomes.append, **kw)
    return outcomes


def _stamps(out: Path) -> dict[str, int]:
    return {
        str(p.relative_to(out)): p.stat().st_mtime_ns
        for p in sorted(out.rglob("*.json"))
        if p.name in ("result.json", "status.json", "config.json")
    }


def _without_time(result: dict[str, Any] | None) -> dict[str, Any]:
    assert result is not None
    return {k: v for k, v in result.items() if k != "seconds"}


# ---- planning ----------------------------------------------------------------------------------


def test_tasks_are_planned_one_folder_per_study_point_and_seed(tmp_path: Path) -> None:
    tasks = plan(small(), tmp_path)
    assert len(tasks) == 2 + 3 + 2 and len({t.run_dir for t in tasks}) == 7
    assert tasks[0].run_dir == str(tmp_path.resolve() / "runs/depth/784-10-10/seed-0")
    assert tasks[0].name == "depth/784-10-10/seed-0"
    assert [t.study for t in tasks] == ["depth"] * 2 + ["initial"] * 3 + ["training"] * 2
    assert [t.seed for t in tasks[2:5]] == [0, 1, 2]
    assert pickle.loads(pickle.dumps(tasks[3])) == tasks[3]  # what an executor sends


def test_a_one_study_grid_has_no_study_folder(tmp_path: Path) -> None:
    grid = parse_grid(
        {"name": "s", "seeds": [4], "base": SYNTHETIC | {"depth": 1, "width": 4},
         "grid": {"activation": ["relu", "tanh"]}}
    )  # fmt: skip
    tasks = plan(grid, tmp_path)
    assert [t.run_dir for t in tasks] == [
        str(tmp_path.resolve() / "runs/activation=relu/seed-4"),
        str(tmp_path.resolve() / "runs/activation=tanh/seed-4"),
    ]
    assert tasks[0].params == {"activation": "relu"} and tasks[0].study == "s"


def test_pending_puts_the_costliest_first_and_skips_the_ended(tmp_path: Path) -> None:
    tasks = plan(small(), tmp_path)
    todo = pending(tasks)
    assert sorted(t.name for t in todo) == sorted(t.name for t in tasks)
    costs = [t.config.cost_estimate() for t in todo]
    assert costs == sorted(costs, reverse=True)
    run_all(small("initial"), tmp_path, executor=SerialExecutor())
    assert {t.study for t in pending(tasks)} == {"depth", "training"}


# ---- resume ------------------------------------------------------------------------------------


def test_resume_reruns_only_the_interrupted_run(tmp_path: Path, loads: list[int]) -> None:
    grid = small()
    with ThreadPoolExecutor(2) as ex:
        first = run_all(grid, tmp_path, executor=ex)
    assert len(first) == 7 and {o.status for o in first} == {"done"}
    before = _stamps(tmp_path)
    # A killed reproduction leaves the run it was working on marked "running".
    victim = RunDir(tmp_path / "runs" / "initial" / "784-8-8-10" / "seed-1")
    old_result = victim.result
    assert old_result is not None
    status = json.loads((victim.path / "status.json").read_text())
    (victim.path / "status.json").write_text(json.dumps(status | {"status": "running"}))
    os.utime(victim.path / "status.json", ns=(1, 1))
    before[str((victim.path / "status.json").relative_to(tmp_path))] = 1

    second = run_all(grid, tmp_path, executor=SerialExecutor())
    assert [o.task.name for o in second] == ["initial/784-8-8-10/seed-1"]
    assert second[0].status == "done"
    after = _stamps(tmp_path)
    changed = {k for k in before if after[k] != before[k]}
    assert "runs/initial/784-8-8-10/seed-1/status.json" in changed
    assert changed <= {
        f"runs/initial/784-8-8-10/seed-1/{f}" for f in ("config.json", "status.json", "result.json")
    }
    new_result = victim.result
    assert new_result is not None
    assert new_result["epochs"] == old_result["epochs"]  # same seed, same numbers
    # A third run has nothing to do, and loads no data.
    n = len(loads)
    assert run_all(grid, tmp_path, executor=SerialExecutor()) == []
    assert len(loads) == n


def test_a_changed_config_is_run_again(tmp_path: Path) -> None:
    def initial(n_probe: int) -> Grid:
        return parse_grid(
            {"studies": {"initial": {
                "base": SYNTHETIC | {"epochs": 0, "n_train": n_probe, "n_probe": n_probe,
                                     "record": ["speeds"]},
                "grid": {"sizes": [[784, 8, 10]]}}}}
        )  # fmt: skip

    assert len(run_all(initial(20), tmp_path, executor=SerialExecutor())) == 1
    tasks = plan(initial(40), tmp_path)
    assert not is_current(tasks[0])
    # Until it is run again, the folder's numbers are not this plan's.
    (record,) = collect(tasks)
    assert (
        record.status is None
        and record.result is None
        and "another config" in (record.message or "")
    )
    assert len(run_all(initial(40), tmp_path, executor=SerialExecutor())) == 1
    config = RunDir(tmp_path / "runs" / "initial" / "784-8-10" / "seed-0").config
    assert config is not None and config["config"]["n_probe"] == 40
    assert is_current(tasks[0]) and collect(tasks)[0].status == "done"


# ---- the executor ----------------------------------------------------------------------------


def test_results_do_not_depend_on_the_executor(tmp_path: Path) -> None:
    grid = small()
    run_all(grid, tmp_path / "a", executor=SerialExecutor())
    with ThreadPoolExecutor(3) as ex:
        run_all(grid, tmp_path / "b", executor=ex)
    a, b = collect(plan(grid, tmp_path / "a")), collect(plan(grid, tmp_path / "b"))
    assert len(a) == 7
    for rec_a, rec_b in zip(a, b, strict=True):
        assert rec_a.status == rec_b.status == "done"
        assert _without_time(rec_a.result) == _without_time(rec_b.result)


def test_runs_are_marked_running_by_the_driver_before_they_are_computed(tmp_path: Path) -> None:
    seen = []

    class Peek(SerialExecutor):
        def submit(self, fn, /, *args, **kwargs):  # type: ignore[no-untyped-def]
            task = args[0]
            seen.append(RunDir(Path(task.run_dir)).status)
            return super().submit(fn, *args, **kwargs)

    run_all(small("initial"), tmp_path, executor=Peek())
    assert seen == ["running"] * 3


@pytest.mark.parametrize("pool", ["process_pool", "local_pool"])
def test_worker_processes_give_what_one_process_gives(tmp_path: Path, pool: str) -> None:
    """Spawned workers, one BLAS thread each, the data shipped by the driver: same numbers
    (up to rounding: this process's BLAS may use several threads and sum in another order)."""
    grid = small("initial", "training")
    tasks = plan(grid, tmp_path / "pool")
    data = load_data(t.config for t in tasks)
    ex = process_pool(2) if pool == "process_pool" else LocalPool(data, 2)
    with ex:  # process_pool: the data goes with each task; LocalPool: once per worker
        outcomes = driver.run(pending(tasks), data, executor=ex)
    assert len(outcomes) == 5 and {o.status for o in outcomes} == {"done"}
    run_all(grid, tmp_path / "here", executor=SerialExecutor())
    for a, b in zip(collect(tasks), collect(plan(grid, tmp_path / "here")), strict=True):
        assert a.result is not None and b.result is not None
        assert a.result["epochs"][0].keys() == b.result["epochs"][0].keys()
        for ea, eb in zip(a.result["epochs"], b.result["epochs"], strict=True):
            for key, value in ea.items():
                np.testing.assert_allclose(
                    np.asarray(value, dtype=float), np.asarray(eb[key], dtype=float), rtol=1e-10
                )


# ---- what goes wrong -------------------------------------------------------------------------


def test_a_failed_run_is_recorded_and_retried(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(config: Any, seed: int, data: Any) -> Any:
        raise OSError("disk on fire")

    grid = small("initial")
    with monkeypatch.context() as m:
        m.setattr(driver, "train_run", broken)
        outcomes = run_all(grid, tmp_path, executor=SerialExecutor())
    assert len(outcomes) == 3 and {o.status for o in outcomes} == {"failed"}
    assert outcomes[0].message == "OSError: disk on fire"
    assert RunDir(Path(outcomes[0].task.run_dir)).status == "failed"
    status = json.loads((Path(outcomes[0].task.run_dir) / "status.json").read_text())
    assert status["message"] == "OSError: disk on fire" and status["finished"]
    records = collect(plan(grid, tmp_path))
    assert {r.status for r in records} == {"failed"} and all(r.result is None for r in records)
    results = aggregate(grid, records)
    assert results["runs"]["failed"] == 3 and results["initial"]["rows"][0]["n_runs"] == 0
    assert {p["status"] for p in results["runs"]["problems"]} == {"failed"}
    # Failed runs are not ended: the next run retries them.
    assert {o.status for o in run_all(grid, tmp_path, executor=SerialExecutor())} == {"done"}


def test_a_run_without_its_data_fails_in_the_worker(tmp_path: Path) -> None:
    tasks = plan(small("initial"), tmp_path)[:1]
    [outcome] = driver.run(tasks, {}, executor=SerialExecutor())  # no data set at all
    assert outcome.status == "failed" and "KeyError" in (outcome.message or "")
    [again] = driver.run(tasks, load_data([tasks[0].config]), executor=SerialExecutor())
    assert again.status == "done"


def test_a_run_killed_with_its_worker_is_recorded_as_failed(tmp_path: Path) -> None:
    class DeadExecutor(Executor):
        def submit(self, fn, /, *args, **kwargs):  # type: ignore[no-untyped-def]
            f: Future[Any] = Future()
            f.set_exception(RuntimeError("worker died"))
            return f

    outcomes = run_all(small("initial"), tmp_path, executor=DeadExecutor())
    assert {o.status for o in outcomes} == {"failed"}
    assert {o.message for o in outcomes} == {"RuntimeError: worker died"}
    assert {RunDir(Path(o.task.run_dir)).status for o in outcomes} == {"failed"}


def test_a_diverged_run_is_recorded_with_its_epochs(tmp_path: Path) -> None:
    grid = parse_grid(
        {"studies": {"training": {
            "base": SYNTHETIC | {"epochs": 10, "n_train": 100, "mini_batch_size": 100,
                                 "n_probe": 100, "eta": 1e30, "lmbda": 0.0,
                                 "activation": "identity", "record": ["speeds"]},
            "grid": {"sizes": [[784, 8, 10]]}}}}
    )  # fmt: skip
    (outcome,) = run_all(grid, tmp_path, executor=SerialExecutor())
    assert outcome.status == "diverged" and "diverged in epoch" in (outcome.message or "")
    run = RunDir(tmp_path / "runs" / "training" / "784-8-10" / "seed-0")
    assert run.status == "diverged" and run.is_ended()
    result = run.result
    assert result is not None and isinstance(result["epochs"], list)
    assert result["diverged_epoch"] == len(result["epochs"])
    results = aggregate(grid, collect(plan(grid, tmp_path)))
    assert results["runs"]["diverged"] == 1 and results["runs"]["done"] == 0
    assert results["runs"]["problems"][0]["status"] == "diverged"
    assert results["training"]["rows"][0]["n_runs"] == 0  # listed, not averaged
    # Diverged runs are ended: a rerun does not repeat them.
    assert run_all(grid, tmp_path, executor=SerialExecutor()) == []


# ---- what the runs record ----------------------------------------------------------------------


def test_a_run_folder_holds_its_config_status_and_result(tmp_path: Path) -> None:
    run_all(small("depth"), tmp_path, executor=SerialExecutor())
    run = RunDir(tmp_path / "runs" / "depth" / "784-10-10" / "seed-1")
    config, result = run.config, run.result
    assert config is not None and result is not None
    assert config["kind"] == "depth" and config["seed"] == 1
    assert config["config"] == plan(small("depth"), tmp_path)[1].config.to_dict()
    assert result["config"] == config["config"] and result["kind"] == "depth"
    assert result["seed"] == 1 and result["params"] == {"sizes": [784, 10, 10]}
    assert result["seconds"] > 0 and result["layerspeed_version"]
    assert [e["epoch"] for e in result["epochs"]] == [0, 1]
    assert 0 <= result["final_accuracy"] <= 1 and result["best_epoch"] in (0, 1)
    assert "final_probe" not in result  # no speeds recorded, none written


def test_a_training_run_measures_from_the_step_itself(tmp_path: Path) -> None:
    grid = small("training")
    run_all(grid, tmp_path, executor=SerialExecutor())
    result = RunDir(tmp_path / "runs" / "training" / "784-8-8-10" / "seed-0").result
    assert result is not None
    assert result["extra_backward_passes"] == 0  # full batch on the probe set: no extra pass
    assert len(result["epochs"]) == 5 and len(result["epochs"][0]["layer_speeds"]) == 2
    assert result["final_probe"]["epoch"] == 5 and 0 <= result["final_training_accuracy"] <= 1
    agg = aggregate(grid, collect(plan(grid, tmp_path)))["training"]
    assert agg["rows"][0]["n_runs"] == 2 and len(agg["rows"][0]["layers"][0]["median"]) == 5


def test_an_initial_run_records_the_fresh_network_as_epoch_0(tmp_path: Path) -> None:
    grid = small("initial")
    run_all(grid, tmp_path, executor=SerialExecutor())
    result = RunDir(tmp_path / "runs" / "initial" / "784-8-8-10" / "seed-2").result
    assert result is not None
    (reading,) = result["epochs"]
    assert reading["epoch"] == 0 and len(reading["layer_speeds"]) == 2
    assert [len(g) for g in reading["neuron_gradients"]] == [8, 8]
    assert result["final_probe"] is None and result["instability"]["initial"] is not None


def test_task_is_what_a_worker_needs(tmp_path: Path) -> None:
    task = plan(small("depth"), tmp_path)[0]
    assert isinstance(task, Task)
    computed = driver.work(task, load_data([task.config]))
    assert computed.status == "done" and computed.result is not None
    assert not Path(task.run_dir).exists()  # workers write nothing


# ---- workers end with their parent ---------------------------------------------------------

ORPHAN_SCRIPT = """
import multiprocessing.resource_tracker as rt, os, sys, time
from layerspeed.experiments.driver import LocalPool, process_pool
pools = [LocalPool({"x": 1}, 2), process_pool(1)]
for p in pools:
    list(p.map(time.sleep, [0.01] * 4))  # every worker started
pids = [pid for p in pools for pid in p._processes] + [rt._resource_tracker._pid]
print(" ".join(map(str, pids)), flush=True)
time.sleep(600)
"""


def alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie waiting to be reaped has ended)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    except OSError:  # no /proc: ask the kernel
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        return True
    return state not in ("Z", "X")


def test_workers_and_the_resource_tracker_end_when_the_driver_is_killed() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-c", ORPHAN_SCRIPT], stdout=subprocess.PIPE, text=True,
        start_new_session=True,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        children = [int(p) for p in proc.stdout.readline().split()]
        assert len(children) == 4 and all(alive(p) for p in children)
        proc.kill()  # kill -9 of the driver alone, not of its group
        proc.wait()
        deadline = time.monotonic() + 10
        while any(alive(p) for p in children) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not [p for p in children if alive(p)], "orphans left"
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)


def test_a_worker_whose_parent_is_gone_ends_at_once() -> None:
    code = (
        "from layerspeed.experiments import workers; print('ready', flush=True); "
        "workers.die_with_parent(1); print('still here')"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.stdout == "ready\n" and proc.returncode == 1, proc.stderr  # 1: not its parent


# ---- a bounded window of runs in flight ------------------------------------------------------


def test_only_a_window_of_runs_is_marked_running_and_progress_starts_at_once(
    tmp_path: Path,
) -> None:
    events: list[str] = []

    class OneWorker(SerialExecutor):
        _max_workers = 1  # a window of two runs in flight

        def submit(self, fn, /, *args, **kwargs):  # type: ignore[no-untyped-def]
            running = [r for r in tmp_path.rglob("status.json")
                       if json.loads(r.read_text())["status"] == "running"]  # fmt: skip
            events.append(f"submit with {len(running)} running")
            return super().submit(fn, *args, **kwargs)

    tasks = plan(small(), tmp_path)
    run_tasks(tasks, executor=OneWorker(), on_outcome=lambda o: events.append("outcome"))
    assert events.count("outcome") == 7 and len(events) == 14
    assert max(int(e.split()[2]) for e in events if e.startswith("submit")) <= 2
    assert events.index("outcome") < 3  # the first result is shown before the third submission
    assert {r.status for r in collect(tasks)} == {"done"}


def test_the_window_follows_the_executors_width() -> None:
    with ThreadPoolExecutor(3) as ex:
        assert driver.width(ex) == 3
    assert driver.width(SerialExecutor(), 5) == 5


# ---- results that are not what their config writes ------------------------------------------


@pytest.fixture(scope="module")
def ended(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One folder of every kind of run, ended, to copy and spoil."""
    out = tmp_path_factory.mktemp("ended")
    run_all(small(), out, executor=SerialExecutor())
    return out


def _spoil(result: dict[str, Any], how: str) -> Any:
    spoiled = json.loads(json.dumps(result))
    if how == "empty":
        return {}
    if how == "list":
        return [spoiled]
    if how == "layer_names_5":
        return spoiled | {"layer_names": 5}
    if how == "one_name":
        return spoiled | {"layer_names": spoiled["layer_names"][:1]}
    if how == "epoch_missing":
        return spoiled | {"epochs": spoiled["epochs"][:-1]}
    if how == "speeds_short":
        spoiled["epochs"][0]["layer_speeds"] = spoiled["epochs"][0]["layer_speeds"][:1]
        return spoiled
    if how == "speed_word":
        spoiled["epochs"][0]["layer_speeds"][0] = "fast"
        return spoiled
    if how == "no_accuracy":
        return {k: v for k, v in spoiled.items() if k != "final_accuracy"}
    if how == "other_seed":
        return spoiled | {"seed": 7}
    if how == "diverged_epoch":
        return spoiled | {"diverged_epoch": 1}
    raise AssertionError(how)


@pytest.mark.parametrize(
    ("study", "how", "says"),
    [
        ("depth", "empty", "no 'layerspeed_version'"),
        ("depth", "list", "not an object"),
        ("training", "layer_names_5", "layer_names is 5, not a list of 2 names"),
        ("initial", "one_name", "layer_names"),
        ("training", "epoch_missing", "a list of 5 epoch records"),
        ("initial", "speeds_short", "epochs[0] layer_speeds"),
        ("training", "speed_word", "'fast'"),
        ("depth", "no_accuracy", "no 'final_accuracy'"),
        ("depth", "other_seed", "seed is 7"),
        ("depth", "diverged_epoch", "diverged_epoch is 1"),
    ],
)
def test_a_result_that_is_not_what_its_config_writes_is_named(
    ended: Path, study: str, how: str, says: str
) -> None:
    from layerspeed.experiments.validate import result_problem

    task = next(t for t in plan(small(), ended) if t.study == study)
    result = RunDir(Path(task.run_dir)).result
    assert result_problem(result, task.config, seed=task.seed) is None
    why = result_problem(_spoil(result, how), task.config, seed=task.seed)  # type: ignore[arg-type]
    assert why is not None and says in why


def test_every_result_the_driver_writes_is_valid(ended: Path) -> None:
    tasks = plan(small(), ended)
    assert all(is_current(t) and driver.not_trusted(t) is None for t in tasks)
    assert pending(tasks) == []


def test_a_malformed_result_is_redone_and_named(tmp_path: Path) -> None:
    grid = small("depth", "training")
    run_all(grid, tmp_path, executor=SerialExecutor())
    tasks = plan(grid, tmp_path)
    empty, typed = RunDir(Path(tasks[0].run_dir)), RunDir(Path(tasks[2].run_dir))
    good = empty.result, typed.result
    assert good[1] is not None
    (empty.path / "result.json").write_text("{}")
    (typed.path / "result.json").write_text(json.dumps(good[1] | {"layer_names": 5}))
    # Not current, and summed up as not run, with what is wrong: no crash, no silent drop.
    assert [t.name for t in pending(tasks)] == [tasks[2].name, tasks[0].name]
    records = collect(tasks)
    assert records[0].status is None and records[0].result is None
    assert "result.json not valid: no 'layerspeed_version'" in (records[0].message or "")
    assert "layer_names is 5" in (records[2].message or "")
    results = aggregate(grid, records)
    assert results["runs"]["done"] == 2 and results["depth"]["rows"][0]["n_runs"] == 1
    # The next run redoes exactly those two, and each outcome says why.
    outcomes = run_all(grid, tmp_path, executor=SerialExecutor())
    assert sorted(o.task.name for o in outcomes) == sorted([tasks[0].name, tasks[2].name])
    redone = {o.task.name: o.redone or "" for o in outcomes}
    assert "no 'layerspeed_version'" in redone[tasks[0].name]
    assert "layer_names is 5" in redone[tasks[2].name]
    assert _without_time(empty.result) == _without_time(good[0])
    assert _without_time(typed.result) == _without_time(good[1])
    assert run_all(grid, tmp_path, executor=SerialExecutor()) == []


# ---- what a killed driver leaves -------------------------------------------------------------


def test_stale_temporary_files_are_removed_from_the_run_folders(tmp_path: Path) -> None:
    grid = small("initial")
    run_all(grid, tmp_path, executor=SerialExecutor())
    kept, again = [RunDir(Path(t.run_dir)) for t in plan(grid, tmp_path)][:2]
    old = kept.path / ".result.json.a1b2c3d4.tmp"  # a writer killed two hours ago
    fresh = kept.path / ".status.json.e5f6g7h8.tmp"  # perhaps being written now
    other = kept.path / "notes.tmp"  # not the writer's
    half = again.path / ".result.json.i9j0k1l2.tmp"  # in a folder that is run again
    for p in (old, fresh, other, half):
        p.write_text("{")
    hours_ago = time.time() - 2 * 3600
    os.utime(old, (hours_ago, hours_ago))
    (again.path / "status.json").write_text(json.dumps({"status": "running"}))
    outcomes = run_all(grid, tmp_path, executor=SerialExecutor())
    assert [o.task.run_dir for o in outcomes] == [str(again.path)]
    assert not old.exists() and not half.exists()
    assert fresh.exists() and other.exists()


def test_a_run_folder_written_before_the_remedy_keys_still_counts_as_done(tmp_path: Path) -> None:
    """config.json files written before norm, residual, layer_lr, clip and bias_gain existed
    describe the same run as today's defaults: a rerun must not redo them."""
    from layerspeed.experiments.config import REMEDY_DEFAULTS

    grid = parse_grid(
        {"name": "s", "seeds": [0, 1], "base": SYNTHETIC | {"width": 4}, "grid": {"depth": [2]}}
    )  # fmt: skip
    tasks = plan(grid, tmp_path)
    run_tasks(tasks, executor=SerialExecutor())
    assert pending(tasks) == []
    paths = [Path(t.run_dir) / "config.json" for t in tasks]
    for path in paths:
        stored = json.loads(path.read_text())
        for key in REMEDY_DEFAULTS:
            del stored["config"][key]
        path.write_text(json.dumps(stored))
    assert pending(plan(grid, tmp_path)) == []
    # ... but a stored config that differs in one of those keys is another run.
    stored["config"]["bias_gain"] = 0.5
    paths[-1].write_text(json.dumps(stored))
    assert [t.seed for t in pending(plan(grid, tmp_path))] == [1]
