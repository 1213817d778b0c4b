"""The probe's edges by value: when it may reuse the training step's gradient, what it records by
default, the diagnostics on their thresholds, and measurement in the network's precision."""

from __future__ import annotations

import numpy as np
import pytest

from layerspeed.nn import Network
from layerspeed.nn.network import Gradients, backprop
from layerspeed.nn.train import FullBatch
from layerspeed.probes import SpeedProbe, diagnostics, layer_speeds, measure


def _problem():
    rng = np.random.default_rng(11)
    net = Network.create((4, 3, 3, 2), rng=rng)
    x = rng.random((6, 4))
    y = np.eye(2)[rng.integers(0, 2, 6)]
    return net, x, y


def test_the_step_is_reused_only_for_the_probe_set_itself() -> None:
    net, x, y = _problem()
    own = FullBatch(x, y, backprop(net, x, y))
    probe = SpeedProbe(x.copy(), y.copy())  # equal arrays, not the same objects
    assert probe(0, net, own)["layer_speeds"] == measure(own.grads).layer_speeds
    assert probe.backward_passes == 0
    # Another x of the same shape with the same y, and the other way round: not the probe set,
    # so the probe measures on its own data.
    x2 = x[::-1].copy()
    y2 = 1.0 - y  # every label flipped
    for other in (FullBatch(x2, y, backprop(net, x2, y)), FullBatch(x, y2, backprop(net, x, y2))):
        probe = SpeedProbe(x, y)
        got = probe(0, net, other)["layer_speeds"]
        assert probe.backward_passes == 1
        assert got == layer_speeds(net, x, y).layer_speeds != measure(other.grads).layer_speeds
    # A batch of another shape is not the probe set either.
    probe = SpeedProbe(x, y)
    half = FullBatch(x[:3], y[:3], backprop(net, x[:3], y[:3]))
    assert probe(0, net, half)["layer_speeds"] == layer_speeds(net, x, y).layer_speeds


def test_the_probe_records_speeds_by_default_and_more_when_asked() -> None:
    net, x, y = _problem()
    plain = SpeedProbe(x, y)(0, net, None)
    assert set(plain) == {"layer_speeds", "mean_example_norms", "weight_grad_norms"}
    full = SpeedProbe(x, y, eta=0.5, neurons=True)(0, net, None)
    want = diagnostics(net, backprop(net, x, y), eta=0.5)
    for key, value in want.items():
        assert full[key] == value
    assert full["neuron_gradients"] == layer_speeds(net, x, y).neuron_gradients


def test_a_float32_network_is_measured_in_float32() -> None:
    net, x, y = _problem()
    net32 = net.astype("float32")
    want = measure(backprop(net32, x.astype(np.float32), y.astype(np.float32)))
    assert layer_speeds(net32, x, y) == want  # given float64 data
    rec = SpeedProbe(x, y)(0, net32, None)
    assert rec["layer_speeds"] == want.layer_speeds
    assert rec["weight_grad_norms"] == want.weight_grad_norms
    # float32 results: each number survives a round trip through float32 unchanged.
    assert all(float(np.float32(s)) == s for s in want.layer_speeds)


def test_speed_report_to_dict() -> None:
    net, x, y = _problem()
    r = layer_speeds(net, x, y)
    d = r.to_dict()
    assert d == {"layer_speeds": r.layer_speeds, "mean_example_norms": r.mean_example_norms,
                 "weight_grad_norms": r.weight_grad_norms,
                 "neuron_gradients": r.neuron_gradients}  # fmt: skip
    assert len(d["layer_speeds"]) == 2


def _grads(z: np.ndarray, nabla_w0: np.ndarray) -> Gradients:
    n, k = z.shape
    return Gradients(
        nabla_b=[np.zeros(k), np.zeros(1)],
        nabla_w=[nabla_w0, np.zeros((1, k))],
        deltas=[np.zeros((n, k)), np.zeros((n, 1))],
        activations=[np.zeros((n, 2)), np.abs(z), np.zeros((n, 1))],
        zs=[z, np.zeros((n, 1))],
    )


def test_update_ratio_with_weights_smaller_than_one() -> None:
    # ||W|| = ||[[0.3, 0.4], [0, 0]]|| = 0.5; the summed gradient [[1.2, 1.6], ..] has norm 2,
    # its mean over n = 2 examples 1, a step of eta = 0.1 is 0.1: ratio 0.1 / 0.5 = 0.2.
    net = Network((2, 2, 1), [np.array([[0.3, 0.4], [0.0, 0.0]]), np.ones((1, 2))],
                  [np.zeros(2), np.zeros(1)])  # fmt: skip
    z = np.array([[0.5, 0.5], [0.5, 0.5]])
    d = diagnostics(net, _grads(z, np.array([[1.2, 1.6], [0.0, 0.0]])), eta=0.1)
    assert d["update_ratio"] == [pytest.approx(0.2, rel=1e-12)]


def test_dead_means_never_above_zero_and_leaky_relu_never_saturates() -> None:
    # Unit 1's z stays in (0, 1]: active, not dead. Unit 2 is <= 0 throughout: dead.
    z = np.array([[0.5, -1.0], [1.0, 0.0], [0.25, -3.0]])
    net = Network((2, 2, 1), [np.ones((2, 2)), np.ones((1, 2))], [np.zeros(2), np.zeros(1)],
                  activation="leaky_relu")  # fmt: skip
    d = diagnostics(net, _grads(z, np.ones((2, 2))), eta=0.1)
    assert d["dead_share"] == [0.5]
    # leaky ReLU's derivative is at least 0.01 = 1% of its maximum 1: never below it.
    assert d["saturated_share"] == [0.0]
