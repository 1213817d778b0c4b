"""The tidy table, ``layerspeed export`` (CSV, Parquet, TensorBoard) and ``layerspeed.load``.

The run folders are made by really running tiny runs on the synthetic data set (no MNIST):
a sweep over two activations and two seeds, recording the per-neuron gradients too, and a
reproduction-shaped folder of two studies (``runs/STUDY/LABEL/seed-N`` and a
``results.json``). Every check reads the numbers back and compares them with the
``result.json`` they came from, read here independently of the code under test.
"""

from __future__ import annotations

import csv
import json
import math
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import layerspeed
from layerspeed import pipeline
from layerspeed.cli import main
from layerspeed.errors import BadInput
from layerspeed.experiments.config import RunConfig
from layerspeed.experiments.driver import plan, run_tasks
from layerspeed.experiments.grid import parse_grid
from layerspeed.experiments.instability import assess
from layerspeed.experiments.tidy import FIXED_AFTER, FIXED_BEFORE, tidy
from layerspeed.readings import FLAG_CODES, spread_and_flag

TINY = {"depth": 3, "width": 8, "epochs": 2, "n_train": 300, "n_probe": 100, "n_eval": 200}
PER_LAYER = ("layer_speeds", "weight_grad_norms", "update_ratio", "saturated_share")


@pytest.fixture(scope="module")
def sweep_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A sweep: activation in (sigmoid, relu), seeds 0 and 1, neurons recorded."""
    out = tmp_path_factory.mktemp("sweep")
    base = TINY | {
        "dataset": "synthetic",
        "record": ["accuracy", "speeds", "diagnostics", "neurons"],
    }
    grid = parse_grid(
        {"name": "tiny", "seeds": 2, "base": base, "grid": {"activation": ["sigmoid", "relu"]}}
    )
    with ThreadPoolExecutor(2) as ex:
        pipeline.sweep(grid, out, executor=ex)
    return out


@pytest.fixture(scope="module")
def repro_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A reproduction's layout: studies "initial" (2 networks x 2 seeds) and "training"."""
    out = tmp_path_factory.mktemp("repro")
    common = {"n_train": 100, "n_probe": 100, "dataset": "synthetic"}
    grid = parse_grid(
        {
            "name": "mini",
            "studies": {
                "initial": {
                    "seeds": 2,
                    "base": common | {"epochs": 0, "record": ["speeds", "neurons"]},
                    "grid": {"sizes": [[784, 8, 8, 10], [784, 8, 8, 8, 10]]},
                },
                "training": {
                    "seeds": 1,
                    "base": common | {"epochs": 3, "mini_batch_size": 100, "record": ["speeds"]},
                    "grid": {"sizes": [[784, 8, 8, 10]]},
                },
            },
        }
    )
    with ThreadPoolExecutor(2) as ex:
        run_tasks(plan(grid, out), executor=ex)
    (out / "results.json").write_text(json.dumps({"schema_version": 2}))
    return out


def results(root: Path) -> dict[Path, dict[str, Any]]:
    """Every result.json under ``root``, read here, by its folder."""
    return {p.parent: json.loads(p.read_text()) for p in sorted(root.rglob("result.json"))}


def expected_rows(result: dict[str, Any]) -> dict[tuple[Any, ...], float]:
    """(epoch, layer, neuron, metric) -> value of every finite number of a NumPy run's
    records, and the spread and flag of each record by ``experiments.instability.assess``."""
    records = list(result["epochs"]) + (
        [result["final_probe"]] if result.get("final_probe") else []
    )
    names = result["layer_names"]
    out: dict[tuple[Any, ...], float] = {}
    for rec in records:
        e = rec["epoch"]
        for key, v in rec.items():
            if key == "epoch" or v is None:
                continue
            if key == "neuron_gradients":
                for name, values in zip(names, v, strict=True):
                    out |= {(e, name, j, "neuron_gradient"): u for j, u in enumerate(values)}
            elif isinstance(v, list):
                out |= {(e, name, None, key): u for name, u in zip(names, v, strict=True)}
            else:
                out[(e, None, None, key)] = v
        a = assess(rec["layer_speeds"])
        assert a is not None
        out[(e, None, None, "speed_spread")] = a.spread
        out[(e, None, None, "instability_flag")] = FLAG_CODES[a.flag]
    return out


def table_rows(root: Path) -> dict[str, dict[tuple[Any, ...], float]]:
    out: dict[str, dict[tuple[Any, ...], float]] = {}
    for r in tidy(root).rows():
        key = (r["epoch"], r["layer"], r["neuron"], r["metric"])
        assert key not in out.setdefault(r["run"], {}), f"two rows for {r['run']} {key}"
        out[r["run"]][key] = r["value"]
    return out


# ---- the tidy table --------------------------------------------------------------------------


def test_every_number_of_a_sweep_is_one_row_with_its_value(sweep_dir: Path) -> None:
    table = tidy(sweep_dir)
    assert table.names == [*FIXED_BEFORE, "activation", *FIXED_AFTER]
    rows = table_rows(sweep_dir)
    found = results(sweep_dir)
    assert len(found) == 4 and table.runs == 4
    for folder, result in found.items():
        run = f"activation={result['config']['activation']}/{folder.name}"
        assert rows[run] == expected_rows(result)  # every number, by value, and nothing else
    assert sum(len(r) for r in rows.values()) == len(table)
    # the run's columns: its grid point, seed, data set and study
    for r in table.rows():
        assert r["run"] == f"activation={r['activation']}/seed-{r['seed']}"
        assert (r["study"], r["dataset"], r["step"]) == ("tiny", "synthetic", None)


def test_the_sweep_records_what_the_tensorboard_export_needs(sweep_dir: Path) -> None:
    metrics = {r["metric"] for r in tidy(sweep_dir).rows()}
    assert {*PER_LAYER, "neuron_gradient", "speed_spread", "instability_flag"} <= metrics


def test_a_reproduction_names_runs_by_study_label_and_seed(repro_dir: Path) -> None:
    table = tidy(repro_dir)
    assert table.grid == ["sizes"]
    runs = {r["run"]: (r["study"], r["sizes"], r["seed"]) for r in table.rows()}
    assert runs == {
        "initial/784-8-8-10/seed-0": ("initial", "784-8-8-10", 0),
        "initial/784-8-8-10/seed-1": ("initial", "784-8-8-10", 1),
        "initial/784-8-8-8-10/seed-0": ("initial", "784-8-8-8-10", 0),
        "initial/784-8-8-8-10/seed-1": ("initial", "784-8-8-8-10", 1),
        "training/784-8-8-10/seed-0": ("training", "784-8-8-10", 0),
    }
    rows = table_rows(repro_dir)
    for folder, result in results(repro_dir).items():
        run = "/".join(folder.relative_to(repro_dir / "runs").parts)
        assert rows[run] == expected_rows(result)
    # the training run: epochs 0..2 before each update, and the final probe after epoch 3
    epochs = {k[0] for k in rows["training/784-8-8-10/seed-0"] if k[3] == "layer_speeds"}
    assert epochs == {0, 1, 2, 3}


def test_runs_not_ended_or_left_by_another_config_are_not_read(
    tmp_path: Path, sweep_dir: Path
) -> None:
    import shutil

    copy = tmp_path / "sweep"
    shutil.copytree(sweep_dir, copy)
    running = copy / "runs" / "activation=relu" / "seed-0"
    status = json.loads((running / "status.json").read_text())
    (running / "status.json").write_text(json.dumps(status | {"status": "running"}))
    other = copy / "runs" / "activation=relu" / "seed-1"
    config = json.loads((other / "config.json").read_text())
    config["config"]["eta"] = 0.5  # a rerun with another config started here
    (other / "config.json").write_text(json.dumps(config))
    runs = {r["run"] for r in tidy(copy).rows()}
    assert runs == {"activation=sigmoid/seed-0", "activation=sigmoid/seed-1"}


def test_a_train_history_file_is_one_run(tmp_path: Path) -> None:
    config = RunConfig((784, 6, 6, 10), epochs=2, mini_batch_size=50, n_train=100, n_probe=100,
                       dataset="synthetic", record=("speeds", "diagnostics"))  # fmt: skip
    history = tmp_path / "speeds.json"
    pipeline.train_network(config, 3, history_path=history)
    table = tidy(history)
    assert {(r["run"], r["study"], r["seed"], r["dataset"]) for r in table.rows()} == {
        ("speeds", "train", 3, "synthetic")
    }
    assert table_rows(history)["speeds"] == expected_rows(json.loads(history.read_text()))


def test_spread_and_flag_by_hand() -> None:
    """Against the rule written out here, not against :func:`assess`, which it calls."""
    rng = np.random.default_rng(0)
    for _ in range(300):
        speeds = 10 ** rng.uniform(-4, 1, size=rng.integers(1, 6))
        ratio = speeds[-1] / speeds[0]
        flag = 1 if ratio > 10 else -1 if ratio < 0.1 else 0
        spread, got = spread_and_flag(list(speeds))
        assert spread == pytest.approx(math.log10(speeds.max() / speeds.min()), abs=1e-12)
        assert got == flag, speeds
    assert spread_and_flag([1.0, 10.0]) == (pytest.approx(1.0), 0)  # exactly 10x: balanced
    assert spread_and_flag([1.0, 10.000001])[1] == FLAG_CODES["vanishing"] == 1
    assert spread_and_flag([10.0, 1.0])[1] == 0
    assert spread_and_flag([10.000001, 1.0])[1] == FLAG_CODES["exploding"] == -1
    assert spread_and_flag([0.0, 1.0]) == (pytest.approx(12.0), 1)  # floored at 1e-12
    assert spread_and_flag([2.0]) == (0.0, 0)
    assert spread_and_flag([1.0, math.nan]) is None and assess([1.0, math.nan]) is None
    assert spread_and_flag([1.0, None]) is None
    assert spread_and_flag([]) is None


# ---- CSV, Parquet, pandas --------------------------------------------------------------------


def test_csv_round_trip(sweep_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "t.csv"
    assert main(["export", str(sweep_dir), "--csv", str(out)]) == 0
    table = tidy(sweep_dir)
    with out.open(newline="") as f:
        back = list(csv.DictReader(f))
    assert list(back[0]) == table.names
    assert len(back) == len(table)
    parse = {str: str, int: int, float: float}
    for got, want in zip(back, table.rows(), strict=True):
        typed = {k: None if v == "" else parse[table.types[k]](v) for k, v in got.items()}
        assert typed == want  # floats exactly: CSV holds their shortest repr


def test_parquet_round_trip(sweep_dir: Path, tmp_path: Path) -> None:
    pq = pytest.importorskip("pyarrow.parquet", reason='pyarrow is an extra ("layerspeed[pandas]")')
    out = tmp_path / "t.parquet"
    assert main(["export", str(sweep_dir), "--parquet", str(out)]) == 0
    back = pq.read_table(out)
    assert back.column_names == tidy(sweep_dir).names
    assert str(back.schema.field("seed").type) == "int64"
    assert back.to_pylist() == list(tidy(sweep_dir).rows())
    meta = back.schema.metadata
    assert meta[b"layerspeed_version"].decode() == layerspeed.__version__
    assert meta[b"source"].decode() == str(sweep_dir)


def test_csv_to_stdout(sweep_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["export", str(sweep_dir), "--csv", "-"]) == 0
    out, err = capsys.readouterr()
    back = list(csv.reader(out.splitlines()))
    table = tidy(sweep_dir)
    assert back[0] == table.names and len(back) == len(table) + 1
    assert err.strip() == f"{len(table)} rows from 4 runs"  # the table alone on stdout


def test_load_gives_the_table_as_a_dataframe(repro_dir: Path) -> None:
    pd = pytest.importorskip("pandas", reason='pandas is an extra ("layerspeed[pandas]")')

    df = layerspeed.load(repro_dir)
    table = tidy(repro_dir)
    assert list(df.columns) == table.names and len(df) == len(table)
    assert str(df["epoch"].dtype) == "Int64" and str(df["value"].dtype) == "float64"
    rows = [{k: None if pd.isna(v) else v for k, v in r.items()} for r in df.to_dict("records")]
    assert rows == list(table.rows())
    speeds = df[(df.metric == "layer_speeds") & (df.run == "training/784-8-8-10/seed-0")]
    assert speeds.groupby("epoch").size().to_dict() == {0: 2, 1: 2, 2: 2, 3: 2}


def test_importing_layerspeed_imports_no_pandas() -> None:
    code = "import sys, layerspeed; assert 'pandas' not in sys.modules; layerspeed.load"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_load_without_pandas_names_the_extra(
    repro_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import layerspeed

    monkeypatch.setitem(sys.modules, "pandas", None)  # import pandas now raises ImportError
    with pytest.raises(ImportError, match=r"layerspeed\[pandas\]"):
        layerspeed.load(repro_dir)


# ---- TensorBoard -----------------------------------------------------------------------------


def _accumulator(folder: Path) -> Any:
    ea_mod = pytest.importorskip(
        "tensorboard.backend.event_processing.event_accumulator",
        reason='TensorBoard is an extra ("layerspeed[tensorboard]")',
    )
    ea = ea_mod.EventAccumulator(str(folder), size_guidance={"scalars": 0, "histograms": 0})
    ea.Reload()
    return ea


def test_tensorboard_one_run_per_grid_point_and_seed_with_the_values(
    sweep_dir: Path, tmp_path: Path
) -> None:
    pytest.importorskip("tensorboard", reason='TensorBoard is an extra ("layerspeed[tensorboard]")')
    logdir = tmp_path / "tb"
    assert main(["export", str(sweep_dir), "--tensorboard", str(logdir)]) == 0
    runs = sorted(p.parent.relative_to(logdir).as_posix() for p in logdir.rglob("*tfevents*"))
    assert runs == [f"activation={a}/seed-{s}" for a in ("relu", "sigmoid") for s in (0, 1)]
    for folder, result in results(sweep_dir).items():
        ea = _accumulator(logdir / f"activation={result['config']['activation']}" / folder.name)
        want = expected_rows(result)
        scalars = {(e.step, tag): e.value for tag in ea.Tags()["scalars"] for e in ea.Scalars(tag)}
        for (epoch, layer, _, metric), value in want.items():
            if metric == "neuron_gradient":
                continue
            tag = metric if layer is None else f"{metric}/{layer.replace(' ', '_')}"
            assert scalars.pop((epoch, tag)) == pytest.approx(value, rel=1e-6)  # float32
        assert not scalars  # and nothing else
        for layer in result["layer_names"]:
            histograms = ea.Histograms(f"neuron_abs_gradient/{layer.replace(' ', '_')}")
            assert [h.step for h in histograms] == [0, 1, 2]
            for h in histograms:
                sizes = [abs(v) for (e, n, _, m), v in want.items()
                         if (e, n, m) == (h.step, layer, "neuron_gradient")]  # fmt: skip
                assert h.histogram_value.num == len(sizes) == 8
                assert h.histogram_value.min == pytest.approx(min(sizes))
                assert h.histogram_value.max == pytest.approx(max(sizes))
                assert h.histogram_value.sum == pytest.approx(sum(sizes))


def test_tensorboard_again_replaces_its_event_file(sweep_dir: Path, tmp_path: Path) -> None:
    pytest.importorskip("tensorboard", reason='TensorBoard is an extra ("layerspeed[tensorboard]")')
    logdir = tmp_path / "tb"
    for _ in range(2):
        assert main(["export", str(sweep_dir), "--tensorboard", str(logdir)]) == 0
    assert len(list(logdir.rglob("*tfevents*"))) == 4
    ea = _accumulator(logdir / "activation=relu" / "seed-0")
    assert [e.step for e in ea.Scalars("layer_speeds/hidden_1")] == [0, 1, 2]


# ---- the PyTorch probe -----------------------------------------------------------------------


def _trained_probe() -> Any:
    torch = pytest.importorskip("torch", reason='PyTorch is an extra ("layerspeed[torch]")')
    import layerspeed.torch as lst

    torch.manual_seed(0)
    model = torch.nn.Sequential(
        torch.nn.Linear(6, 5), torch.nn.Sigmoid(), torch.nn.Linear(5, 4), torch.nn.Sigmoid(),
        torch.nn.Linear(4, 3),
    )  # fmt: skip
    x, y = torch.randn(32, 6), torch.randint(0, 3, (32,))
    opt = torch.optim.SGD(model.parameters(), lr=0.5)
    with lst.watch(model, every=2, probe=(x, y), on_alert=lambda a: None) as probe:
        for _ in range(6):
            loss = torch.nn.functional.cross_entropy(model(x), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
    return probe


def test_probe_to_tensorboard_writes_its_history(tmp_path: Path) -> None:
    pytest.importorskip("tensorboard", reason='TensorBoard is an extra ("layerspeed[tensorboard]")')
    probe = _trained_probe()
    files = probe.to_tensorboard(tmp_path / "tb", run="seed-0")
    assert [f.parent for f in files] == [tmp_path / "tb" / "seed-0"]
    ea = _accumulator(tmp_path / "tb" / "seed-0")
    assert [r["step"] for r in probe.history] == [0, 2, 4]
    for l, layer in enumerate(probe.layer_names):
        for key in PER_LAYER:
            tag = f"{key}/{layer}"  # absent where never measured (no sigmoid after "4")
            events = ea.Scalars(tag) if tag in ea.Tags()["scalars"] else []
            want = [(r["step"], r[key][l]) for r in probe.history if math.isfinite(r[key][l])]
            assert [(e.step, e.value) for e in events] == [
                (s, pytest.approx(v, rel=1e-6)) for s, v in want
            ]
    for key, pick in (("speed_spread", 0), ("instability_flag", 1)):
        got = [e.value for e in ea.Scalars(key)]
        a = [assess(r["layer_speeds"]) for r in probe.history]
        want = [x.spread if pick == 0 else FLAG_CODES[x.flag] for x in a if x is not None]
        assert got == pytest.approx(want, rel=1e-6)


def test_a_saved_probe_folder_is_a_run_with_steps(tmp_path: Path) -> None:
    probe = _trained_probe()
    probe.save(tmp_path / "resnet", seed=7)
    table = tidy(tmp_path / "resnet")
    rows = list(table.rows())
    assert {(r["run"], r["study"], r["seed"]) for r in rows} == {("resnet", "torch", 7)}
    speeds = [(r["step"], r["layer"], r["value"]) for r in rows if r["metric"] == "layer_speeds"]
    assert speeds == [
        (rec["step"], name, rec["layer_speeds"][l])
        for rec in probe.history
        for l, name in enumerate(probe.layer_names)
    ]


# ---- bad input, outputs refused before work --------------------------------------------------


@pytest.mark.parametrize("kind", ["missing", "empty", "not-json", "list"])
def test_a_bad_dir_is_one_line_exit_2_and_nothing_written(
    tmp_path: Path, kind: str, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "in"
    if kind == "empty":
        source.mkdir()
    elif kind == "not-json":
        source.write_text("{oops")
    elif kind == "list":
        source.write_text("[1, 2]")
    out = tmp_path / "out"
    assert main(["export", str(source), "--csv", str(out / "t.csv")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("layerspeed: error: ") and str(source) in err and "\n" not in err
    assert not out.exists()


def test_an_unknown_results_schema_is_refused(repro_dir: Path, tmp_path: Path) -> None:
    import shutil

    copy = tmp_path / "repro"
    shutil.copytree(repro_dir, copy)
    (copy / "results.json").write_text(json.dumps({"schema_version": 99}))
    with pytest.raises(BadInput, match="schema version 99"):
        tidy(copy)


@pytest.mark.parametrize("option", ["--csv", "--parquet", "--tensorboard"])
def test_an_output_that_cannot_be_written_is_refused_before_work(
    sweep_dir: Path, tmp_path: Path, option: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    if option == "--parquet":
        pytest.importorskip("pyarrow", reason='pyarrow is an extra ("layerspeed[pandas]")')
    if option == "--tensorboard":
        pytest.importorskip(
            "tensorboard", reason='TensorBoard is an extra ("layerspeed[tensorboard]")'
        )
    import layerspeed.export

    def no_work(*_: Any) -> Any:
        raise AssertionError("the table was built before the outputs were checked")

    monkeypatch.setattr(layerspeed.export, "table_of", no_work)
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    good = tmp_path / "good.csv"
    argv = ["export", str(sweep_dir), "--csv", str(good), option, str(blocker / "x")]
    if option == "--csv":
        argv = ["export", str(sweep_dir), "--csv", str(blocker / "x")]
    assert main(argv) == 2
    assert not good.exists() and blocker.read_text() == ""


def test_no_output_asked_is_bad_input(sweep_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["export", str(sweep_dir)]) == 2
    assert "--csv FILE" in capsys.readouterr().err


def test_csv_and_parquet_on_one_file_are_refused(sweep_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "t"
    assert main(["export", str(sweep_dir), "--csv", str(out), "--parquet", str(out)]) == 2
    assert not out.exists()


def test_without_pytorch_tensorboardx_writes_the_same_events(
    sweep_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("tensorboardX", reason='tensorboardX is in "layerspeed[tensorboard]"')
    from layerspeed.board import summary_writer

    with_torch = tmp_path / "torch"
    assert main(["export", str(sweep_dir), "--tensorboard", str(with_torch)]) == 0
    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", None)  # as if torch were absent
    assert summary_writer().__module__.startswith("tensorboardX")
    without = tmp_path / "tbx"
    assert main(["export", str(sweep_dir), "--tensorboard", str(without)]) == 0
    run = Path("activation=sigmoid") / "seed-1"
    a, b = _accumulator(with_torch / run), _accumulator(without / run)
    assert a.Tags()["scalars"] and sorted(a.Tags()["scalars"]) == sorted(b.Tags()["scalars"])
    for tag in a.Tags()["scalars"]:
        assert [(e.step, e.value) for e in a.Scalars(tag)] == [
            (e.step, e.value) for e in b.Scalars(tag)
        ]
    assert a.Tags()["histograms"] == b.Tags()["histograms"] != []


def test_no_writer_at_all_is_refused_naming_the_extra(
    sweep_dir: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", None)
    monkeypatch.setitem(sys.modules, "tensorboardX", None)
    assert main(["export", str(sweep_dir), "--tensorboard", str(tmp_path / "tb")]) == 2
    assert "layerspeed[tensorboard]" in capsys.readouterr().err
    assert not (tmp_path / "tb").exists()


def test_probe_to_tensorboard_without_a_writer_names_the_extra(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    probe = _trained_probe()
    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", None)
    monkeypatch.setitem(sys.modules, "tensorboardX", None)
    with pytest.raises(ImportError, match=r"layerspeed\[tensorboard\]"):
        probe.to_tensorboard(tmp_path / "tb")
    assert not (tmp_path / "tb").exists()


def test_a_probe_whose_loop_raised_is_read_with_what_it_recorded(tmp_path: Path) -> None:
    torch = pytest.importorskip("torch", reason='PyTorch is an extra ("layerspeed[torch]")')
    import layerspeed.torch as lst

    model = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Tanh(), torch.nn.Linear(4, 2))
    x, y = torch.randn(8, 3), torch.randint(0, 2, (8,))
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    with pytest.raises(RuntimeError), lst.watch(model, every=1, on_alert=lambda a: None) as probe:
        for step in range(3):
            opt.zero_grad()
            torch.nn.functional.cross_entropy(model(x), y).backward()
            opt.step()
            if step == 1:
                raise RuntimeError("the loop broke")
    probe.save(tmp_path / "broken")
    assert json.loads((tmp_path / "broken" / "status.json").read_text())["status"] == "failed"
    steps = {r["step"] for r in tidy(tmp_path / "broken").rows() if r["metric"] == "layer_speeds"}
    assert steps == {r["step"] for r in probe.history} == {0, 1}


def test_an_output_that_is_one_of_the_exported_files_is_refused(
    sweep_dir: Path, tmp_path: Path
) -> None:
    import shutil

    source = tmp_path / "sweep"
    shutil.copytree(sweep_dir, source)
    result = next(source.rglob("result.json"))
    before = result.read_bytes()
    assert main(["export", str(source), "--csv", str(result)]) == 2
    assert main(["export", str(source), "--csv", str(source / "summary.json")]) == 2
    assert result.read_bytes() == before
    # a new file inside the folder is not an input: that is allowed
    assert main(["export", str(source), "--csv", str(source / "table.csv")]) == 0
    assert (source / "table.csv").read_text().startswith("run,")
