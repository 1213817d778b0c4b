"""The driver: one folder per (study, grid point, seed), resume after an interruption, failures
and divergence recorded, results independent of the executor.

The runs read the synthetic data set (no MNIST, no network) with tiny networks.
"""

from __future__ import annotations

import json
import os
import pickle
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
                                 "n_probe": 100, "eta": 1e300, "record": ["speeds"]},
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
