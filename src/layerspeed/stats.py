"""The statistics of a reproduction: spread over seeds, confidence intervals, Welch's t-test.

The book reports single runs ("96.48 percent (or thereabouts - it'll vary a bit from run to
run)") and calls a drop of 0.04 points "probably not statistically significant". Here every
number is measured over several seeds, so it comes with its spread:

- :func:`describe`: mean, sample standard deviation (``ddof=1``), the 95% Student-t
  confidence interval of the mean, ``mean -+ t_{0.975, n-1} sd / sqrt(n)``, and the 95%
  prediction interval of one further run, ``mean -+ t_{0.975, n-1} sd sqrt(1 + 1/n)``: the
  range that a single run, like each of the book's, falls in;
- :func:`welch`: Welch's unequal-variance t-test between two sets of runs (scipy.stats);
- :func:`quantile_band`: the median and a quantile band across seeds, for curves.

Undefined values (a standard deviation of one number) are ``None``, never NaN, so the results
stay plain JSON.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any, TypedDict, cast

import numpy as np
from scipy import stats as _st

from layerspeed.errors import BadInput


def _finite_or_none(v: float) -> float | None:
    return float(v) if math.isfinite(v) else None


class DescriptionDict(TypedDict):
    """:class:`Description` as plain data, as it stands in results files."""

    n: int
    mean: float
    sd: float | None
    ci_low: float | None  # 95% t interval of the mean
    ci_high: float | None
    pi_low: float | None  # 95% t prediction interval of one further run
    pi_high: float | None
    min: float
    max: float
    values: list[float]


class BandDict(TypedDict):
    """:class:`Band` as plain data."""

    median: list[float]
    low: list[float]
    high: list[float]
    q_low: float
    q_high: float


@dataclass(frozen=True)
class Description:
    """The spread of one quantity over ``n`` runs."""

    n: int
    mean: float
    sd: float | None  # sample standard deviation (ddof=1); None when n < 2
    ci_low: float | None  # 95% t confidence interval of the mean
    ci_high: float | None
    pi_low: float | None  # 95% t prediction interval of a single further run
    pi_high: float | None
    min: float
    max: float
    values: list[float]

    def to_dict(self) -> DescriptionDict:
        return cast(DescriptionDict, asdict(self))

    def contains(self, value: float, *, interval: str = "pi") -> bool | None:
        """Whether ``value`` is inside the ``"ci"``, ``"pi"`` or ``"range"`` (min..max)."""
        if interval == "range":
            return self.min <= value <= self.max
        low, high = getattr(self, f"{interval}_low"), getattr(self, f"{interval}_high")
        if low is None or high is None:
            return None
        return bool(low <= value <= high)


def _check(values: Sequence[float] | np.ndarray) -> np.ndarray:
    a = np.asarray(values, dtype=np.float64).ravel()
    if a.size == 0:
        raise BadInput("no values to describe")
    return a


def describe(values: Sequence[float] | np.ndarray, *, confidence: float = 0.95) -> Description:
    """Mean, sd and the t intervals of ``values`` (one number per run)."""
    a = _check(values)
    n = a.size
    mean = float(np.mean(a))
    if n < 2:
        sd = ci_low = ci_high = pi_low = pi_high = None
    else:
        s = float(np.std(a, ddof=1))
        t = float(_st.t.ppf(0.5 + confidence / 2, n - 1))
        half_ci = t * s / math.sqrt(n)
        half_pi = t * s * math.sqrt(1 + 1 / n)
        sd = s
        ci_low, ci_high = mean - half_ci, mean + half_ci
        pi_low, pi_high = mean - half_pi, mean + half_pi
    return Description(
        n=n,
        mean=mean,
        sd=sd,
        ci_low=ci_low,
        ci_high=ci_high,
        pi_low=pi_low,
        pi_high=pi_high,
        min=float(np.min(a)),
        max=float(np.max(a)),
        values=a.tolist(),
    )


@dataclass(frozen=True)
class Welch:
    """Welch's t-test of ``mean(a) == mean(b)``, two-sided."""

    t: float | None
    df: float | None  # Welch-Satterthwaite degrees of freedom
    p: float | None
    mean_difference: float  # mean(b) - mean(a)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def significant(self, alpha: float = 0.05) -> bool | None:
        return None if self.p is None else self.p < alpha


def welch(a: Sequence[float] | np.ndarray, b: Sequence[float] | np.ndarray) -> Welch:
    """Welch's unequal-variance t-test between the runs ``a`` and ``b``.

    ``t = (mean_b - mean_a) / sqrt(s_a^2/n_a + s_b^2/n_b)``, of the sign of ``mean_difference``;
    undefined (None) when either side has fewer than two runs or both have no variance.
    """
    x, y = _check(a), _check(b)
    diff = float(np.mean(y) - np.mean(x))
    if x.size < 2 or y.size < 2:
        return Welch(t=None, df=None, p=None, mean_difference=diff)
    va, vb = np.var(x, ddof=1) / x.size, np.var(y, ddof=1) / y.size
    if va + vb == 0:
        return Welch(t=None, df=None, p=None, mean_difference=diff)
    with warnings.catch_warnings():  # near-identical samples: scipy warns, the numbers stand
        warnings.simplefilter("ignore", RuntimeWarning)
        res = _st.ttest_ind(y, x, equal_var=False)  # t > 0 when b's mean is larger
    df = (va + vb) ** 2 / (va**2 / (x.size - 1) + vb**2 / (y.size - 1))
    return Welch(
        t=_finite_or_none(float(res.statistic)),
        df=_finite_or_none(float(df)),
        p=_finite_or_none(float(res.pvalue)),
        mean_difference=diff,
    )


@dataclass(frozen=True)
class Band:
    """A curve's median and quantile band across runs, point by point."""

    median: list[float]
    low: list[float]
    high: list[float]
    q_low: float
    q_high: float

    def to_dict(self) -> BandDict:
        return cast(BandDict, asdict(self))


def quantile_band(
    curves: Sequence[Sequence[float]] | np.ndarray, *, q_low: float = 0.1, q_high: float = 0.9
) -> Band:
    """Median and the ``q_low``..``q_high`` band of ``curves`` (runs, points) over the runs.

    Quantiles are numpy's default (linear interpolation); with one run the band is the curve.
    """
    c = np.asarray(curves, dtype=np.float64)
    if c.ndim == 1:
        c = c[:, None]
    if c.ndim != 2 or c.shape[0] == 0:
        raise BadInput(f"curves must be (runs, points) with at least one run, got {c.shape}")
    if not 0 <= q_low <= 0.5 <= q_high <= 1:
        raise BadInput(f"need 0 <= q_low <= 0.5 <= q_high <= 1, got {q_low}, {q_high}")
    return Band(
        median=np.median(c, axis=0).tolist(),
        low=np.quantile(c, q_low, axis=0).tolist(),
        high=np.quantile(c, q_high, axis=0).tolist(),
        q_low=q_low,
        q_high=q_high,
    )


def geometric_mean(values: Sequence[float] | np.ndarray) -> float:
    """``exp(mean(log v))`` of positive values: the typical size of a ratio."""
    a = _check(values)
    if np.any(a <= 0):
        raise BadInput("the geometric mean needs positive values")
    return float(np.exp(np.mean(np.log(a))))
