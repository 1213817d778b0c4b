"""The chain of single neurons: equation (122), backprop and finite differences agree; the
exploding example grows exactly 25 times per layer; the ``chain`` command."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from layerspeed import chain as ch
from layerspeed.cli import main
from layerspeed.errors import BadInput

SMOOTH = ["sigmoid", "tanh", "softplus", "scaled_sigmoid", "identity"]
KINKED = ["relu", "leaky_relu"]


@st.composite
def chains(draw: st.DrawFn, activation: str) -> ch.Chain:
    n = draw(st.integers(1, 8))
    value = st.floats(-2.0, 2.0, allow_nan=False)
    weights = draw(st.lists(value, min_size=n, max_size=n))
    biases = draw(st.lists(value, min_size=n, max_size=n))
    x = draw(st.floats(0.0, 1.0))
    y = draw(st.floats(0.0, 1.0))
    return ch.Chain(tuple(weights), tuple(biases), x, y, activation)


def _check_three_ways(chain: ch.Chain) -> None:
    r = ch.analyse(chain)
    # Formula (122) term by term against backprop: the same products, grouped differently.
    np.testing.assert_allclose(r.dC_db1_formula, r.dC_db1_backprop, rtol=1e-12, atol=1e-300)
    np.testing.assert_allclose(r.nabla_b_formula, r.nabla_b_backprop, rtol=1e-12, atol=1e-300)
    # Finite differences carry the rounding error of C (about 1e-16 / step), hence the atol.
    np.testing.assert_allclose(r.dC_db1_finite_difference, r.dC_db1_backprop, rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(
        r.nabla_b_finite_difference, r.nabla_b_backprop, rtol=1e-6, atol=1e-9
    )


@pytest.mark.parametrize("activation", SMOOTH)
@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_three_derivatives_agree_smooth(activation: str, data: st.DataObject) -> None:
    _check_three_ways(data.draw(chains(activation)))


@pytest.mark.parametrize("activation", KINKED)
@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_three_derivatives_agree_kinked(activation: str, data: st.DataObject) -> None:
    chain = data.draw(chains(activation))
    zs, _ = ch.forward(chain)
    # The finite-difference steps move no z_j by more than 2e-4, so away from the kink by
    # 1e-3 every perturbed chain stays on the same linear pieces.
    assume(np.all(np.abs(zs) > 1e-3))
    _check_three_ways(chain)


def test_two_neuron_chain_by_hand() -> None:
    # w = (0, 2), b = (0, 0), x = 0.7, y = 0:
    #   z_1 = 0 * 0.7 + 0 = 0, a_1 = sigma(0) = 1/2, sigma'(z_1) = 1/2 * 1/2 = 1/4
    #   z_2 = 2 * 1/2 + 0 = 1, a_2 = sigma(1) = s ~ 0.7310585786300049
    #   terms: sigma'(z_1) = 1/4, w_2 sigma'(z_2) = 2 s (1 - s), dC/da_2 = a_2 - y = s
    #   dC/db_1 = 1/4 * 2 s (1 - s) * s = s^2 (1 - s) / 2
    #   dC/db_2 = s (1 - s) * s = s^2 (1 - s), so dC/db_1 / dC/db_2 = 1/2
    s = 1.0 / (1.0 + np.exp(-1.0))
    r = ch.analyse(ch.Chain((0.0, 2.0), (0.0, 0.0), x=0.7, y=0.0))
    assert r.zs == (0.0, 1.0)
    assert r.terms[0] == 0.25
    assert r.terms[1] == pytest.approx(2 * s * (1 - s), rel=1e-15)
    assert r.terms[2] == pytest.approx(s, rel=1e-15)
    assert r.dC_db1_formula == pytest.approx(s**2 * (1 - s) / 2, rel=1e-14)
    assert r.nabla_b_backprop[1] == pytest.approx(s**2 * (1 - s), rel=1e-14)
    assert r.ratio_1_L == pytest.approx(0.5, rel=1e-14)
    assert r.ratio_1_3 is None  # only two neurons
    assert r.cost == pytest.approx(s**2 / 2, rel=1e-15)


@pytest.mark.parametrize("length", [1, 2, 4, 8])
def test_exploding_case_is_exactly_25_per_layer(length: int) -> None:
    r = ch.analyse(ch.exploding_chain(length))
    assert r.zs == (0.0,) * length
    assert r.terms[0] == 0.25
    for term in r.terms[1:-1]:
        assert abs(term - 25.0) < 1e-12
    nb = r.nabla_b_backprop
    for j in range(length - 1):
        assert abs(nb[j] / nb[j + 1] - 25.0) < 1e-12
    np.testing.assert_allclose(r.dC_db1_finite_difference, r.dC_db1_backprop, rtol=1e-6)


def test_chain_checks_itself() -> None:
    with pytest.raises(BadInput, match="2 weights but 1 biases"):
        ch.Chain((1.0, 2.0), (1.0,))
    with pytest.raises(BadInput, match="unknown activation 'foo'"):
        ch.Chain((1.0,), (1.0,), activation="foo")
    with pytest.raises(BadInput, match="unknown cost"):
        ch.Chain((1.0,), (1.0,), cost="hinge")
    with pytest.raises(BadInput, match="at least one neuron"):
        ch.Chain((), ())


def test_build_chain_from_options() -> None:
    # Nothing given: the synopsis chain; --exploding: the book's example, x and y passed on.
    assert ch.build_chain() == ch.default_chain()
    assert ch.build_chain(length=4, activation="tanh") == ch.default_chain(activation="tanh")
    assert ch.build_chain(exploding=True, length=5, x=0.2, y=0.1) == ch.exploding_chain(
        5, x=0.2, y=0.1
    )
    # --seed draws N(0, 1): the L weights first, then the L biases, from default_rng(seed).
    draws = np.random.default_rng(3).standard_normal(12)
    drawn = ch.build_chain(seed=3, length=6, activation="relu", cost="cross-entropy")
    assert drawn.weights == tuple(draws[:6]) and drawn.biases == tuple(draws[6:])
    assert (drawn.activation, drawn.cost) == ("relu", "cross-entropy")
    # A seed with weights given draws only the biases, as many as there are weights.
    mixed = ch.build_chain(seed=3, weights=(1.0, 2.0, 3.0))
    assert mixed.weights == (1.0, 2.0, 3.0)
    assert mixed.biases == tuple(np.random.default_rng(3).standard_normal(6)[3:])


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"exploding": True, "seed": 1}, "--exploding sets the weights and biases"),
        ({"exploding": True, "weights": (1.0,)}, "--exploding sets the weights and biases"),
        ({"weights": (1.0, 2.0)}, "give both --weights and --biases"),
        ({"weights": (1.0, 2.0), "biases": (1.0,)}, "--weights has 2 values but --biases has 1"),
        ({"weights": (1.0,), "biases": (1.0,), "length": 2}, "--length 2 does not match"),
        ({"length": 6}, "--length 6 needs --seed or --exploding"),
        ({"exploding": True, "length": -1}, "chain length must be a positive integer"),
    ],
)
def test_build_chain_rejects_contradictions(options: dict, message: str) -> None:
    with pytest.raises(BadInput, match=message):
        ch.build_chain(**options)


def test_package_exports_its_public_names() -> None:
    import layerspeed.chain

    for name in layerspeed.chain.__all__:
        assert getattr(layerspeed.chain, name) is not None, name
    assert {"Chain", "analyse", "build_chain", "problems", "chapter_chain_results"} <= set(
        layerspeed.chain.__all__
    )


def test_cross_entropy_cost_three_ways() -> None:
    chain = ch.Chain(ch.DEFAULT_WEIGHTS, ch.DEFAULT_BIASES, cost="cross-entropy")
    r = ch.analyse(chain)
    np.testing.assert_allclose(r.dC_db1_formula, r.dC_db1_backprop, rtol=1e-12)
    np.testing.assert_allclose(r.dC_db1_finite_difference, r.dC_db1_backprop, rtol=1e-6)


def test_vanishing_statistics_support_the_book() -> None:
    s = ch.chain_statistics(n_chains=5000, rng=1)
    # N(0, 1) weights: most |w_j sigma'(z_j)| are below 1/4, and dC/db_1 is usually 16 times
    # smaller than dC/db_3, or more.
    assert s.term_below_quarter > 0.7
    assert s.ratio_1_3_sixteen is not None and s.ratio_1_3_sixteen > 0.8
    assert s.term_above_one < 0.01  # |w sigma'| >= 1 needs |w| >= 4: rare under N(0, 1)
    assert s.exploding == 0.0


def test_statistics_reproducible_from_seed() -> None:
    a = ch.chain_statistics(n_chains=500, rng=7, activation="tanh")
    b = ch.chain_statistics(n_chains=500, rng=7, activation="tanh")
    assert a == b


def _json(capsys: pytest.CaptureFixture[str], argv: list[str]) -> dict:
    assert main(argv) == 0
    return json.loads(capsys.readouterr().out)


def test_cli_chain_json(capsys: pytest.CaptureFixture[str]) -> None:
    out = _json(capsys, ["chain", "--json"])
    assert len(out["terms"]) == 5
    assert set(out["dC_db1"]) == {"formula", "backprop", "finite_difference"}
    assert len(out["dC_db"]["backprop"]) == 4
    assert out["chain"]["weights"] == list(ch.DEFAULT_WEIGHTS)
    d = out["dC_db1"]
    assert d["formula"] == pytest.approx(d["backprop"], rel=1e-12)
    assert d["finite_difference"] == pytest.approx(d["backprop"], rel=1e-6)
    assert out["ratio_db1_db3"] == pytest.approx(d["backprop"] / out["dC_db"]["backprop"][2])
    # The formula against a computation written here: a scalar loop through the chain, the
    # terms sigma'(z_1), w_j sigma'(z_j) and dC/da_L = a_L - y (quadratic cost) from it, and
    # dC/db_1 by a central difference of the same loop's cost.
    c = out["chain"]

    def forward(b1: float) -> tuple[float, list[float]]:
        a, zs = c["x"], []
        for j, (w, b) in enumerate(zip(c["weights"], c["biases"], strict=True)):
            z = w * a + (b1 if j == 0 else b)
            zs.append(z)
            a = 1.0 / (1.0 + math.exp(-z))
        return a, zs

    def cost(b1: float) -> float:
        return 0.5 * (forward(b1)[0] - c["y"]) ** 2

    a_l, zs = forward(c["biases"][0])
    sp = [math.exp(-z) / (1.0 + math.exp(-z)) ** 2 for z in zs]
    terms = [sp[0]] + [w * s for w, s in zip(c["weights"][1:], sp[1:], strict=True)]
    terms.append(a_l - c["y"])
    assert out["terms"] == pytest.approx(terms, rel=1e-12)
    product = 1.0
    for t in terms:
        product *= t
    assert d["formula"] == pytest.approx(product, rel=1e-12)
    h = 1e-5
    b1 = c["biases"][0]
    assert d["formula"] == pytest.approx((cost(b1 + h) - cost(b1 - h)) / (2 * h), rel=1e-7)


def test_cli_chain_exploding_and_seed(capsys: pytest.CaptureFixture[str]) -> None:
    out = _json(capsys, ["chain", "--exploding", "--length", "5", "--json"])
    assert out["terms"][1:-1] == [25.0] * 4
    a = _json(capsys, ["chain", "--seed", "3", "--length", "6", "--json"])
    b = _json(capsys, ["chain", "--seed", "3", "--length", "6", "--json"])
    assert a == b and len(a["terms"]) == 7
    rng = np.random.default_rng(3)
    assert a["chain"]["weights"] == list(rng.standard_normal(6))


def test_cli_chain_table(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["chain"]) == 0
    out = capsys.readouterr().out
    assert "dC/db_1 by backprop" in out and "dC/da_4" in out


@pytest.mark.parametrize(
    "argv",
    [
        ["chain", "--weights", "1,2,3", "--biases", "1,2"],
        ["chain", "--activation", "nope"],
        ["chain", "--weights", "1,x", "--biases", "1,2"],
        ["chain", "--length", "6"],
    ],
)
def test_cli_chain_bad_input(capsys: pytest.CaptureFixture[str], argv: list[str]) -> None:
    assert main(argv) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("layerspeed: error:")


# ---------------------------------------------------------------- long chains, overflow


def _finite_differences_in_one_batch(chain: ch.Chain, step: float = 1e-4) -> np.ndarray:
    """The 4 L perturbed chains as one (4L, L) batch, as layerspeed 0.1 computed them."""
    from layerspeed.chain.engine import _arrays, _steps
    from layerspeed.nn.activations import get_activation

    weights, biases, x, y = _arrays(chain)
    act, cost = get_activation(chain.activation), ch.get_cost(chain.cost)
    n = 4 * chain.length
    zs, _ = ch.forward_batch(weights, biases, x, act)
    steps = _steps(weights[0], act.prime(zs[0]), step)
    shifted = np.repeat(biases, n, axis=0)  # (4L, L)
    for j in range(chain.length):
        shifted[4 * j : 4 * j + 4, j] += np.array([-2.0, -1.0, 1.0, 2.0]) * steps[j]
    _, a = ch.forward_batch(np.repeat(weights, n, axis=0), shifted, np.repeat(x, n), act)
    costs = cost.fn(a[:, -1], np.repeat(y, n)).reshape(chain.length, 4)
    return (costs @ (np.array([1.0, -8.0, 8.0, -1.0]) / 12.0)) / steps


@pytest.mark.parametrize("activation", ["sigmoid", "tanh", "relu", "softplus", "identity"])
def test_finite_differences_one_neuron_at_a_time_are_the_batch_bit_for_bit(
    activation: str,
) -> None:
    chain = ch.build_chain(seed=11, length=23, activation=activation)
    fd = ch.finite_difference_nabla_b(chain)
    assert fd.tolist() == _finite_differences_in_one_batch(chain).tolist()


def test_a_long_chain_takes_memory_linear_in_its_length() -> None:
    import tracemalloc

    chain = ch.build_chain(seed=1, length=1500)
    tracemalloc.start()
    try:
        ch.analyse(chain)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # The (4L, L) batch of the perturbed chains took 3 x 72 MB here; now a few (L,) arrays.
    assert peak < 5_000_000, peak


def test_exploding_chain_past_float64_is_a_value_not_an_error() -> None:
    r = ch.analyse(ch.build_chain(exploding=True, length=250))
    assert np.isinf(r.dC_db1_formula) and np.isinf(r.dC_db1_backprop)
    assert "dC_db1.formula" in r.overflowed()
    out = r.to_json_dict()
    text = json.dumps(out, allow_nan=False)  # strict JSON
    assert out["dC_db1"]["formula"] is None and "overflowed" in out["note"]
    assert json.loads(text)["overflowed"] == r.overflowed()
    # A chain that fits in float64 has no overflow keys: its JSON is as before.
    assert "overflowed" not in ch.analyse(ch.default_chain()).to_json_dict()


def test_cli_chain_overflow_is_inf_in_the_table_and_null_in_json(
    capsys: pytest.CaptureFixture[str],
) -> None:
    argv = ["chain", "--weights", "1e200,1e200,1e200,1e200", "--biases", "0,0,0,0"]
    argv += ["--activation", "identity"]
    assert main(argv) == 0
    captured = capsys.readouterr()
    assert "inf" in captured.out and "Overflow" in captured.out
    assert "Warning" not in captured.err
    out = _json(capsys, [*argv, "--json"])  # json.loads: strict, Infinity would not parse
    assert out["cost"] is None and "cost" in out["overflowed"]
    assert main(["chain", "--exploding", "--length", "250", "--json"]) == 0
    assert "Infinity" not in capsys.readouterr().out


def test_seed_with_weights_and_biases_is_refused() -> None:
    with pytest.raises(BadInput, match="--seed draws the weights and biases"):
        ch.build_chain(seed=1, weights=(1.0, 2.0), biases=(0.0, 0.0))
    with pytest.raises(BadInput, match="more than 100,000 neurons"):
        ch.build_chain(seed=1, length=100_001)
