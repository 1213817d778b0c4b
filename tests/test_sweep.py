"""Sweeps: config checks, grid expansion, the instability flags, runs on disk, resume, CLI.

The runs here use the synthetic data set (no MNIST, no network) and tiny networks, so every
run takes a fraction of a second; most go through a thread pool to skip process start-up.
"""

from __future__ import annotations

import json
import math
import os
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from layerspeed.cli import main
from layerspeed.errors import BadInput
from layerspeed.experiments.sweep import (
    FLAG_RATIO,
    Sweep,
    assess,
    execute,
    instability,
    load_preset,
    load_sweep,
    load_sweep_data,
    parse_sweep,
    plan,
    run_sweep,
    sweep_markdown,
    synthetic_split,
)
from layerspeed.nn.activations import ACTIVATIONS

TINY_BASE = {
    "depth": 3,
    "width": 8,
    "epochs": 2,
    "n_train": 300,
    "n_probe": 100,
    "n_eval": 200,
    "data": "synthetic",
}


def tiny(**grid: list[Any]) -> dict[str, Any]:
    base = {k: v for k, v in TINY_BASE.items() if k not in grid}
    return {"name": "tiny", "seeds": 2, "base": base, "grid": grid}


def bad(data: dict[str, Any]) -> str:
    with pytest.raises(BadInput) as e:
        parse_sweep(data)
    message = str(e.value)
    assert "\n" not in message
    return message


# ---- config checks -----------------------------------------------------------------------


def test_unknown_activation_names_key_and_allowed_values() -> None:
    msg = bad(tiny(activation=["sigmoid", "swish"]))
    assert "grid.activation" in msg and "'swish'" in msg
    for name in ACTIVATIONS:
        assert name in msg


def test_unknown_value_in_base_names_its_key() -> None:
    data = tiny(eta=[0.1])
    data["base"]["init"] = "glorot"
    msg = bad(data)
    assert "base.init" in msg and "xavier_normal" in msg and "he" in msg


@pytest.mark.parametrize(
    "data",
    [
        {"name": "x", "grid": {}},  # a table with no axes
        {"name": "x", "base": {"eta": 0.1}},  # no [grid] at all
        tiny(activation=[]),  # an empty axis
    ],
)
def test_empty_grid(data: dict[str, Any]) -> None:
    assert "empty" in bad(data)


def test_negative_eta() -> None:
    msg = bad(tiny(eta=[0.1, -0.5]))
    assert "grid.eta" in msg and "-0.5" in msg and "positive" in msg
    data = tiny(activation=["relu"])
    data["base"]["eta"] = -1
    assert "base.eta" in bad(data)


@pytest.mark.parametrize(
    ("data", "key"),
    [
        ({**tiny(activation=["relu"]), "grdi": {}}, "'grdi'"),
        ({**tiny(activation=["relu"]), "base": {"etaa": 0.1}}, "'base.etaa'"),
        (tiny(activation=["relu"], learning_rate=[0.1]), "'grid.learning_rate'"),
    ],
)
def test_unknown_key(data: dict[str, Any], key: str) -> None:
    msg = bad(data)
    assert key in msg and "allowed" in msg


def test_other_mistakes() -> None:
    data = tiny(eta=[0.1])
    data["base"]["eta"] = 0.5
    assert "base.eta" in bad(data)  # both fixed and an axis
    assert "seeds" in bad({**tiny(eta=[0.1]), "seeds": 0})
    assert "seeds" in bad({**tiny(eta=[0.1]), "seeds": []})
    assert "repeats" in bad(tiny(eta=[0.1, 0.1]))
    assert "grid.depth" in bad(tiny(depth=[2, 1.5]))
    assert "grid.depth" in bad(tiny(depth=[True]))
    assert "n_probe" in bad(tiny(n_train=[50]))  # n_probe 100 > n_train 50
    assert "must be a list" in bad(tiny(eta=0.1))  # type: ignore[arg-type]


def test_load_sweep_reports_bad_toml(tmp_path: Path) -> None:
    p = tmp_path / "broken.toml"
    p.write_text("[grid\nactivation = 1\n")
    with pytest.raises(BadInput, match="not valid TOML"):
        load_sweep(p)


def test_example_config_and_preset_are_valid() -> None:
    example = load_sweep(Path(__file__).parents[1] / "examples" / "sweep.toml")
    assert len(example.points()) > 1
    remedies = load_preset("remedies")
    assert set(remedies.axes) == {"activation", "init"}
    assert "scaled_sigmoid" in remedies.axes["activation"]
    assert {p.run.sizes for p in remedies.points()} == {(784, 30, 30, 30, 30, 10)}
    quick = remedies.with_quick()
    assert quick.base["epochs"] < remedies.base["epochs"] and len(quick.seeds) == 2


# ---- the grid ----------------------------------------------------------------------------


def test_grid_expansion_counts_and_order(tmp_path: Path) -> None:
    data = tiny(activation=["sigmoid", "tanh", "relu"], init=["default", "he"], eta=[0.1, 1])
    data["seeds"] = [0, 5, 7]
    sweep = parse_sweep(data)
    points = sweep.points()
    assert len(points) == 3 * 2 * 2
    assert points[0].label == "activation=sigmoid,init=default,eta=0.1"
    assert points[1].label == "activation=sigmoid,init=default,eta=1.0"  # last axis fastest
    assert points[-1].run.activation == "relu" and points[-1].run.init == "he"
    assert len({p.label for p in points}) == len(points)
    tasks = plan(sweep, tmp_path)
    assert len(tasks) == 12 * 3
    assert {t.seed for t in tasks} == {0, 5, 7}
    assert len({t.run_dir for t in tasks}) == 36


def test_depth_and_width_make_the_sizes() -> None:
    sweep = parse_sweep(tiny(depth=[1, 4], width=[5]))
    assert [p.run.sizes for p in sweep.points()] == [(784, 5, 10), (784, 5, 5, 5, 5, 10)]


def test_synthetic_data_prefix_does_not_depend_on_size() -> None:
    x_small, y_small = synthetic_split(700, 0)
    x_big, y_big = synthetic_split(1500, 0)
    assert x_small.dtype == np.uint8 and x_small.shape == (700, 784)
    np.testing.assert_array_equal(x_big[:700], x_small)
    np.testing.assert_array_equal(y_big[:700], y_small)
    assert not np.array_equal(synthetic_split(10, 1)[0], x_small[:10])


# ---- spread and flags, on hand-made speeds ---------------------------------------------------


def test_vanishing_flag_on_the_chapters_speeds() -> None:
    # The book's [784,30,30,30,30,10] at initialization: 0.285 / 0.003 = 95.
    a = assess([0.003, 0.017, 0.070, 0.285])
    assert a is not None and a.flag == "vanishing"
    assert a.ratio == pytest.approx(95.0)
    assert a.spread == pytest.approx(math.log10(95.0))
    assert "vanishing" in a.describe() and "95" in a.describe()


def test_exploding_flag() -> None:
    # Growing toward the front: the first layer 20x faster than the last.
    a = assess([2.0, 1.0, 0.5, 0.1])
    assert a is not None and a.flag == "exploding"
    assert a.ratio == pytest.approx(0.05)
    assert a.spread == pytest.approx(math.log10(20))


def test_balanced_flag_and_thresholds() -> None:
    # Spread counts the extremes, not the ends: max 1.0, min 0.1 -> spread 1, ratio 2.
    a = assess([0.2, 1.0, 0.1, 0.4])
    assert a is not None and a.flag == "balanced"
    assert a.spread == pytest.approx(1.0) and a.ratio == pytest.approx(2.0)
    edge = assess([0.1, 0.1 * FLAG_RATIO])  # exactly 10x is not "more than 10 times"
    assert edge is not None and edge.flag == "balanced"
    assert assess([0.5]).flag == "balanced"  # type: ignore[union-attr]


def test_dead_layer_and_nan() -> None:
    dead = assess([0.0, 0.1])
    assert dead is not None and dead.flag == "vanishing" and dead.spread == pytest.approx(11)
    assert assess([0.1, float("nan")]) is None
    assert assess([]) is None


def test_instability_over_training_uses_the_geometric_mean() -> None:
    # Initial vanishing; later the geometric means are (sqrt(0.01 * 1), sqrt(0.1 * 0.05)) =
    # (0.1, 0.0707) -> balanced, though the last measurement alone is exploding (20x).
    got = instability([[0.01, 1.0], [0.01, 0.1], [1.0, 0.05]])
    assert got["initial"]["flag"] == "vanishing"
    assert got["training"]["ratio"] == pytest.approx(math.sqrt(0.005) / 0.1)
    assert got["training"]["flag"] == "balanced"
    assert got["final"]["flag"] == "exploding"
    assert instability([[0.01, 1.0]])["training"] is None  # diverged before any epoch ended


# ---- real runs ---------------------------------------------------------------------------


def _sweep(**grid: list[Any]) -> Sweep:
    return parse_sweep(tiny(**grid))


def _statuses(out: Path) -> dict[str, str]:
    return {
        str(p.parent.relative_to(out / "runs")): json.loads(p.read_text())["status"]
        for p in sorted((out / "runs").rglob("status.json"))
    }


def test_tiny_sweep_writes_a_folder_per_run(tmp_path: Path) -> None:
    sweep = _sweep(activation=["sigmoid", "relu"], init=["default", "he"])
    with ThreadPoolExecutor(2) as ex:
        summary = run_sweep(sweep, tmp_path, executor=ex)
    statuses = _statuses(tmp_path)
    assert len(statuses) == 8 and set(statuses.values()) == {"done"}
    run = tmp_path / "runs" / "activation=relu,init=he" / "seed-1"
    assert json.loads((run / "config.json").read_text())["config"]["activation"] == "relu"
    result = json.loads((run / "result.json").read_text())
    assert len(result["epochs"]) == 2 and result["final_probe"]["epoch"] == 2
    first = result["epochs"][0]
    for key in (
        "layer_speeds",
        "weight_grad_norms",
        "update_ratio",
        "saturated_share",
        "dead_share",
        "activation_mean",
        "activation_std",
    ):
        assert len(first[key]) == 3, key  # one number per hidden layer
    assert 0 <= result["final_accuracy"] <= 1
    assert set(result["instability"]) == {"initial", "training", "final"}
    # The summary: one row per grid point, mean and CI over the two seeds.
    assert summary["runs"]["done"] == 8 and summary["runs"]["missing"] == 0
    point = summary["points"][0]
    assert point["accuracy"]["n"] == 2 and point["accuracy"]["ci_low"] is not None
    assert point["spread_initial"]["n"] == 2
    md = sweep_markdown(summary)
    assert md.count("| activation=") == 4 and summary["findings"]


def test_resume_reruns_only_what_did_not_end(tmp_path: Path) -> None:
    sweep = _sweep(activation=["sigmoid", "tanh"])
    with ThreadPoolExecutor(2) as ex:
        run_sweep(sweep, tmp_path, executor=ex)
    runs = tmp_path / "runs"
    interrupted = runs / "activation=tanh" / "seed-0"
    status = json.loads((interrupted / "status.json").read_text())
    (interrupted / "status.json").write_text(json.dumps({**status, "status": "running"}))
    (interrupted / "result.json").unlink()  # killed mid-run: no result yet
    done = runs / "activation=sigmoid" / "seed-1" / "result.json"
    before = done.stat().st_mtime_ns, done.read_bytes()
    os.utime(done, ns=(1, 1))  # any rewrite would change this
    with ThreadPoolExecutor(2) as ex:
        summary = run_sweep(sweep, tmp_path, executor=ex)
    assert summary["meta"]["ran"] == 1
    assert _statuses(tmp_path)["activation=tanh/seed-0"] == "done"
    assert (interrupted / "result.json").is_file()
    assert done.stat().st_mtime_ns == 1 and done.read_bytes() == before[1]
    # A changed config reruns its grid points in the same folders.
    longer = parse_sweep({**tiny(activation=["sigmoid", "tanh"]), "seeds": 1})
    longer = Sweep(longer.name, {**longer.base, "epochs": 1}, longer.axes, longer.seeds)
    with ThreadPoolExecutor(2) as ex:
        assert run_sweep(longer, tmp_path, executor=ex)["meta"]["ran"] == 2


def test_diverged_run_is_recorded_as_diverged(tmp_path: Path) -> None:
    data = tiny(activation=["relu"], init=["large"])
    data["base"] |= {"eta": 1e4, "gain": 10.0, "epochs": 3}
    sweep = parse_sweep(data)
    with ThreadPoolExecutor(1) as ex:
        summary = run_sweep(sweep, tmp_path, executor=ex)
    assert set(_statuses(tmp_path).values()) == {"diverged"}
    result = json.loads(
        (tmp_path / "runs/activation=relu,init=large/seed-0/result.json").read_text()
    )
    assert result["final_accuracy"] is None and result["diverged_epoch"] is not None
    assert result["instability"]["initial"] is not None  # measured before it blew up
    status = json.loads(
        (tmp_path / "runs/activation=relu,init=large/seed-0/status.json").read_text()
    )
    assert "diverged" in status["message"]
    assert summary["runs"]["diverged"] == 2 and summary["points"][0]["verdict"] == "diverged"
    with ThreadPoolExecutor(1) as ex:  # not lost, and not run again
        assert run_sweep(sweep, tmp_path, executor=ex)["meta"]["ran"] == 0


def test_failed_run_is_recorded_and_rerun(tmp_path: Path) -> None:
    sweep = parse_sweep({**tiny(activation=["relu"]), "seeds": 1})
    tasks = plan(sweep, tmp_path)
    with ThreadPoolExecutor(1) as ex:
        [outcome] = execute(tasks, {}, executor=ex)  # no data: the run fails in the worker
    assert outcome.status == "failed" and "KeyError" in (outcome.message or "")
    assert _statuses(tmp_path) == {"activation=relu/seed-0": "failed"}
    with ThreadPoolExecutor(1) as ex:
        [again] = execute(tasks, load_sweep_data(sweep), executor=ex)
    assert again.status == "done"


# ---- the command line ----------------------------------------------------------------------


def _write(path: Path, data: dict[str, Any]) -> Path:
    def value(v: Any) -> str:
        return json.dumps(v)  # TOML accepts JSON's strings, numbers and lists

    lines = [f"{k} = {value(v)}" for k, v in data.items() if not isinstance(v, dict)]
    for table, body in data.items():
        if isinstance(body, dict):
            lines.append(f"[{table}]")
            lines += [f"{k} = {value(v)}" for k, v in body.items()]
    path.write_text("\n".join(lines) + "\n")
    return path


def test_cli_bad_config_exits_2_before_any_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = _write(tmp_path / "bad.toml", tiny(activation=["sigmoid", "swish"]))
    assert main(["sweep", str(cfg), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "grid.activation" in err and "tanh" in err
    assert not (tmp_path / "out").exists()


def test_cli_argument_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sweep"]) == 2
    cfg = _write(tmp_path / "ok.toml", tiny(activation=["relu"]))
    assert main(["sweep", str(cfg), "--preset", "remedies"]) == 2
    assert main(["sweep", "--preset", "nope"]) == 2
    capsys.readouterr()


def test_cli_scheduler_without_the_extra(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(sys.modules, "distributed", None)  # import distributed -> ImportError
    cfg = _write(tmp_path / "ok.toml", tiny(activation=["relu"]))
    code = main(["sweep", str(cfg), "--scheduler", "tcp://127.0.0.1:1", "--out", str(tmp_path)])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 1 and len(err) == 1
    assert 'pip install "layerspeed[cluster]"' in err[0]


def test_cli_runs_a_sweep_and_writes_its_summary(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tiny(activation=["sigmoid", "relu"])
    data["seeds"] = 1
    cfg = _write(tmp_path / "small.toml", data)
    out = tmp_path / "out"
    assert main(["sweep", str(cfg), "--out", str(out), "--workers", "1"]) == 0
    assert "| activation=relu |" in capsys.readouterr().out
    for name in ("summary.md", "summary.json", "figures/sweep.png", "figures/sweep.svg"):
        assert (out / name).is_file(), name
    assert set(_statuses(out).values()) == {"done"}
