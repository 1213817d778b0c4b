"""What the chain section reports about one chain: terms, gradients and their ratios.

Covers the worked chain of "What's causing the vanishing gradient problem?" (Nielsen,
chapter 5): the factors of equation (122), ``dC/db_1`` by the formula, by backpropagation
and by finite differences, and the book's comparison ``dC/db_1 / dC/db_3``.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from layerspeed.chain.engine import (
    backprop,
    cost_of,
    equation_122_terms,
    finite_difference_nabla_b,
    formula_nabla_b,
    forward,
)
from layerspeed.chain.model import Chain
from layerspeed.store import finite

Array = np.ndarray


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

    def overflowed(self) -> list[str]:
        """The keys of :meth:`to_dict` holding a value beyond float64's range (inf, or NaN
        where an inf met another inf or a zero), dotted: ``"dC_db1.formula"``."""
        return _non_finite(self.to_dict())

    def to_json_dict(self) -> dict[str, Any]:
        """:meth:`to_dict` as strict JSON: an overflowed value is null, and ``"overflowed"``
        with a ``"note"`` name them (both keys only when something overflowed)."""
        out = finite(self.to_dict())
        bad = self.overflowed()
        if bad:
            out["overflowed"] = bad
            out["note"] = (
                "these values overflowed the float64 range (inf, or NaN from inf); "
                "they are null here"
            )
        return out  # type: ignore[no-any-return]


def analyse(chain: Chain, *, step: float = 1e-4) -> ChainAnalysis:
    """Forward pass, the terms of equation (122) and ``dC/db`` three ways, for one chain."""
    # Overflow is a result here (a long exploding chain's dC/db_1 is beyond float64), not
    # an error: it shows as inf or NaN and ChainAnalysis.overflowed names it.
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        zs, activations = forward(chain)
        terms = equation_122_terms(chain)
        formula = formula_nabla_b(chain)
        nabla_b, nabla_w = backprop(chain)
        fd = finite_difference_nabla_b(chain, step=step)
        cost = cost_of(chain)
    # Equation (122) itself: the product of its factors, left to right.
    product = 1.0
    for term in terms:
        product *= float(term)
    ratio_1_3 = _ratio(nabla_b[0], nabla_b[2]) if chain.length >= 3 else None
    return ChainAnalysis(
        chain=chain,
        zs=_floats(zs),
        activations=_floats(activations),
        cost=cost,
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
    if den == 0:
        return None
    with np.errstate(over="ignore", invalid="ignore"):
        return float(num / den)


def _non_finite(value: Any, key: str = "") -> list[str]:
    if isinstance(value, float):
        return [] if math.isfinite(value) else [key]
    if isinstance(value, dict):
        found = [_non_finite(v, f"{key}.{k}" if key else str(k)) for k, v in value.items()]
        return [k for keys in found for k in keys]
    if isinstance(value, list | tuple):
        return [key] if any(_non_finite(v) for v in value) else []
    return []


def _floats(values: Array) -> tuple[float, ...]:
    return tuple(float(v) for v in values)
