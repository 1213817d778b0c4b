"""Sweeps: the instability flags, runs on disk, resume, the summary and its words, the CLI.

The runs here use the synthetic data set (no MNIST, no network) and tiny networks, so every
run takes a fraction of a second; most go through a thread pool to skip process start-up.
The grid format itself is tested in ``test_grid.py``.
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

from layerspeed import pipeline
from layerspeed.cli import main
from layerspeed.data.synthetic import synthetic_split
from layerspeed.errors import BadInput
from layerspeed.experiments.datasets import DataSet, floats, load_data
from layerspeed.experiments.grid import Grid, load_preset, parse_grid
from layerspeed.experiments.instability import FLAG_RATIO, assess, instability
from layerspeed.views.text.sweep import (
    describe_instability,
    findings,
    remedies_section,
    sweep_markdown,
)

TINY_BASE = {
    "depth": 3,
    "width": 8,
    "epochs": 2,
    "n_train": 300,
    "n_probe": 100,
    "n_eval": 200,
    "data": "synthetic",  # layerspeed 0.1's key, still read
}
DIAGNOSTICS = (
    "layer_speeds",
    "weight_grad_norms",
    "update_ratio",
    "saturated_share",
    "dead_share",
    "activation_mean",
    "activation_std",
)


def tiny(**grid: list[Any]) -> dict[str, Any]:
    base = {k: v for k, v in TINY_BASE.items() if k not in grid}
    return {"name": "tiny", "seeds": 2, "base": base, "grid": grid}


def _grid(**grid: list[Any]) -> Grid:
    return parse_grid(tiny(**grid))


def _sweep(grid: Grid, out: Path, workers: int = 2, **kw: Any) -> pipeline.Finished:
    with ThreadPoolExecutor(workers) as ex:
        return pipeline.sweep(grid, out, executor=ex, **kw)


def _statuses(out: Path) -> dict[str, str]:
    return {
        str(p.parent.relative_to(out / "runs")): json.loads(p.read_text())["status"]
        for p in sorted((out / "runs").rglob("status.json"))
    }


# ---- the synthetic data set ------------------------------------------------------------------


def test_synthetic_data_prefix_does_not_depend_on_size() -> None:
    x_small, y_small = synthetic_split(700, 0)
    x_big, y_big = synthetic_split(1500, 0)
    assert x_small.dtype == np.uint8 and x_small.shape == (700, 784)
    assert y_small.dtype == np.int64 and set(np.unique(y_small)) <= set(range(10))
    np.testing.assert_array_equal(x_big[:700], x_small)
    np.testing.assert_array_equal(y_big[:700], y_small)
    assert not np.array_equal(synthetic_split(10, 1)[0], x_small[:10])


def test_the_data_is_loaded_as_large_as_the_largest_run_needs() -> None:
    grid = _grid(n_train=[300, 500])
    data = load_data(p.config for p in grid.studies[0].points())
    assert set(data) == {"synthetic"}
    d = data["synthetic"]
    assert isinstance(d, DataSet) and d.train_x.shape == (500, 784) and d.eval_x.shape[0] == 200
    train_x, eval_x = floats(d)
    assert train_x.dtype == np.float64 and 0 <= train_x.min() and train_x.max() <= 1
    np.testing.assert_array_equal(train_x * 255, d.train_x)  # k / 255, as MNIST is loaded


# ---- spread and flags, on hand-made speeds ---------------------------------------------------


def test_vanishing_flag_on_the_chapters_speeds() -> None:
    # The book's [784,30,30,30,30,10] at initialization: 0.285 / 0.003 = 95.
    a = assess([0.003, 0.017, 0.070, 0.285])
    assert a is not None and a.flag == "vanishing"
    assert a.ratio == pytest.approx(95.0)
    assert a.spread == pytest.approx(math.log10(95.0))
    text = describe_instability(a.to_dict())
    assert text.startswith("vanishing: first hidden layer 0.003, last 0.285") and "95x" in text


def test_exploding_flag() -> None:
    # Growing toward the front: the first layer 20x faster than the last.
    a = assess([2.0, 1.0, 0.5, 0.1])
    assert a is not None and a.flag == "exploding"
    assert a.ratio == pytest.approx(0.05)
    assert a.spread == pytest.approx(math.log10(20))
    assert "the first 20x faster" in describe_instability(a.to_dict())


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
    assert instability([])["initial"] is None


# ---- real runs ---------------------------------------------------------------------------


def test_tiny_sweep_writes_a_folder_per_run(tmp_path: Path) -> None:
    finished = _sweep(_grid(activation=["sigmoid", "relu"], init=["default", "he"]), tmp_path)
    statuses = _statuses(tmp_path)
    assert len(statuses) == 8 and set(statuses.values()) == {"done"}
    assert finished.unfinished == []
    run = tmp_path / "runs" / "activation=relu,init=he" / "seed-1"
    config = json.loads((run / "config.json").read_text())
    assert config["config"]["activation"] == "relu" and config["kind"] == "tiny"
    result = json.loads((run / "result.json").read_text())
    assert result["params"] == {"activation": "relu", "init": "he"}
    assert len(result["epochs"]) == 2 and result["final_probe"]["epoch"] == 2
    first = result["epochs"][0]
    for key in DIAGNOSTICS:
        assert len(first[key]) == 3, key  # one number per hidden layer
    assert 0 <= result["final_accuracy"] <= 1
    assert set(result["instability"]) == {"initial", "training", "final"}
    # The summary: one row per grid point, mean and CI over the two seeds.
    summary = finished.summary
    assert summary["schema_version"] == 2 and summary["name"] == "tiny"
    assert summary["runs"]["done"] == 8 and summary["runs"]["missing"] == 0
    assert summary["axes"] == {"activation": ["sigmoid", "relu"], "init": ["default", "he"]}
    assert summary["meta"]["ran"] == 8 and summary["meta"]["executor"] == "ThreadPoolExecutor"
    point = summary["points"][0]
    assert point["label"] == "activation=sigmoid,init=default" and point["seeds"] == [0, 1]
    assert point["accuracy"]["n"] == 2 and point["accuracy"]["ci_low"] is not None
    assert point["spread_initial"]["n"] == 2
    assert sum(point["flags_training"].values()) == 2
    assert point["verdict"] in ("vanishing", "balanced", "exploding", "mixed")
    dead = {p["label"]: p["dead_share"] for p in summary["points"]}
    assert dead["activation=sigmoid,init=he"] is None  # only relu units can be dead
    assert dead["activation=relu,init=he"] is not None
    md = sweep_markdown(summary)
    assert md.count("| activation=") == 4 and summary["findings"]
    assert all(f in md for f in summary["findings"])
    # What it wrote is what it returned, as plain JSON.
    assert finished.paths[:2] == [tmp_path / "summary.json", tmp_path / "summary.md"]
    on_disk = json.loads((tmp_path / "summary.json").read_text())
    assert on_disk == json.loads(json.dumps(summary))
    assert (tmp_path / "summary.md").read_text() == md
    for name in ("figures/sweep.png", "figures/sweep.svg"):
        assert (tmp_path / name).stat().st_size > 1000, name


def test_resume_reruns_only_what_did_not_end(tmp_path: Path) -> None:
    grid = _grid(activation=["sigmoid", "tanh"])
    _sweep(grid, tmp_path)
    runs = tmp_path / "runs"
    interrupted = runs / "activation=tanh" / "seed-0"
    status = json.loads((interrupted / "status.json").read_text())
    (interrupted / "status.json").write_text(json.dumps({**status, "status": "running"}))
    (interrupted / "result.json").unlink()  # killed mid-run: no result yet
    done = runs / "activation=sigmoid" / "seed-1" / "result.json"
    content = done.read_bytes()
    os.utime(done, ns=(1, 1))  # any rewrite would change this
    seen: list[tuple[int, int]] = []
    summary = _sweep(grid, tmp_path, on_plan=lambda todo, ended: seen.append((todo, ended)))
    assert seen == [(1, 3)] and summary.summary["meta"]["ran"] == 1
    assert _statuses(tmp_path)["activation=tanh/seed-0"] == "done"
    assert (interrupted / "result.json").is_file()
    assert done.stat().st_mtime_ns == 1 and done.read_bytes() == content
    # A changed config reruns its grid points in the same folders.
    changed = tiny(activation=["sigmoid", "tanh"])
    changed |= {"seeds": 1, "base": {**changed["base"], "epochs": 1}}
    assert _sweep(parse_grid(changed), tmp_path).summary["meta"]["ran"] == 2


def test_quick_runs_the_quick_variant(tmp_path: Path) -> None:
    data = tiny(activation=["sigmoid"])
    data["quick"] = {"seeds": 1, "epochs": 1}
    finished = _sweep(parse_grid(data), tmp_path, quick=True)
    assert finished.summary["meta"]["quick"] is True and finished.summary["runs"]["total"] == 1
    result = json.loads((tmp_path / "runs/activation=sigmoid/seed-0/result.json").read_text())
    assert len(result["epochs"]) == 1
    assert finished.summary["config"]["base"]["epochs"] == 1


def test_diverged_run_is_recorded_as_diverged(tmp_path: Path) -> None:
    data = tiny(activation=["leaky_relu"], init=["large"])
    # No weight decay: a factor 1 - eta*lmbda/n below zero is refused before any run.
    data["base"] |= {"eta": 1e4, "gain": 10.0, "epochs": 3, "lmbda": 0.0}
    grid = parse_grid(data)
    finished = _sweep(grid, tmp_path, workers=1)
    assert set(_statuses(tmp_path).values()) == {"diverged"}
    run = tmp_path / "runs/activation=leaky_relu,init=large/seed-0"
    result = json.loads((run / "result.json").read_text())
    assert result["final_accuracy"] is None and result["diverged_epoch"] is not None
    assert result["instability"]["initial"] is not None  # measured before it blew up
    status = json.loads((run / "status.json").read_text())
    assert "diverged" in status["message"]
    summary = finished.summary
    assert summary["runs"]["diverged"] == 2 and summary["points"][0]["verdict"] == "diverged"
    assert finished.unfinished == []  # diverged is an ending, not a failure
    assert any("diverged" in f for f in summary["findings"])
    # Not lost, and not run again.
    assert _sweep(grid, tmp_path, workers=1).summary["meta"]["ran"] == 0


def test_a_run_that_never_ran_is_reported(tmp_path: Path) -> None:
    grid = _grid(activation=["relu"])

    class Refusing(ThreadPoolExecutor):
        def submit(self, fn, /, *args, **kwargs):  # type: ignore[no-untyped-def]
            raise RuntimeError("no workers today")

    with pytest.raises(RuntimeError, match="no workers"), Refusing(1) as ex:
        pipeline.sweep(grid, tmp_path, executor=ex)
    # The first run was marked running before it was submitted: it is retried next time.
    finished = _sweep(grid, tmp_path)
    assert finished.summary["meta"]["ran"] == 2 and finished.unfinished == []


def test_failed_runs_are_unfinished(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from layerspeed.experiments import driver

    def broken(config: Any, seed: int, data: Any) -> Any:
        raise MemoryError("too big")

    grid = _grid(activation=["relu"])
    with monkeypatch.context() as m:
        m.setattr(driver, "train_run", broken)
        finished = _sweep(grid, tmp_path)
    assert len(finished.unfinished) == 2
    assert finished.unfinished[0] == "tiny/activation=relu/seed-0: failed: MemoryError: too big"
    summary = finished.summary
    assert summary["runs"]["failed"] == 2 and summary["points"][0]["verdict"] == "unknown"
    assert summary["runs"]["problems"][0]["run"] == "activation=relu/seed-0"
    assert "Runs that did not finish" in sweep_markdown(summary)
    assert _sweep(grid, tmp_path).unfinished == []  # retried


def test_a_file_of_several_studies_is_not_a_sweep(tmp_path: Path) -> None:
    with pytest.raises(BadInput, match="several studies"):
        pipeline.sweep(load_preset("chapter"), tmp_path)
    assert not (tmp_path / "runs").exists()


# ---- the findings, on a hand-made summary ----------------------------------------------------


def _point(label: str, verdict: str, acc: float, spread: float, **params: Any) -> dict[str, Any]:
    d = {"mean": spread, "ci_low": None, "ci_high": None, "n": 1}
    return {
        "label": label,
        "params": params,
        "status": {"done": 1, "diverged": 0, "failed": 0, "missing": 0},
        "spread_initial": d,
        "spread_training": d,
        "flags_training": {"vanishing": 0, "balanced": 1, "exploding": 0},
        "verdict": verdict,
        "accuracy": {"mean": acc, "ci_low": None, "ci_high": None, "n": 1},
        "saturated_share": 0.0,
        "dead_share": None,
    }


def test_findings_name_the_groups_and_the_scaled_sigmoid_exercise() -> None:
    points = [
        _point("activation=sigmoid", "vanishing", 80.0, 2.0, activation="sigmoid"),
        _point("activation=scaled_sigmoid", "balanced", 90.0, 0.5, activation="scaled_sigmoid"),
        _point("activation=relu", "balanced", 95.0, 0.3, activation="relu"),
    ]
    summary = {
        "name": "hand",
        "config": {"base": {"depth": 4}, "seeds": [0]},
        "runs": {"total": 3, "done": 3, "diverged": 0, "failed": 0, "missing": 0, "problems": []},
        "points": points,
    }
    got = findings(summary)
    assert got[0].startswith("2 of 3 grid points keep the first and last hidden layers")
    assert "accuracy 90.00% to 95.00%" in got[0]
    assert got[1].startswith("1 of 3 grid points leave the first hidden layer")
    assert any(f.startswith("Best accuracy: activation=relu, 95.00%") for f in got)
    # Spreads 2.0, 0.5, 0.3 against accuracies 80, 90, 95: perfectly opposed ranks.
    assert any("Spearman rank correlation -1.00" in f for f in got)
    assert "balances the layers' speeds at 1 of 1 settings against sigmoid's 0" in got[-1]
    md = sweep_markdown(summary | {"findings": got})
    assert "## Sweep `hand`" in md and "Fixed: depth=4." in md
    section = remedies_section(summary | {"findings": got})
    assert section.startswith("## Remedies") and "## Sweep" not in section


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


def test_cli_refuses_a_file_of_several_studies(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = tmp_path / "two.toml"
    cfg.write_text(
        '[studies.a]\n[studies.a.base]\ndataset = "synthetic"\n'
        "[studies.a.grid]\nsizes = [[784, 8, 10]]\n"
    )
    assert main(["sweep", str(cfg), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "several studies" in err
    assert not (tmp_path / "out" / "runs").exists()


def test_cli_argument_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sweep"]) == 2
    cfg = _write(tmp_path / "ok.toml", tiny(activation=["relu"]))
    assert main(["sweep", str(cfg), "--preset", "remedies"]) == 2
    assert main(["sweep", "--preset", "nope"]) == 2
    assert main(["sweep", str(tmp_path / "absent.toml")]) == 2
    for line in capsys.readouterr().err.strip().splitlines():
        assert line.startswith("layerspeed: error:")


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
    captured = capsys.readouterr()
    assert "| activation=relu |" in captured.out and "## Sweep `tiny`" in captured.out
    assert f"sweep tiny: 2 runs in {out}" in captured.err
    for name in ("summary.md", "summary.json", "figures/sweep.png", "figures/sweep.svg"):
        assert (out / name).is_file(), name
    assert set(_statuses(out).values()) == {"done"}


def test_an_accuracy_interval_of_few_seeds_is_clipped_to_0_100_and_marked() -> None:
    from layerspeed.views.text.beyond import _acc
    from layerspeed.views.text.sweep import _acc_text

    wide = {"mean": 75.35, "ci_low": -237.86, "ci_high": 388.56}
    assert _acc_text({"accuracy": wide}) == "75.35% [0.00, 100.00]†"
    assert _acc(wide) == "75.35% [0.00, 100.00]†"
    narrow = {"mean": 91.0, "ci_low": 90.5, "ci_high": 91.5}
    assert _acc_text({"accuracy": narrow}) == "91.00% [90.50, 91.50]"
    assert _acc(narrow) == "91.00% [90.50, 91.50]"


def test_the_sweep_table_clips_a_wide_accuracy_interval_and_says_so() -> None:
    from layerspeed.views.text.sweep import CLIPPED_NOTE, _acc_cell

    assert _acc_cell({"mean": 75.35, "ci_low": -237.86, "ci_high": 388.56}) == (
        "75.35 [0.00, 100.00]†"
    )
    assert _acc_cell({"mean": 91.0, "ci_low": None, "ci_high": None}) == "91.00"
    assert _acc_cell(None) == "-"
    assert CLIPPED_NOTE.startswith("†")


def test_a_spread_interval_in_the_sweep_table_is_cut_at_zero() -> None:
    from layerspeed.views.text.verdicts import spread_ci as _ci

    assert _ci({"mean": 0.28, "ci_low": -0.73, "ci_high": 1.29}) == "0.28 [0.00, 1.29]"
    assert _ci({"mean": 2.0, "ci_low": None, "ci_high": None}) == "2.00"
