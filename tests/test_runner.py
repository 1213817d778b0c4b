"""The runner: configs that check themselves, resume after an interruption, failures and
divergence recorded, results independent of the executor."""

from __future__ import annotations

import json
import os
import pickle
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

from layerspeed.data import MNIST, Split
from layerspeed.errors import BadInput
from layerspeed.experiments import (
    DepthRun,
    Experiment,
    InitialSpeeds,
    Task,
    TrainingSpeeds,
    aggregate,
    collect,
    config_from_dict,
    plan_tasks,
    run_all,
    runner,
)
from layerspeed.experiments.driver import DataSet
from layerspeed.store import RunDir


class SerialExecutor(Executor):
    """Runs each task at once, in this process: the simplest Executor there is."""

    def submit(self, fn, /, *args, **kwargs):
        f: Future = Future()
        try:
            f.set_result(fn(*args, **kwargs))
        except BaseException as e:
            f.set_exception(e)
        return f


def _synthetic_mnist(n: int = 300) -> MNIST:
    rng = np.random.default_rng(0)

    def split(k: int) -> Split:
        labels = rng.integers(0, 10, k)
        x = rng.random((k, 784)) * 0.2
        x[np.arange(k), labels * 70] = 1.0  # one bright pixel per class: learnable
        return Split(x, labels.astype(np.int64))

    return MNIST(training=split(n), validation=split(100), test=split(100))


@pytest.fixture
def fake_data(monkeypatch):
    """The driver's data, as it would load MNIST; the workers get it from the driver."""
    calls = []

    def load(tasks, *, offline=False, data_dir=None):
        calls.append(len(tasks))
        return DataSet.from_mnist(_synthetic_mnist(), 300, 100)

    monkeypatch.setattr(runner, "load_data", load)
    return calls


def _small() -> tuple[Experiment, ...]:
    return (
        Experiment("depth", "d", (DepthRun((784, 10, 10), epochs=2, n_train=200),), 2),
        Experiment("initial", "i", (InitialSpeeds((784, 8, 8, 10), n_probe=50),), 3),
        Experiment("training", "t", (TrainingSpeeds((784, 8, 8, 10), epochs=5, n_train=100),), 2),
    )


def _stamps(out: Path) -> dict[str, int]:
    return {
        str(p.relative_to(out)): p.stat().st_mtime_ns
        for p in sorted(out.rglob("*.json"))
        if p.name in ("result.json", "status.json", "config.json")
    }


def test_configs_check_themselves_and_round_trip():
    with pytest.raises(BadInput, match="784 inputs"):
        DepthRun((100, 30, 10))
    with pytest.raises(BadInput, match="hidden layer"):
        InitialSpeeds((784, 10))
    with pytest.raises(BadInput, match="unknown init 'huge'"):
        TrainingSpeeds((784, 30, 10), init="huge")
    with pytest.raises(BadInput, match="n_seeds"):
        Experiment("depth", "d", (DepthRun((784, 30, 10)),), 0)
    cfg = TrainingSpeeds([784, 30, 30, 10], epochs=7)
    assert cfg.sizes == (784, 30, 30, 10) and cfg.label == "784-30-30-10"
    assert config_from_dict(json.loads(json.dumps(cfg.to_dict()))) == cfg
    task = Task("training", cfg, 3, "/tmp/x")
    assert pickle.loads(pickle.dumps(task)) == task  # what an executor sends to a worker


def test_resume_reruns_only_the_interrupted_run(tmp_path, fake_data):
    exps = _small()
    first = run_all(exps, tmp_path, executor=ThreadPoolExecutor(2))
    assert len(first) == 2 + 3 + 2 and {o.status for o in first} == {"done"}
    before = _stamps(tmp_path)
    # A killed reproduction leaves the run it was working on marked "running".
    victim = RunDir(tmp_path / "runs" / "initial" / "784-8-8-10" / "seed-1")
    old_result = victim.result
    status = json.loads((victim.path / "status.json").read_text())
    (victim.path / "status.json").write_text(json.dumps(status | {"status": "running"}))
    victim_stamp = (victim.path / "status.json").stat().st_mtime_ns

    second = run_all(exps, tmp_path, executor=SerialExecutor())
    assert [o.task.name for o in second] == ["initial/784-8-8-10/seed-1"]
    assert second[0].status == "done"
    after = _stamps(tmp_path)
    changed = {k for k in before if after[k] != before[k]}
    assert changed <= {
        f"runs/initial/784-8-8-10/seed-1/{f}" for f in ("config.json", "status.json", "result.json")
    }
    assert (victim.path / "status.json").stat().st_mtime_ns != victim_stamp
    new_result = victim.result
    assert new_result["layer_speeds"] == old_result["layer_speeds"]  # same seed, same numbers
    # A third run has nothing to do, and loads no data.
    loads = len(fake_data)
    assert run_all(exps, tmp_path, executor=SerialExecutor()) == []
    assert len(fake_data) == loads


def test_results_do_not_depend_on_the_executor(tmp_path, fake_data):
    exps = _small()
    run_all(exps, tmp_path / "a", executor=SerialExecutor())
    run_all(exps, tmp_path / "b", executor=ThreadPoolExecutor(3))
    for rec_a, rec_b in zip(
        collect(exps, tmp_path / "a"), collect(exps, tmp_path / "b"), strict=True
    ):
        a = {k: v for k, v in rec_a.result.items() if k != "seconds"}
        b = {k: v for k, v in rec_b.result.items() if k != "seconds"}
        assert a == b


def test_training_run_measures_from_the_step_itself(tmp_path, fake_data):
    exps = _small()[2:]
    run_all(exps, tmp_path, executor=SerialExecutor())
    result = RunDir(tmp_path / "runs" / "training" / "784-8-8-10" / "seed-0").result
    assert result["extra_backward_passes"] == 0
    assert len(result["epochs"]) == 5 and len(result["epochs"][0]["layer_speeds"]) == 2
    agg = aggregate(exps, collect(exps, tmp_path))["training"]
    assert agg["rows"][0]["n_runs"] == 2 and len(agg["rows"][0]["layers"][0]["median"]) == 5


def test_a_failed_run_is_recorded_and_retried(tmp_path, monkeypatch, fake_data):
    def broken(cfg, seed, data):
        raise OSError("disk on fire")

    with monkeypatch.context() as m:
        m.setitem(runner.RUNNERS, "initial", broken)
        exps = _small()[1:2]
        outcomes = run_all(exps, tmp_path, executor=SerialExecutor())
    assert {o.status for o in outcomes} == {"failed"}
    assert "disk on fire" in outcomes[0].message
    assert RunDir(Path(outcomes[0].task.run_dir)).status == "failed"
    results = aggregate(exps, collect(exps, tmp_path))
    assert results["runs"]["failed"] == 3 and results["initial"]["rows"][0]["n_runs"] == 0
    assert {o.status for o in run_all(exps, tmp_path, executor=SerialExecutor())} == {"done"}


def test_a_run_killed_with_its_worker_is_recorded_as_failed(tmp_path, fake_data):
    class DeadExecutor(Executor):
        def submit(self, fn, /, *args, **kwargs):
            f: Future = Future()
            f.set_exception(RuntimeError("worker died"))
            return f

    exps = _small()[1:2]
    outcomes = run_all(exps, tmp_path, executor=DeadExecutor())
    assert {o.status for o in outcomes} == {"failed"}
    assert {RunDir(Path(o.task.run_dir)).status for o in outcomes} == {"failed"}


def test_runs_are_marked_running_by_the_driver_before_they_are_computed(tmp_path, fake_data):
    seen = []

    class Peek(SerialExecutor):
        def submit(self, fn, /, *args, **kwargs):
            task = args[1]
            seen.append((RunDir(Path(task.run_dir)).status, os.getpid()))
            return super().submit(fn, *args, **kwargs)

    run_all(_small()[1:2], tmp_path, executor=Peek())
    assert [s for s, _ in seen] == ["running"] * 3


def test_a_diverged_run_is_recorded_with_its_epochs(tmp_path, fake_data):
    exp = Experiment(
        "training", "t", (TrainingSpeeds((784, 8, 10), epochs=10, n_train=100, eta=1e300),), 1
    )
    (outcome,) = run_all([exp], tmp_path, executor=SerialExecutor())
    assert outcome.status == "diverged" and "diverged in epoch" in outcome.message
    run = RunDir(tmp_path / "runs" / "training" / "784-8-10" / "seed-0")
    assert run.status == "diverged" and run.is_ended()
    assert isinstance(run.result["epochs"], list)
    results = aggregate([exp], collect([exp], tmp_path))
    assert results["runs"]["diverged"] == 1
    assert results["runs"]["problems"][0]["status"] == "diverged"
    # Diverged runs are ended: a rerun does not repeat them.
    assert run_all([exp], tmp_path, executor=SerialExecutor()) == []


def test_a_changed_config_is_run_again(tmp_path, fake_data):
    short = Experiment("initial", "i", (InitialSpeeds((784, 8, 10), n_probe=20),), 1)
    longer = Experiment("initial", "i", (InitialSpeeds((784, 8, 10), n_probe=40),), 1)
    assert len(run_all([short], tmp_path, executor=SerialExecutor())) == 1
    assert len(run_all([longer], tmp_path, executor=SerialExecutor())) == 1
    cfg = RunDir(tmp_path / "runs" / "initial" / "784-8-10" / "seed-0").config
    assert cfg["config"]["n_probe"] == 40


def test_tasks_are_planned_one_folder_per_experiment_config_and_seed(tmp_path):
    tasks = plan_tasks(_small(), tmp_path)
    assert len(tasks) == 7 and len({t.run_dir for t in tasks}) == 7
    assert tasks[0].run_dir == str(tmp_path.resolve() / "runs/depth/784-10-10/seed-0")


@pytest.mark.skipif(
    os.environ.get("LAYERSPEED_SKIP_REAL_DATA") == "1", reason="LAYERSPEED_SKIP_REAL_DATA=1"
)
def test_process_pool_gives_what_one_process_gives(tmp_path):
    """Spawned workers, one BLAS thread each, MNIST shipped by the driver: same numbers."""
    exps = (
        Experiment("initial", "i", (InitialSpeeds((784, 30, 30, 10), n_probe=200),), 2),
        Experiment("training", "t", (TrainingSpeeds((784, 30, 10), epochs=3, n_train=200),), 1),
    )
    with runner.process_pool(2) as pool:  # the data goes with each task
        outcomes = run_all(exps, tmp_path / "pool", executor=pool)
    assert {o.status for o in outcomes} == {"done"}
    outcomes = run_all(exps, tmp_path / "local", workers=2)  # the data goes once per worker
    assert {o.status for o in outcomes} == {"done"}
    run_all(exps, tmp_path / "here", executor=SerialExecutor())
    pool, local = collect(exps, tmp_path / "pool"), collect(exps, tmp_path / "local")
    for a, b in zip(pool, local, strict=True):  # one BLAS thread on both sides: bit for bit
        assert {k: v for k, v in a.result.items() if k != "seconds"} == {
            k: v for k, v in b.result.items() if k != "seconds"
        }
    for a, b in zip(pool, collect(exps, tmp_path / "here"), strict=True):
        # Equal up to rounding: here BLAS may use several threads, and sums in another order.
        assert a.result["epochs"][0].keys() == b.result["epochs"][0].keys()
        for ea, eb in zip(a.result["epochs"], b.result["epochs"], strict=True):
            for key, value in ea.items():
                np.testing.assert_allclose(
                    np.asarray(value, dtype=float), np.asarray(eb[key], dtype=float), rtol=1e-10
                )
