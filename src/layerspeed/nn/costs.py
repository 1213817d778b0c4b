"""Cost functions as ``(fn, delta)`` pairs, the book's ``QuadraticCost`` and ``CrossEntropyCost``.

Each ``fn(z, a, y)`` returns the cost of every example, shape ``(n,)``; ``delta(z, a, y)``
returns the output error dC/dz^L, shape ``(n, n_out)`` (equation BP1 of chapter 2).
Costs take the output layer's weighted input ``z`` as well as its activation ``a`` so that
cross-entropy can be computed from ``z`` without ever taking ``log(0)``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import numpy as np
from scipy.special import expit, logsumexp

from layerspeed.errors import BadInput

Array = np.ndarray


class Cost(NamedTuple):
    """A cost with its output error, and the output activation it is defined for."""

    fn: Callable[[Array, Array, Array], Array]
    delta: Callable[[Array, Array, Array], Array]
    output: str  # the output layer's activation this cost pairs with
    book_name: str  # the class name network2.py saves in its JSON


def _quadratic_fn(z: Array, a: Array, y: Array) -> Array:
    return 0.5 * np.sum((a - y) ** 2, axis=-1)


def _quadratic_delta(z: Array, a: Array, y: Array) -> Array:
    s = expit(z)
    return (a - y) * s * (1.0 - s)


def _cross_entropy_fn(z: Array, a: Array, y: Array) -> Array:
    # -y ln(a) - (1-y) ln(1-a) with a = sigma(z): ln sigma(z) = -softplus(-z) and
    # ln(1 - sigma(z)) = -softplus(z), finite for every z.
    return np.sum(y * np.logaddexp(0.0, -z) + (1.0 - y) * np.logaddexp(0.0, z), axis=-1)


def _cross_entropy_delta(z: Array, a: Array, y: Array) -> Array:
    # sigma'(z) cancels (chapter 3), leaving a - y.
    return a - y


def _log_likelihood_fn(z: Array, a: Array, y: Array) -> Array:
    # -ln a_y for a softmax output, computed as logsumexp(z) - z_y.
    return logsumexp(z, axis=-1) - np.sum(y * z, axis=-1)


def _log_likelihood_delta(z: Array, a: Array, y: Array) -> Array:
    return a - y


COSTS: dict[str, Cost] = {
    "cross-entropy": Cost(_cross_entropy_fn, _cross_entropy_delta, "sigmoid", "CrossEntropyCost"),
    "quadratic": Cost(_quadratic_fn, _quadratic_delta, "sigmoid", "QuadraticCost"),
    "log-likelihood": Cost(
        _log_likelihood_fn, _log_likelihood_delta, "softmax", "LogLikelihoodCost"
    ),
}


def softmax(z: Array) -> Array:
    """Row-wise softmax, shifted by the row maximum so ``exp`` never overflows."""
    e = np.exp(z - np.max(z, axis=-1, keepdims=True))
    return e / np.sum(e, axis=-1, keepdims=True)


def get_cost(name: str) -> Cost:
    """Look up a cost by its CLI name or by network2's class name."""
    if name in COSTS:
        return COSTS[name]
    for cost in COSTS.values():
        if cost.book_name == name:
            return cost
    allowed = ", ".join(COSTS)
    raise BadInput(f"unknown cost {name!r}; choose one of: {allowed}")


def cost_name(cost: Cost) -> str:
    """The CLI name of ``cost``."""
    return next(k for k, v in COSTS.items() if v is cost)
