"""The chain of single neurons, the exploding example and the chapter's problems.

Covers the second half of "The vanishing gradient problem" (Nielsen, *Neural Networks and
Deep Learning*, chapter 5), from "What's causing the vanishing gradient problem?" on:

* the chain ``z_j = w_j a_{j-1} + b_j``, ``a_j = sigma(z_j)``, ``a_0 = x``, with a cost ``C``
  of the output ``a_L``, and ``dC/db_1`` three ways: the product of equation (122) term by
  term, backpropagation, and central finite differences;
* the vanishing case (weights and biases drawn from N(0, 1), as the book initializes) and the
  exploding case (every ``w_j = 100``, biases ``b_j = -100 a_{j-1}`` so every ``z_j = 0``);
* problems 1-3 on ``|w sigma'(wa + b)|`` and the identity neuron, and the chain half of the
  exercise "an activation function whose derivative could be much larger: would it help?".

Indices follow the book: neurons are numbered ``j = 1 .. L``; Python arrays hold neuron ``j``
at index ``j - 1``, and ``activations[0]`` is the input ``a_0 = x``.

The numerical core works on batches of chains, ``(n, L)`` arrays of weights and biases, so the
statistics over many random chains are one vectorized pass; a single :class:`Chain` is a
batch of one.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any, NamedTuple

import numpy as np

from layerspeed.errors import BadInput
from layerspeed.nn.activations import Activation, get_activation, sigmoid_prime

Array = np.ndarray


# ----------------------------------------------------------------------------------------
# Costs at the end of the chain: (fn, derivative with respect to a_L) pairs, as activations.


class ChainCost(NamedTuple):
    """A cost ``fn(a, y)`` with its derivative ``da(a, y) = dC/da``."""

    fn: Callable[[Array, Array], Array]
    da: Callable[[Array, Array], Array]


def _quadratic(a: Array, y: Array) -> Array:
    return 0.5 * (a - y) ** 2


def _quadratic_da(a: Array, y: Array) -> Array:
    return a - y


def _cross_entropy(a: Array, y: Array) -> Array:
    # Only defined for 0 < a < 1, i.e. a sigmoid output.
    return -(y * np.log(a) + (1.0 - y) * np.log1p(-a))


def _cross_entropy_da(a: Array, y: Array) -> Array:
    return (a - y) / (a * (1.0 - a))


COSTS: dict[str, ChainCost] = {
    "quadratic": ChainCost(_quadratic, _quadratic_da),
    "cross-entropy": ChainCost(_cross_entropy, _cross_entropy_da),  # spelled as in `train`
}


def get_cost(name: str) -> ChainCost:
    """Look up a chain cost by name, with an error that lists the allowed names."""
    try:
        return COSTS[name]
    except KeyError:
        allowed = ", ".join(sorted(COSTS))
        raise BadInput(f"unknown cost {name!r}; choose one of: {allowed}") from None


# ----------------------------------------------------------------------------------------
# The chain.

# The chain in the command's synopsis: four neurons, as in the book's figure.
DEFAULT_WEIGHTS = (0.9, -1.7, 2.3, 0.6)
DEFAULT_BIASES = (0.4, -0.2, 0.3, -0.5)
DEFAULT_X = 0.35
DEFAULT_Y = 0.8


@dataclass(frozen=True)
class Chain:
    """A chain of ``L`` single neurons with a cost at the end.

    Attributes
    ----------
    weights, biases : tuple of float, length L
        ``w_1 .. w_L`` and ``b_1 .. b_L``.
    x : float
        The input ``a_0``.
    y : float
        The desired output that the cost compares ``a_L`` with.
    activation : str
        A name in :data:`layerspeed.nn.activations.ACTIVATIONS`.
    cost : str
        A name in :data:`COSTS`.
    """

    weights: tuple[float, ...]
    biases: tuple[float, ...]
    x: float = DEFAULT_X
    y: float = DEFAULT_Y
    activation: str = "sigmoid"
    cost: str = "quadratic"

    def __post_init__(self) -> None:
        object.__setattr__(self, "weights", tuple(float(w) for w in self.weights))
        object.__setattr__(self, "biases", tuple(float(b) for b in self.biases))
        if len(self.weights) == 0:
            raise BadInput("a chain needs at least one neuron; got no weights")
        if len(self.weights) != len(self.biases):
            raise BadInput(
                f"{len(self.weights)} weights but {len(self.biases)} biases; "
                "give one weight and one bias per neuron"
            )
        values = (*self.weights, *self.biases, self.x, self.y)
        if not all(math.isfinite(v) for v in values):
            raise BadInput(f"weights, biases, x and y must be finite; got {values}")
        get_activation(self.activation)
        get_cost(self.cost)

    @property
    def length(self) -> int:
        """``L``, the number of neurons."""
        return len(self.weights)


def default_chain(*, activation: str = "sigmoid", cost: str = "quadratic") -> Chain:
    """The four-neuron chain of the ``layerspeed chain`` synopsis."""
    return Chain(DEFAULT_WEIGHTS, DEFAULT_BIASES, DEFAULT_X, DEFAULT_Y, activation, cost)


def random_chain(
    length: int,
    rng: np.random.Generator,
    *,
    x: float = DEFAULT_X,
    y: float = DEFAULT_Y,
    activation: str = "sigmoid",
    cost: str = "quadratic",
) -> Chain:
    """A chain with weights and biases drawn from N(0, 1), the book's initialization."""
    _check_length(length)
    weights = rng.standard_normal(length)
    biases = rng.standard_normal(length)
    return Chain(tuple(weights), tuple(biases), x, y, activation, cost)


def exploding_chain(
    length: int = 4,
    *,
    weight: float = 100.0,
    x: float = DEFAULT_X,
    y: float = DEFAULT_Y,
    activation: str = "sigmoid",
    cost: str = "quadratic",
) -> Chain:
    """The book's exploding example: every ``w_j = weight`` and ``b_j = -weight * a_{j-1}``.

    Every weighted input is then ``z_j = 0`` (exactly, in floating point too: ``b_j`` is the
    negation of the very product it cancels), so with the sigmoid each term
    ``w_j sigma'(z_j)`` is ``100 * 1/4 = 25``.
    """
    _check_length(length)
    act = get_activation(activation)
    biases = []
    a = x
    for _ in range(length):
        b = -(weight * a)
        biases.append(b)
        a = float(act.fn(np.asarray(weight * a + b)))
    return Chain((weight,) * length, tuple(biases), x, y, activation, cost)


def _check_length(length: int) -> None:
    if not isinstance(length, int | np.integer) or length < 1:
        raise BadInput(f"chain length must be a positive integer; got {length!r}")


# ----------------------------------------------------------------------------------------
# The numerical core, batch-first: weights, biases (n, L); x, y (n,).


def forward_batch(weights: Array, biases: Array, x: Array, act: Activation) -> tuple[Array, Array]:
    """Feed ``x`` through ``n`` chains at once.

    Returns
    -------
    zs : ndarray, shape (n, L)
        Weighted inputs ``z_1 .. z_L``.
    activations : ndarray, shape (n, L + 1)
        ``a_0 = x`` then ``a_1 .. a_L``.
    """
    n, length = weights.shape
    zs = np.empty((n, length))
    activations = np.empty((n, length + 1))
    activations[:, 0] = x
    for j in range(length):
        zs[:, j] = weights[:, j] * activations[:, j] + biases[:, j]
        activations[:, j + 1] = act.fn(zs[:, j])
    return zs, activations


def terms_batch(
    weights: Array, zs: Array, activations: Array, y: Array, act: Activation, cost: ChainCost
) -> Array:
    """The factors of equation (122), shape (n, L + 1).

    ``[sigma'(z_1), w_2 sigma'(z_2), ..., w_L sigma'(z_L), dC/da_L]``; their product is
    ``dC/db_1``.
    """
    primes = act.prime(zs)  # (n, L)
    terms = np.empty((zs.shape[0], zs.shape[1] + 1))
    terms[:, 0] = primes[:, 0]
    terms[:, 1:-1] = weights[:, 1:] * primes[:, 1:]
    terms[:, -1] = cost.da(activations[:, -1], y)
    return terms


def backprop_batch(
    weights: Array, zs: Array, activations: Array, y: Array, act: Activation, cost: ChainCost
) -> tuple[Array, Array]:
    """Backpropagation along the chain.

    Returns
    -------
    nabla_b, nabla_w : ndarray, shape (n, L)
        ``dC/db_j`` and ``dC/dw_j``.
    """
    primes = act.prime(zs)  # (n, L)
    nabla_b = np.empty_like(zs)
    delta = cost.da(activations[:, -1], y) * primes[:, -1]  # (n,)
    nabla_b[:, -1] = delta
    for j in range(zs.shape[1] - 2, -1, -1):
        # delta_j = w_{j+1} delta_{j+1} sigma'(z_j), in the book's 1-based numbering.
        delta = weights[:, j + 1] * delta * primes[:, j]
        nabla_b[:, j] = delta
    nabla_w = nabla_b * activations[:, :-1]
    return nabla_b, nabla_w


def _arrays(chain: Chain) -> tuple[Array, Array, Array, Array]:
    weights = np.array([chain.weights], dtype=np.float64)  # (1, L)
    biases = np.array([chain.biases], dtype=np.float64)  # (1, L)
    return weights, biases, np.array([chain.x]), np.array([chain.y])


def forward(chain: Chain) -> tuple[Array, Array]:
    """``zs`` (L,) and ``activations`` (L + 1,) of one chain; see :func:`forward_batch`."""
    weights, biases, x, _ = _arrays(chain)
    zs, activations = forward_batch(weights, biases, x, get_activation(chain.activation))
    return zs[0], activations[0]


def cost_of(chain: Chain) -> float:
    """The cost ``C(a_L, y)`` of one chain."""
    _, activations = forward(chain)
    return float(get_cost(chain.cost).fn(activations[-1:], np.asarray([chain.y]))[0])


def equation_122_terms(chain: Chain) -> Array:
    """The factors of equation (122) for one chain, shape (L + 1,)."""
    weights, biases, x, y = _arrays(chain)
    act, cost = get_activation(chain.activation), get_cost(chain.cost)
    zs, activations = forward_batch(weights, biases, x, act)
    return terms_batch(weights, zs, activations, y, act, cost)[0]


def formula_nabla_b(chain: Chain) -> Array:
    """``dC/db_j`` for every j from the product formula, shape (L,).

    ``dC/db_j = sigma'(z_j) * w_{j+1} sigma'(z_{j+1}) * ... * w_L sigma'(z_L) * dC/da_L``:
    equation (122) for ``j = 1``, and the same pattern for later biases.
    """
    terms = equation_122_terms(chain)
    zs, _ = forward(chain)
    primes = get_activation(chain.activation).prime(zs)
    out = np.empty(chain.length)
    for j in range(chain.length):
        # Term by term, left to right, as the equation is written.
        product = primes[j]
        for term in terms[j + 1 :]:
            product = product * term
        out[j] = product
    return out


def backprop(chain: Chain) -> tuple[Array, Array]:
    """``nabla_b`` and ``nabla_w`` of one chain, each shape (L,)."""
    weights, biases, x, y = _arrays(chain)
    act, cost = get_activation(chain.activation), get_cost(chain.cost)
    zs, activations = forward_batch(weights, biases, x, act)
    nabla_b, nabla_w = backprop_batch(weights, zs, activations, y, act, cost)
    return nabla_b[0], nabla_w[0]


def finite_difference_nabla_b(chain: Chain, *, step: float = 1e-4) -> Array:
    """``dC/db_j`` for every j by central finite differences, shape (L,).

    Uses the five-point central stencil
    ``(C(b - 2h) - 8 C(b - h) + 8 C(b + h) - C(b + 2h)) / 12h``, whose error is ``O(h^4)``.
    The step for ``b_j`` is ``h_j = step / max(1, max_k |dz_k/db_j|)`` rounded down to a
    power of two, so that no weighted
    input moves by more than ``2 step``: in the exploding chain ``dz_4/db_1 = 25^3 / 4``,
    and a fixed step would leave the region where ``C`` is nearly linear. For ReLU-like
    activations, keep every ``|z_j|`` above ``2 step`` so that no kink is crossed.
    """
    if not step > 0:
        raise BadInput(f"finite-difference step must be positive; got {step!r}")
    weights, biases, x, y = _arrays(chain)
    act, cost = get_activation(chain.activation), get_cost(chain.cost)
    length = chain.length
    zs, _ = forward_batch(weights, biases, x, act)
    primes = act.prime(zs[0])  # (L,)
    steps = np.empty(length)
    for j in range(length):
        # Forward-mode sensitivities: dz_j/db_j = 1, dz_{k+1}/db_j = w_{k+1} f'(z_k) dz_k/db_j.
        sensitivity, largest = 1.0, 1.0
        for k in range(j, length - 1):
            sensitivity *= chain.weights[k + 1] * primes[k]
            largest = max(largest, abs(sensitivity))
        # A power of two, so that b_j + k h_j is exact and the stencil is truly symmetric.
        steps[j] = 2.0 ** math.floor(math.log2(step / largest))
    stencil = np.array([-2.0, -1.0, 1.0, 2.0])
    coeffs = np.array([1.0, -8.0, 8.0, -1.0]) / 12.0
    # One batch of 4 L perturbed chains: row (j, k) shifts b_j by stencil[k] * steps[j].
    shifted = np.repeat(biases, 4 * length, axis=0)  # (4L, L)
    for j in range(length):
        shifted[4 * j : 4 * j + 4, j] += stencil * steps[j]
    n = 4 * length
    _, activations = forward_batch(np.repeat(weights, n, axis=0), shifted, np.repeat(x, n), act)
    costs = cost.fn(activations[:, -1], np.repeat(y, n)).reshape(length, 4)
    return (costs @ coeffs) / steps


@dataclass(frozen=True)
class ChainAnalysis:
    """Everything the chain section reports about one chain.

    Attributes
    ----------
    chain : Chain
    zs : tuple of float, length L
    activations : tuple of float, length L + 1 (``a_0 = x`` first)
    cost : float
    terms : tuple of float, length L + 1
        ``[sigma'(z_1), w_2 sigma'(z_2), ..., w_L sigma'(z_L), dC/da_L]``.
    dC_db1_formula, dC_db1_backprop, dC_db1_finite_difference : float
        ``dC/db_1`` three ways.
    nabla_b_formula, nabla_b_backprop, nabla_b_finite_difference : tuple of float, length L
    nabla_w : tuple of float, length L
    ratio_1_3 : float or None
        ``(dC/db_1) / (dC/db_3)``, the book's comparison; None for chains shorter than 3 or
        when ``dC/db_3 = 0``.
    ratio_1_L : float or None
        ``(dC/db_1) / (dC/db_L)``; None when ``dC/db_L = 0``.
    """

    chain: Chain
    zs: tuple[float, ...]
    activations: tuple[float, ...]
    cost: float
    terms: tuple[float, ...]
    dC_db1_formula: float
    dC_db1_backprop: float
    dC_db1_finite_difference: float
    nabla_b_formula: tuple[float, ...]
    nabla_b_backprop: tuple[float, ...]
    nabla_b_finite_difference: tuple[float, ...]
    nabla_w: tuple[float, ...]
    ratio_1_3: float | None
    ratio_1_L: float | None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict: the chain, ``"terms"``, ``"dC_db1"`` and per-layer gradients."""
        return {
            "chain": {
                **asdict(self.chain),
                "weights": list(self.chain.weights),
                "biases": list(self.chain.biases),
            },
            "zs": list(self.zs),
            "activations": list(self.activations),
            "cost": self.cost,
            "terms": list(self.terms),
            "dC_db1": {
                "formula": self.dC_db1_formula,
                "backprop": self.dC_db1_backprop,
                "finite_difference": self.dC_db1_finite_difference,
            },
            "dC_db": {
                "formula": list(self.nabla_b_formula),
                "backprop": list(self.nabla_b_backprop),
                "finite_difference": list(self.nabla_b_finite_difference),
            },
            "dC_dw": list(self.nabla_w),
            "ratio_db1_db3": self.ratio_1_3,
            "ratio_db1_dbL": self.ratio_1_L,
        }


def analyse(chain: Chain, *, step: float = 1e-4) -> ChainAnalysis:
    """Forward pass, the terms of equation (122) and ``dC/db`` three ways, for one chain."""
    zs, activations = forward(chain)
    terms = equation_122_terms(chain)
    formula = formula_nabla_b(chain)
    nabla_b, nabla_w = backprop(chain)
    fd = finite_difference_nabla_b(chain, step=step)
    # Equation (122) itself: the product of its factors, left to right.
    product = 1.0
    for term in terms:
        product *= float(term)
    ratio_1_3 = _ratio(nabla_b[0], nabla_b[2]) if chain.length >= 3 else None
    return ChainAnalysis(
        chain=chain,
        zs=_floats(zs),
        activations=_floats(activations),
        cost=cost_of(chain),
        terms=_floats(terms),
        dC_db1_formula=product,
        dC_db1_backprop=float(nabla_b[0]),
        dC_db1_finite_difference=float(fd[0]),
        nabla_b_formula=_floats(formula),
        nabla_b_backprop=_floats(nabla_b),
        nabla_b_finite_difference=_floats(fd),
        nabla_w=_floats(nabla_w),
        ratio_1_3=ratio_1_3,
        ratio_1_L=_ratio(nabla_b[0], nabla_b[-1]),
    )


def _ratio(num: float, den: float) -> float | None:
    return float(num / den) if den != 0 else None


def _floats(values: Array) -> tuple[float, ...]:
    return tuple(float(v) for v in values)


# ----------------------------------------------------------------------------------------
# Many random chains: how the terms and the gradient ratios spread.


@dataclass(frozen=True)
class ChainStatistics:
    """The spread of the chain's terms over many random chains.

    Weights and biases are drawn from ``N(0, weight_std^2)`` and ``N(0, 1)``; ``x`` uniform on
    [0, 1]. Ratios ``|dC/db_1| / |dC/db_L|`` do not depend on ``y`` (``dC/da_L`` cancels).

    Attributes
    ----------
    activation : str
    length : int
    n_chains : int
    weight_std : float
    term_median : float
        Median of ``|w_j f'(z_j)|`` over ``j = 2 .. L`` and all chains.
    term_zero : float
        Fraction of those terms that are exactly 0 (dead ReLU units).
    term_median_nonzero : float
        Median of the nonzero terms: the typical term of a unit that passes gradient on.
    term_below_quarter : float
        Fraction of those terms with ``|w_j f'(z_j)| < 1/4``.
    term_below_one, term_above_one : float
        Fractions with ``|w_j f'(z_j)| < 1`` and ``> 1``.
    ratio_defined : float
        Fraction of chains with ``dC/db_L != 0`` (ReLU units can be dead).
    ratio_zero : float
        Fraction of those with ``dC/db_1 = 0`` exactly (a dead unit earlier in the chain).
    log10_ratio_median, log10_ratio_p05, log10_ratio_p95, log10_ratio_std : float
        Statistics of ``log10 |dC/db_1 / dC/db_L|`` over chains where it is finite.
    vanishing : float
        Fraction of defined chains with ``|dC/db_1| <= |dC/db_L| / 16`` (zeros included).
    exploding : float
        Fraction with ``|dC/db_1| >= 16 |dC/db_L|``.
    ratio_1_3_median : float or None
        Median of ``|dC/db_1 / dC/db_3|`` (chains of length >= 3).
    ratio_1_3_sixteen : float or None
        Fraction of chains where ``dC/db_1`` is 16 times smaller than ``dC/db_3``, or more:
        the book's "typically a factor of 16 (or more)".
    """

    activation: str
    length: int
    n_chains: int
    weight_std: float
    term_median: float
    term_zero: float
    term_median_nonzero: float
    term_below_quarter: float
    term_below_one: float
    term_above_one: float
    ratio_defined: float
    ratio_zero: float
    log10_ratio_median: float
    log10_ratio_p05: float
    log10_ratio_p95: float
    log10_ratio_std: float
    vanishing: float
    exploding: float
    ratio_1_3_median: float | None
    ratio_1_3_sixteen: float | None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def chain_statistics(
    *,
    n_chains: int = 10_000,
    length: int = 4,
    activation: str = "sigmoid",
    weight_std: float = 1.0,
    rng: np.random.Generator | int = 0,
) -> ChainStatistics:
    """Draw ``n_chains`` random chains and measure how their terms and gradients spread."""
    _check_length(length)
    if n_chains < 1:
        raise BadInput(f"n_chains must be at least 1; got {n_chains}")
    rng = np.random.default_rng(rng)
    act = get_activation(activation)
    cost = get_cost("quadratic")
    weights = weight_std * rng.standard_normal((n_chains, length))
    biases = rng.standard_normal((n_chains, length))
    x = rng.uniform(0.0, 1.0, n_chains)
    y = np.full(n_chains, DEFAULT_Y)
    zs, activations = forward_batch(weights, biases, x, act)
    nabla_b, _ = backprop_batch(weights, zs, activations, y, act, cost)
    terms = np.abs(weights[:, 1:] * act.prime(zs[:, 1:])).ravel()  # (n (L-1),)

    defined = nabla_b[:, -1] != 0
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.abs(nabla_b[defined, 0] / nabla_b[defined, -1])
        log_ratio = np.log10(ratio)
    finite = log_ratio[np.isfinite(log_ratio)]
    has_terms = terms.size > 0
    nonzero = terms[terms != 0]
    if length >= 3:
        den = nabla_b[:, 2]
        ok = den != 0
        r13 = np.abs(nabla_b[ok, 0] / den[ok])
        r13_median: float | None = float(np.median(r13)) if r13.size else None
        r13_sixteen: float | None = float(np.mean(r13 <= 1 / 16)) if r13.size else None
    else:
        r13_median = r13_sixteen = None
    nan = float("nan")
    return ChainStatistics(
        activation=activation,
        length=length,
        n_chains=n_chains,
        weight_std=float(weight_std),
        term_median=float(np.median(terms)) if has_terms else nan,
        term_zero=float(np.mean(terms == 0)) if has_terms else nan,
        term_median_nonzero=float(np.median(nonzero)) if nonzero.size else nan,
        term_below_quarter=float(np.mean(terms < 0.25)) if has_terms else nan,
        term_below_one=float(np.mean(terms < 1.0)) if has_terms else nan,
        term_above_one=float(np.mean(terms > 1.0)) if has_terms else nan,
        ratio_defined=float(np.mean(defined)),
        ratio_zero=float(np.mean(ratio == 0)) if ratio.size else nan,
        log10_ratio_median=float(np.median(finite)) if finite.size else nan,
        log10_ratio_p05=float(np.percentile(finite, 5)) if finite.size else nan,
        log10_ratio_p95=float(np.percentile(finite, 95)) if finite.size else nan,
        log10_ratio_std=float(np.std(finite)) if finite.size else nan,
        vanishing=float(np.mean(ratio <= 1 / 16)) if ratio.size else nan,
        exploding=float(np.mean(ratio >= 16)) if ratio.size else nan,
        ratio_1_3_median=r13_median,
        ratio_1_3_sixteen=r13_sixteen,
    )


# ----------------------------------------------------------------------------------------
# Problem 1: |w sigma'(wa + b)| >= 1 only if |w| >= 4.


@dataclass(frozen=True)
class Problem1:
    """``max sigma' = 1/4`` found numerically, and the smallest ``|w|`` it allows.

    ``|w sigma'(z)| <= |w| / 4``, so ``|w sigma'(wa + b)| >= 1`` needs ``|w| >= 4``; and at
    ``|w| = 4`` it is reached (choose ``a`` so that ``wa + b = 0``).
    """

    argmax_z: float
    max_sigma_prime: float
    min_abs_w: float
    # Largest |w sigma'(z)| found over a z grid for |w| just below and at the bound.
    best_just_below: float
    best_at_bound: float


def problem1(*, grid: int = 200_001, z_max: float = 20.0) -> Problem1:
    """Check problem 1 numerically on a grid of ``z`` that includes 0."""
    z = np.linspace(-z_max, z_max, grid)  # odd count: contains z = 0
    primes = sigmoid_prime(z)
    k = int(np.argmax(primes))
    max_prime = float(primes[k])
    min_abs_w = 1.0 / max_prime
    return Problem1(
        argmax_z=float(z[k]),
        max_sigma_prime=max_prime,
        min_abs_w=min_abs_w,
        best_just_below=float(np.max((min_abs_w - 1e-6) * primes)),
        best_at_bound=float(np.max(min_abs_w * primes)),
    )


# ----------------------------------------------------------------------------------------
# Problem 2: the width of the set of a with |w sigma'(wa + b)| >= 1.


def width_bound(abs_w: float | Array) -> float | Array:
    """Equation (123): ``(2/|w|) ln(|w|(1 + sqrt(1 - 4/|w|))/2 - 1)``, for ``|w| >= 4``.

    Derivation: ``sigma'(z) = s(1 - s) >= 1/|w|`` holds for ``s`` between the roots
    ``s_(+/-) = (1 +/- r)/2``, ``r = sqrt(1 - 4/|w|)``; the ``z`` interval is
    ``2 ln(s_+ / s_-)`` wide and ``a = (z - b)/w`` divides it by ``|w|``.
    """
    w = np.asarray(abs_w, dtype=np.float64)
    if np.any(w < 4):
        raise BadInput(f"the width formula needs |w| >= 4; got {abs_w!r}")
    out = (2.0 / w) * np.log(w * (1.0 + np.sqrt(1.0 - 4.0 / w)) / 2.0 - 1.0)
    return float(out) if out.ndim == 0 else out


def width_scan(w: float, b: float = 0.0, *, n: int = 200_001) -> float:
    """The same width by brute force: scan ``a`` and measure where ``|w sigma'(wa+b)| >= 1``.

    The scan covers ``|wa + b| <= 3`` (beyond it ``sigma' < 0.05``, so ``|w| <= 20`` is
    safe), locates the two crossings by linear interpolation between grid points, and
    returns the distance between them (0 when nothing qualifies).
    """
    if w == 0:
        return 0.0
    center, half = -b / w, 3.0 / abs(w)
    a = np.linspace(center - half, center + half, n)
    g = np.abs(w * sigmoid_prime(w * a + b)) - 1.0  # >= 0 inside the set
    inside = np.flatnonzero(g >= 0)
    if inside.size == 0:
        return 0.0
    lo, hi = inside[0], inside[-1]
    if lo == 0 or hi == n - 1:
        raise BadInput(f"|w| = {abs(w)} is too large for the scan window")

    def crossing(i: int, k: int) -> float:
        # The root of g between grid points i (outside) and k (inside).
        return float(a[i] + (a[k] - a[i]) * g[i] / (g[i] - g[k]))

    return crossing(hi + 1, hi) - crossing(lo - 1, lo)


@dataclass(frozen=True)
class WidthMaximum:
    """Where the width bound (123) is largest. The book: ``|w| ~ 6.9``, width ``~ 0.45``."""

    abs_w: float
    width: float


def width_maximum(*, tol: float = 1e-9) -> WidthMaximum:
    """Maximize equation (123) over ``|w|`` in [4, 40] by golden-section search.

    The bound rises from 0 at ``|w| = 4`` and then falls like ``2 ln|w| / |w|``, so it has a
    single maximum; golden sections narrow the bracket to ``tol``. (Written out rather than
    taken from scipy.optimize, whose import alone costs about a second.)
    """
    inv_phi = (math.sqrt(5.0) - 1.0) / 2.0
    lo, hi = 4.0, 40.0
    c, d = hi - inv_phi * (hi - lo), lo + inv_phi * (hi - lo)
    fc, fd = float(width_bound(c)), float(width_bound(d))
    while hi - lo > tol:
        if fc > fd:
            hi, d, fd = d, c, fc
            c = hi - inv_phi * (hi - lo)
            fc = float(width_bound(c))
        else:
            lo, c, fc = c, d, fd
            d = lo + inv_phi * (hi - lo)
            fd = float(width_bound(d))
    abs_w = (lo + hi) / 2.0
    return WidthMaximum(abs_w=abs_w, width=float(width_bound(abs_w)))


# ----------------------------------------------------------------------------------------
# Problem 3: the identity neuron.


def identity_neuron(w1: float, x: float | Array) -> float | Array:
    """``w_2 sigma(w_1 x + b)`` with ``b = -w_1/2`` and ``w_2 = 4/w_1``.

    With ``x = 1/2 + Delta`` this is ``(4/w_1) sigma(w_1 Delta)
    = 2/w_1 + Delta - w_1^2 Delta^3 / 12 + ...``, i.e. ``x + c`` with ``c = 2/w_1 - 1/2``
    (a constant the next neuron's bias absorbs) plus a small error.
    """
    if w1 <= 0:
        raise BadInput(f"the identity neuron needs w_1 > 0; got {w1!r}")
    from layerspeed.nn.activations import sigmoid

    b, w2 = -w1 / 2.0, 4.0 / w1
    return w2 * sigmoid(w1 * np.asarray(x, dtype=np.float64) + b)


def identity_error_bound(w1: float, x: float | Array) -> float | Array:
    """``w_1^2 |Delta|^3 / 12`` with ``Delta = x - 1/2``.

    A rigorous bound for every ``w_1 > 0``: the error is ``(2/w_1)(tanh t - t)`` with
    ``t = w_1 Delta / 2``, and ``|tanh t - t| <= |t|^3 / 3`` for all real ``t``
    (``d/dt (tanh t - t + t^3/3) = t^2 - tanh^2 t >= 0``). It is tight when ``w_1 |Delta|``
    is small, where the error is ``w_1^2 |Delta|^3 / 12`` to leading order.
    """
    delta = np.asarray(x, dtype=np.float64) - 0.5
    return w1**2 * np.abs(delta) ** 3 / 12.0


@dataclass(frozen=True)
class IdentityRow:
    """The identity neuron for one ``w_1``, measured over ``x`` in [0, 1].

    Attributes
    ----------
    w1 : float
    max_error : float
        ``max |w_2 sigma(w_1 x + b) - (x + c)|`` over the grid.
    max_bound : float
        ``max w_1^2 |Delta|^3 / 12`` over the grid (``w_1^2 / 96`` at the ends).
    tightness : float
        ``error / bound`` at ``x = 1`` (``Delta = 1/2``): near 1 while ``w_1`` is small.
    within_bound : bool
        ``error <= bound + rounding`` at every grid point.
    """

    w1: float
    max_error: float
    max_bound: float
    tightness: float
    within_bound: bool


IDENTITY_W1 = (0.01, 0.1, 0.5, 1.0, 2.0, 5.0)


def identity_check(w1_values: Sequence[float] = IDENTITY_W1, *, n: int = 1001) -> list[IdentityRow]:
    """Measure the identity neuron's error against its bound for each ``w_1``."""
    x = np.linspace(0.0, 1.0, n)
    rows = []
    for w1 in w1_values:
        out = np.asarray(identity_neuron(w1, x))
        target = x + (2.0 / w1 - 0.5)
        error = np.abs(out - target)
        bound = np.asarray(identity_error_bound(w1, x))
        # The subtraction of two numbers near 2/w_1 loses a few ulps of 2/w_1.
        slack = 8.0 * np.finfo(np.float64).eps * np.maximum(np.abs(out), np.abs(target))
        rows.append(
            IdentityRow(
                w1=float(w1),
                max_error=float(np.max(error)),
                max_bound=float(np.max(bound)),
                tightness=float(error[-1] / bound[-1]),
                within_bound=bool(np.all(error <= bound + slack)),
            )
        )
    return rows


# ----------------------------------------------------------------------------------------
# Problem 4, the chain half: does a larger derivative help?

EXERCISE_ACTIVATIONS = ("sigmoid", "tanh", "relu", "scaled_sigmoid")
# The book's N(0, 1) weights, and weights 4 times larger (std 4 makes w sigma'(0) ~ N(0, 1)).
EXERCISE_WEIGHT_STDS = (1.0, 4.0)


def activation_comparison(
    *,
    n_chains: int = 10_000,
    length: int = 4,
    seed: int = 0,
    weight_std: float = 1.0,
    activations: Sequence[str] = EXERCISE_ACTIVATIONS,
) -> dict[str, ChainStatistics]:
    """:func:`chain_statistics` for each activation, every one on the same random draws."""
    return {
        name: chain_statistics(
            n_chains=n_chains, length=length, activation=name, weight_std=weight_std, rng=seed
        )
        for name in activations
    }


def activation_verdict(
    book: dict[str, ChainStatistics], large: dict[str, ChainStatistics] | None = None
) -> str:
    """A few sentences, computed from the numbers, answering "would it help?".

    ``book`` holds the statistics with N(0, 1) weights, ``large`` (optional) with larger
    weights; both keyed by activation name and including ``"sigmoid"``.
    """
    sig = book.get("sigmoid")
    others = [s for name, s in book.items() if name != "sigmoid"]
    if sig is None or not others:
        return "No comparison: the sigmoid and at least one other activation are needed."
    moved = all(s.term_median_nonzero > sig.term_median_nonzero for s in others)
    medians = ", ".join(f"{s.activation} {s.term_median_nonzero:.2f}" for s in book.values())
    least = min(others, key=lambda s: s.vanishing)
    widest = max(book.values(), key=lambda s: s.log10_ratio_p95 - s.log10_ratio_p05)
    text = (
        (
            "Larger derivatives move the typical nonzero |w_j f'(z_j)| toward 1 "
            if moved
            else "Larger derivatives do not consistently raise the typical nonzero |w_j f'(z_j)| "
        )
        + f"(medians with N(0,1) weights: {medians}) and the share of chains where dC/db_1 "
        f"is 16 times smaller than dC/db_L falls from {sig.vanishing:.1%} (sigmoid) to "
        f"{least.vanishing:.1%} ({least.activation}); but the product of random terms still "
        f"spreads, over {widest.log10_ratio_p95 - widest.log10_ratio_p05:.1f} decades for "
        f"90% of {widest.activation} chains."
    )
    if large:
        both = [s for s in large.values() if s.exploding > 0 and s.vanishing > 0]
        if both:
            std = both[0].weight_std
            listed = ", ".join(
                f"{s.activation} {s.vanishing:.0%} / {s.exploding:.1%}" for s in both
            )
            text += (
                f" With N(0, {std:g}^2) weights the same chains vanish for some draws and "
                f"explode (dC/db_1 at least 16 times dC/db_L) for others (vanish / explode: "
                f"{listed})."
            )
    text += (
        " So a larger derivative does not remove the instability: the gradient of an early "
        "layer is still a product of random terms, and only weights scaled so that those "
        "products balance keep the layers learning at similar speeds."
    )
    return text


# ----------------------------------------------------------------------------------------
# Everything for the reproduction's output and summary.


def width_curve(abs_w: Array | None = None) -> dict[str, list[float]]:
    """Equation (123) on a grid of ``|w|`` in [4, 20], JSON-ready, for the width plot."""
    w = np.linspace(4.0, 20.0, 321) if abs_w is None else np.asarray(abs_w, dtype=np.float64)
    return {"abs_w": w.tolist(), "width": np.asarray(width_bound(w)).tolist()}


def problems(*, seed: int = 0, n_chains: int = 10_000, length: int = 4) -> dict[str, Any]:
    """The answers to problems 1-3 and the chain half of problem 4, JSON-ready.

    Keys: ``"min_abs_w"`` (float), ``"problem1"``, ``"width_max"`` (``abs_w``, ``width``),
    ``"width_check"`` (formula vs scan), ``"width_curve"``, ``"identity"`` (rows and a
    statement), ``"activations"`` (per-activation :class:`ChainStatistics` with N(0, 1)
    weights under ``"stats"`` and with N(0, 4^2) weights under ``"stats_large_weights"``,
    and a ``"verdict"`` computed from them).
    """
    p1 = problem1()
    wmax = width_maximum()
    checks = []
    for w, b in [(4.5, 0.0), (5.0, 1.0), (-6.9, 0.3), (8.0, -2.0), (12.0, 0.5), (-20.0, 4.0)]:
        formula = float(width_bound(abs(w)))
        scan = width_scan(w, b)
        checks.append({"w": w, "b": b, "formula": formula, "scan": scan})
    rows = identity_check()
    all_within = all(r.within_bound for r in rows)
    small = [r for r in rows if r.w1 <= 1.0]
    identity_statement = (
        f"Measured error <= w_1^2 |Delta|^3 / 12 at every x in [0, 1] for every w_1 tried "
        f"({', '.join(f'{r.w1:g}' for r in rows)}): {'yes' if all_within else 'NO'}. "
        "The bound holds for all w_1 > 0 (|tanh t - t| <= |t|^3/3), and is tight for small "
        f"w_1: error/bound at x = 1 is {small[0].tightness:.4f} for w_1 = {small[0].w1:g} "
        f"but {rows[-1].tightness:.2f} for w_1 = {rows[-1].w1:g}. So the neuron is an "
        f"identity (up to a constant) within w_1^2/96 on [0, 1]."
    )
    book_std, large_std = EXERCISE_WEIGHT_STDS
    comparison = activation_comparison(
        n_chains=n_chains, length=length, seed=seed, weight_std=book_std
    )
    large = activation_comparison(n_chains=n_chains, length=length, seed=seed, weight_std=large_std)
    return {
        "min_abs_w": p1.min_abs_w,
        "problem1": asdict(p1),
        "width_max": asdict(wmax),
        "width_max_book": {"abs_w": 6.9, "width": 0.45},
        "width_check": checks,
        "width_curve": width_curve(),
        "identity": {
            "rows": [asdict(r) for r in rows],
            "within_bound": all_within,
            "statement": identity_statement,
        },
        "activations": {
            "length": length,
            "n_chains": n_chains,
            "weight_std": book_std,
            "stats": {name: s.to_dict() for name, s in comparison.items()},
            "large_weight_std": large_std,
            "stats_large_weights": {name: s.to_dict() for name, s in large.items()},
            "verdict": activation_verdict(comparison, large),
        },
    }


def chapter_chain_results(*, seed: int = 0, n_chains: int = 10_000) -> dict[str, Any]:
    """All of the chain section and the problems, JSON-serializable.

    Returns
    -------
    dict
        ``"default"``: :meth:`ChainAnalysis.to_dict` of the synopsis chain;
        ``"exploding"``: the same for the exploding chain, plus ``"per_layer_growth"``
        (``dC/db_j / dC/db_{j+1}``);
        ``"vanishing"``: :class:`ChainStatistics` of sigmoid chains with N(0, 1) weights;
        ``"problems"``: :func:`problems`;
        ``"claims"``: one entry per claim of the book with ``"claim"``, ``"holds"``,
        ``"evidence"``.
    """
    default = analyse(default_chain())
    exploding = analyse(exploding_chain())
    growth = [
        exploding.nabla_b_backprop[j] / exploding.nabla_b_backprop[j + 1]
        for j in range(exploding.chain.length - 1)
    ]
    vanishing = chain_statistics(n_chains=n_chains, rng=seed)
    answers = problems(seed=seed, n_chains=n_chains)
    r13 = vanishing.ratio_1_3_median or float("nan")  # chains of 4 always have a dC/db_3
    wmax = answers["width_max"]
    claims = [
        {
            "claim": "sigma' reaches its maximum 1/4 at z = 0",
            "holds": abs(answers["problem1"]["max_sigma_prime"] - 0.25) < 1e-12
            and answers["problem1"]["argmax_z"] == 0.0,
            "evidence": f"max sigma' = {answers['problem1']['max_sigma_prime']:.6f} at "
            f"z = {answers['problem1']['argmax_z']:g}",
        },
        {
            "claim": "with N(0,1) weights, |w_j sigma'(z_j)| is usually < 1/4",
            "holds": vanishing.term_below_quarter > 0.5,
            "evidence": f"{vanishing.term_below_quarter:.1%} of terms are below 1/4",
        },
        {
            "claim": "dC/db_1 is typically 16 times smaller than dC/db_3, or more",
            "holds": (vanishing.ratio_1_3_sixteen or 0.0) > 0.5,
            "evidence": f"{vanishing.ratio_1_3_sixteen:.1%} of chains have "
            f"|dC/db_1| <= |dC/db_3|/16; median |dC/db_1 / dC/db_3| = "
            f"{r13:.4f} (1/{1 / r13:.0f})",
        },
        {
            "claim": "with w_j = 100 and z_j = 0, every term is 25 and the gradient grows "
            "25 times per layer",
            "holds": all(abs(t - 25.0) < 1e-12 for t in exploding.terms[1:-1])
            and all(abs(g - 25.0) < 1e-9 for g in growth),
            "evidence": f"terms {[round(t, 12) for t in exploding.terms[1:-1]]}, growth "
            f"{[round(g, 9) for g in growth]}",
        },
        {
            "claim": "|w sigma'(wa+b)| >= 1 needs |w| >= 4",
            "holds": abs(answers["min_abs_w"] - 4.0) < 1e-9,
            "evidence": f"numerical min |w| = {answers['min_abs_w']:.6f}",
        },
        {
            "claim": "the width bound (123) is greatest at |w| ~ 6.9, where it is ~ 0.45",
            "holds": round(wmax["abs_w"], 1) == 6.9 and round(wmax["width"], 2) == 0.45,
            "evidence": f"maximum at |w| = {wmax['abs_w']:.4f}, width {wmax['width']:.4f}",
        },
        {
            "claim": "w_2 sigma(w_1 x + b) ~ x + const on [0, 1] for small w_1",
            "holds": answers["identity"]["within_bound"],
            "evidence": answers["identity"]["statement"],
        },
    ]
    return {
        "seed": seed,
        "n_chains": n_chains,
        "default": default.to_dict(),
        "exploding": {**exploding.to_dict(), "per_layer_growth": growth},
        "vanishing": vanishing.to_dict(),
        "problems": answers,
        "claims": claims,
    }


def _g(v: Any, fmt: str = ".4g") -> str:
    if v is None:
        return "-"
    if isinstance(v, float) and not math.isfinite(v):
        return str(v)
    return format(v, fmt)


def _cell(text: str) -> str:
    # A literal | would end a markdown table cell.
    return text.replace("|", "\\|")


def to_markdown(results: dict[str, Any]) -> str:
    """A short markdown section for summary.md from :func:`chapter_chain_results`."""
    d, e, v, p = results["default"], results["exploding"], results["vanishing"], results["problems"]
    lines = ["## The chain of single neurons and the problems", ""]
    n = len(d["terms"]) - 1
    lines += [
        f"Default chain (L = {n}, {d['chain']['activation']}): the terms of equation (122).",
        "",
        "| term | default chain | exploding chain |",
        "|---|---|---|",
    ]
    names = ["sigma'(z_1)"] + [f"w_{j} sigma'(z_{j})" for j in range(2, n + 1)] + [f"dC/da_{n}"]
    for name, a, b in zip(names, d["terms"], e["terms"], strict=True):
        lines.append(f"| {name} | {_g(a)} | {_g(b)} |")
    for label, key in [
        ("formula (122)", "formula"),
        ("backprop", "backprop"),
        ("finite difference", "finite_difference"),
    ]:
        lines.append(
            f"| dC/db_1, {label} | {_g(d['dC_db1'][key], '.10g')} | "
            f"{_g(e['dC_db1'][key], '.10g')} |"
        )
    lines.append(f"| dC/db_1 / dC/db_3 | {_g(d['ratio_db1_db3'])} | {_g(e['ratio_db1_db3'])} |")
    lines += [
        "",
        f"Over {v['n_chains']} random sigmoid chains (N(0,1) weights and biases): "
        f"{v['term_below_quarter']:.1%} of terms |w_j sigma'(z_j)| are below 1/4; "
        f"median log10 |dC/db_1 / dC/db_{v['length']}| = {v['log10_ratio_median']:.2f} "
        f"(5-95%: {v['log10_ratio_p05']:.2f} to {v['log10_ratio_p95']:.2f}).",
        "",
        "| claim | holds | evidence |",
        "|---|---|---|",
    ]
    for c in results["claims"]:
        holds = "yes" if c["holds"] else "no"
        lines.append(f"| {_cell(c['claim'])} | {holds} | {_cell(c['evidence'])} |")
    lines += [
        "",
        "Problem 4 (chain half): does a larger derivative help?",
        "",
        "| activation | weight std | median nonzero term | terms > 1 | "
        "median log10 ratio | 5-95% log10 ratio | vanish (<=1/16) | explode (>=16) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    acts = p["activations"]
    rows = [*acts["stats"].values(), *acts.get("stats_large_weights", {}).values()]
    for s in rows:
        lines.append(
            f"| {s['activation']} | {s['weight_std']:g} | "
            f"{_g(s['term_median_nonzero'], '.3f')} | "
            f"{s['term_above_one']:.1%} | {_g(s['log10_ratio_median'], '.2f')} | "
            f"{_g(s['log10_ratio_p05'], '.2f')} to {_g(s['log10_ratio_p95'], '.2f')} | "
            f"{s['vanishing']:.1%} | {s['exploding']:.1%} |"
        )
    lines += ["", p["activations"]["verdict"], ""]
    return "\n".join(lines)
