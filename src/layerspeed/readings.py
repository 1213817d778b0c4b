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
summed up by, from :func:`assess`: ``speed_spread``, ``log10(max speed / min speed)``, and
``instability_flag``, +1 where the first layer learns more than 10 times slower than the last
(vanishing), -1 where more than 10 times faster (exploding), 0 otherwise. The rule lives here,
below both the PyTorch probe and the experiments layer, so that both use this one copy.

Numbers that were not measured (None in JSON, NaN in the probe's history) and infinite ones
have no row.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any, NamedTuple

import numpy as np

SPREAD = "speed_spread"
FLAG = "instability_flag"
FLAG_CODES = {"vanishing": 1, "balanced": 0, "exploding": -1}
NEURON_METRIC = "neuron_gradient"  # one neuron's mean dC/db, signed
# A first hidden layer more than FLAG_RATIO times slower (faster) than the last: vanishing
# (exploding).
FLAG_RATIO = 10.0
# Speeds are floored here before the ratio: an all-dead ReLU layer has speed 0 exactly, and
# its spread is then "at least 12 decades" rather than infinite.
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


def assess(speeds: Sequence[float | None]) -> Instability | None:
    """Spread and flag of one set of layer speeds; None if any is missing, NaN or infinite.

    >>> assess([0.003, 0.017, 0.070, 0.285]).flag   # the chapter's [784,30,30,30,30,10]
    'vanishing'
    """
    s = np.asarray([math.nan if v is None else v for v in speeds], dtype=np.float64)
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


def spread_and_flag(speeds: Sequence[float | None]) -> tuple[float, int] | None:
    """``(speed_spread, instability_flag)`` of one set of layer speeds (:func:`assess`)."""
    a = assess(speeds)
    return None if a is None else (a.spread, FLAG_CODES[a.flag])


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
