"""`layerspeed train` end to end on the real MNIST data, and its argument checking.

The ``--history`` file is a run folder's ``result.json`` body (config, seed, epochs, ...) with
the network it started from under ``load``.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from layerspeed.cli import main
from layerspeed.data import load_mnist, one_hot
from layerspeed.errors import LayerspeedError
from layerspeed.experiments.config import RunConfig
from layerspeed.nn import Network
from layerspeed.probes import layer_speeds

pytestmark = pytest.mark.mnist  # the cache only; skipped without it (conftest.py)


def test_train_one_epoch_on_mnist_reaches_90_percent(tmp_path, capsys):
    history, saved = tmp_path / "h.json", tmp_path / "net.json"
    code = main(
        [
            "train",
            "--sizes",
            "784,30,10",
            "--epochs",
            "1",
            "--seed",
            "3",
            "--history",
            str(history),
            "--save",
            str(saved),
        ]
    )
    assert code == 0
    out = capsys.readouterr().out
    assert "Epoch 0: validation accuracy" in out
    data = json.loads(history.read_text())
    assert data["config"]["sizes"] == [784, 30, 10] and data["seed"] == 3
    assert data["kind"] == "train" and data["load"] is None and data["layerspeed_version"]
    # The same record as any run folder's result.json: the config is a whole RunConfig.
    config = RunConfig.from_dict(data["config"])
    assert (config.epochs, config.mini_batch_size, config.eta, config.lmbda) == (1, 10, 0.1, 5.0)
    assert config.n_train == 50_000 and config.record == ("accuracy",)
    assert data["layer_names"] == ["hidden 1"] and data["diverged_epoch"] is None
    (record,) = data["epochs"]
    assert record["epoch"] == 0
    assert record["evaluation_accuracy"] > 0.90
    assert data["final_accuracy"] == record["evaluation_accuracy"] and data["best_epoch"] == 0
    assert np.isfinite(record["training_cost"]) and np.isfinite(record["evaluation_cost"])
    assert "final_probe" not in data  # no speeds tracked
    assert Network.load(saved).sizes == (784, 30, 10)
    assert f"Saved the network to {saved}" in out and f"Wrote the history to {history}" in out


def test_train_from_a_saved_network_records_where_it_started(tmp_path):
    start, history = tmp_path / "start.json", tmp_path / "h.json"
    Network.create((784, 20, 10), rng=np.random.default_rng([1, 0]), activation="tanh").save(start)
    args = ["train", "--load", str(start), "--epochs", "1", "--n-train", "300"]
    assert main([*args, "--history", str(history)]) == 0
    data = json.loads(history.read_text())
    assert data["load"] == str(start)
    # The sizes and the activation come from the saved network.
    assert data["config"]["sizes"] == [784, 20, 10] and data["config"]["activation"] == "tanh"
    assert data["config"]["n_train"] == 300 and len(data["epochs"]) == 1


@pytest.mark.parametrize(
    ("remedies", "sizes"),
    [({"norm": "batch"}, (784, 12, 12, 10)), ({"residual": True}, (784, 12, 12, 12, 10))],
)
def test_train_and_speeds_load_a_batch_norm_or_residual_network(tmp_path, capsys, remedies, sizes):
    start, history, saved = tmp_path / "start.json", tmp_path / "h.json", tmp_path / "end.json"
    Network.create(sizes, rng=4, **remedies).save(start)
    args = ["train", "--load", str(start), "--epochs", "1", "--n-train", "100", "--offline"]
    assert main([*args, "--history", str(history), "--save", str(saved)]) == 0
    config = RunConfig.from_dict(json.loads(history.read_text())["config"])
    # The run carries the saved network's remedies; the trained network keeps them.
    assert {k: getattr(config, k) for k in remedies} == remedies
    end = Network.load(saved)
    assert {k: getattr(end, k) for k in remedies} == remedies and end.sizes == sizes
    capsys.readouterr()
    assert main(["speeds", "--load", str(saved), "--n-probe", "50", "--json", "--offline"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["source"] == str(saved) and len(data["layer_speeds"]) == len(sizes) - 2
    assert all(np.isfinite(data["layer_speeds"]))


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["train", "--epochs", "1", "--n-train", "21"], "n_train 20 or 22"),
        (["speeds", "--n-probe", "1"], "give n_probe >= 2"),
    ],
)
def test_a_batch_of_one_for_a_loaded_batch_norm_network_is_refused(tmp_path, capsys, args, message):
    start = tmp_path / "start.json"
    Network.create((784, 12, 12, 10), rng=4, norm="batch").save(start)
    assert main([*args, "--load", str(start), "--offline"]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1


def test_track_speeds_records_the_initial_network_first(tmp_path):
    history = tmp_path / "h.json"
    args = [
        "train",
        "--sizes",
        "784,30,30,10",
        "--epochs",
        "2",
        "--n-train",
        "500",
        "--mini-batch",
        "500",
        "--seed",
        "5",
        "--track-speeds",
        "--history",
        str(history),
    ]
    assert main(args) == 0
    data = json.loads(history.read_text())
    assert data["config"]["n_probe"] == 500 and data["config"]["record"] == ["accuracy", "speeds"]
    # Full batch on the probe set: each epoch's own gradient gives the speeds.
    assert data["extra_backward_passes"] == 0
    records = data["epochs"]
    assert [r["epoch"] for r in records] == [0, 1]
    # Record 0 is the untrained network: the same seed gives the same initial weights.
    net = Network.create((784, 30, 30, 10), rng=np.random.default_rng([5, 0]))
    mnist = load_mnist(offline=True)
    want = layer_speeds(net, mnist.training.x[:500], one_hot(mnist.training.labels[:500]))
    np.testing.assert_allclose(records[0]["layer_speeds"], want.layer_speeds, rtol=1e-12)
    assert len(records[1]["layer_speeds"]) == 2
    assert records[1]["layer_speeds"] != records[0]["layer_speeds"]
    # ... and the trained network's reading after the last epoch.
    assert data["final_probe"]["epoch"] == 2 and len(data["final_probe"]["layer_speeds"]) == 2
    assert set(data["instability"]) == {"initial", "training", "final"}


@pytest.mark.parametrize(
    "args, message",
    [
        (["--sizes", "784,0,10"], "--sizes"),
        (["--sizes", "784,a,10"], "--sizes"),
        (["--sizes", "100,30,10"], "784 inputs"),
        (["--sizes", "784,30,10", "--eta", "-0.5"], "eta"),
        (["--load", "does-not-exist.json"], "no such file"),
        ([], "exactly one of --sizes and --load"),
    ],
)
def test_bad_arguments_give_one_line_and_exit_2(args, message, capsys):
    assert main(["train", *args]) == 2
    err = capsys.readouterr().err
    assert message in err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_malformed_load_file_is_rejected(tmp_path, capsys):
    bad = tmp_path / "net.json"
    bad.write_text('{"sizes": [784, 10], "weights": "oops"}')
    assert main(["train", "--load", str(bad)]) == 2
    assert "network2's JSON format" in capsys.readouterr().err


def test_diverging_training_exits_nonzero_and_writes_nothing(tmp_path, capsys):
    saved, history = tmp_path / "net.json", tmp_path / "h.json"
    args = [
        "train",
        "--sizes",
        "784,30,30,10",
        "--activation",
        "relu",
        "--init",
        "he",
        "--eta",
        "1e300",
        "--lmbda",
        "0",  # with lmbda 5 the weight decay factor would be negative: refused up front
        "--epochs",
        "5",
        "--n-train",
        "200",
        "--save",
        str(saved),
        "--history",
        str(history),
    ]
    assert main(args) == 1
    err = capsys.readouterr().err
    assert "diverged in epoch" in err and "--eta" in err
    assert list(tmp_path.iterdir()) == []


def test_negative_seed_is_a_bad_argument(capsys):
    assert main(["train", "--sizes", "784,30,10", "--seed", "-1"]) == 2
    err = capsys.readouterr().err
    assert "--seed" in err and "Traceback" not in err


def test_unwritable_output_is_one_line_and_exit_2(tmp_path, capsys):
    blocker = tmp_path / "afile"
    blocker.write_text("")
    args = [
        "train",
        "--sizes",
        "784,30,10",
        "--epochs",
        "1",
        "--n-train",
        "50",
        "--history",
        str(blocker / "h.json"),
    ]
    assert main(args) == 2  # an output path that cannot be used is a bad input
    err = capsys.readouterr().err
    # It fails before training, with one line and no traceback.
    assert err.startswith("layerspeed: error:") and len(err.strip().splitlines()) == 1
    assert "afile" in err and "Traceback" not in err


def _train_then_block(tmp_path, monkeypatch, **outputs):
    """Train 100 images for one epoch with the outputs under ``tmp_path/out``, and make that
    folder a file once training has started, so that writing the outputs fails afterwards."""
    from layerspeed import pipeline

    monkeypatch.chdir(tmp_path)
    out = tmp_path / "out"

    def block(record):
        if out.is_dir():
            for child in out.iterdir():
                child.unlink()
            out.rmdir()
            out.write_text("in the way")

    config = RunConfig((784, 30, 10), epochs=1, n_train=100, n_probe=100)
    paths = {k: out / v for k, v in outputs.items()}
    with pytest.raises(LayerspeedError) as failed:
        pipeline.train_network(config, 0, offline=True, on_epoch_end=block, **paths)
    return str(failed.value)


def test_a_save_that_fails_after_training_keeps_the_network_and_says_where(tmp_path, monkeypatch):
    message = _train_then_block(tmp_path, monkeypatch, save_path="net.json")
    (kept,) = tmp_path.glob("layerspeed-network-*.json")
    assert Network.load(kept).sizes == (784, 30, 10)
    assert "--save" in message and str(kept) in message and len(message.splitlines()) == 1


def test_both_outputs_failing_after_training_keep_both(tmp_path, monkeypatch):
    message = _train_then_block(tmp_path, monkeypatch, save_path="net.json", history_path="h.json")
    (net,) = tmp_path.glob("layerspeed-network-*.json")
    (history,) = tmp_path.glob("layerspeed-history-*.json")
    assert json.loads(history.read_text())["config"]["sizes"] == [784, 30, 10]
    assert str(net) in message and str(history) in message


def test_history_on_stdout_is_the_json_alone(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)  # where a file named "-" would land
    args = ["train", "--sizes", "784,30,10", "--epochs", "1", "--n-train", "100"]
    assert main([*args, "--history", "-"]) == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out)["config"]["sizes"] == [784, 30, 10]
    assert "Epoch 0" in captured.err and "Wrote the history to -" in captured.err
    assert list(tmp_path.iterdir()) == []


def test_train_in_float32_through_the_cli(tmp_path, capsys):
    # --dtype float32 reaches the network (the saved history's config says so) and trains:
    # one epoch on 1000 images of [784,30,10] gets well past chance (10%).
    history = tmp_path / "h.json"
    args = ["train", "--sizes", "784,30,10", "--epochs", "1", "--n-train", "1000",
            "--dtype", "float32", "--seed", "1", "--history", str(history)]  # fmt: skip
    assert main(args) == 0
    data = json.loads(history.read_text())
    assert data["config"]["dtype"] == "float32"
    assert data["epochs"][0]["evaluation_accuracy"] > 0.5
