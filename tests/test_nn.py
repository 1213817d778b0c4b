"""The engine against independent references: finite differences, a per-example loop, a
network worked by hand, network2's JSON format, and divergence."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from layerspeed.errors import BadInput, DivergenceError
from layerspeed.nn import (
    ACTIVATIONS,
    COSTS,
    INITIALIZERS,
    Network,
    SGDConfig,
    backprop,
    feedforward,
    sgd,
    total_cost,
)
from layerspeed.nn.activations import sigmoid, sigmoid_prime


def _data(rng: np.random.Generator, n: int, sizes: tuple[int, ...], cost: str):
    x = rng.random((n, sizes[0]))
    labels = rng.integers(0, sizes[-1], n)
    y = np.eye(sizes[-1])[labels]
    if cost == "quadratic":
        y = rng.random((n, sizes[-1]))  # any target works for the quadratic cost
    return x, y


def _summed_cost(net: Network, x: np.ndarray, y: np.ndarray) -> float:
    # The unregularized cost summed over the batch: backprop's gradients are of this sum.
    return total_cost(net, x, y) * len(x)


def _finite_difference(net: Network, x, y, h: float = 1e-6):
    """Central differences of the summed cost with respect to every weight and bias."""
    nb, nw = [], []
    for params, out in ((net.biases, nb), (net.weights, nw)):
        for p in params:
            g = np.zeros_like(p)
            for idx in np.ndindex(p.shape):
                old = p[idx]
                p[idx] = old + h
                up = _summed_cost(net, x, y)
                p[idx] = old - h
                down = _summed_cost(net, x, y)
                p[idx] = old
                g[idx] = (up - down) / (2 * h)
            out.append(g)
    return nb, nw


@pytest.mark.parametrize("cost", list(COSTS))
@pytest.mark.parametrize("init", list(INITIALIZERS))
def test_backprop_matches_finite_differences_for_costs_and_initializers(cost, init):
    rng = np.random.default_rng([7, len(cost), len(init)])
    sizes = (5, 4, 3, 3)
    net = Network.create(sizes, rng=rng, init=init, cost=cost)
    x, y = _data(rng, 6, sizes, cost)
    grads = backprop(net, x, y)
    fd_b, fd_w = _finite_difference(net, x, y)
    for got, want in zip(grads.nabla_b + grads.nabla_w, fd_b + fd_w, strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("activation", list(ACTIVATIONS))
def test_backprop_matches_finite_differences_for_every_activation(activation):
    rng = np.random.default_rng([11, len(activation)])
    sizes = (4, 5, 5, 2)
    net = Network.create(sizes, rng=rng, init="default", activation=activation)
    x, y = _data(rng, 5, sizes, "cross-entropy")
    # Keep ReLU-like units away from their kink at 0, where the derivative jumps.
    grads = backprop(net, x, y)
    if activation in ("relu", "leaky_relu"):
        assert min(np.min(np.abs(z)) for z in grads.zs[:-1]) > 1e-4
    fd_b, fd_w = _finite_difference(net, x, y)
    for got, want in zip(grads.nabla_b + grads.nabla_w, fd_b + fd_w, strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("name", list(ACTIVATIONS))
def test_activation_prime_is_the_derivative(name):
    act = ACTIVATIONS[name]
    z = np.linspace(-6, 6, 241)
    z = z[np.abs(z) > 1e-3]  # away from ReLU's kink
    h = 1e-6
    np.testing.assert_allclose(act.prime(z), (act.fn(z + h) - act.fn(z - h)) / (2 * h), atol=1e-6)
    # max_prime is the derivative's maximum (saturation is measured against it).
    assert np.max(act.prime(np.linspace(-30, 30, 6001))) == pytest.approx(act.max_prime, rel=1e-3)


def _backprop_one_example(net: Network, x: np.ndarray, y: np.ndarray):
    """network2's backprop for one example with column vectors, as the book writes it."""
    act = ACTIVATIONS[net.activation]
    a = x.reshape(-1, 1)
    activations, zs = [a], []
    for l, (w, b) in enumerate(zip(net.weights, net.biases, strict=True)):
        z = w @ a + b.reshape(-1, 1)
        zs.append(z)
        a = sigmoid(z) if l == len(net.weights) - 1 else act.fn(z)
        activations.append(a)
    delta = activations[-1] - y.reshape(-1, 1)  # cross-entropy with sigmoid outputs
    nabla_b = [None] * len(net.weights)
    nabla_w = [None] * len(net.weights)
    nabla_b[-1] = delta
    nabla_w[-1] = delta @ activations[-2].T
    for l in range(2, len(net.sizes)):
        delta = (net.weights[-l + 1].T @ delta) * act.prime(zs[-l])
        nabla_b[-l] = delta
        nabla_w[-l] = delta @ activations[-l - 1].T
    return [b.ravel() for b in nabla_b], nabla_w


@settings(max_examples=25, deadline=None)
@given(
    hidden=st.lists(st.integers(1, 7), min_size=0, max_size=4),
    n=st.integers(1, 12),
    seed=st.integers(0, 2**32 - 1),
    activation=st.sampled_from(["sigmoid", "tanh", "softplus", "scaled_sigmoid"]),
)
def test_vectorized_backprop_equals_the_per_example_loop(hidden, n, seed, activation):
    rng = np.random.default_rng(seed)
    sizes = (6, *hidden, 3)
    net = Network.create(sizes, rng=rng, activation=activation)
    x, y = _data(rng, n, sizes, "cross-entropy")
    grads = backprop(net, x, y)
    sum_b = [np.zeros_like(b) for b in net.biases]
    sum_w = [np.zeros_like(w) for w in net.weights]
    for i in range(n):
        nb, nw = _backprop_one_example(net, x[i], y[i])
        sum_b = [s + g for s, g in zip(sum_b, nb, strict=True)]
        sum_w = [s + g for s, g in zip(sum_w, nw, strict=True)]
        for l, d in enumerate(grads.deltas):
            np.testing.assert_allclose(d[i], nb[l], rtol=0, atol=1e-12)
    for got, want in zip(grads.nabla_b + grads.nabla_w, sum_b + sum_w, strict=True):
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-12)


def test_a_tiny_network_worked_by_hand():
    # A [1, 1, 1] network: w1 = 0, b1 = 0, w2 = 2, b2 = 0, input x = 1, target y = 1.
    net = Network(
        sizes=(1, 1, 1),
        weights=[np.array([[0.0]]), np.array([[2.0]])],
        biases=[np.array([0.0]), np.array([0.0])],
    )
    x, y = np.array([[1.0]]), np.array([[1.0]])
    # Forward: z1 = 0*1 + 0 = 0, a1 = sigma(0) = 1/2; z2 = 2 * 1/2 + 0 = 1, a2 = sigma(1).
    s1 = 1 / (1 + np.exp(-1.0))
    assert feedforward(net, x)[0, 0] == pytest.approx(s1)
    grads = backprop(net, x, y)
    # Output error (cross-entropy): delta2 = a2 - y = sigma(1) - 1.
    d2 = s1 - 1.0
    # Hidden error: delta1 = w2 * delta2 * sigma'(z1) = 2 * d2 * 1/4 = d2 / 2.
    d1 = d2 / 2
    assert grads.nabla_b[1][0] == pytest.approx(d2)
    assert grads.nabla_w[1][0, 0] == pytest.approx(d2 * 0.5)  # delta2 * a1
    assert grads.nabla_b[0][0] == pytest.approx(d1)
    assert grads.nabla_w[0][0, 0] == pytest.approx(d1 * 1.0)  # delta1 * x
    # One SGD step with eta = 1, lmbda = 0: b2 <- 0 - d2, so b2 = 1 - sigma(1) > 0.
    sgd(net, x, y, SGDConfig(epochs=1, mini_batch_size=1, eta=1.0, lmbda=0.0), rng=0)
    assert net.biases[1][0] == pytest.approx(-d2)
    assert net.weights[0][0, 0] == pytest.approx(-d1)


def test_sgd_step_is_the_books_update_with_weight_decay():
    rng = np.random.default_rng(3)
    sizes = (4, 3, 2)
    net = Network.create(sizes, rng=rng)
    x, y = _data(rng, 8, sizes, "cross-entropy")
    before = net.copy()
    eta, lmbda = 0.5, 2.0
    sgd(net, x, y, SGDConfig(epochs=1, mini_batch_size=8, eta=eta, lmbda=lmbda), rng=0)
    g = backprop(before, x, y)
    n = m = 8
    for l in range(2):
        want_w = (1 - eta * lmbda / n) * before.weights[l] - (eta / m) * g.nabla_w[l]
        want_b = before.biases[l] - (eta / m) * g.nabla_b[l]
        np.testing.assert_allclose(net.weights[l], want_w, rtol=1e-12)
        np.testing.assert_allclose(net.biases[l], want_b, rtol=1e-12)


def test_training_learns_a_separable_problem_and_is_reproducible():
    rng = np.random.default_rng(0)
    x = rng.random((400, 6))
    labels = (x[:, 0] > x[:, 1]).astype(int)
    y = np.eye(2)[labels]
    cfg = SGDConfig(epochs=15, mini_batch_size=10, eta=1.0, lmbda=0.0)
    runs = []
    for _ in range(2):
        net = Network.create((6, 10, 2), rng=1)
        h = sgd(net, x, y, cfg, rng=2, evaluation=(x, labels))
        runs.append((h, net))
    assert runs[0][0].evaluation_accuracy[-1] > 0.9
    assert runs[0][0].epochs == runs[1][0].epochs
    np.testing.assert_array_equal(runs[0][1].weights[0], runs[1][1].weights[0])
    # A different shuffle seed gives a different trajectory.
    net = Network.create((6, 10, 2), rng=1)
    other = sgd(net, x, y, cfg, rng=3, evaluation=(x, labels))
    assert other.epochs != runs[0][0].epochs


def test_float32_option_trains_in_float32():
    rng = np.random.default_rng(0)
    net = Network.create((5, 4, 2), rng=rng, dtype="float32")
    x, y = _data(rng, 20, (5, 4, 2), "cross-entropy")
    sgd(net, x, y, SGDConfig(epochs=2, mini_batch_size=5), rng=0)
    assert all(w.dtype == np.float32 for w in net.weights)
    assert backprop(net, x.astype(np.float32), y.astype(np.float32)).nabla_w[0].dtype == np.float32


def test_divergence_stops_with_the_epoch_named():
    rng = np.random.default_rng(0)
    net = Network.create((5, 8, 8, 2), rng=rng, activation="relu", init="he")
    x, y = _data(rng, 50, (5, 8, 8, 2), "cross-entropy")
    # A step of 1e300 overflows the ReLU network's weights to inf within a few epochs.
    with pytest.raises(DivergenceError, match=r"diverged in epoch \d+"):
        sgd(net, x, y, SGDConfig(epochs=20, mini_batch_size=5, eta=1e300, lmbda=0.0), rng=0)


def test_cross_entropy_is_finite_and_silent_for_huge_z():
    net = Network(
        sizes=(1, 2),
        weights=[np.array([[1e4], [-1e4]])],
        biases=[np.zeros(2)],
    )
    x = np.array([[1.0], [-1.0]])
    y = np.array([[0.0, 1.0], [1.0, 0.0]])  # both outputs maximally wrong
    with np.errstate(over="raise", divide="raise", invalid="raise"):
        c = total_cost(net, x, y)
        g = backprop(net, x, y)
    assert np.isfinite(c) and c == pytest.approx(2e4)
    assert all(np.isfinite(b).all() for b in g.nabla_b)


def test_save_and_load_in_network2_format(tmp_path):
    net = Network.create((6, 4, 3), rng=5, cost="quadratic")
    path = tmp_path / "net.json"
    net.save(path)
    data = json.loads(path.read_text())
    # network2.py's format: biases as (n, 1) column lists, the cost's class name.
    assert data["sizes"] == [6, 4, 3]
    assert np.array(data["biases"][0]).shape == (4, 1)
    assert np.array(data["weights"][0]).shape == (4, 6)
    assert data["cost"] == "QuadraticCost"
    back = Network.load(path)
    assert back.cost == "quadratic"
    for a, b in zip(net.weights + net.biases, back.weights + back.biases, strict=True):
        np.testing.assert_array_equal(a, b)


def test_loads_a_file_written_by_network2(tmp_path):
    # Exactly what network2.Network.save writes: no activation key, CrossEntropyCost.
    book = {
        "sizes": [2, 2, 1],
        "weights": [[[0.1, 0.2], [0.3, 0.4]], [[0.5, 0.6]]],
        "biases": [[[0.0], [1.0]], [[-1.0]]],
        "cost": "CrossEntropyCost",
    }
    (tmp_path / "book.json").write_text(json.dumps(book))
    net = Network.load(tmp_path / "book.json")
    assert net.activation == "sigmoid" and net.cost == "cross-entropy"
    a1 = sigmoid(np.array([0.1 * 1 + 0.2 * 2 + 0.0, 0.3 * 1 + 0.4 * 2 + 1.0]))
    want = sigmoid(0.5 * a1[0] + 0.6 * a1[1] - 1.0)
    assert feedforward(net, np.array([[1.0, 2.0]]))[0, 0] == pytest.approx(want)


@pytest.mark.parametrize(
    "content, match",
    [
        ("not json", "not readable JSON"),
        ('{"sizes": [2, 1]}', "network2's JSON format"),
        ('{"sizes": [2, 1], "weights": [[[1.0]]], "biases": [[[0.0]]]}', "expected"),
        ("[1, 2]", "network2's JSON format"),
    ],
)
def test_load_rejects_malformed_files(tmp_path, content, match):
    path = tmp_path / "bad.json"
    path.write_text(content)
    with pytest.raises(BadInput, match=match):
        Network.load(path)


def test_bad_hyperparameters_are_rejected():
    with pytest.raises(BadInput, match="eta"):
        SGDConfig(eta=-0.1)
    with pytest.raises(BadInput, match="mini-batch"):
        SGDConfig(mini_batch_size=0)
    with pytest.raises(BadInput, match="lmbda"):
        SGDConfig(lmbda=float("nan"))
    with pytest.raises(BadInput, match="unknown activation"):
        Network.create((3, 2), rng=0, activation="swish")
    with pytest.raises(BadInput, match="positive"):
        Network.create((3, 0, 2), rng=0)


def test_sigmoid_prime_peaks_at_a_quarter():
    assert sigmoid_prime(np.array(0.0)) == 0.25


@pytest.mark.parametrize(
    "activation, cost",
    [("sigmoid", "cross-entropy"), ("tanh", "quadratic"), ("relu", "log-likelihood")],
)
@pytest.mark.parametrize("dtype, tol", [("float64", 1e-12), ("float32", 1e-5)])
def test_fused_minibatch_epoch_equals_backprop_then_step(activation, cost, dtype, tol):
    from layerspeed.nn.train import minibatch_epoch, step

    rng = np.random.default_rng(42)
    sizes = (12, 7, 5, 4)
    x, y = _data(rng, 53, sizes, "cross-entropy")  # 53: the last mini-batch is partial
    x, y = x.astype(dtype), y.astype(dtype)
    fused = Network.create(sizes, rng=1, activation=activation, cost=cost, dtype=dtype)
    plain = fused.copy()
    order = rng.permutation(len(x))
    minibatch_epoch(fused, x, y, order, m=10, eta=0.3, lmbda=2.0)
    for k in range(0, len(x), 10):
        idx = order[k : k + 10]
        step(plain, backprop(plain, x[idx], y[idx]), eta=0.3, lmbda=2.0, n=len(x), m=len(idx))
    for a, b in zip(fused.weights + fused.biases, plain.weights + plain.biases, strict=True):
        assert a.dtype == np.dtype(dtype)
        np.testing.assert_allclose(a, b, rtol=tol, atol=tol)


@pytest.mark.parametrize("name", list(ACTIVATIONS))
def test_prime_of_output_is_the_derivative_written_in_the_activation(name):
    act = ACTIVATIONS[name]
    z = np.linspace(-8, 8, 321)
    z = z[np.abs(z) > 1e-9]
    np.testing.assert_allclose(act.prime_of_output(act.fn(z)), act.prime(z), rtol=1e-9, atol=1e-12)


def test_replaced_weights_in_any_memory_order_still_train():
    from layerspeed.nn.train import minibatch_epoch, step

    rng = np.random.default_rng(8)
    x, y = _data(rng, 20, (6, 5, 3), "cross-entropy")
    net = Network.create((6, 5, 3), rng=1)
    plain = net.copy()
    net.weights[0] = np.asfortranarray(net.weights[0])  # a user's assignment
    order = np.arange(20)
    minibatch_epoch(net, x, y, order, m=20, eta=1.0, lmbda=0.0)
    step(plain, backprop(plain, x, y), eta=1.0, lmbda=0.0, n=20, m=20)
    np.testing.assert_allclose(net.weights[0], plain.weights[0], rtol=1e-12)


@pytest.mark.parametrize(
    "data, match",
    [
        ({"sizes": "784", "weights": [], "biases": []}, "must be a list"),
        ({"sizes": [1, 1], "weights": [[[float("nan")]]], "biases": [[[0.0]]]}, "NaN"),
    ],
)
def test_from_dict_rejects_string_sizes_and_non_finite_weights(data, match):
    with pytest.raises(BadInput, match=match):
        Network.from_dict(data)


# ---------------------------------------------------------------- refusals and hints


def test_fractional_layer_size_in_a_network_file_is_refused(tmp_path) -> None:
    data = Network.create((4, 3, 2), rng=0).to_dict()
    data["sizes"] = [4, 3.7, 2]  # int() would cut it to 3, which the weights fit
    path = tmp_path / "net.json"
    path.write_text(json.dumps(data))
    with pytest.raises(BadInput, match=r"whole numbers of neurons"):
        Network.load(path)


def test_negative_weight_decay_is_refused() -> None:
    rng = np.random.default_rng(0)
    net = Network.create((4, 3, 2), rng=0)
    x, y = rng.random((10, 4)), np.eye(2)[rng.integers(0, 2, 10)]
    # 1 - eta*lmbda/n = 1 - 5 * 3 / 10 < 0: every step would flip the weights' sign.
    with pytest.raises(BadInput, match="weight decay factor"):
        sgd(net, x, y, SGDConfig(epochs=1, eta=5.0, lmbda=3.0), rng=0)
    # At exactly 0 it is allowed: eta*lmbda = n.
    sgd(net, x, y, SGDConfig(epochs=1, eta=5.0, lmbda=2.0), rng=0)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_divergence_hint_fits_the_run(dtype: str) -> None:
    rng = np.random.default_rng(0)
    x, y = rng.random((10, 4)), np.eye(2)[rng.integers(0, 2, 10)]
    net = Network.create((4, 3, 2), rng=0, activation="identity", gain=30.0, dtype=dtype)
    with pytest.raises(DivergenceError) as info:
        sgd(net, x, y, SGDConfig(epochs=20, eta=1e30, lmbda=0.0), rng=0)
    message = str(info.value)
    assert "smaller --eta" in message
    assert ("float64" in message) == (dtype == "float32")  # never suggested to float64
    assert "lmbda" not in message  # no weight decay here: not the cause


def test_divergence_hint_names_a_large_weight_decay() -> None:
    from layerspeed.nn.train import divergence_hint

    net = Network.create((4, 3, 2), rng=0)
    assert "smaller --lmbda" in divergence_hint(net, eta=5.0, lmbda=1.8, n=10)
    assert "lmbda" not in divergence_hint(net, eta=0.1, lmbda=5.0, n=1000)


# ---- weight decay with mini-batches: n != m ---------------------------------------------------


@pytest.mark.parametrize("engine", ["numpy", "fast"])
def test_mini_batch_weight_decay_uses_n_not_m(engine):
    # n = 12 identical examples in mini-batches of m = 4: every shuffle gives the same three
    # steps, so the book's update can be written out here, three times over:
    # w <- (1 - eta*lmbda/n) w - (eta/m) sum_x dC_x/dw. Decay by m (1 - eta*lmbda/m) would
    # shrink the weights three times as fast.
    rng = np.random.default_rng(7)
    sizes = (3, 4, 2)
    net = Network.create(sizes, rng=rng)
    x = np.tile(rng.random((1, 3)), (12, 1))  # (12, 3)
    y = np.tile(np.eye(2)[[1]], (12, 1))  # (12, 2)
    eta, lmbda, n, m = 0.5, 3.0, 12, 4
    want = net.copy()
    for _ in range(n // m):
        g = backprop(want, x[:m], y[:m])
        want.weights = [
            (1 - eta * lmbda / n) * w - (eta / m) * nw
            for w, nw in zip(want.weights, g.nabla_w, strict=True)
        ]
        want.biases = [b - (eta / m) * nb for b, nb in zip(want.biases, g.nabla_b, strict=True)]
    cfg = SGDConfig(epochs=1, mini_batch_size=m, eta=eta, lmbda=lmbda)
    sgd(net, x, y, cfg, rng=0, engine=engine)
    for l in range(2):
        np.testing.assert_allclose(net.weights[l], want.weights[l], rtol=1e-10, atol=1e-13)
        np.testing.assert_allclose(net.biases[l], want.biases[l], rtol=1e-10, atol=1e-13)


# ---- the tails of sigma' ------------------------------------------------------------------


def _exact_sigmoid_prime(z: float) -> float:
    # sigma'(z) = e^-|z| / (1 + e^-|z|)^2, the same for z and -z; no 1 - sigma(z) to cancel.
    e = math.exp(-abs(z))
    return e / (1.0 + e) ** 2


def test_sigmoid_prime_tails_against_the_exact_formula():
    # sigma * (1 - sigma) is exact to a few ulps wherever 1 - sigma keeps its digits: on the
    # whole negative side and up to |z| = 8. Past 8 on the positive side 1 - sigma loses
    # digits (at z = 30 about 3 of 16), but its error stays within one ulp of 1, 2.2e-16, far
    # under any gradient the chapter reads (its smallest speeds are about 1e-3).
    for z in np.linspace(-40.0, 8.0, 961):
        assert sigmoid_prime(np.array(z)) == pytest.approx(_exact_sigmoid_prime(z), rel=1e-13)
    for z in np.linspace(8.0, 60.0, 521):
        assert abs(sigmoid_prime(np.array(z)) - _exact_sigmoid_prime(z)) <= 2.3e-16
    assert sigmoid_prime(np.array(-700.0)) == pytest.approx(_exact_sigmoid_prime(-700.0))
    assert sigmoid_prime(np.array(-800.0)) == 0.0 and sigmoid_prime(np.array(800.0)) == 0.0


# ---- precision: float32 against float64 -----------------------------------------------------


def test_float32_training_follows_float64_on_the_same_seed():
    # The same seed gives the same initial weights (float64 draws, rounded to float32) and
    # the same shuffles; after 3 epochs of 10 steps the weights agree to 1e-4 (float32's
    # epsilon is 1.2e-7; each step adds a few roundings, and SGD does not amplify them here).
    rng = np.random.default_rng(5)
    x, y = _data(rng, 100, (6, 5, 4, 3), "cross-entropy")
    cfg = SGDConfig(epochs=3, mini_batch_size=10, eta=0.5, lmbda=1.0)
    nets = {}
    for dtype in ("float64", "float32"):
        net = Network.create((6, 5, 4, 3), rng=11, dtype=dtype)
        sgd(net, x.astype(dtype), y.astype(dtype), cfg, rng=4, engine="numpy")
        assert net.weights[0].dtype == np.dtype(dtype)
        nets[dtype] = net
    for w64, w32 in zip(nets["float64"].weights, nets["float32"].weights, strict=True):
        np.testing.assert_allclose(w32, w64, rtol=0, atol=1e-4)
        assert np.max(np.abs(w32 - w64)) > 0  # float32 did round: this is not one path twice
