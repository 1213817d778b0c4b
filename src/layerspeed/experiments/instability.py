"""How unevenly the hidden layers learn: the speed spread and the vanishing/exploding flag.

One number sums up the instability of a set of layer speeds, the *speed spread*
``log10(max speed / min speed)`` over the hidden layers; :func:`assess` flags it as
``vanishing`` when the first hidden layer learns more than 10 times slower than the last,
``exploding`` when it learns more than 10 times faster, ``balanced`` otherwise.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

# A first hidden layer more than FLAG_RATIO times slower (faster) than the last: vanishing
# (exploding).
FLAG_RATIO = 10.0
# Speeds are floored here before the ratio: an all-dead ReLU layer has speed 0 exactly, and
# its spread is then "at least 12 decades" rather than infinite.
SPEED_FLOOR = 1e-12


@dataclass(frozen=True)
class Instability:
    """How unevenly the hidden layers learn, from their speeds (first hidden layer first)."""

    spread: float  # log10(max speed / min speed) over the hidden layers
    ratio: float  # speed of the last hidden layer / speed of the first
    flag: str  # "vanishing" (ratio > 10), "exploding" (ratio < 1/10) or "balanced"
    first: float  # the first hidden layer's speed
    last: float  # the last hidden layer's speed

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def assess(speeds: Sequence[float]) -> Instability | None:
    """Spread and flag of one set of layer speeds; None if any is NaN or infinite.

    >>> assess([0.003, 0.017, 0.070, 0.285]).flag   # the chapter's [784,30,30,30,30,10]
    'vanishing'
    """
    s = np.asarray(speeds, dtype=np.float64)
    if s.size == 0 or not np.all(np.isfinite(s)):
        return None
    s = np.maximum(s, SPEED_FLOOR)
    ratio = float(s[-1] / s[0])
    if ratio > FLAG_RATIO:
        flag = "vanishing"
    elif ratio < 1 / FLAG_RATIO:
        flag = "exploding"
    else:
        flag = "balanced"
    return Instability(
        spread=float(np.log10(s.max() / s.min())),
        ratio=ratio,
        flag=flag,
        first=float(s[0]),
        last=float(s[-1]),
    )


def instability(measurements: Sequence[Sequence[float]]) -> dict[str, Any]:
    """Assess a run's speeds measured at initialization and after each epoch.

    ``measurements[0]`` is the initial network; ``"training"`` assesses the per-layer
    geometric mean of the later ones (None when the run diverged before any), ``"final"``
    the last one.
    """
    initial = assess(measurements[0]) if measurements else None
    later = np.asarray(measurements[1:], dtype=np.float64)
    training = final = None
    if later.size and np.all(np.isfinite(later)):
        geo = np.exp(np.mean(np.log(np.maximum(later, SPEED_FLOOR)), axis=0))  # (layers,)
        training = assess(geo)
        final = assess(later[-1])
    return {
        key: (a.to_dict() if a is not None else None)
        for key, a in (("initial", initial), ("training", training), ("final", final))
    }
