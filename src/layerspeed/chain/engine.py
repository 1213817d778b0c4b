"""The numerical core of the chain: forward pass, backpropagation and equation (122).

Covers "What's causing the vanishing gradient problem?" (Nielsen, chapter 5): ``dC/db_1``
three ways, the product of equation (122) term by term, backpropagation along the chain, and
central finite differences, so that each checks the others.

The core works on batches of chains, ``(n, L)`` arrays of weights and biases, so the
statistics over many random chains are one vectorized pass; a single :class:`Chain` is a
batch of one. ``activations[:, 0]`` is the input ``a_0 = x``; neuron ``j`` (1-based, as in
the book) sits at column ``j - 1`` of ``zs``.
"""

from __future__ import annotations

import math

import numpy as np

from layerspeed.chain.model import Chain, ChainCost, get_cost
from layerspeed.errors import BadInput
from layerspeed.nn.activations import Activation, get_activation

Array = np.ndarray


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
    # Term by term, left to right, as the equation is written: after step k every
    # product[j] with j < k holds sigma'(z_j) * terms[j+1] * ... * terms[k]. All j at once,
    # so a long chain costs L array operations, not L^2 Python ones.
    product = get_activation(chain.activation).prime(zs)  # (L,)
    for k in range(1, chain.length + 1):
        product[:k] *= terms[k]
    return product


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
    activations, keep every ``|z_j|`` above ``2 step`` so that no kink is crossed. Where
    ``dz_k/db_j`` overflows (a long exploding chain) no step is small enough, and ``dC/db_j``
    is NaN.

    The ``4 L`` perturbed chains are fed forward together, one neuron at a time, in memory
    linear in ``L``: the chains that shift ``b_j`` agree with the unperturbed one before
    neuron ``j``, so they join at neuron ``j``.
    """
    if not step > 0:
        raise BadInput(f"finite-difference step must be positive; got {step!r}")
    weights, biases, x, y = _arrays(chain)
    act, cost = get_activation(chain.activation), get_cost(chain.cost)
    length = chain.length
    zs, activations = forward_batch(weights, biases, x, act)
    steps = _steps(weights[0], act.prime(zs[0]), step)  # (L,)
    stencil = np.array([-2.0, -1.0, 1.0, 2.0])
    coeffs = np.array([1.0, -8.0, 8.0, -1.0]) / 12.0
    # Row 4 j + k of ``a`` is the chain whose b_j is shifted by stencil[k] * steps[j].
    a = np.empty(4 * length)  # (4L,)
    for j in range(length):
        w, b = weights[0, j], biases[0, j]
        a[: 4 * j] = act.fn(w * a[: 4 * j] + b)  # chains shifted at an earlier neuron
        shifted = b + stencil * steps[j]  # (4,)
        a[4 * j : 4 * j + 4] = act.fn(w * activations[0, j] + shifted)  # joining here
    costs = cost.fn(a, np.repeat(y, 4 * length)).reshape(length, 4)
    return (costs @ coeffs) / steps


def _steps(weights: Array, primes: Array, step: float) -> Array:
    """``h_j`` of :func:`finite_difference_nabla_b` for every j, shape (L,); NaN where
    ``dz_k/db_j`` overflows."""
    length = len(weights)
    # Forward-mode sensitivities: dz_j/db_j = 1, dz_{k+1}/db_j = w_{k+1} f'(z_k) dz_k/db_j;
    # all j at once, each multiplied in the same order as one j at a time.
    sensitivity = np.ones(length)  # (L,): dz_k/db_j for j <= k
    largest = np.ones(length)  # (L,)
    for k in range(length - 1):
        sensitivity[: k + 1] *= weights[k + 1] * primes[k]
        np.maximum(largest[: k + 1], np.abs(sensitivity[: k + 1]), out=largest[: k + 1])
    steps = np.full(length, np.nan)
    for j in range(length):
        ratio = step / largest[j]
        if ratio > 0:  # 0 (or NaN) when the sensitivity overflowed
            # A power of two, so that b_j + k h_j is exact and the stencil is truly symmetric.
            steps[j] = 2.0 ** math.floor(math.log2(ratio))
    return steps
