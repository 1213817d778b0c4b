"""Activation functions and their derivatives, as ``(fn, prime)`` pairs in one table.

The chapter's argument turns on sigma'(z) <= 1/4 (equation 122 and the plot after it);
the other entries answer its exercise, "an activation function whose derivative could be
much larger: would it help?", and the remedies that modern networks use.

Every function is elementwise, works on arrays of any shape, and never warns for large |z|.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import numpy as np
from scipy.special import expit

Array = np.ndarray
ArrayFn = Callable[[Array], Array]

LEAKY_SLOPE = 0.01


class Activation(NamedTuple):
    """An activation ``fn`` with its derivative ``prime``.

    ``max_prime`` is the largest value ``prime`` takes; a unit counts as saturated where its
    derivative falls below 1% of it. ``prime_of_output`` is the same derivative written as a
    function of the activation ``a = fn(z)`` (sigma' = a(1 - a)), which lets the training
    loop reuse the forward pass instead of evaluating ``fn`` again.
    """

    fn: ArrayFn
    prime: ArrayFn
    max_prime: float
    prime_of_output: ArrayFn


def sigmoid(z: Array) -> Array:
    # expit is the logistic function without exp overflow for large negative z.
    return expit(z)


def sigmoid_prime(z: Array) -> Array:
    s = expit(z)
    return s * (1.0 - s)


def tanh(z: Array) -> Array:
    return np.tanh(z)


def tanh_prime(z: Array) -> Array:
    t = np.tanh(z)
    return 1.0 - t * t


def relu(z: Array) -> Array:
    return np.maximum(z, 0.0)


def relu_prime(z: Array) -> Array:
    # The derivative at exactly 0 is taken as 0 (a dead unit), as most libraries do.
    return (z > 0).astype(np.result_type(z, np.float32))


def leaky_relu(z: Array) -> Array:
    return np.where(z > 0, z, LEAKY_SLOPE * z)


def leaky_relu_prime(z: Array) -> Array:
    return np.where(z > 0, 1.0, LEAKY_SLOPE).astype(np.result_type(z, np.float32))


def softplus(z: Array) -> Array:
    # log(1 + e^z) without overflow.
    return np.logaddexp(0.0, z)


def softplus_prime(z: Array) -> Array:
    return expit(z)


def scaled_sigmoid(z: Array) -> Array:
    """``4 sigma(z) - 2``: a sigmoid stretched so that its derivative at 0 is 1, not 1/4."""
    return 4.0 * expit(z) - 2.0


def scaled_sigmoid_prime(z: Array) -> Array:
    s = expit(z)
    return 4.0 * s * (1.0 - s)


def identity(z: Array) -> Array:
    return np.asarray(z, dtype=np.result_type(z, np.float32)).copy()


def identity_prime(z: Array) -> Array:
    return np.ones_like(z, dtype=np.result_type(z, np.float32))


# Keyed by the name the command line uses.
ACTIVATIONS: dict[str, Activation] = {
    "sigmoid": Activation(sigmoid, sigmoid_prime, 0.25, lambda a: a * (1.0 - a)),
    "tanh": Activation(tanh, tanh_prime, 1.0, lambda a: 1.0 - a * a),
    "relu": Activation(relu, relu_prime, 1.0, relu_prime),  # a > 0 exactly where z > 0
    "leaky_relu": Activation(leaky_relu, leaky_relu_prime, 1.0, leaky_relu_prime),
    # softplus: a = ln(1 + e^z), so sigma(z) = 1 - e^(-a).
    "softplus": Activation(softplus, softplus_prime, 1.0, lambda a: -np.expm1(-a)),
    # 4 sigma - 2 = a, so 4 sigma (1 - sigma) = (2 + a)(2 - a)/4.
    "scaled_sigmoid": Activation(
        scaled_sigmoid, scaled_sigmoid_prime, 1.0, lambda a: 1.0 - 0.25 * a * a
    ),
    "identity": Activation(identity, identity_prime, 1.0, identity_prime),
}


def get_activation(name: str) -> Activation:
    """Look up an activation by name, with an error that lists the allowed names."""
    try:
        return ACTIVATIONS[name]
    except KeyError:
        from layerspeed.errors import BadInput

        allowed = ", ".join(sorted(ACTIVATIONS))
        raise BadInput(f"unknown activation {name!r}; choose one of: {allowed}") from None
