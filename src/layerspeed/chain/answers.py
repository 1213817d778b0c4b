"""The chapter's problems about the single neuron, answered numerically.

Covers the problems at the end of "What's causing the vanishing gradient problem?" (Nielsen,
chapter 5):

1. ``|w sigma'(wa + b)| >= 1`` only if ``|w| >= 4``;
2. the width of the set of ``a`` where it holds, equation (123), checked by a scan, and where
   that width is largest;
3. the identity neuron ``w_2 sigma(w_1 x + b) ~ x + const`` for small ``w_1``;
4. the chain half of "an activation function whose derivative could be much larger: would it
   help?".

sigma and sigma' are the entries of :data:`layerspeed.nn.activations.ACTIVATIONS`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from layerspeed.chain.statistics import ChainStatistics, chain_statistics
from layerspeed.errors import BadInput
from layerspeed.nn.activations import ACTIVATIONS

Array = np.ndarray

SIGMOID = ACTIVATIONS["sigmoid"]


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
    primes = SIGMOID.prime(z)
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
    g = np.abs(w * SIGMOID.prime(w * a + b)) - 1.0  # >= 0 inside the set
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
    """Maximize equation (123) over ``|w|`` in [4, 40] with bounded Brent minimization.

    The bound rises from 0 at ``|w| = 4`` and then falls like ``2 ln|w| / |w|``, so it has a
    single maximum, and ``tol`` is the optimizer's absolute tolerance on ``|w|``. The peak is
    flat, so the width is exact to rounding while ``|w|`` is good to about 1e-7 (no search
    on values alone does better): ``|w| = 6.8942``, width ``0.4477``.
    """
    # Imported here: scipy.optimize takes a noticeable time to import, and only this needs it.
    from scipy.optimize import minimize_scalar

    found = minimize_scalar(
        lambda w: -float(width_bound(w)),
        bounds=(4.0, 40.0),
        method="bounded",
        options={"xatol": tol},
    )
    abs_w = float(found.x)
    return WidthMaximum(abs_w=abs_w, width=float(width_bound(abs_w)))


def width_curve(abs_w: Array | None = None) -> dict[str, list[float]]:
    """Equation (123) on a grid of ``|w|`` in [4, 20], JSON-ready, for the width plot."""
    w = np.linspace(4.0, 20.0, 321) if abs_w is None else np.asarray(abs_w, dtype=np.float64)
    return {"abs_w": w.tolist(), "width": np.asarray(width_bound(w)).tolist()}


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
    b, w2 = -w1 / 2.0, 4.0 / w1
    return w2 * SIGMOID.fn(w1 * np.asarray(x, dtype=np.float64) + b)


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
