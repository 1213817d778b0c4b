"""The speed probes against an independent, network2-style computation, and the full-batch
probe against a separate pass."""

from __future__ import annotations

import numpy as np
import pytest

from layerspeed.nn import Network, SGDConfig, sgd
from layerspeed.probes import SpeedProbe, layer_speeds


def _sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def _reference_speeds(net: Network, x: np.ndarray, y: np.ndarray):
    """network2's way, written out: one example at a time, column vectors, sigmoid neurons
    and the cross-entropy cost (whose output error is a - y). Returns, per hidden layer, the
    mean bias gradient, the mean of the per-example norms and the mean weight gradient."""
    biases = [b.reshape(-1, 1) for b in net.biases]  # network2 keeps biases as (n, 1)
    n_hidden = len(net.sizes) - 2
    sum_b = [np.zeros_like(b) for b in biases]
    sum_w = [np.zeros_like(w) for w in net.weights]
    norms = [[] for _ in range(n_hidden)]
    for xi, yi in zip(x, y, strict=True):
        activation = xi.reshape(-1, 1)
        activations, zs = [activation], []
        for b, w in zip(biases, net.weights, strict=True):
            z = w @ activation + b
            zs.append(z)
            activation = _sigmoid(z)
            activations.append(activation)
        delta = activations[-1] - yi.reshape(-1, 1)  # cross-entropy with sigmoid output
        nabla_b = [None] * len(biases)
        nabla_w = [None] * len(biases)
        nabla_b[-1], nabla_w[-1] = delta, delta @ activations[-2].T
        # As in network2, l counts layers from the end: -l is the l-th last layer.
        for l in range(2, len(net.sizes)):
            sp = _sigmoid(zs[-l]) * (1 - _sigmoid(zs[-l]))
            delta = (net.weights[-l + 1].T @ delta) * sp
            nabla_b[-l], nabla_w[-l] = delta, delta @ activations[-l - 1].T
        for l in range(n_hidden):
            sum_b[l] += nabla_b[l]
            sum_w[l] += nabla_w[l]
            norms[l].append(np.linalg.norm(nabla_b[l]))
    n = len(x)
    mean_b = [(s / n).ravel() for s in sum_b[:n_hidden]]
    mean_norms = [float(np.mean(v)) for v in norms]
    mean_w = [s / n for s in sum_w[:n_hidden]]
    return mean_b, mean_norms, mean_w


def _problem(seed: int, sizes=(8, 6, 5, 4, 3), n: int = 17):
    rng = np.random.default_rng(seed)
    net = Network.create(sizes, rng=rng)
    x = rng.random((n, sizes[0]))
    y = np.eye(sizes[-1])[rng.integers(0, sizes[-1], n)]
    return net, x, y


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_layer_speeds_equal_a_per_example_loop(seed):
    net, x, y = _problem(seed)
    report = layer_speeds(net, x, y)
    mean_b, mean_norms, mean_w = _reference_speeds(net, x, y)
    assert len(report.layer_speeds) == 3  # one per hidden layer, none for the output
    for l in range(3):
        np.testing.assert_allclose(report.neuron_gradients[l], mean_b[l], rtol=1e-12, atol=1e-15)
        # The book's speed is the norm of the average, not the average of the norms.
        np.testing.assert_allclose(report.layer_speeds[l], np.linalg.norm(mean_b[l]), rtol=1e-12)
        np.testing.assert_allclose(report.mean_example_norms[l], mean_norms[l], rtol=1e-12)
        np.testing.assert_allclose(
            report.weight_grad_norms[l], np.linalg.norm(mean_w[l]), rtol=1e-12
        )
        # Signs cancel in the average, so it is never longer than the average length.
        assert report.layer_speeds[l] <= report.mean_example_norms[l] + 1e-15


def _train_with_probe(probe_x, probe_y, net, x, y, *, epochs=4, mini_batch=None):
    probe = SpeedProbe(probe_x, probe_y, neurons=True)
    history = sgd(
        net,
        x,
        y,
        SGDConfig(epochs=epochs, mini_batch_size=mini_batch or len(x), eta=0.5, lmbda=1.0),
        rng=0,
        callbacks=[probe],
    )
    return probe, history


def test_full_batch_probe_reads_the_step_and_equals_a_separate_pass():
    net, x, y = _problem(3)
    twin = net.copy()
    # Full batch, probe set = training set: the step's own gradient, no extra pass.
    probe, history = _train_with_probe(x, y, net, x, y)
    assert probe.backward_passes == 0
    # The same training, measured by a separate pass on a copy of the set before each epoch.
    separate = []
    for _ in range(4):
        separate.append(layer_speeds(twin, x.copy(), y.copy()))
        sgd(twin, x, y, SGDConfig(1, len(x), 0.5, 1.0), rng=0)
    for record, report in zip(history.epochs, separate, strict=True):
        np.testing.assert_allclose(record["layer_speeds"], report.layer_speeds, rtol=1e-12)
        np.testing.assert_allclose(
            record["mean_example_norms"], report.mean_example_norms, rtol=1e-12
        )
        np.testing.assert_allclose(
            record["weight_grad_norms"], report.weight_grad_norms, rtol=1e-12
        )
        for a, b in zip(record["neuron_gradients"], report.neuron_gradients, strict=True):
            np.testing.assert_allclose(a, b, rtol=1e-12)
    # Record 0 describes the network as initialized.
    fresh, _, _ = _problem(3)
    assert history.epochs[0]["layer_speeds"] == pytest.approx(
        layer_speeds(fresh, x, y).layer_speeds, rel=1e-12
    )


def test_probe_on_another_set_does_one_batched_pass_per_epoch():
    net, x, y = _problem(4, n=20)
    probe, history = _train_with_probe(x[:7], y[:7], net, x, y, epochs=3)
    assert probe.backward_passes == 3
    probe2, _ = _train_with_probe(x, y, *_problem(4, n=20)[:1], x, y, epochs=3, mini_batch=5)
    assert probe2.backward_passes == 3  # mini-batches: no step's gradient covers the set
    fresh, _, _ = _problem(4, n=20)
    mean_b, _, _ = _reference_speeds(fresh, x[:7], y[:7])
    for got, want in zip(history.epochs[0]["neuron_gradients"], mean_b, strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-12)


# ---- diagnostics by value, on hand-made gradients ---------------------------------------------


def _hand_gradients(z: np.ndarray, a: np.ndarray, nabla_w0: np.ndarray):
    from layerspeed.nn.network import Gradients

    n = len(z)
    return Gradients(
        nabla_b=[np.zeros(2), np.zeros(1)],
        nabla_w=[nabla_w0, np.zeros((1, 2))],
        deltas=[np.zeros((n, 2)), np.zeros((n, 1))],
        activations=[np.zeros((n, 2)), a, np.zeros((n, 1))],
        zs=[z, np.zeros((n, 1))],
    )


def test_diagnostics_by_hand_relu():
    from layerspeed.probes import diagnostics

    # ||W|| = ||[[3, 4], [0, 0]]|| = 5. The summed gradient [[8, 6], [0, 0]] has norm 10,
    # the mean over n = 4 examples 2.5, a step of eta = 2 is 5: update ratio 5 / 5 = 1
    # (the summed gradient would give 4).
    net = Network((2, 2, 1), [np.array([[3.0, 4.0], [0.0, 0.0]]), np.ones((1, 2))],
                  [np.zeros(2), np.zeros(1)], activation="relu")  # fmt: skip
    z = np.array([[1.0, 0.0], [-1.0, -1.0], [2.0, -2.0], [-3.0, -0.5]])  # (n, units)
    # Unit 1 is active twice, unit 2 never (z <= 0 throughout): dead share 1/2 (a unit with
    # some z <= 0 is not dead, or every unit here would be).
    # Saturated: ReLU's derivative is 0 < 1% of 1 where z <= 0: 6 of the 8 pairs = 0.75.
    a = np.array([[1.0, 0.0], [0.0, 0.0], [2.0, 0.0], [0.0, 0.0]])
    # Mean 3/8; std (over all 8 values, ddof 0) = sqrt(5/8 - 9/64) = sqrt(31)/8.
    d = diagnostics(net, _hand_gradients(z, a, np.array([[8.0, 6.0], [0.0, 0.0]])), eta=2.0)
    assert d["update_ratio"] == [pytest.approx(1.0, rel=1e-12)]
    assert d["dead_share"] == [0.5]
    assert d["saturated_share"] == [0.75]
    assert d["activation_mean"] == [pytest.approx(3 / 8, rel=1e-12)]
    assert d["activation_std"] == [pytest.approx(np.sqrt(31) / 8, rel=1e-12)]


def test_diagnostics_by_hand_sigmoid_saturation_and_zero_weights():
    from layerspeed.probes import diagnostics

    # sigma'(z) < 1% of 1/4 = 0.0025 from |z| = 5.99 on: sigma'(5.9) = 0.00271 is not
    # saturated, sigma'(6.1) = 0.00223 is; 0 and 3 are not, -10 is. 2 of 6 pairs per unit.
    z = np.array([[0.0, 0.0], [3.0, 3.0], [5.9, 5.9], [6.1, 6.1], [-10.0, -10.0], [1.0, 1.0]])
    net = Network((2, 2, 1), [np.zeros((2, 2)), np.ones((1, 2))], [np.zeros(2), np.zeros(1)])
    d = diagnostics(net, _hand_gradients(z, np.full((6, 2), 0.5), np.ones((2, 2))), eta=0.1)
    assert d["saturated_share"] == [pytest.approx(2 / 6)]
    assert d["update_ratio"] == [float("inf")]  # zero weights: any step is infinitely large
    assert d["dead_share"] == [0.0] and d["activation_std"] == [0.0]
