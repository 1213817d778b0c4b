"""The mean-field theory of a wide network at initialization, beside the chapter's argument.

The chapter explains the vanishing gradient by a product of terms w_j sigma'(z_j), each
"usually below 1/4". The mean-field theory (Poole et al. 2016, "Exponential expressivity in
deep neural networks through transient chaos"; Schoenholz et al. 2017, "Deep information
propagation") makes the same argument quantitative for a wide network whose weights have
variance sigma_w^2 / n_in and whose biases have variance sigma_b^2:

- the variance of a unit's pre-activation evolves as ``q^{l+1} = sigma_w^2 E[phi(z)^2] +
  sigma_b^2`` with ``z ~ N(0, q^l)`` (the second moment of phi, not its variance: an
  activation of non-zero mean such as the sigmoid feeds its mean forward too), and settles at
  a fixed point ``q*``;
- going back one layer multiplies the expected squared gradient by ``chi = sigma_w^2
  E[phi'(z)^2]``, ``z ~ N(0, q*)``; the speed ``||delta^l||`` of a layer is therefore
  ``1/sqrt(chi)`` times slower than the next one's: the predicted per-layer factor
  ``speed^{l+1} / speed^l``. The chapter's bound is the special case ``|w sigma'| < 1/4``.

Expectations over the Gaussian are deterministic quadrature sums, never samples: a composite
Gauss-Legendre rule in z (``numpy.polynomial.legendre``) whose panels are narrow near z = 0,
where phi' has its bump of width ~1 and relu its kink, widen geometrically away from it, and
are never wider than half a standard deviation, so the sum stays accurate for any variance q
(a fixed Gauss-Hermite rule in z / sqrt(q) steps over the bump once q is large).
:func:`init_variances` reads sigma_w^2 and sigma_b^2 off each initializer of
:mod:`layerspeed.nn.init`, so the book's default (w ~ N(0, 1/n_in), b ~ N(0, 1): sigma_w^2 =
sigma_b^2 = 1) comes out of the same code as He's or Glorot's.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from functools import cache, lru_cache
from typing import Any

import numpy as np
from numpy.polynomial.legendre import leggauss
from scipy.optimize import brentq

from layerspeed.errors import BadInput
from layerspeed.nn.activations import Activation, get_activation
from layerspeed.nn.init import INITIALIZERS

Array = np.ndarray

CHAPTER_WIDTH = 30  # the chapter's hidden layers
BOOK_BOUND = 4.0  # |w sigma'(z)| < 1/4: each layer back at least 4 times slower (the book)
MAX_ITER = 2_000  # iterations of the q map before a fixed point is given up
Q_DIVERGED = 1e12  # an unbounded activation's q past this has no finite fixed point (relu, ...)
MAX_GAIN = 1e6  # the largest gain and bias gain taken: sigma_w^2 up to 1e12 times the init's

# The quadrature: Gauss-Legendre nodes per panel; panels of width PANEL near z = 0 growing by
# GROWTH away from it (phi' of the table varies on a scale of 1 near 0 and like e^-|z| or
# slower beyond); none wider than half a standard deviation; the Gaussian cut at TAIL sds
# (the mass beyond is 2e-32).
N_NODES = 20
PANEL = 1.0
GROWTH = 0.5
TAIL = 12.0


@cache
def _legendre() -> tuple[Array, Array]:
    """Gauss-Legendre nodes and weights on [-1, 1]."""
    x, w = leggauss(N_NODES)
    return x, w


def _edges(lo: float, hi: float, s: float) -> Array:
    """Panel edges over [lo, hi]: 0 and a grid graded away from it, then split to <= s/2."""
    reach = max(abs(lo), abs(hi))
    grid = [0.0]
    while grid[-1] < reach:
        grid.append(grid[-1] + max(PANEL, GROWTH * grid[-1]))
    g = np.asarray(grid)
    inner = np.concatenate([-g[::-1], g[1:]])
    e = np.concatenate([[lo], inner[(inner > lo) & (inner < hi)], [hi]])
    pieces = np.maximum(1, np.ceil(np.diff(e) / (0.5 * s))).astype(int)
    step = np.repeat(np.diff(e) / pieces, pieces)
    within = np.arange(pieces.sum()) - np.repeat(np.cumsum(pieces) - pieces, pieces)
    return np.append(np.repeat(e[:-1], pieces) + within * step, e[-1])


def _rule(mean: float, q: float) -> tuple[Array, Array]:
    """Nodes z and weights w with ``sum w f(z)`` = ``E[f(z)]``, ``z ~ N(mean, q)``."""
    if q == 0:
        return np.array([mean]), np.array([1.0])
    s = math.sqrt(q)
    e = _edges(mean - TAIL * s, mean + TAIL * s, s)
    x, w = _legendre()
    half = 0.5 * np.diff(e)
    z = ((e[:-1] + half)[:, None] + half[:, None] * x[None, :]).ravel()
    dens = np.exp(-0.5 * ((z - mean) / s) ** 2) / (s * math.sqrt(2.0 * math.pi))
    return z, (half[:, None] * w[None, :]).ravel() * dens


@lru_cache(maxsize=16)
def _centred_rule(q: float) -> tuple[Array, Array]:
    return _rule(0.0, q)


def _check_variance(q: float) -> None:
    if not q >= 0 or not math.isfinite(q):
        raise BadInput(f"a variance must be finite and non-negative, got q = {q!r}")


def gauss_mean(f: Callable[[Array], Array], q: float) -> float:
    """``E[f(z)]`` for ``z ~ N(0, q)``, by composite Gauss-Legendre quadrature (``q >= 0``);
    accurate for a ``f`` smooth away from 0 and varying on a scale of 1 or more, at any q."""
    _check_variance(q)
    z, w = _centred_rule(float(q))
    return float(w @ f(z))


def gauss_mean_pair(f: Callable[[Array], Array], q: float, c: float) -> float:
    """``E[f(u1) f(u2)]`` for ``(u1, u2)`` Gaussian of variances ``q`` and correlation ``c``:
    the term that the gradient averaged over examples (the book's speed) is made of.

    The outer sum is over u1; given u1, ``u2 ~ N(c u1, q (1 - c^2))``, summed by its own rule.
    """
    if not -1.0 <= c <= 1.0:
        raise BadInput(f"a correlation must be in [-1, 1], got c = {c!r}")
    _check_variance(q)
    if c == 1.0:
        return gauss_mean(lambda z: f(z) ** 2, q)
    z1, w1 = _centred_rule(float(q))
    inner_q = q * (1.0 - c * c)
    inner = np.empty_like(z1)
    for i, u in enumerate(z1):
        z2, w2 = _rule(c * float(u), inner_q)
        inner[i] = w2 @ f(z2)
    return float(w1 @ (f(z1) * inner))


# ---- the initializers' variances ------------------------------------------------------------


@dataclass(frozen=True)
class Variances:
    """A layer's weights have variance ``sigma_w2 / n_in``, its biases ``sigma_b2``."""

    sigma_w2: float
    sigma_b2: float


def _weight_variance(init: str, n_in: int, n_out: int) -> float:
    """Var(w_jk) of one weight the initializer ``init`` draws (gain 1), read off nn/init.py."""
    if init == "default":  # N(0, 1/n_in)
        return 1.0 / n_in
    if init == "large":  # N(0, 1)
        return 1.0
    if init == "xavier_normal":  # N(0, 2/(n_in + n_out))
        return 2.0 / (n_in + n_out)
    if init == "xavier_uniform":  # U(-r, r), r^2 = 6/(n_in + n_out): variance r^2/3
        return 2.0 / (n_in + n_out)
    if init == "he":  # N(0, 2/n_in)
        return 2.0 / n_in
    if init == "orthogonal":  # orthonormal columns (n_out >= n_in) or rows: unit vectors
        return 1.0 / max(n_in, n_out)
    raise BadInput(f"unknown initializer {init!r}; choose one of: {', '.join(INITIALIZERS)}")


# The initializers that draw biases from N(0, 1), as network2.py does; the others start at 0.
_UNIT_BIASES = ("default", "large")


def init_variances(
    init: str,
    n_in: int = CHAPTER_WIDTH,
    n_out: int = CHAPTER_WIDTH,
    *,
    gain: float = 1.0,
    bias_gain: float = 1.0,
) -> Variances:
    """sigma_w^2 = n_in Var(w) and sigma_b^2 = Var(b) of a layer ``n_in -> n_out`` drawn by
    ``init``; ``gain`` multiplies the weights' scale (as :class:`RunConfig`'s ``gain`` does),
    ``bias_gain`` the biases' (an initializer that starts them at 0 keeps them at 0)."""
    for name, v in (("gain", gain), ("bias gain", bias_gain)):
        if not (math.isfinite(v) and 0 <= v <= MAX_GAIN):
            raise BadInput(
                f"the {name} must be a number from 0 to {MAX_GAIN:,.0f} (1: the initializer's own "
                f"scale), got {v!r}"
            )
    if n_in < 1 or n_out < 1:
        raise BadInput(f"layer sizes must be positive, got {n_in} -> {n_out}")
    var_w = _weight_variance(init, n_in, n_out)
    var_b = 1.0 if init in _UNIT_BIASES else 0.0
    return Variances(gain * gain * n_in * var_w, bias_gain * bias_gain * var_b)


# ---- the q map, its fixed point and chi -----------------------------------------------------


def bound(act: Activation) -> float:
    """``sup |phi|``: finite for sigmoid, tanh and the scaled sigmoid, inf for the others.

    Every activation of the table is monotone, so the sup is at z = -inf or +inf.
    """
    with np.errstate(all="ignore"):
        ends = np.abs(act.fn(np.array([-math.inf, math.inf])))
    return float(ends.max()) if np.isfinite(ends).all() else math.inf


def q_map(act: Activation, q: float, v: Variances) -> float:
    """One layer forward: the pre-activations' variance after a layer whose inputs' are ``q``."""
    return v.sigma_w2 * gauss_mean(lambda z: act.fn(z) ** 2, q) + v.sigma_b2


def chi_at(act: Activation, q: float, sigma_w2: float) -> float:
    """``sigma_w^2 E[phi'(z)^2]``, ``z ~ N(0, q)``: one layer back multiplies ``E||delta||^2``
    by it."""
    return sigma_w2 * gauss_mean(lambda z: act.prime(z) ** 2, q)


@dataclass(frozen=True)
class FixedPoint:
    """Where the q map settles from ``q0``: ``q`` (inf where it grows without bound)."""

    q: float
    converged: bool  # False: neither the iterates nor a root search settled it
    iterations: int


def fixed_point(act: Activation, v: Variances, *, q0: float = 1.0) -> FixedPoint:
    """Iterate the q map from ``q0`` until it stops moving.

    The map is increasing for every activation of the table, so the iterates move monotonically
    to the nearest stable fixed point. Where every q is fixed (relu with He's sigma_w^2 = 2 and
    no biases, identity with sigma_w^2 = 1) the answer is ``q0`` itself. A marginal map that
    creeps (tanh at sigma_w^2 = 1 without biases creeps to 0 as 1/l) is finished by a root
    search on ``q_map(q) - q`` below it; one still creeping up has q* = inf (the quadrature
    cannot resolve the map's small excess over q at huge q, so no search is made above).
    A bounded activation (``|phi| <= B``) keeps every iterate below ``sigma_w^2 B^2 +
    sigma_b^2``, so its q* is always finite; only an unbounded one is cut at ``Q_DIVERGED``.
    """
    q = float(q0)
    cap = Q_DIVERGED if math.isinf(bound(act)) else math.inf
    for i in range(1, MAX_ITER + 1):
        nxt = q_map(act, q, v)
        if nxt > cap:
            return FixedPoint(math.inf, True, i)
        if abs(nxt - q) <= 1e-12 * max(1.0, q):
            return FixedPoint(nxt, True, i)
        q = nxt

    def gap(x: float) -> float:
        return q_map(act, x, v) - x

    if gap(q) >= 0:  # still creeping up (softplus with He's sigma_w^2 = 2): no finite q*
        return FixedPoint(math.inf, True, MAX_ITER)
    # Creeping down to a fixed point below; q_map(0) >= 0, so one lies in [0, q].
    return FixedPoint(float(brentq(gap, 0.0, q, xtol=1e-14, rtol=1e-12)), True, MAX_ITER)


def _chi_limit(act: Activation, v: Variances, fp: FixedPoint) -> float:
    # q* = inf: chi's limit, read at the largest q the map reached (relu-like: it is flat there).
    return chi_at(act, fp.q if math.isfinite(fp.q) else Q_DIVERGED, v.sigma_w2)


def chi(activation: str, sigma_w2: float, sigma_b2: float, *, q0: float = 1.0) -> float:
    """chi at the fixed point q* of ``activation`` with these variances: 1 is the critical line
    between order (gradients vanish, chi < 1) and chaos (they explode, chi > 1)."""
    for name, x in (("sigma_w^2", sigma_w2), ("sigma_b^2", sigma_b2)):
        if not (math.isfinite(x) and x >= 0):
            raise BadInput(f"{name} must be a finite number >= 0, got {x!r}")
    act = get_activation(activation)
    v = Variances(sigma_w2, sigma_b2)
    return _chi_limit(act, v, fixed_point(act, v, q0=q0))


@dataclass(frozen=True)
class MeanField:
    """The mean-field prediction for one activation and initializer at the chapter's width."""

    activation: str
    init: str
    gain: float
    bias_gain: float
    width: int
    sigma_w2: float
    sigma_b2: float
    q_star: float | None  # None: no finite fixed point (the variance grows without bound)
    converged: bool
    chi: float
    factor: float | None  # speed^{l+1}/speed^l = 1/sqrt(chi); None where chi = 0
    book_bound: float  # the chapter's 4 per layer

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def mean_field(
    activation: str = "sigmoid",
    init: str = "default",
    *,
    gain: float = 1.0,
    bias_gain: float = 1.0,
    width: int = CHAPTER_WIDTH,
) -> MeanField:
    """q*, chi and the predicted per-layer factor for ``width``-wide layers drawn by ``init``."""
    act = get_activation(activation)
    v = init_variances(init, width, width, gain=gain, bias_gain=bias_gain)
    fp = fixed_point(act, v)
    c = _chi_limit(act, v, fp)
    return MeanField(
        activation=activation, init=init, gain=gain, bias_gain=bias_gain, width=width,
        sigma_w2=v.sigma_w2, sigma_b2=v.sigma_b2,
        q_star=fp.q if math.isfinite(fp.q) else None, converged=fp.converged,
        chi=c, factor=1.0 / math.sqrt(c) if c > 0 else None, book_bound=BOOK_BOUND,
    )  # fmt: skip


# ---- a network of finite depth, from its input ------------------------------------------------


@dataclass(frozen=True)
class LayerPrediction:
    """The q map's iterates through one network from its input, and the factors they give."""

    sizes: list[int]
    input_second_moment: float  # mean over images and pixels of x^2
    q: list[float]  # q^l of each hidden layer, the first from the input itself
    chi: list[float]  # chi^l = sigma_w^2(W^{l+1}) E[phi'(z^l)^2]: hidden l back from l+1
    factors: list[float | None]  # speed^{l+1}/speed^l for each pair of neighbouring hidden layers

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def network_prediction(
    activation: str,
    init: str,
    sizes: Sequence[int],
    input_second_moment: float,
    *,
    gain: float = 1.0,
    bias_gain: float = 1.0,
) -> LayerPrediction:
    """The per-pair factors of a network ``sizes`` whose inputs have mean square
    ``input_second_moment``: the first hidden layer starts from the data, not from q*.

    Each layer's variances come from its own ``n_in -> n_out`` (Glorot's depend on both).
    """
    if len(sizes) < 3:
        raise BadInput(f"sizes {list(sizes)} have no hidden layer; give at least three sizes")
    if not (math.isfinite(input_second_moment) and input_second_moment >= 0):
        raise BadInput(f"the input's second moment must be >= 0, got {input_second_moment!r}")
    act = get_activation(activation)
    layers = [
        init_variances(init, n_in, n_out, gain=gain, bias_gain=bias_gain)
        for n_in, n_out in zip(sizes[:-1], sizes[1:], strict=False)
    ]
    # The first layer sees the pixels: sigma_w^2 times their mean square, plus the biases.
    q = [layers[0].sigma_w2 * input_second_moment + layers[0].sigma_b2]
    if not math.isfinite(q[0]):
        raise BadInput(f"the input's second moment {input_second_moment!r} is too large")
    # An unbounded activation's q is read at the cap past Q_DIVERGED (chi is flat there);
    # a bounded one's is finite at every layer and taken as it is.
    cap = Q_DIVERGED if math.isinf(bound(act)) else math.inf
    for v in layers[1:-1]:
        q.append(q_map(act, min(q[-1], cap), v))
    h = len(sizes) - 2
    chis = [chi_at(act, min(q[l], cap), layers[l + 1].sigma_w2) for l in range(h)]
    factors = [1.0 / math.sqrt(c) if c > 0 else None for c in chis[:-1]]
    return LayerPrediction(list(sizes), float(input_second_moment), q, chis, factors)


__all__ = [
    "BOOK_BOUND",
    "CHAPTER_WIDTH",
    "MAX_GAIN",
    "Q_DIVERGED",
    "FixedPoint",
    "LayerPrediction",
    "MeanField",
    "Variances",
    "bound",
    "chi",
    "chi_at",
    "fixed_point",
    "gauss_mean",
    "gauss_mean_pair",
    "init_variances",
    "mean_field",
    "network_prediction",
    "q_map",
]
