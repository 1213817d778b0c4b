"""The one run config: every field checked when made, with a message that quotes the bad value;
the probe set only where speeds are recorded; a round trip through JSON; the seed's streams."""

from __future__ import annotations

import json
import pickle
from typing import Any

import numpy as np
import pytest

from layerspeed.errors import BadInput
from layerspeed.experiments.config import (
    FIELDS,
    RECORDS,
    RunConfig,
    check_value,
    hidden_sizes,
    shuffle_rng,
    sizes_label,
    weight_rng,
)
from layerspeed.experiments.run import make_network
from layerspeed.nn import Network
from layerspeed.nn.activations import ACTIVATIONS


def message(key: str, value: Any, **kwargs: Any) -> str:
    with pytest.raises(BadInput) as e:
        check_value(key, value, **kwargs)
    text = str(e.value)
    assert "\n" not in text
    return text


@pytest.mark.parametrize(
    ("key", "value", "words"),
    [
        ("sizes", [784, 10], ["sizes", "[784, 10]", "at least 3"]),
        ("sizes", [784, 0, 10], ["[784, 0, 10]", "positive integers"]),
        ("sizes", [784, True, 10], ["positive integers"]),
        ("sizes", "784,30,10", ["'784,30,10'"]),
        ("sizes", [100, 30, 10], ["[100, 30, 10]", "784 inputs", "10 outputs"]),
        ("sizes", [784, 30, 9], ["784 inputs and 10 outputs"]),
        ("record", ["speed"], ["record", "['speed']", "accuracy", "training_accuracy"]),
        ("record", "accuracy", ["record", "'accuracy'"]),
        ("init", "glorot", ["init", "'glorot'", "xavier_normal", "he"]),
        ("cost", "hinge", ["cost", "'hinge'", "cross-entropy"]),
        ("dataset", "cifar", ["dataset", "'cifar'", "mnist", "synthetic"]),
        ("dtype", "float16", ["dtype", "'float16'", "float32"]),
        ("epochs", -1, ["epochs", "-1", "integer >= 0"]),
        ("epochs", 1.5, ["epochs", "1.5", "integer"]),
        ("epochs", True, ["epochs", "True"]),
        ("mini_batch_size", 0, ["mini_batch_size", "integer >= 1"]),
        ("n_train", 50_001, ["n_train", "50001", "more than MNIST has (50000)"]),
        ("n_eval", 10_001, ["n_eval", "more than MNIST has (10000)"]),
        ("eta", 0, ["eta", "0", "positive"]),
        ("eta", -0.5, ["eta", "-0.5", "positive"]),
        ("eta", float("inf"), ["eta", "inf"]),
        ("gain", float("nan"), ["gain", "nan"]),
        ("gain", True, ["gain", "True"]),
        ("gain", 2e6, ["gain", "at most 1,000,000"]),
        ("bias_gain", 1e7, ["bias_gain", "at most 1,000,000"]),
        ("lmbda", -1.0, ["lmbda", "-1.0", ">= 0"]),
        ("lmbda", "5", ["lmbda", "'5'"]),
        ("learning_rate", 0.1, ["unknown key 'learning_rate'", "allowed keys", "eta"]),
    ],
)
def test_check_value_names_the_key_and_quotes_the_value(
    key: str, value: Any, words: list[str]
) -> None:
    text = message(key, value)
    for w in words:
        assert w in text, (w, text)


def test_check_value_lists_every_activation_and_says_where() -> None:
    text = message("activation", "swish", where="grid.activation")
    assert text.startswith("grid.activation:") and "'swish'" in text
    for name in ACTIVATIONS:
        assert name in text


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("sizes", (784, 30, 10)),
        ("sizes", [784, 1, 1, 10]),
        ("record", ()),
        ("record", list(RECORDS)),
        ("epochs", 0),
        ("n_train", 50_000),
        ("eta", 1),
        ("lmbda", 0),
        ("gain", 0.5),
        ("dataset", "synthetic"),
    ],
)
def test_check_value_accepts_the_edges(key: str, value: Any) -> None:
    check_value(key, value)


def test_a_config_checks_every_field_when_made() -> None:
    with pytest.raises(BadInput, match="784 inputs"):
        RunConfig((100, 30, 10))
    with pytest.raises(BadInput, match="at least 3"):
        RunConfig((784, 10))
    with pytest.raises(BadInput, match="init: unknown value 'huge'"):
        RunConfig((784, 30, 10), init="huge")
    with pytest.raises(BadInput, match="record"):
        RunConfig((784, 30, 10), record=("accuracy", "loss"))


def test_the_probe_set_must_fit_in_the_training_set_only_when_speeds_are_recorded() -> None:
    # Without speeds n_probe is never read: no reason to refuse it.
    RunConfig((784, 30, 10), n_train=100, n_probe=1000, record=("accuracy",))
    for record in (("speeds",), ("diagnostics",), ("accuracy", "speeds", "neurons")):
        with pytest.raises(BadInput) as e:
            RunConfig((784, 30, 10), n_train=100, n_probe=1000, record=record)
        assert str(e.value) == "n_probe 1000 must not exceed n_train 100"
    RunConfig((784, 30, 10), n_train=100, n_probe=100, record=("speeds",))


def test_diagnostics_imply_speeds() -> None:
    c = RunConfig((784, 30, 10), record=("diagnostics",))
    assert c.records("speeds") and c.records("diagnostics") and not c.records("accuracy")
    assert not RunConfig((784, 30, 10), record=("accuracy",)).records("speeds")


def test_derived_properties() -> None:
    c = RunConfig([784, 30, 30, 10], epochs=7, n_train=1000, mini_batch_size=1000)
    assert c.sizes == (784, 30, 30, 10) and c.label == "784-30-30-10" and c.hidden_layers == 2
    assert c.full_batch and not RunConfig((784, 30, 10), n_train=1000).full_batch
    assert c.n_train_read == 1000
    # A fresh network reads only its probe images, or one image when it measures nothing.
    fresh = RunConfig((784, 30, 10), epochs=0, n_train=500, n_probe=200, record=("speeds",))
    assert fresh.n_train_read == 200
    assert RunConfig((784, 30, 10), epochs=0).n_train_read == 1
    assert sizes_label([784, 5, 10]) == "784-5-10"
    assert hidden_sizes(3, 8) == (784, 8, 8, 8, 10)


def test_cost_estimate_grows_with_the_work() -> None:
    small = RunConfig((784, 30, 10), epochs=1, n_train=1000)
    assert RunConfig((784, 30, 10), epochs=2, n_train=1000).cost_estimate() > small.cost_estimate()
    assert RunConfig((784, 60, 10), epochs=1, n_train=1000).cost_estimate() > small.cost_estimate()
    # A fresh network's probe is one pass over its probe images: cheaper than any training.
    fresh = RunConfig((784, 30, 10), epochs=0, n_train=1000, record=("speeds",))
    assert 0 < fresh.cost_estimate() < small.cost_estimate()
    assert RunConfig((784, 30, 10), epochs=0).cost_estimate() == 0  # it measures nothing


def test_to_dict_from_dict_round_trip_through_json() -> None:
    c = RunConfig(
        (784, 30, 30, 10),
        activation="relu",
        init="he",
        gain=2.0,
        epochs=3,
        n_train=2000,
        n_probe=500,
        dataset="synthetic",
        record=("accuracy", "speeds", "diagnostics"),
        dtype="float32",
    )
    d = c.to_dict()
    assert set(d) == set(FIELDS)
    assert d["sizes"] == [784, 30, 30, 10] and d["record"] == ["accuracy", "speeds", "diagnostics"]
    back = RunConfig.from_dict(json.loads(json.dumps(d)))
    assert back == c and isinstance(back.sizes, tuple) and isinstance(back.record, tuple)
    assert back.to_dict() == d
    assert pickle.loads(pickle.dumps(c)) == c  # what an executor sends to a worker


def test_from_dict_refuses_an_unknown_key_in_one_line() -> None:
    with pytest.raises(BadInput) as e:
        RunConfig.from_dict({"sizes": [784, 30, 10], "etaa": 0.1})
    assert "unknown key 'etaa'" in str(e.value) and "eta" in str(e.value)
    assert "\n" not in str(e.value)


def test_a_config_is_frozen() -> None:
    c = RunConfig((784, 30, 10))
    with pytest.raises(AttributeError):
        c.eta = 1.0  # type: ignore[misc]


def test_the_seed_streams_are_the_ones_train_has_always_drawn() -> None:
    # Weights from default_rng([seed, 0]), shuffles from default_rng([seed, 1]).
    assert weight_rng(3).random() == np.random.default_rng([3, 0]).random()
    assert shuffle_rng(3).random() == np.random.default_rng([3, 1]).random()
    assert weight_rng(3).random() != shuffle_rng(3).random()
    assert weight_rng(3).random() != weight_rng(4).random()
    c = RunConfig((784, 8, 10), init="he", activation="relu")
    net = make_network(c, 3)
    ref = Network.create(
        (784, 8, 10), rng=np.random.default_rng([3, 0]), init="he", activation="relu"
    )
    for a, b in zip(net.weights + net.biases, ref.weights + ref.biases, strict=True):
        np.testing.assert_array_equal(a, b)


# ----------------------------------------------------- weight decay, memory before a run


def test_a_negative_weight_decay_factor_is_refused() -> None:
    with pytest.raises(BadInput, match=r"1 - eta\*lmbda/n = -4 negative"):
        RunConfig((784, 30, 10), eta=100.0, lmbda=5.0, n_train=100)
    RunConfig((784, 30, 10), eta=20.0, lmbda=5.0, n_train=100)  # exactly 0: allowed


def test_memory_limit_reads_the_cgroup_then_the_machine(tmp_path, monkeypatch) -> None:
    from layerspeed.experiments import budget

    v2, v1 = tmp_path / "memory.max", tmp_path / "limit_in_bytes"
    monkeypatch.setattr(budget, "CGROUP_LIMITS", (v2, v1))
    monkeypatch.setattr(budget, "_physical_memory", lambda: 64 << 30)
    assert budget.memory_limit() == (64 << 30, "the machine's memory")  # no cgroup files
    v2.write_text("max\n")
    v1.write_text("9223372036854771712\n")  # v1's "no limit"
    assert budget.memory_limit()[0] == 64 << 30
    v2.write_text(f"{2 << 30}\n")
    assert budget.memory_limit() == (2 << 30, "the cgroup's memory limit")


def test_a_run_too_large_for_memory_is_refused_with_both_numbers(monkeypatch) -> None:
    from layerspeed.experiments import budget

    monkeypatch.setattr(budget, "memory_limit", lambda: (8 << 30, "the cgroup's memory limit"))
    huge = RunConfig((784, 200_000, 10), n_train=50_000)
    # The training cost forwards all 50,000 images through 200,000 units: 50,000 x 200,010
    # floats of 8 bytes, four such arrays; nothing is allocated to find that out.
    assert budget.run_bytes(huge) > 4 * 50_000 * 200_010 * 8
    with pytest.raises(BadInput) as info:
        budget.check_run(huge, "training [784, 200000, 10]")
    message = str(info.value)
    assert "GiB of memory, more than the 8.0 GiB available" in message
    assert "\n" not in message
    budget.check_run(RunConfig((784, 30, 30, 30, 30, 10)))  # the chapter's largest fits
