"""The compiled fast path against the NumPy path: the same epoch, equal to rounding.

The reference is ``nn.train.minibatch_epoch``, the loop ``sgd`` runs for mini-batches, fed
the order ``sgd`` draws (``default_rng(seed).permutation(n)``). After one epoch at mini-batch
10 on 5,000 images every weight and bias must agree to 1e-10 of its layer's largest in
float64. In float32 the two paths round differently at every step (the fast path's hidden
layers and sigmoids compute in float64 and come out nearer the float64 run), and the
differences grow over the 500 steps to about 1e-5: the bound is 5e-5. For relu and leaky
relu a weighted input within a rounding of 0 can take the other side of the kink on the two
paths, which changes that example's gradient outright; one such crossing moves a neuron's
weights by about 1e-3, so the bound for them in float32 is 5e-3.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from numba import njit

from layerspeed.data.synthetic import synthetic_split
from layerspeed.errors import BadInput
from layerspeed.nn import ACTIVATIONS, COSTS, Network, fast, fast_kernel
from layerspeed.nn.train import minibatch_epoch

N = 5000


@pytest.fixture(scope="module")
def data() -> tuple[np.ndarray, np.ndarray]:
    """5,000 synthetic images, made sparse like MNIST: grey levels under 128 become 0."""
    x, labels = synthetic_split(N, 0)
    x = np.where(x < 128, 0, x) / 255.0  # (n, 784), about 70% zeros
    return x, np.eye(10)[labels]


def _both(
    net: Network, x: np.ndarray, y: np.ndarray, *, m: int, eta: float, lmbda: float, seed: int
) -> tuple[Network, Network]:
    """``net`` after one epoch on each path, the examples in ``sgd``'s order."""
    dtype = net.dtype
    x, y = x.astype(dtype), y.astype(dtype)
    order = np.random.default_rng(seed).permutation(len(x))
    ref, got = net.copy(), net.copy()
    with np.errstate(over="ignore", invalid="ignore"):
        minibatch_epoch(ref, x, y, order, m=m, eta=eta, lmbda=lmbda)
    fast.train_epoch(got, fast.sparse_rows(x, dtype), y, order, m=m, eta=eta, lmbda=lmbda)
    return ref, got


def _worst(ref: Network, got: Network) -> float:
    """The largest difference of a weight or bias, relative to its layer's largest."""
    pairs = zip(ref.weights + ref.biases, got.weights + got.biases, strict=True)
    return max(float(np.max(np.abs(r - g)) / np.max(np.abs(r))) for r, g in pairs)


def test_the_fast_path_has_every_activation_and_cost() -> None:
    assert set(fast.ACTIVATION_CODES) == set(ACTIVATIONS)
    assert set(fast.COST_CODES) == set(COSTS)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("cost", list(COSTS))
@pytest.mark.parametrize("activation", list(ACTIVATIONS))
def test_one_epoch_equals_the_numpy_path(data, activation: str, cost: str, dtype: str) -> None:
    x, y = data
    net = Network.create((784, 30, 20, 10), rng=3, activation=activation, cost=cost, dtype=dtype)
    assert fast.supports(net)
    # Unbounded hidden units with a sigmoid output diverge at eta 0.1 on this data.
    eta = 0.01 if activation == "identity" else 0.1
    ref, got = _both(net, x, y, m=10, eta=eta, lmbda=5.0, seed=7)
    assert all(np.isfinite(w).all() for w in ref.weights), "the reference diverged"
    assert got.weights[0].dtype == np.dtype(dtype)
    if dtype == "float64":
        assert _worst(ref, got) < 1e-10
    else:
        kinked = activation in ("relu", "leaky_relu")
        assert 0 < _worst(ref, got) < (5e-3 if kinked else 5e-5)


@pytest.mark.parametrize(
    "sizes, n, m, lmbda",
    [
        ((784, 10), N, 10, 5.0),  # no hidden layer: the sparse layer is the output
        ((784, 30, 30, 30, 30, 10), N, 10, 5.0),  # the chapter's deep net
        ((784, 30, 10), 995, 10, 5.0),  # a shorter last mini-batch
        ((784, 30, 10), N, 7, 0.0),  # no weight decay
        # decay 1 - 0.1 * 3000 / 5000 = 0.94: the scale is folded every dozen steps
        ((784, 30, 10), N, 10, 3000.0),
        # decay 1 - 0.1 * 40000 / 5000 = 0.2: folded at every step
        ((784, 30, 10), N, 10, 40000.0),
        ((784, 100, 10), N, 1, 5.0),  # mini-batch 1, a width that is not a multiple of 8
        ((784, 3, 2, 5, 10), 999, 9, 5.0),  # layers under 4 wide, odd batches
    ],
)
def test_shapes_batches_and_decays(data, sizes, n: int, m: int, lmbda: float) -> None:
    x, y = data
    net = Network.create(sizes, rng=1)
    ref, got = _both(net, x[:n], y[:n], m=m, eta=0.1, lmbda=lmbda, seed=2)
    assert _worst(ref, got) < 1e-10


def test_dense_inputs(data) -> None:
    x, labels = synthetic_split(1000, 0)  # almost no zero pixels
    net = Network.create((784, 30, 10), rng=0)
    ref, got = _both(net, x / 255.0, np.eye(10)[labels], m=10, eta=0.5, lmbda=5.0, seed=0)
    assert _worst(ref, got) < 1e-10


def test_the_weights_stay_the_networks_arrays(data) -> None:
    x, y = data
    net = Network.create((784, 30, 10), rng=0)
    ids = [id(w) for w in net.weights + net.biases]
    fast.train_epoch(net, fast.sparse_rows(x[:100]), y[:100], np.arange(100), m=10, eta=0.1,
                     lmbda=5.0)  # fmt: skip
    assert [id(w) for w in net.weights + net.biases] == ids


def test_a_diverging_run_comes_out_non_finite(data) -> None:
    x, y = data
    net = Network.create((784, 30, 10), rng=0, activation="identity", init="large")
    net.weights[0] *= 1e200
    fast.train_epoch(net, fast.sparse_rows(x[:100]), y[:100], np.arange(100), m=10, eta=10.0,
                     lmbda=0.0)  # fmt: skip
    assert not all(np.isfinite(w).all() for w in net.weights + net.biases)


@pytest.mark.parametrize("activation", list(ACTIVATIONS))
def test_a_huge_step_is_finite_or_not_as_on_the_numpy_path(data, activation: str) -> None:
    """Errors grown to inf behind units that are off: relu's derivative 0 times inf is NaN, as
    NumPy's ``delta * 0`` is, not a 0 that would hide the divergence."""
    x, y = data
    net = Network.create((784, 30, 20, 10), rng=0, activation=activation)
    ref, got = _both(net, x[:120], y[:120], m=3, eta=1e20, lmbda=0.0, seed=0)
    finite = [all(np.isfinite(w).all() for w in n.weights + n.biases) for n in (ref, got)]
    assert finite[1] == finite[0]
    if activation in ("relu", "identity"):  # these do diverge here
        assert finite == [False, False]


def test_sparse_rows_lists_the_nonzero_entries() -> None:
    x = np.array([[0.0, 2.0, 0.0], [0.0, 0.0, 0.0], [1.0, 0.0, 3.0]])
    rows = fast.sparse_rows(x)
    assert rows.indptr.tolist() == [0, 1, 1, 3]
    assert rows.indices.tolist() == [1, 0, 2]
    assert rows.values.tolist() == [2.0, 1.0, 3.0]
    assert (rows.n, rows.n_in) == (3, 3)
    assert fast.sparse_rows(x, np.float32).values.dtype == np.float32


def test_bad_inputs_say_what_was_wrong(data) -> None:
    x, y = data
    net = Network.create((784, 30, 10), rng=0)
    rows = fast.sparse_rows(x[:10])
    with pytest.raises(BadInput, match="float32"):
        fast.train_epoch(net, fast.sparse_rows(x[:10], np.float32), y[:10], np.arange(10),
                         m=10, eta=0.1, lmbda=0.0)  # fmt: skip
    with pytest.raises(BadInput, match="outside"):
        fast.train_epoch(net, rows, y[:10], np.arange(1, 11), m=10, eta=0.1, lmbda=0.0)
    with pytest.raises(BadInput, match="desired outputs"):
        fast.train_epoch(net, rows, y[:9], np.arange(10), m=10, eta=0.1, lmbda=0.0)


def test_grey_levels_list_as_the_float_pixels_bit_for_bit() -> None:
    """uint8 grey levels over 255.0 are ``Split.x``'s pixels exactly, every level 0..255."""
    levels = np.arange(256, dtype=np.uint8).reshape(2, 128)  # (2, 128), one zero
    for dtype in (np.float64, np.float32):
        want = fast.sparse_rows((levels / 255.0).astype(dtype), dtype)
        got = fast.sparse_rows(levels, dtype, divisor=255.0)
        assert got.dtype == np.dtype(dtype) and got.values.dtype == np.uint8
        assert got.levels is not None
        np.testing.assert_array_equal(got.indptr, want.indptr)
        np.testing.assert_array_equal(got.indices, want.indices)
        assert got.levels[got.values].tobytes() == want.values.tobytes()
    with pytest.raises(BadInput, match="divisor"):
        fast.sparse_rows(levels, divisor=0.0)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_an_epoch_from_grey_levels_is_the_epoch_from_float_pixels(data, dtype: str) -> None:
    """The same numbers in, the same arithmetic: the weights are equal bit for bit."""
    x, y = data
    levels = np.rint(x * 255).astype(np.uint8)  # (n, 784), x = levels / 255 exactly
    order = np.random.default_rng(7).permutation(len(x))
    net = Network.create((784, 30, 20, 10), rng=3, dtype=dtype)
    a, b = net.copy(), net.copy()
    kw = {"m": 10, "eta": 0.1, "lmbda": 5.0}
    fast.train_epoch(a, fast.sparse_rows(x.astype(dtype), dtype), y, order, **kw)
    fast.train_epoch(b, fast.sparse_rows(levels, dtype, divisor=255.0), y, order, **kw)
    for p, q in zip(a.weights + a.biases, b.weights + b.biases, strict=True):
        assert p.tobytes() == q.tobytes()


# Compiled as the kernel compiles it (``_exp`` is inlined into its callers, flags and all).
@njit(cache=True, fastmath=fast_kernel._REORDER, error_model="numpy")
def _exp_each(x: np.ndarray) -> np.ndarray:
    out = np.empty_like(x)
    for i in range(x.shape[0]):
        out[i] = fast_kernel._exp(x[i])
    return out


def _ulps(got: np.ndarray, want: np.ndarray) -> np.ndarray:
    """How many units in the last place of ``want`` ``got`` is off (0 where both are equal,
    infinite ones included)."""
    same = (got == want) | (np.isnan(got) & np.isnan(want))
    with np.errstate(invalid="ignore"):
        return np.where(same, 0.0, np.abs(got - want) / np.spacing(np.abs(want)))


def test_the_kernels_exp_is_the_c_librarys_within_one_ulp() -> None:
    """Over the whole range, through the subnormals to the overflow, every special value."""
    rng = np.random.default_rng(0)
    x = np.concatenate([
        np.linspace(-760.0, 720.0, 1_000_001),
        rng.normal(0.0, 5.0, 200_000),
        rng.uniform(-1e-6, 1e-6, 10_000),
        [0.0, -0.0, np.inf, -np.inf, np.nan, 709.78, 709.79, -708.39, -745.13, -745.14,
         1e300, -1e300, 5e-324, np.log(2.0), 1.0],
    ])  # fmt: skip
    with np.errstate(over="ignore", under="ignore"):
        want = np.exp(x)
    got = _exp_each(x)
    assert np.array_equal(np.isnan(got), np.isnan(want))
    assert np.array_equal(np.isposinf(got), np.isposinf(want))
    assert np.array_equal(got == 0.0, want == 0.0)
    assert _ulps(got, want).max() <= 1.0


@given(st.floats(allow_nan=True, allow_infinity=True))
def test_the_kernels_exp_of_any_float(x: float) -> None:
    got = _exp_each(np.array([x]))
    with np.errstate(over="ignore", under="ignore"):
        want = np.exp(np.array([x]))
    assert _ulps(got, want)[0] <= 1.0, (x, got[0], want[0])
