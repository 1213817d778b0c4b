"""The remedies' plumbing by value: batch norm's parameters through create, copy, astype and the
network file; its messages; and ``sgd`` handing the remedy settings to the step unchanged."""

from __future__ import annotations

import re

import numpy as np
import pytest

from layerspeed.errors import BadInput, DivergenceError
from layerspeed.nn import Network, SGDConfig, remedies, sgd
from layerspeed.nn.network import backprop
from layerspeed.nn.norm import NORMS
from layerspeed.nn.train import _check_finite


def _exactly(message: str):
    return pytest.raises(BadInput, match=f"^{re.escape(message)}$")


def _bn(dtype: str = "float64") -> Network:
    return Network.create((3, 4, 4, 2), rng=0, norm="batch", dtype=dtype)


def test_batch_norm_parameters_take_the_networks_dtype() -> None:
    net = _bn("float32")
    for name in ("gammas", "running_means", "running_vars"):
        assert all(a.dtype == np.float32 for a in getattr(net, name)), name
    given = Network(net.sizes, net.weights, net.biases, norm="batch",
                    gammas=[np.full(4, 2.0), np.full(4, 3.0)])  # fmt: skip
    assert given.gammas is not None and given.gammas[1].dtype == np.float32
    assert given.gammas[1].tolist() == [3.0] * 4
    plain = Network.create((3, 4, 2), rng=0)
    assert plain.gammas is None and plain.running_means is None and plain.running_vars is None


def test_a_zero_running_variance_is_allowed() -> None:
    net = _bn()
    Network(net.sizes, net.weights, net.biases, norm="batch",
            running_vars=[np.zeros(4), np.ones(4)])  # fmt: skip


def test_copy_and_astype_keep_batch_norms_parameters() -> None:
    net = _bn()
    assert net.gammas is not None
    net.gammas[0][:] = 1.5
    twin = net.copy()
    assert twin.norm == "batch" and twin.gammas is not None
    assert twin.gammas[0].tolist() == [1.5] * 4
    twin.gammas[0][0] = 9.0
    assert net.gammas[0][0] == 1.5  # a copy, not a view
    low = net.astype("float32")
    assert low.gammas is not None and low.running_vars is not None
    assert low.gammas[0].dtype == np.float32 and low.gammas[0].tolist() == [1.5] * 4
    assert low.running_vars[1].dtype == np.float32


def test_bias_gain_multiplies_the_drawn_biases() -> None:
    one = Network.create((3, 4, 2), rng=0)
    two = Network.create((3, 4, 2), rng=0, bias_gain=2.0)
    np.testing.assert_allclose(two.biases[1], 2.0 * one.biases[1], rtol=1e-15)
    np.testing.assert_array_equal(two.weights[0], one.weights[0])


def test_batch_norm_in_the_network_file() -> None:
    net = _bn()
    d = net.to_dict()
    d["gammas"] = [[1, 2, 3, 4], [1, 1, 1, 1]]  # whole numbers in the file
    back = Network.from_dict(d)
    assert back.gammas is not None and back.gammas[0].dtype == np.float64
    assert back.gammas[0].tolist() == [1.0, 2.0, 3.0, 4.0]
    for name in ("gammas", "running_means", "running_vars"):
        bad = net.to_dict()
        bad[name][1][0] = float("nan")
        with pytest.raises(BadInput, match=r"^network: a weight.* is NaN or infinite$"):
            Network.from_dict(bad)
    bad = net.to_dict() | {"residual": "yes"}
    with _exactly("network: 'residual' must be true or false"):
        Network.from_dict(bad)


def test_remedy_messages() -> None:
    net = Network.create((3, 4, 2), rng=0)
    with _exactly(f"unknown norm 'group'; choose one of: {', '.join(NORMS)}"):
        Network(net.sizes, net.weights, net.biases, norm="group")
    x, y = np.ones((4, 3)), np.eye(2)[[0, 1, 0, 1]]
    with _exactly(
        "the fast engine has no batch norm, skips, layer_lr or clip; use engine auto or numpy"
    ):
        sgd(net, x, y, SGDConfig(epochs=1, mini_batch_size=2, clip=1.0), rng=0, engine="fast")


def test_a_non_finite_batch_norm_scale_is_a_divergence() -> None:
    net = _bn()
    assert net.gammas is not None
    net.gammas[1][2] = np.inf
    with pytest.raises(DivergenceError) as info:
        _check_finite(net, 1.0, 3, "try less")
    assert str(info.value) == (
        "training diverged in epoch 3: a batch-norm scale of layer 2 is NaN or infinite; try less"
    )


def _problem():
    rng = np.random.default_rng(5)
    x = rng.random((8, 3))
    return x, np.eye(2)[rng.integers(0, 2, 8)]


@pytest.mark.parametrize(("layer_lr", "clip"), [("equalize", 0.05), ("none", 0.05)])
def test_full_batch_sgd_hands_the_remedies_to_the_step(layer_lr: str, clip: float) -> None:
    x, y = _problem()
    net = Network.create((3, 4, 4, 2), rng=1)
    want = net.copy()
    cfg = SGDConfig(epochs=1, mini_batch_size=8, eta=0.5, lmbda=2.0, layer_lr=layer_lr,
                    clip=clip)  # fmt: skip
    sgd(net, x, y, cfg, rng=0)
    remedies.train_step(want, backprop(want, x, y), eta=0.5, lmbda=2.0, n=8, m=8,
                        layer_lr=layer_lr, clip=clip)  # fmt: skip
    for l in range(3):
        np.testing.assert_allclose(net.weights[l], want.weights[l], rtol=1e-12)
        np.testing.assert_allclose(net.biases[l], want.biases[l], rtol=1e-12)
    # The remedy changed the step: plain SGD ends elsewhere.
    plain = Network.create((3, 4, 4, 2), rng=1)
    sgd(plain, x, y, SGDConfig(epochs=1, mini_batch_size=8, eta=0.5, lmbda=2.0), rng=0)
    assert not np.allclose(plain.weights[0], net.weights[0])


def test_mini_batch_sgd_hands_the_clip_to_the_epoch() -> None:
    x, y = _problem()
    net = Network.create((3, 4, 2), rng=1)
    want = net.copy()
    cfg = SGDConfig(epochs=1, mini_batch_size=4, eta=0.5, lmbda=1.0, clip=0.05)
    sgd(net, x, y, cfg, rng=0)
    order = np.random.default_rng(0).permutation(8)
    remedies.remedy_epoch(want, x, y, order, m=4, eta=0.5, lmbda=1.0, clip=0.05)
    np.testing.assert_allclose(net.weights[1], want.weights[1], rtol=1e-12)
    unclipped = Network.create((3, 4, 2), rng=1)
    remedies.remedy_epoch(unclipped, x, y, order, m=4, eta=0.5, lmbda=1.0)
    assert not np.allclose(unclipped.weights[1], net.weights[1])
