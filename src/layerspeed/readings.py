"""A run's measurement records as long rows of numbers, one number a row.

A *record* is one measurement of a network: an entry of ``result.json``'s ``epochs`` or its
``final_probe`` (the NumPy engine, :mod:`layerspeed.probes`), or an entry of the PyTorch
probe's ``history``. It holds per-layer lists (``layer_speeds`` ``||dC/db^l||``,
``weight_grad_norms``, ``update_ratio``, ``saturated_share``, ...), per-neuron lists
(``neuron_gradients``, ``mean_x dC_x/db^l_j``) and numbers of the whole network
(``training_cost``, ``evaluation_accuracy``). :func:`readings` gives each number one
:class:`Reading`; the tidy table (:mod:`layerspeed.experiments.tidy`) and the TensorBoard
event files (:mod:`layerspeed.board`) are both made of them.

Each record with finite layer speeds also gets the two numbers the chapter's picture is
summed up by (see :mod:`layerspeed.experiments.instability`): ``speed_spread``,
``log10(max speed / min speed)``, and ``instability_flag``, +1 where the first layer learns
more than 10 times slower than the last (vanishing), -1 where more than 10 times faster
(exploding), 0 otherwise. The rule is :func:`layerspeed.experiments.instability.assess`'s,
written again here because the PyTorch probe sits below the experiments layer; a test holds
the two equal.

Numbers that were not measured (None in JSON, NaN in the probe's history) and infinite ones
have no row.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, NamedTuple

import numpy as np

SPREAD = "speed_spread"
FLAG = "instability_flag"
FLAG_CODES = {"vanishing": 1, "balanced": 0, "exploding": -1}
NEURON_METRIC = "neuron_gradient"  # one neuron's mean dC/db, signed
# experiments.instability's FLAG_RATIO and SPEED_FLOOR (a test checks they agree)
FLAG_RATIO = 10.0
SPEED_FLOOR = 1e-12
POSITION = ("epoch", "step")  # keys that place a record in time, not measurements


class Reading(NamedTuple):
    """One number of one record."""

    epoch: int | None  # the record's epoch (the network before that epoch's update)
    step: int | None  # the optimizer step (PyTorch probe), None for the NumPy engine
    layer: str | None  # None for a number of the whole network
    neuron: int | None  # the neuron's index in its layer, for per-neuron numbers
    metric: str
    value: float


def spread_and_flag(speeds: Sequence[float]) -> tuple[float, int] | None:
    """``(speed_spread, instability_flag)`` of one set of layer speeds, first layer first;
    None when any is missing, NaN or infinite."""
    s = np.asarray([math.nan if v is None else v for v in speeds], dtype=np.float64)
    if s.size == 0 or not np.all(np.isfinite(s)):
        return None
    s = np.maximum(s, SPEED_FLOOR)
    ratio = s[-1] / s[0]  # last / first: above FLAG_RATIO the first layer lags (vanishing)
    flag = (
        "vanishing" if ratio > FLAG_RATIO else "exploding" if ratio < 1 / FLAG_RATIO else "balanced"
    )
    return float(np.log10(s.max() / s.min())), FLAG_CODES[flag]


def _number(v: Any) -> float | None:
    """``v`` as a finite float; None for None, NaN, infinities, bools and anything else."""
    if isinstance(v, bool) or not isinstance(v, int | float):
        return None
    f = float(v)
    return f if math.isfinite(f) else None


def _position(record: Mapping[str, Any], key: str) -> int | None:
    v = record.get(key)
    return int(v) if isinstance(v, int) and not isinstance(v, bool) else None


def record_readings(record: Mapping[str, Any], layer_names: Sequence[str]) -> list[Reading]:
    """Every number of one record (see the module docstring), in the record's key order."""
    epoch, step = _position(record, "epoch"), _position(record, "step")
    n = len(layer_names)
    out: list[Reading] = []

    def add(layer: str | None, neuron: int | None, metric: str, v: Any) -> None:
        value = _number(v)
        if value is not None:
            out.append(Reading(epoch, step, layer, neuron, metric, value))

    for key, v in record.items():
        if key in POSITION:
            continue
        if isinstance(v, list) and len(v) == n and all(isinstance(u, list) for u in v):
            metric = NEURON_METRIC if key == "neuron_gradients" else key
            for name, values in zip(layer_names, v, strict=True):
                for j, u in enumerate(values):
                    add(name, j, metric, u)
        elif isinstance(v, list) and len(v) == n:  # one number per layer (strings skipped)
            for name, u in zip(layer_names, v, strict=True):
                add(name, None, key, u)
        else:
            add(None, None, key, v)
    speeds = record.get("layer_speeds")
    if isinstance(speeds, list) and len(speeds) == n:
        assessed = spread_and_flag(speeds)
        if assessed is not None:
            add(None, None, SPREAD, assessed[0])
            add(None, None, FLAG, assessed[1])
    return out


def readings(records: Iterable[Mapping[str, Any]], layer_names: Sequence[str]) -> list[Reading]:
    """Every number of every record, record by record."""
    return [r for record in records for r in record_readings(record, layer_names)]
