"""``layerspeed reproduce --quick`` and ``layerspeed speeds`` end to end on the real MNIST."""

from __future__ import annotations

import json

import numpy as np
import pytest

from layerspeed.cli import main
from layerspeed.nn import Network

pytestmark = pytest.mark.mnist  # the cache only; skipped without it (conftest.py)

FIGURES = (
    "neurons",
    "depth",
    "initial_speeds",
    "training_speeds",
    "chain_sigma_prime",
    "chain_width_bound",
)


def _strict(text: str):
    def no_constant(name):
        raise ValueError(f"{name} in results.json")

    return json.loads(text, parse_constant=no_constant)


def test_reproduce_quick_end_to_end_and_resume(tmp_path, capsys):
    out = tmp_path / "res"
    assert main(["reproduce", "--quick", "--out", str(out)]) == 0
    captured = capsys.readouterr()
    assert "The book against the measurements" in captured.out
    for stem in FIGURES:
        for ext in ("png", "svg"):
            assert (out / "figures" / f"{stem}.{ext}").stat().st_size > 1000, stem
    results = _strict((out / "results.json").read_text())  # plain JSON: no NaN
    assert set(results) >= {
        "meta", "runs", "depth", "neurons", "initial", "training", "chain", "remedies"
    }  # fmt: skip
    assert results["schema_version"] == 2
    meta = results["meta"]
    assert meta["quick"] is True and meta["argv"]
    assert meta["seeds"] == {"depth": 2, "neurons": 8, "initial": 8, "training": 2}
    assert {"layerspeed_version", "numpy", "scipy", "altair", "python", "date"} <= set(meta)
    assert results["runs"]["done"] == results["runs"]["total"] == 4 * 2 + 8 + 3 * 8 + 3 * 2
    assert [r["book"] for r in results["depth"]["rows"]] == [96.48, 96.90, 96.57, 96.53]
    assert results["initial"]["rows"][2]["book"] == [0.003, 0.017, 0.070, 0.285]
    training = results["training"]["rows"][2]
    assert len(training["layers"]) == 4 and len(training["layers"][0]["median"]) == 50
    # Every verdict: the claim's id, holds or not, its numbers, and their words beside them.
    verdicts = [v for part in ("depth", "neurons", "initial", "training")
                for v in results[part]["verdicts"]]  # fmt: skip
    assert {v["id"] for v in verdicts} >= {
        "depth.typical", "neurons.second_larger", "initial.rising", "training.first_slowest",
        "training.ratio_100",
    }  # fmt: skip
    for v in verdicts:
        assert set(v) == {"id", "holds", "numbers", "claim", "evidence"}, v["id"]
        assert v["holds"] in (True, False, None) and v["claim"] and v["evidence"]
    summary = (out / "summary.md").read_text()
    for text in ("96.48", "0.285", "--quick", "Holds", "## 4.", "chain"):
        assert text in summary, text
    # The remedies sweep ran too: every activation x initializer, each over two seeds.
    remedies = results["remedies"]
    assert remedies["runs"]["total"] == 6 * 6 * 2 and remedies["runs"]["failed"] == 0
    assert {p["params"]["activation"] for p in remedies["points"]} >= {"sigmoid", "scaled_sigmoid"}
    assert "## Remedies" in summary and (out / "remedies" / "figures" / "sweep.png").is_file()
    remedy = out / "remedies" / "runs" / "activation=scaled_sigmoid,init=he" / "seed-1"
    assert json.loads((remedy / "result.json").read_text())["config"]["epochs"] == 1
    assert (out / "remedies" / "summary.json").is_file()
    # ... and the report, whose path the command prints last.
    report = out / "report.html"
    assert f"The report: {report.resolve()}" in captured.out
    page = report.read_text()
    assert 'id="remedies"' in page and 'id="training"' in page and 'id="problems"' in page
    run = out / "runs" / "depth" / "784-30-30-10" / "seed-1"
    result = json.loads((run / "result.json").read_text())
    assert result["seed"] == 1 and result["config"]["epochs"] == 2
    assert result["config"]["n_train"] == 5000 and result["kind"] == "depth"
    assert result["layerspeed_version"] and len(result["epochs"]) == 2
    assert len(list((out / "runs" / "initial" / "784-30-30-30-30-10").iterdir())) == 8

    # A second reproduction finds every run done and only rebuilds the summary.
    stamp = (run / "result.json").stat().st_mtime_ns
    assert main(["reproduce", "--quick", "--out", str(out), "--workers", "1"]) == 0
    assert "0 to run" in capsys.readouterr().err
    assert (run / "result.json").stat().st_mtime_ns == stamp


def test_speeds_json_measures_the_network_train_starts_from(tmp_path, capsys):
    assert main(["speeds", "--sizes", "784,30,30,10", "--seed", "3", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert len(data["layer_speeds"]) == 2 and len(data["neuron_gradients"][1]) == 30
    assert data["n_probe"] == 1000
    # The same network, saved and loaded, gives the same numbers.
    net = Network.create((784, 30, 30, 10), rng=np.random.default_rng([3, 0]))
    net.save(tmp_path / "net.json")
    assert main(["speeds", "--load", str(tmp_path / "net.json"), "--json"]) == 0
    loaded = json.loads(capsys.readouterr().out)
    np.testing.assert_allclose(loaded["layer_speeds"], data["layer_speeds"], rtol=1e-12)
    # The table form prints one row per hidden layer.
    assert main(["speeds", "--sizes", "784,30,30,30,10", "--n-probe", "100"]) == 0
    assert "Speed of learning" in capsys.readouterr().out


@pytest.mark.parametrize(
    "args",
    [
        ["speeds"],
        ["speeds", "--sizes", "784,30,10", "--load", "x.json"],
        ["speeds", "--sizes", "784,10"],
        ["speeds", "--sizes", "100,30,10"],
        ["reproduce", "--seeds", "0"],
    ],
)
def test_bad_arguments_give_one_line(args, capsys):
    assert main(args) == 2
    err = capsys.readouterr().err
    assert err.startswith("layerspeed: error:") and err.count("\n") == 1


def test_no_remedies_runs_only_the_books_experiments(tmp_path, capsys):
    out = tmp_path / "res"
    assert main(["reproduce", "--quick", "--no-remedies", "--out", str(out), "--offline"]) == 0
    results = _strict((out / "results.json").read_text())
    assert "remedies" not in results and "depth" in results
    assert not (out / "remedies").exists()
    assert "## Remedies" not in (out / "summary.md").read_text()
    assert 'id="remedies"' not in (out / "report.html").read_text()
