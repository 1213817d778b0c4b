"""The numerical core by value: initializers against their formulas on the same seed, costs and
activations on small hand cases and in their dtypes, the network's file format field by field,
and what ``sgd`` records, calls and converts."""

from __future__ import annotations

import numpy as np
import pytest

from layerspeed.nn import Network, SGDConfig, sgd
from layerspeed.nn.activations import identity, identity_prime, leaky_relu_prime, relu_prime
from layerspeed.nn.costs import COSTS, softmax
from layerspeed.nn.init import INITIALIZERS
from layerspeed.nn.network import accuracy, backprop, forward, total_cost
from layerspeed.nn.train import minibatch_epoch

# ---- initializers: the formula, drawn from the same seed ----------------------------------------


def test_the_books_initializers_by_value() -> None:
    n_in, n_out = 5, 3
    for name, scale in (("default", 1 / np.sqrt(n_in)), ("large", 1.0)):
        w, b = INITIALIZERS[name](np.random.default_rng(4), n_in, n_out)  # gain left at 1
        ref = np.random.default_rng(4)
        want_b = ref.standard_normal(n_out)  # network2 draws the biases first
        want_w = ref.standard_normal((n_out, n_in)) * scale
        np.testing.assert_allclose(b, want_b, rtol=1e-15)
        np.testing.assert_allclose(w, want_w, rtol=1e-14)


@pytest.mark.parametrize(
    ("name", "variance"),
    [("xavier_normal", 2.0 / (5 + 3)), ("he", 2.0 / 5)],
)
def test_gaussian_modern_initializers_by_value(name: str, variance: float) -> None:
    w, b = INITIALIZERS[name](np.random.default_rng(9), 5, 3)
    want = np.random.default_rng(9).standard_normal((3, 5)) * np.sqrt(variance)
    np.testing.assert_allclose(w, want, rtol=1e-14)
    np.testing.assert_array_equal(b, np.zeros(3))
    w2, _ = INITIALIZERS[name](np.random.default_rng(9), 5, 3, 0.5)
    np.testing.assert_allclose(w2, 0.5 * want, rtol=1e-14)


def test_xavier_uniform_fills_its_symmetric_interval() -> None:
    n_in, n_out = 40, 60
    r = np.sqrt(6.0 / (n_in + n_out))  # about 0.245
    w, b = INITIALIZERS["xavier_uniform"](np.random.default_rng(1), n_in, n_out)
    assert w.shape == (n_out, n_in) and np.all(b == 0)
    assert -r <= w.min() < -0.9 * r and 0.9 * r < w.max() <= r
    w2, _ = INITIALIZERS["xavier_uniform"](np.random.default_rng(1), n_in, n_out, 2.0)
    assert w2.max() > 1.8 * r


@pytest.mark.parametrize(("n_in", "n_out"), [(4, 4), (3, 6), (6, 3)])
def test_orthogonal_is_the_sign_fixed_q_of_the_draw(n_in: int, n_out: int) -> None:
    w, b = INITIALIZERS["orthogonal"](np.random.default_rng(2), n_in, n_out)
    assert w.shape == (n_out, n_in) and np.all(b == 0)
    k = min(n_in, n_out)
    q = w if n_out >= n_in else w.T  # (max, min) with orthonormal columns
    np.testing.assert_allclose(q.T @ q, np.eye(k), atol=1e-12)
    # The draw a = q r with r upper triangular and a positive diagonal (QR made unique).
    a = np.random.default_rng(2).standard_normal((max(n_in, n_out), k))
    r = q.T @ a
    np.testing.assert_allclose(np.tril(r, -1), 0.0, atol=1e-12)
    assert np.all(np.diag(r) > 0)
    w3, _ = INITIALIZERS["orthogonal"](np.random.default_rng(2), n_in, n_out, 3.0)
    np.testing.assert_allclose(w3, 3.0 * w, rtol=1e-14)


def test_create_draws_layer_by_layer_with_the_gain() -> None:
    net = Network.create((4, 3, 2), rng=5, gain=0.5)
    ref = np.random.default_rng(5)
    for l, (n_in, n_out) in enumerate(((4, 3), (3, 2))):
        want_b = ref.standard_normal(n_out)
        want_w = 0.5 * ref.standard_normal((n_out, n_in)) / np.sqrt(n_in)
        np.testing.assert_allclose(net.biases[l], want_b, rtol=1e-15)
        np.testing.assert_allclose(net.weights[l], want_w, rtol=1e-14)
    # The default gain is 1.
    plain = Network.create((4, 3, 2), rng=5)
    np.testing.assert_allclose(plain.weights[0], 2 * net.weights[0], rtol=1e-14)


# ---- costs, softmax and activations --------------------------------------------------------------


def test_costs_of_one_example_and_of_a_batch() -> None:
    # Quadratic: 0.5 * ((0.5 - 1)^2 + (0.25 - 0)^2) = 0.5 * (0.25 + 0.0625) = 0.15625.
    z = np.array([0.0, -1.0986122886681098])  # sigma(z) = 0.5, 0.25
    a, y = np.array([0.5, 0.25]), np.array([1.0, 0.0])
    assert COSTS["quadratic"].fn(z, a, y) == pytest.approx(0.15625, rel=1e-12)
    # Cross-entropy: -ln 0.5 - ln 0.75.
    assert COSTS["cross-entropy"].fn(z, a, y) == pytest.approx(
        -np.log(0.5) - np.log(0.75), rel=1e-12
    )
    # Log-likelihood of a softmax over z = (ln 3, 0): a = (3/4, 1/4), label 0: -ln 3/4.
    zs = np.array([np.log(3.0), 0.0])
    assert COSTS["log-likelihood"].fn(zs, softmax(zs), y) == pytest.approx(-np.log(0.75))
    # Batches: one cost per row.
    for cost in COSTS.values():
        batch = cost.fn(np.stack([z, z]), np.stack([a, a]), np.stack([y, y]))
        assert batch.shape == (2,) and batch[0] == batch[1] == cost.fn(z, a, y)


def test_softmax_shifts_each_row_by_its_own_maximum() -> None:
    z = np.array([[0.0, 0.0], [1000.0, 1000.0 + np.log(3.0)], [-1000.0, -1000.0]])
    s = softmax(z)
    np.testing.assert_allclose(s, [[0.5, 0.5], [0.25, 0.75], [0.5, 0.5]], rtol=1e-12)
    np.testing.assert_allclose(softmax(np.array([np.log(3.0), 0.0])), [0.75, 0.25])


def test_the_piecewise_and_identity_activations_keep_a_floating_dtype() -> None:
    z = np.array([-2.0, 0.0, 3.0])
    np.testing.assert_array_equal(leaky_relu_prime(z), [0.01, 0.01, 1.0])  # 0 counts as off
    np.testing.assert_array_equal(relu_prime(z), [0.0, 0.0, 1.0])
    for fn in (relu_prime, leaky_relu_prime, identity, identity_prime):
        assert fn(z.astype(np.float32)).dtype == np.float32
        assert fn(z.astype(np.float16)).dtype == np.float32  # float16 is widened
        assert fn(np.array([-2, 0, 3])).dtype == np.float64  # integers become float64
    np.testing.assert_array_equal(identity(np.array([-2, 0, 3])), [-2.0, 0.0, 3.0])
    np.testing.assert_array_equal(leaky_relu_prime(np.array([-2, 0, 3])), [0.01, 0.01, 1.0])


# ---- the network: its file format, copies, cost and gradients ------------------------------------


def test_to_dict_and_from_dict_keep_every_field() -> None:
    net = Network.create((3, 2, 2), rng=0, activation="tanh", cost="quadratic")
    d = net.to_dict()
    assert d["activation"] == "tanh" and d["cost"] == "QuadraticCost"
    assert d["biases"][0] == [[b] for b in net.biases[0].tolist()]  # network2's (n, 1)
    back = Network.from_dict(d)
    assert back.activation == "tanh" and back.cost == "quadratic"
    np.testing.assert_array_equal(back.weights[1], net.weights[1])
    np.testing.assert_array_equal(back.biases[0], net.biases[0])


def test_whole_number_weights_in_a_file_load_as_float64() -> None:
    net = Network.from_dict({"sizes": [2, 1], "weights": [[[1, 2]]], "biases": [[[3]]]})
    assert net.weights[0].dtype == np.float64 and net.biases[0].dtype == np.float64
    assert net.biases[0].shape == (1,) and net.biases[0][0] == 3.0
    assert net.activation == "sigmoid"  # network2's files have none


def test_astype_converts_a_copy() -> None:
    net = Network.create((3, 2, 2), rng=0)
    low = net.astype("float32")
    assert low.dtype == np.float32
    assert all(w.dtype == np.float32 for w in low.weights)
    assert all(b.dtype == np.float32 for b in low.biases)
    np.testing.assert_allclose(low.weights[1], net.weights[1], rtol=1e-7)
    np.testing.assert_allclose(low.biases[1], net.biases[1], rtol=1e-7)
    low.weights[0][0, 0] = 99.0
    assert net.weights[0][0, 0] != 99.0 and net.dtype == np.float64


def test_total_cost_adds_the_l2_term_by_hand() -> None:
    # Weights [[1, 2]] and [[2]]: sum of squares 1 + 4 + 4 = 9. Two examples, lmbda = 0.5:
    # 0.5 * (0.5 / 2) * 9 = 1.125 on top of the mean cost.
    net = Network((2, 1, 1), [np.array([[1.0, 2.0]]), np.array([[2.0]])], [np.zeros(1)] * 2)
    x, y = np.array([[0.0, 0.0], [1.0, -1.0]]), np.array([[1.0], [0.0]])
    plain = total_cost(net, x, y)
    assert total_cost(net, x, y, 0.5) == pytest.approx(plain + 1.125, rel=1e-12)
    assert plain > 0


def test_backprop_returns_the_forward_pass() -> None:
    net = Network.create((3, 4, 2), rng=1)
    x, y = np.random.default_rng(1).random((5, 3)), np.eye(2)[[0, 1, 1, 0, 1]]
    g = backprop(net, x, y)
    zs, activations = forward(net, x)
    assert len(g.activations) == 3
    for got, want in zip(g.activations, activations, strict=True):
        np.testing.assert_array_equal(got, want)
    for got, want in zip(g.zs, zs, strict=True):
        np.testing.assert_array_equal(got, want)


# ---- sgd: records, callbacks, conversions, engines ---------------------------------------------


def _problem(n: int = 12):
    rng = np.random.default_rng(3)
    x = rng.random((n, 4))
    labels = rng.integers(0, 2, n)
    return x, np.eye(2)[labels], labels


def test_sgd_records_every_number_of_the_epoch() -> None:
    x, y, labels = _problem()
    ex, ey = x[:5], labels[:5]
    net = Network.create((4, 3, 2), rng=0)
    seen: list[tuple[int, bool]] = []
    ends: list[dict] = []

    def cb(epoch, net_, full):
        seen.append((epoch, full is None))
        return {"marker": 10 * epoch}

    cfg = SGDConfig(epochs=3, mini_batch_size=4, eta=0.5, lmbda=2.0)
    h = sgd(net, x, y, cfg, rng=0, evaluation=(ex, ey), training_labels=labels,
            callbacks=[cb], on_epoch_end=ends.append)  # fmt: skip
    assert h.series("epoch") == [0, 1, 2]
    assert h.series("marker") == [0, 10, 20] and seen == [(0, True), (1, True), (2, True)]
    assert ends == h.epochs and all(isinstance(r, dict) for r in ends)
    last = h.epochs[-1]
    # After training, the last record describes the final network, regularized by lmbda.
    assert last["training_cost"] == total_cost(net, x, y, 2.0)
    assert last["training_cost"] > total_cost(net, x, y)
    assert last["training_accuracy"] == accuracy(net, x, labels)
    assert last["evaluation_cost"] == total_cost(net, ex, np.eye(2)[ey], 2.0)
    assert last["evaluation_accuracy"] == accuracy(net, ex, ey)
    # Without labels there is no training accuracy.
    h2 = sgd(Network.create((4, 3, 2), rng=0), x, y, cfg, rng=0)
    assert "training_accuracy" not in h2.epochs[0] and "evaluation_cost" not in h2.epochs[0]


def test_full_batch_callbacks_get_the_epoch_and_the_batch() -> None:
    x, y, _ = _problem()
    seen = []

    def cb(epoch, net_, full):
        seen.append((epoch, full is not None and full.x is not None))
        return None  # nothing to add

    h = sgd(Network.create((4, 3, 2), rng=0), x, y, SGDConfig(epochs=2, mini_batch_size=12),
            rng=0, callbacks=[cb])  # fmt: skip
    assert seen == [(0, True), (1, True)] and h.series("epoch") == [0, 1]


@pytest.mark.parametrize("engine", ["numpy", "auto"])
@pytest.mark.parametrize("m", [4, 12])
def test_float32_runs_convert_the_data_to_float32_first(engine: str, m: int) -> None:
    # The same run given float64 or float32 data: bit for bit the same, so the data are
    # converted to the network's precision before any arithmetic.
    x, y, labels = _problem()
    runs = []
    for dt in (np.float64, np.float32):
        net = Network.create((4, 3, 2), rng=0, dtype="float32")
        cfg = SGDConfig(epochs=2, mini_batch_size=m, eta=0.5, lmbda=1.0)
        h = sgd(net, x.astype(dt), y.astype(dt), cfg, rng=0, engine=engine,
                evaluation=(x[:5].astype(dt), labels[:5]))  # fmt: skip
        runs.append((h, net))
    (h64, n64), (h32, n32) = runs
    assert h64.epochs == h32.epochs
    np.testing.assert_array_equal(n64.weights[0], n32.weights[0])
    assert n64.weights[0].dtype == np.float32
    # The evaluation cost is float32 arithmetic too: the same as costing in float32 directly.
    ev_y = np.eye(2, dtype=np.float32)[labels[:5]]
    assert h64.epochs[-1]["evaluation_cost"] == total_cost(n64, x[:5].astype(np.float32), ev_y, 1.0)


def test_engines_go_where_they_are_asked(monkeypatch: pytest.MonkeyPatch) -> None:
    from layerspeed.nn import fast
    from layerspeed.nn import train as train_module

    calls: list[str] = []
    real_fast, real_numpy = fast.train_epoch, train_module.minibatch_epoch

    def spy_fast(*a, **k):
        calls.append("fast")
        return real_fast(*a, **k)

    def spy_numpy(*a, **k):
        calls.append("numpy")
        return real_numpy(*a, **k)

    monkeypatch.setattr(fast, "train_epoch", spy_fast)
    monkeypatch.setattr(train_module, "minibatch_epoch", spy_numpy)
    x, y, _ = _problem()
    for engine, m, want in [("numpy", 4, "numpy"), ("auto", 4, "fast"), ("fast", 4, "fast"),
                            ("auto", 12, None), ("numpy", 12, None)]:  # fmt: skip
        calls.clear()
        sgd(Network.create((4, 3, 2), rng=0), x, y, SGDConfig(epochs=2, mini_batch_size=m),
            rng=0, engine=engine)  # fmt: skip
        assert calls == ([want] * 2 if want else []), (engine, m)


def test_minibatch_epoch_converts_a_replaced_weight_of_another_dtype() -> None:
    # A float32 matrix put into a float64 network: the fused update must still land in the
    # network (BLAS would otherwise update a converted copy and drop the step).
    x, y, _ = _problem()
    net = Network.create((4, 3, 2), rng=0)
    want = net.copy()
    net.weights[1] = net.weights[1].astype(np.float32)
    want.weights[1] = want.weights[1].astype(np.float32).astype(np.float64)
    start = want.weights[1].copy()
    order = np.arange(len(x))
    minibatch_epoch(net, x, y, order, m=4, eta=0.5, lmbda=1.0)
    minibatch_epoch(want, x, y, order, m=4, eta=0.5, lmbda=1.0)
    assert net.weights[1].dtype == np.float64
    assert not np.allclose(want.weights[1], start)  # the epoch moved the weights
    np.testing.assert_allclose(net.weights[1], want.weights[1], rtol=1e-12)
