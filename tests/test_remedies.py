"""The remedies that came after the chapter (issue 13): batch norm, skips, per-layer steps,
clipping, the initial bias gain, and the presets that compare them.

Gradients are checked against central finite differences of the summed cost computed by an
independent forward pass; the step rules against the arithmetic written out here.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from layerspeed.errors import BadInput
from layerspeed.experiments.config import RunConfig, hidden_sizes
from layerspeed.experiments.datasets import DataSet
from layerspeed.experiments.grid import PRESETS, load_preset, parse_grid
from layerspeed.experiments.run import make_network, train_run
from layerspeed.nn import Network, SGDConfig, backprop, feedforward, sgd
from layerspeed.nn import norm as bn
from layerspeed.nn.network import forward
from layerspeed.nn.remedies import (
    EQUALIZE_CAP,
    LARS_TRUST,
    clip_factor,
    layer_factors,
    train_step,
)
from layerspeed.probes import layer_speeds

H = 1e-6


def _batch_cost(net: Network, x: np.ndarray, y: np.ndarray) -> float:
    """The summed cost with batch statistics, written out independently of nn.norm.forward."""
    a = x
    last = len(net.weights) - 1
    for l, (w, b) in enumerate(zip(net.weights, net.biases, strict=True)):
        u = a @ w.T
        if l == last:
            out = 1.0 / (1.0 + np.exp(-(u + b)))
            return float(-np.sum(y * np.log(out) + (1 - y) * np.log(1 - out)))
        if net.norm == "batch":
            assert net.gammas is not None
            u = net.gammas[l] * (u - u.mean(0)) / np.sqrt(u.var(0) + bn.EPS) + b
        else:
            u = u + b
        h = np.tanh(u) if net.activation == "tanh" else 1.0 / (1.0 + np.exp(-u))
        a = a + h if net.residual and w.shape[0] == w.shape[1] else h
    raise AssertionError("unreachable")


def _net(norm: str, residual: bool, activation: str = "tanh") -> Network:
    net = Network.create((6, 5, 5, 5, 3), rng=1, norm=norm, residual=residual,
                         activation=activation)  # fmt: skip
    if net.gammas is not None:  # scales away from 1, so a wrong dgamma cannot hide
        r = np.random.default_rng(2)
        net.gammas = [g + 0.3 * r.standard_normal(g.shape) for g in net.gammas]
    return net


@pytest.mark.parametrize(
    ("norm", "residual", "activation"),
    [("batch", False, "tanh"), ("none", True, "tanh"), ("batch", True, "sigmoid")],
)
def test_backprop_matches_finite_differences(norm: str, residual: bool, activation: str) -> None:
    net = _net(norm, residual, activation)
    r = np.random.default_rng(3)
    x, y = r.standard_normal((7, 6)), np.eye(3)[r.integers(0, 3, 7)]
    g = backprop(net, x, y)
    params = [(net.weights, g.nabla_w), (net.biases, g.nabla_b)]
    if norm == "batch":
        assert g.nabla_gamma is not None
        params.append((net.gammas, g.nabla_gamma))
    for arrays, grads in params:
        for p, gp in zip(arrays, grads, strict=True):
            num = np.zeros_like(p)
            for i in np.ndindex(p.shape):
                old = p[i]
                p[i] = old + H
                up = _batch_cost(net, x, y)
                p[i] = old - H
                down = _batch_cost(net, x, y)
                p[i] = old
                num[i] = (up - down) / (2 * H)
            np.testing.assert_allclose(gp, num, rtol=1e-5, atol=1e-7)


def test_batch_norm_speed_is_dC_dbeta_with_the_probe_batch_statistics() -> None:
    """A batch-normalized hidden layer's bias is beta: the probe's speed is ||mean dC/dbeta||,
    taken with the statistics of the probe batch itself, checked here by finite differences."""
    net = _net("batch", False, "sigmoid")
    r = np.random.default_rng(4)
    x, y = r.standard_normal((9, 6)), np.eye(3)[r.integers(0, 3, 9)]
    speeds = layer_speeds(net, x, y).layer_speeds
    for l in range(3):
        beta = net.biases[l]
        num = np.zeros_like(beta)
        for j in range(len(beta)):
            old = beta[j]
            beta[j] = old + H
            up = _batch_cost(net, x, y)
            beta[j] = old - H
            down = _batch_cost(net, x, y)
            beta[j] = old
            num[j] = (up - down) / (2 * H) / len(x)
        assert speeds[l] == pytest.approx(float(np.linalg.norm(num)), rel=1e-5)


def test_batch_norm_trains_on_batch_statistics_and_evaluates_on_running_ones() -> None:
    net = _net("batch", False)
    r = np.random.default_rng(5)
    x, y = r.standard_normal((8, 6)) + 2.0, np.eye(3)[r.integers(0, 3, 8)]
    grads = backprop(net, x, y)
    assert grads.batch_stats is not None
    u = x @ net.weights[0].T  # the first hidden layer's weighted inputs
    mean, var, n = grads.batch_stats[0]
    np.testing.assert_allclose(mean, u.mean(0), rtol=1e-12)
    np.testing.assert_allclose(var, u.var(0), rtol=1e-12)
    # A fresh network evaluates with running mean 0 and variance 1: z = gamma u/sqrt(1+eps) + b.
    zs, _ = forward(net, x)
    np.testing.assert_allclose(
        zs[0], net.gammas[0] * u / np.sqrt(1 + bn.EPS) + net.biases[0], rtol=1e-12
    )
    train_step(net, grads, eta=0.1, lmbda=0.0, n=8, m=8)
    # One step moves the running averages by MOMENTUM towards the batch's (variance unbiased).
    np.testing.assert_allclose(net.running_means[0], bn.MOMENTUM * u.mean(0), rtol=1e-12)
    want = (1 - bn.MOMENTUM) + bn.MOMENTUM * u.var(0, ddof=1)
    np.testing.assert_allclose(net.running_vars[0], want, rtol=1e-12)


def test_residual_skips_only_hidden_layers_of_equal_width() -> None:
    assert bn.skips((784, 30, 30, 30, 10), True) == (False, True, True, False)
    assert bn.skips((784, 30, 30, 10), False) == (False, False, False)
    net = Network.create((4, 3, 3, 2), rng=0, residual=True)
    x = np.random.default_rng(1).standard_normal((5, 4))
    _, acts = forward(net, x)
    h2 = 1 / (1 + np.exp(-(acts[1] @ net.weights[1].T + net.biases[1])))
    np.testing.assert_allclose(acts[2], acts[1] + h2, rtol=1e-12)


# ---- the step rules, worked by hand ------------------------------------------------------


def _hand_net() -> tuple[Network, object]:
    # Sizes (2, 1, 1): the hidden layer's w = [[3, 4]] (norm 5), the output's w = [[2]].
    net = Network((2, 1, 1), [np.array([[3.0, 4.0]]), np.array([[2.0]])],
                  [np.array([1.0]), np.array([0.5])])  # fmt: skip
    x = np.array([[1.0, 0.0], [0.0, 1.0]])
    y = np.array([[1.0], [0.0]])
    return net, backprop(net, x, y)


def test_lars_scales_each_layer_by_its_trust_ratio() -> None:
    net, g = _hand_net()
    m = 2
    f = layer_factors(net, g, m, "lars")
    for l in range(2):
        w_norm = np.sqrt(np.sum(net.weights[l] ** 2))
        g_norm = np.sqrt(np.sum((g.nabla_w[l] / m) ** 2))
        assert f[l] == pytest.approx(LARS_TRUST * w_norm / g_norm, rel=1e-12)
    before = [w.copy() for w in net.weights]
    train_step(net, g, eta=0.1, lmbda=0.0, n=2, m=m, layer_lr="lars")
    for l in range(2):
        # Each layer's weights move by eta * trust of their own norm, fast layer or slow.
        moved = np.linalg.norm(net.weights[l] - before[l]) / np.linalg.norm(before[l])
        assert moved == pytest.approx(0.1 * LARS_TRUST, rel=1e-12)


def test_equalize_scales_by_inverse_relative_speed_within_the_cap() -> None:
    net = Network.create((4, 3, 3, 3, 2), rng=0)
    r = np.random.default_rng(1)
    g = backprop(net, r.standard_normal((6, 4)), np.eye(2)[r.integers(0, 2, 6)])
    speeds = [np.linalg.norm(nb / 6) for nb in g.nabla_b[:-1]]
    f = layer_factors(net, g, 6, "equalize")
    assert f[-1] == 1.0 and f[-2] == pytest.approx(1.0)
    for l in range(3):
        want = min(max(speeds[-1] / speeds[l], 1 / EQUALIZE_CAP), EQUALIZE_CAP)
        assert f[l] == pytest.approx(want, rel=1e-12)
    # A layer with zero bias gradient gets the cap, not infinity.
    g.nabla_b[0][:] = 0.0
    assert layer_factors(net, g, 6, "equalize")[0] == EQUALIZE_CAP


def test_clip_scales_the_global_norm_down_to_the_limit() -> None:
    net, g = _hand_net()
    m = 2
    total = np.sqrt(sum(np.sum((p / m) ** 2) for p in [*g.nabla_w, *g.nabla_b]))
    assert clip_factor(g, m, 0.0) == 1.0
    assert clip_factor(g, m, 2 * total) == 1.0
    assert clip_factor(g, m, total / 4) == pytest.approx(0.25, rel=1e-12)
    before = [w.copy() for w in net.weights] + [b.copy() for b in net.biases]
    train_step(net, g, eta=1.0, lmbda=0.0, n=2, m=m, clip=total / 4)
    after = [*net.weights, *net.biases]
    step = np.sqrt(sum(np.sum((a - b) ** 2) for a, b in zip(after, before, strict=True)))
    assert step == pytest.approx(total / 4, rel=1e-12)  # eta 1: the step is the clipped g


# ---- tiny runs that learn ------------------------------------------------------------------

DATA = {"synthetic": DataSet.synthetic(1000, 300)}
TINY = dict(sizes=hidden_sizes(3, 20), epochs=2, n_train=1000, n_eval=300, n_probe=200,
            dataset="synthetic", record=("accuracy", "speeds"))  # fmt: skip


@pytest.mark.parametrize(
    "remedy",
    [
        {"norm": "batch"},
        {"residual": True},
        {"layer_lr": "lars"},
        {"norm": "batch", "residual": True, "clip": 5.0},
    ],  # fmt: skip
    ids=["batch", "residual", "lars", "batch+residual+clip"],
)
def test_a_tiny_run_with_a_remedy_learns(remedy: dict) -> None:
    config = RunConfig(**TINY, **remedy)
    result = train_run(config, 0, DATA)
    assert result.status == "done"
    costs = [e["training_cost"] for e in result.epochs]
    assert costs[-1] < costs[0]
    assert result.final_accuracy is not None and result.final_accuracy > 0.3  # chance: 0.1
    assert result.net is not None and result.net.norm == config.norm


def test_engine_auto_falls_back_to_numpy_and_fast_is_refused() -> None:
    net = Network.create((784, 5, 5, 10), rng=0, norm="batch")
    x = np.random.default_rng(0).random((20, 784))
    y = np.eye(10)[np.arange(20) % 10]
    sgd(net, x, y, SGDConfig(1, 5, 0.1, 0.0), rng=0, engine="auto")  # no error: NumPy path
    with pytest.raises(BadInput, match="fast engine"):
        sgd(net, x, y, SGDConfig(1, 5, 0.1, 0.0), rng=0, engine="fast")
    plain = Network.create((784, 5, 5, 10), rng=0)
    with pytest.raises(BadInput, match="fast engine"):
        sgd(plain, x, y, SGDConfig(1, 5, 0.1, 0.0, clip=1.0), rng=0, engine="fast")


def test_bias_gain_scales_the_initial_biases_and_leaves_the_default_alone() -> None:
    base = RunConfig(hidden_sizes(2, 5))
    same = make_network(RunConfig(hidden_sizes(2, 5), bias_gain=1.0), 3)
    half = make_network(RunConfig(hidden_sizes(2, 5), bias_gain=0.5), 3)
    book = make_network(base, 3)
    for b0, b1, bh in zip(book.biases, same.biases, half.biases, strict=True):
        assert np.array_equal(b0, b1)
        np.testing.assert_array_equal(bh, 0.5 * b0)
    for w0, wh in zip(book.weights, half.weights, strict=True):
        assert np.array_equal(w0, wh)  # the same draws


# ---- validation, save and load -----------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "words"),
    [
        ({"norm": "layer"}, "unknown value 'layer'"),
        ({"layer_lr": "adam"}, "unknown value 'adam'"),
        ({"residual": 1}, "true or false"),
        ({"clip": -1.0}, "number >= 0"),
        ({"bias_gain": float("nan")}, "number >= 0"),
        ({"norm": "batch", "mini_batch_size": 1}, "mini_batch_size >= 2"),
        ({"norm": "batch", "n_train": 1}, "n_train >= 2"),
        ({"norm": "batch", "n_train": 21}, "last mini-batch of 1 example.*n_train 20 or 22"),
        ({"norm": "batch", "n_train": 9, "mini_batch_size": 4}, "n_train 8 or 10"),
        ({"norm": "batch", "n_probe": 1, "record": ("speeds",)}, "give n_probe >= 2"),
        ({"residual": True, "sizes": (784, 30, 10)}, "no hidden layer as wide"),
        ({"norm": "batch", "engine": "fast"}, "engine fast has no norm"),
    ],
)
def test_config_refuses_bad_remedies_in_one_line(fields: dict, words: str) -> None:
    args = {"sizes": hidden_sizes(2, 30), **fields}
    with pytest.raises(BadInput, match=words) as e:
        RunConfig(**args)
    assert "\n" not in str(e.value)


def test_batch_norm_accepts_batches_of_two_or_more_and_an_untrained_net() -> None:
    for fields in (
        {"n_train": 22},  # a last mini-batch of 2
        {"n_train": 21, "mini_batch_size": 21},  # full-batch
        {"n_train": 21, "epochs": 0, "n_probe": 21, "record": ("speeds",)},  # only the probe
        {"n_train": 21, "norm": "none"},  # the book's network has no batch statistics
    ):
        RunConfig(**{"sizes": hidden_sizes(2, 8), "norm": "batch", **fields})


@pytest.mark.parametrize(
    ("n", "m", "words"),
    [
        (21, 10, "21 examples in mini-batches of 10 leave a last mini-batch of 1"),
        (9, 4, "9 examples in mini-batches of 4"),
        (10, 1, "at least 2 examples.*mini_batch_size 1"),
        (1, 10, "at least 2 examples.*and 1 examples"),
    ],
)
def test_sgd_refuses_a_batch_norm_mini_batch_of_one(n: int, m: int, words: str) -> None:
    r = np.random.default_rng(7)
    x, y = r.standard_normal((n, 6)), np.eye(3)[r.integers(0, 3, n)]
    with pytest.raises(BadInput, match=words):
        sgd(_net("batch", False), x, y, SGDConfig(1, m, 0.1, 0.0), rng=0)


def test_sgd_trains_batch_norm_on_last_mini_batches_of_two_or_more() -> None:
    r = np.random.default_rng(8)
    x, y = r.standard_normal((22, 6)), np.eye(3)[r.integers(0, 3, 22)]
    for n in (20, 22):  # mini-batches of 10, the last one full or of 2
        net = _net("batch", False)
        before = [w.copy() for w in net.weights]
        sgd(net, x[:n], y[:n], SGDConfig(1, 10, 0.1, 0.0), rng=0)
        assert not any(np.array_equal(a, b) for a, b in zip(net.weights, before, strict=True))
    sgd(_net("none", False), x[:21], y[:21], SGDConfig(1, 10, 0.1, 0.0), rng=0)  # no BN: fine


def test_a_batch_of_one_leaves_the_running_averages_alone() -> None:
    r = np.random.default_rng(6)
    x, y = r.standard_normal((2, 6)), np.eye(3)[[0, 2]]
    net = _net("batch", False)
    before = [a.copy() for a in net.running_means + net.running_vars]
    train_step(net, backprop(net, x[:1], y[:1]), eta=0.1, lmbda=0.0, n=2, m=1)
    for a, b in zip(net.running_means + net.running_vars, before, strict=True):
        assert np.array_equal(a, b)
    train_step(net, backprop(net, x, y), eta=0.1, lmbda=0.0, n=2, m=2)  # two examples move them
    assert not np.allclose(net.running_vars[0], before[len(before) // 2])


def test_config_round_trips_the_remedies() -> None:
    c = RunConfig(hidden_sizes(3, 30), norm="batch", residual=True, layer_lr="equalize",
                  clip=2.5, bias_gain=0.5)  # fmt: skip
    back = RunConfig.from_dict(json.loads(json.dumps(c.to_dict())))
    assert back == c and back.remedies() == ["norm", "residual", "layer_lr", "clip"]
    assert RunConfig(hidden_sizes(3, 30)).remedies() == []


def test_a_trained_batch_norm_network_saves_and_loads_every_parameter(tmp_path) -> None:
    config = RunConfig(**{**TINY, "epochs": 1}, norm="batch", residual=True)
    net = train_run(config, 1, DATA).net
    assert net is not None and net.running_means is not None
    assert not np.allclose(net.running_means[0], 0.0)  # training moved them
    net.save(tmp_path / "net.json")
    back = Network.load(tmp_path / "net.json")
    assert (back.norm, back.residual) == ("batch", True)
    for name in ("weights", "biases", "gammas", "running_means", "running_vars"):
        for a, b in zip(getattr(net, name), getattr(back, name), strict=True):
            assert np.array_equal(a, b)
    x = np.random.default_rng(0).random((4, 784))
    assert np.array_equal(feedforward(net, x), feedforward(back, x))
    assert "norm" not in make_network(RunConfig(hidden_sizes(1, 5)), 0).to_dict()  # the book's


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ({"running_vars": [[-1.0] * 5, [1.0] * 5, [1.0] * 5]}, "hidden layer 1 holds -1.0"),
        ({"running_vars": [[1.0] * 5, [1.0] * 4 + [-0.5], [1.0] * 5]}, "layer 2 holds -0.5"),
        ({"running_vars": [[1.0] * 5, [1.0] * 5, [1.0] * 4 + ["NaN"]]}, "NaN or infinite"),
        ({"running_vars": [[1.0] * 5, [1.0] * 5, ["Infinity"] * 5]}, "NaN or infinite"),
        ({"running_means": [[0.0] * 5, [0.0] * 5]}, "running_means must be one vector"),
        ({"gammas": [[1.0] * 5, [1.0] * 4, [1.0] * 5]}, "gammas must be one vector"),
    ],
)
def test_a_saved_batch_norm_net_with_bad_statistics_is_refused_naming_the_file(
    tmp_path, change: dict, words: str
) -> None:
    data = {**_net("batch", False).to_dict(), **change}
    path = tmp_path / "bad.json"
    # NaN and Infinity as Python's json writes them; the strings above stand for them.
    path.write_text(json.dumps(data).replace('"NaN"', "NaN").replace('"Infinity"', "Infinity"))
    with pytest.raises(BadInput, match=words) as e:
        Network.load(path)
    assert str(e.value).startswith(f"{path}: ") and "\n" not in str(e.value)


def test_a_network_made_with_an_infinite_running_variance_is_refused() -> None:
    net = _net("batch", False)
    with pytest.raises(BadInput, match="layer 3 holds inf; a variance is a finite number >= 0"):
        Network(net.sizes, net.weights, net.biases, norm="batch",
                running_vars=[np.ones(5), np.ones(5), np.full(5, np.inf)])  # fmt: skip


# ---- presets -------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["modern", "depth", "chaos"])
def test_the_beyond_presets_load_and_validate(name: str) -> None:
    assert name in PRESETS
    grid = load_preset(name)
    for g in (grid, grid.with_quick()):
        points = g.studies[0].points()
        assert points and all(isinstance(p.config, RunConfig) for p in points)
    quick = grid.with_quick().studies[0]
    assert all(p.config.n_train <= 2000 for p in quick.points()) and len(quick.seeds) == 2


def test_modern_preset_holds_its_six_variants_at_two_depths() -> None:
    study = load_preset("modern").studies[0]
    points = {p.label: p.config for p in study.points()}
    assert len(points) == 12
    assert points["variant=book,depth=4"] == RunConfig(
        hidden_sizes(4, 30), epochs=30, n_train=50_000, record=("accuracy", "speeds",
        "diagnostics"))  # fmt: skip
    assert points["variant=batch_norm,depth=10"].norm == "batch"
    tanh = points["variant=tanh_critical,depth=10"]
    assert (tanh.activation, tanh.gain, tanh.bias_gain) == ("tanh", 1.0, 0.0)


def test_variants_refuse_a_key_that_is_also_an_axis() -> None:
    data = {"grid": {"depth": [2]}, "variants": {"a": {"depth": 3}}}
    with pytest.raises(BadInput, match="variants.a.depth: 'depth' is a grid axis"):
        parse_grid(data)
    with pytest.raises(BadInput, match="unknown key 'variants.a.speed'"):
        parse_grid({"grid": {"depth": [2]}, "variants": {"a": {"speed": 3}}})
