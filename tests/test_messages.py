"""Error messages by their words: each one says what is wrong and what to do, and a test reads
those words, so a message cannot be emptied, garbled or lose its advice unnoticed."""

from __future__ import annotations

import re

import numpy as np
import pytest

from layerspeed.chain.model import build_chain
from layerspeed.errors import BadInput, DivergenceError
from layerspeed.nn import Network, SGDConfig, sgd
from layerspeed.nn.activations import ACTIVATIONS, get_activation
from layerspeed.nn.costs import COSTS, get_cost
from layerspeed.nn.init import INITIALIZERS, get_initializer
from layerspeed.nn.network import backprop
from layerspeed.nn.train import _check_finite, check_decay, divergence_hint, step


def _raises(match: str):
    return pytest.raises(BadInput, match=re.escape(match))


def _exactly(message: str):
    """The whole message, nothing before or after it."""
    return pytest.raises(BadInput, match=f"^{re.escape(message)}$")


# ---- SGD's hyper-parameters and data ----------------------------------------------------------


def test_sgd_config_messages_name_the_value() -> None:
    with _raises("epochs must be >= 0, got -1"):
        SGDConfig(epochs=-1)
    with _raises("mini-batch size must be >= 1, got 0"):
        SGDConfig(mini_batch_size=0)
    with _raises("eta must be a positive number, got 0"):
        SGDConfig(eta=0.0)  # zero is not positive: training would not move
    with _raises("lmbda must be a non-negative number, got -1"):
        SGDConfig(lmbda=-1.0)  # finite but negative
    with _raises("lmbda must be a non-negative number, got inf"):
        SGDConfig(lmbda=float("inf"))


def test_zero_epochs_is_a_valid_config_that_trains_nothing() -> None:
    net = Network.create((3, 2), rng=0)
    before = net.copy()
    x, y = np.ones((4, 3)), np.eye(2)[[0, 1, 0, 1]]
    assert sgd(net, x, y, SGDConfig(epochs=0), rng=0).epochs == []
    np.testing.assert_array_equal(net.weights[0], before.weights[0])


def test_the_decay_message_names_n_and_the_largest_product() -> None:
    with _raises("eta 5 x lmbda 3 / n 10 makes the weight decay factor 1 - eta*lmbda/n = -0.5"):
        check_decay(5.0, 3.0, 10)
    with _raises("negative; give a smaller eta or lmbda (eta*lmbda at most 10)"):
        check_decay(5.0, 3.0, 10)
    with _raises("/ n_train 10"):
        check_decay(5.0, 3.0, 10, n_name="n_train")
    check_decay(5.0, 2.0, 10)  # a factor of exactly 0 is allowed


def test_divergence_hint_in_full() -> None:
    net64 = Network.create((4, 3, 2), rng=0)
    net32 = Network.create((4, 3, 2), rng=0, dtype="float32")
    # eta*lmbda/n = 1 * 6 / 10 = 0.6, over half a step: the decay is named first.
    assert divergence_hint(net64, eta=1.0, lmbda=6.0, n=10) == (
        "try a smaller --lmbda (the weight decay eta*lmbda/n is 0.6 a step), "
        "a smaller --eta (now 1) or a smaller weight initialization"
    )
    # Exactly half a step is not yet named.
    assert divergence_hint(net64, eta=1.0, lmbda=5.0, n=10) == (
        "try a smaller --eta (now 1) or a smaller weight initialization"
    )
    assert divergence_hint(net32, eta=0.1, lmbda=0.0, n=10) == (
        "try a smaller --eta (now 0.1), a smaller weight initialization or --dtype float64"
    )
    assert divergence_hint(net64, eta=0.1, lmbda=4.9, n=10) == (
        "try a smaller --eta (now 0.1) or a smaller weight initialization"
    )


def test_sgd_data_messages() -> None:
    net = Network.create((3, 2), rng=0)
    with _exactly("the training set is empty"):
        sgd(net, np.zeros((0, 3)), np.zeros((0, 2)), SGDConfig(epochs=1), rng=0)
    # Only the outputs' width is wrong: still refused, with both shapes and the sizes.
    with _raises("data of shapes (4, 3) and (4, 5) does not fit a network of sizes [3, 2]"):
        sgd(net, np.ones((4, 3)), np.ones((4, 5)), SGDConfig(epochs=1), rng=0)
    with _raises("data of shapes (4, 2) and (4, 2) does not fit a network of sizes [3, 2]"):
        sgd(net, np.ones((4, 2)), np.ones((4, 2)), SGDConfig(epochs=1), rng=0)
    with _raises("unknown engine 'gpu'; choose one of: auto, fast, numpy"):
        sgd(net, np.ones((4, 3)), np.ones((4, 2)), SGDConfig(epochs=1), rng=0, engine="gpu")


def test_a_network_the_fast_engine_lacks(monkeypatch: pytest.MonkeyPatch) -> None:
    from layerspeed.nn import fast

    monkeypatch.setattr(fast, "supports", lambda net: False)
    x, y = np.ones((4, 3)), np.eye(2)[[0, 1, 0, 1]]
    net = Network.create((3, 2), rng=0, activation="tanh")
    with _raises("the fast engine has no 'tanh' or float64 network"):
        sgd(net, x, y, SGDConfig(epochs=1, mini_batch_size=2), rng=0, engine="fast")
    # "auto" falls back to NumPy for it, and "numpy" never asks.
    for engine in ("auto", "numpy"):
        h = sgd(net, x, y, SGDConfig(epochs=1, mini_batch_size=2), rng=0, engine=engine)
        assert len(h.epochs) == 1


# ---- divergence ---------------------------------------------------------------------------------


def test_the_divergence_message_names_the_epoch_what_and_the_hint() -> None:
    net = Network.create((2, 3, 2), rng=0)
    with pytest.raises(DivergenceError) as info:
        _check_finite(net, float("nan"), 4, "try less")
    assert str(info.value) == (
        "training diverged in epoch 4: the training cost is NaN or infinite; try less"
    )
    assert info.value.epoch == 4 and info.value.what == "the training cost"
    # A finite cost with a NaN bias in the second layer (weights all finite).
    net.biases[1][0] = np.nan
    with pytest.raises(DivergenceError) as info:
        _check_finite(net, 1.0, 7, "try less")
    assert str(info.value) == (
        "training diverged in epoch 7: a weight or bias of layer 2 is NaN or infinite; try less"
    )
    net.biases[1][0] = 0.0
    net.weights[0][0, 0] = np.inf
    with pytest.raises(DivergenceError, match="a weight or bias of layer 1 is NaN"):
        _check_finite(net, 1.0, 0)
    net.weights[0][0, 0] = 0.0
    _check_finite(net, 1.0, 0)  # all finite again: nothing raised


def test_a_diverging_run_raises_divergence_not_a_numpy_warning() -> None:
    import warnings

    rng = np.random.default_rng(0)
    x, y = rng.random((10, 4)), np.eye(2)[rng.integers(0, 2, 10)]
    net = Network.create((4, 3, 2), rng=0, activation="identity", gain=30.0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a RuntimeWarning would surface as an exception
        with pytest.raises(DivergenceError, match="diverged in epoch"):
            sgd(net, x, y, SGDConfig(epochs=20, eta=1e30, lmbda=0.0), rng=0, engine="numpy")


def test_callbacks_measure_under_the_loops_error_state() -> None:
    # A measurement of a degenerate network (here a division by a zero speed) records inf
    # instead of warning once per epoch: the loop reports trouble once, by its own check.
    import warnings

    def ratio(epoch, net, full):
        return {"ratio": float(np.float64(1.0) / np.float64(0.0))}

    x, y = np.ones((4, 3)), np.eye(2)[[0, 1, 0, 1]]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        h = sgd(Network.create((3, 2), rng=0), x, y, SGDConfig(epochs=1), rng=0,
                callbacks=[ratio])  # fmt: skip
    assert h.series("ratio") == [float("inf")]


def test_a_step_with_gradients_of_the_wrong_depth_is_refused() -> None:
    net = Network.create((3, 4, 2), rng=0)
    g = backprop(net, np.ones((2, 3)), np.eye(2))
    short = g._replace(nabla_w=g.nabla_w[:1])
    with pytest.raises(ValueError, match="zip"):
        step(net, short, eta=0.1, lmbda=0.0, n=2, m=2)
    short = g._replace(nabla_b=g.nabla_b[:1])
    with pytest.raises(ValueError, match="zip"):
        step(net, short, eta=0.1, lmbda=0.0, n=2, m=2)


# ---- the network's own messages ---------------------------------------------------------------


def test_network_shape_messages() -> None:
    with _raises("weights of dtype int64: use float64 or float32"):
        Network((2, 1), [np.zeros((1, 2), dtype=np.int64)], [np.zeros(1)])
    # The right number of weight matrices but one bias vector too few.
    with _raises(
        "a network of sizes [2, 3, 1] needs 2 weight matrices and bias vectors, got 2 and 1"
    ):
        Network((2, 3, 1), [np.zeros((3, 2)), np.zeros((1, 3))], [np.zeros(3)])
    with _raises(
        "layer 2: weights have shape (1, 2) and biases (1,), expected (1, 3) and (1,) "
        "for sizes [2, 3, 1]"
    ):
        Network((2, 3, 1), [np.zeros((3, 2)), np.zeros((1, 2))], [np.zeros(3), np.zeros(1)])


def test_network_file_messages(tmp_path) -> None:
    with _raises("network: 'sizes' must be a list of layer sizes, e.g. [784, 30, 10]"):
        Network.from_dict({"sizes": 3})
    with _raises("network: sizes [1.5, 2] must be whole numbers of neurons, e.g. [784, 30, 10]"):
        Network.from_dict({"sizes": [1.5, 2]})
    missing = tmp_path / "absent.json"
    with _raises(f"{missing}: no such file"):
        Network.load(missing)
    bad = tmp_path / "bad.json"
    bad.write_text('{"sizes": "784"}')
    with _raises(f"{bad}: 'sizes' must be a list"):
        Network.load(bad)


def test_unknown_names_list_the_choices() -> None:
    # Every choice, comma-separated, in the table's order (activations sorted by name).
    with _exactly(f"unknown initializer 'glorot'; choose one of: {', '.join(INITIALIZERS)}"):
        get_initializer("glorot")
    assert "xavier_uniform, he, orthogonal" in ", ".join(INITIALIZERS)
    with _exactly(f"unknown cost 'hinge'; choose one of: {', '.join(COSTS)}"):
        get_cost("hinge")
    assert "cross-entropy, quadratic, log-likelihood" in ", ".join(COSTS)
    with _exactly(f"unknown activation 'swish'; choose one of: {', '.join(sorted(ACTIVATIONS))}"):
        get_activation("swish")
    assert "relu, scaled_sigmoid, sigmoid" in ", ".join(sorted(ACTIVATIONS))


# ---- the chain's command-line options -----------------------------------------------------------


def test_chain_option_messages() -> None:
    with _exactly("--exploding sets the weights and biases; drop --weights/--biases/--seed"):
        build_chain(exploding=True, seed=1)
    with _exactly(
        "--seed draws the weights and biases, but both --weights and --biases were given; "
        "drop --seed (or one of them, to draw it)"
    ):
        build_chain(seed=1, weights=(1.0,), biases=(0.0,))
    with _exactly("give both --weights and --biases (or --seed to draw the missing one)"):
        build_chain(weights=(1.0, 2.0))
    with _exactly(
        "--weights has 2 values but --biases has 1; give one weight and one bias per neuron"
    ):
        build_chain(weights=(1.0, 2.0), biases=(0.0,))
