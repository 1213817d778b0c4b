"""How unevenly the hidden layers learn: the speed spread and the vanishing/exploding flag.

One number sums up the instability of a set of layer speeds, the *speed spread*
``log10(max speed / min speed)`` over the hidden layers; :func:`assess` flags it as
``vanishing`` when the first hidden layer learns more than 10 times slower than the last,
``exploding`` when it learns more than 10 times faster, ``balanced`` otherwise. That rule
for one set of speeds lives in :mod:`layerspeed.readings`, below both the PyTorch probe and
this layer, so there is one copy; this module assesses a run's speeds over its epochs.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from layerspeed.readings import FLAG_RATIO, SPEED_FLOOR, Instability, assess

__all__ = ["FLAG_RATIO", "SPEED_FLOOR", "Instability", "assess", "instability"]


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
