"""Weight initializers: the book's "default" and "large" ones, and the modern remedies.

Each initializer draws one layer: ``fn(rng, n_in, n_out, gain) -> (w, b)`` with ``w`` of the
book's shape ``(n_out, n_in)`` and ``b`` of shape ``(n_out,)``. ``gain`` multiplies the
weights' scale. The book's two draw the biases from N(0, 1), as network2.py does; the modern
ones start the biases at zero, as their papers do.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from layerspeed.errors import BadInput

Array = np.ndarray
Initializer = Callable[[np.random.Generator, int, int, float], tuple[Array, Array]]


def default(rng: np.random.Generator, n_in: int, n_out: int, gain: float = 1.0):
    """network2's ``default_weight_initializer``: w ~ N(0, 1/n_in), b ~ N(0, 1)."""
    b = rng.standard_normal(n_out)
    w = gain * rng.standard_normal((n_out, n_in)) / np.sqrt(n_in)
    return w, b


def large(rng: np.random.Generator, n_in: int, n_out: int, gain: float = 1.0):
    """network2's ``large_weight_initializer`` (chapter 1's): w ~ N(0, 1), b ~ N(0, 1)."""
    b = rng.standard_normal(n_out)
    w = gain * rng.standard_normal((n_out, n_in))
    return w, b


def xavier_normal(rng: np.random.Generator, n_in: int, n_out: int, gain: float = 1.0):
    """Glorot & Bengio (2010): w ~ N(0, 2/(n_in + n_out)), b = 0."""
    w = gain * rng.standard_normal((n_out, n_in)) * np.sqrt(2.0 / (n_in + n_out))
    return w, np.zeros(n_out)


def xavier_uniform(rng: np.random.Generator, n_in: int, n_out: int, gain: float = 1.0):
    """Glorot & Bengio (2010): w ~ U(-r, r) with r = sqrt(6/(n_in + n_out)), b = 0."""
    r = gain * np.sqrt(6.0 / (n_in + n_out))
    return rng.uniform(-r, r, size=(n_out, n_in)), np.zeros(n_out)


def he(rng: np.random.Generator, n_in: int, n_out: int, gain: float = 1.0):
    """He et al. (2015), for ReLU: w ~ N(0, 2/n_in), b = 0."""
    w = gain * rng.standard_normal((n_out, n_in)) * np.sqrt(2.0 / n_in)
    return w, np.zeros(n_out)


def orthogonal(rng: np.random.Generator, n_in: int, n_out: int, gain: float = 1.0):
    """Saxe et al. (2014): w with orthonormal rows or columns (QR of a Gaussian), b = 0."""
    a = rng.standard_normal((max(n_out, n_in), min(n_out, n_in)))
    q, r = np.linalg.qr(a)
    q = q * np.sign(np.diag(r))  # make the draw uniform over orthogonal matrices
    w = q if n_out >= n_in else q.T  # (n_out, n_in)
    return gain * w, np.zeros(n_out)


# Keyed by the name the command line uses.
INITIALIZERS: dict[str, Initializer] = {
    "default": default,
    "large": large,
    "xavier_normal": xavier_normal,
    "xavier_uniform": xavier_uniform,
    "he": he,
    "orthogonal": orthogonal,
}


def get_initializer(name: str) -> Initializer:
    try:
        return INITIALIZERS[name]
    except KeyError:
        allowed = ", ".join(INITIALIZERS)
        raise BadInput(f"unknown initializer {name!r}; choose one of: {allowed}") from None
