"""How the chain's terms and gradient ratios spread over many random chains.

Covers the statistical argument of "What's causing the vanishing gradient problem?" (Nielsen,
chapter 5): with N(0, 1) weights, ``|w_j sigma'(z_j)|`` is usually below 1/4, so ``dC/db_1``
is typically 16 times smaller than ``dC/db_3`` or more; and, for the chain half of problem 4,
the same measurement for other activations and larger weights.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from layerspeed.chain.engine import backprop_batch, forward_batch
from layerspeed.chain.model import DEFAULT_Y, check_length, get_cost
from layerspeed.errors import BadInput
from layerspeed.nn.activations import get_activation


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
    check_length(length)
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
