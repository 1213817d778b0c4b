"""Live alerts while a model trains: vanishing, exploding, saturated layers.

After each record the probe asks :class:`Alerts` to look at it. A layer is

- ``vanishing`` when its speed is more than ``ratio`` times below the last layer's,
- ``exploding`` when its speed is more than ``ratio`` times above the last layer's,
- ``saturated`` when its saturated share exceeds ``saturation``.

The last layer is the yardstick (the chapter compares the early layers' speeds with the later
ones'), so it is never vanishing or exploding itself. Each (condition, layer) alerts once and
then stays quiet until a record shows the condition cleared; then it may alert again. A NaN
(not measured) neither raises nor clears a condition. Layers whose speed falls back to the
weight gradient (``speed_source == "weight"``) are compared all the same: the alert says so.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from layerspeed.errors import BadInput


class LayerSpeedAlert(UserWarning):
    """The warning the default alert handler raises."""


@dataclass(frozen=True)
class Alert:
    """One condition that began to hold in one layer."""

    condition: str  # "vanishing", "exploding" or "saturated"
    layer: str
    value: float  # the layer's speed, or its saturated share
    reference: float  # the last layer's speed, or the saturation threshold
    threshold: float  # the ratio, or the saturation threshold
    step: int
    epoch: int | None
    speed_source: str  # "bias" or "weight": what the layer's speed is the norm of

    @property
    def message(self) -> str:
        when = f"step {self.step}" + ("" if self.epoch is None else f", epoch {self.epoch}")
        if self.condition == "saturated":
            return (
                f"layerspeed: layer {self.layer!r} saturated at {when}: {100 * self.value:.1f}% "
                f"of its units have a derivative below 1% of the maximum "
                f"(alert above {100 * self.threshold:.0f}%)"
            )
        times = self.reference / self.value if self.value > 0 else math.inf
        if self.condition == "exploding":
            times = self.value / self.reference if self.reference > 0 else math.inf
        where = "below" if self.condition == "vanishing" else "above"
        return (
            f"layerspeed: layer {self.layer!r} {self.condition} at {when}: speed "
            f"{self.value:.3g} (||dC/d{'b' if self.speed_source == 'bias' else 'W'}||) is "
            f"{times:.3g}x {where} the last layer's {self.reference:.3g} "
            f"(alert beyond {self.threshold:g}x)"
        )


def warn(alert: Alert) -> None:
    """The default handler: a :class:`LayerSpeedAlert` warning with the numbers."""
    warnings.warn(alert.message, LayerSpeedAlert, stacklevel=2)


def _threshold(name: str, value: float | None, *, low: float, high: float) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not low < value < high:
        raise BadInput(f"{name} must be a number in ({low:g}, {high:g}) or None, got {value!r}")
    return float(value)


class Alerts:
    """Decides which conditions began to hold, and calls the handler once for each."""

    def __init__(
        self,
        on_alert: Callable[[Alert], Any] | None = None,
        *,
        ratio: float | None = 10.0,
        saturation: float | None = 0.9,
    ) -> None:
        if on_alert is not None and not callable(on_alert):
            raise BadInput(f"on_alert must be a callable taking an Alert, got {on_alert!r}")
        self.on_alert = on_alert or warn
        self.ratio = _threshold("alert_ratio", ratio, low=1.0, high=math.inf)
        self.saturation = _threshold("alert_saturation", saturation, low=0.0, high=1.0)
        self.active: set[tuple[str, str]] = set()  # (condition, layer) now holding
        self.fired: list[Alert] = []

    def _holds(self, record: dict[str, Any], l: int) -> dict[str, tuple[bool, float, float]]:
        """condition -> (holds, value, reference), for the conditions measured at layer l."""
        out: dict[str, tuple[bool, float, float]] = {}
        speeds = record["layer_speeds"]
        last, speed = speeds[-1], speeds[l]
        if self.ratio is not None and l < len(speeds) - 1 and not math.isnan(speed + last):
            out["vanishing"] = (speed * self.ratio < last, speed, last)
            out["exploding"] = (speed > self.ratio * last, speed, last)
        share = record["saturated_share"][l]
        if self.saturation is not None and not math.isnan(share):
            out["saturated"] = (share > self.saturation, share, self.saturation)
        return out

    def check(self, record: dict[str, Any], layer_names: Sequence[str]) -> list[Alert]:
        """Look at one record; call the handler for each condition newly holding."""
        new: list[Alert] = []
        for l, name in enumerate(layer_names):
            for condition, (holds, value, reference) in self._holds(record, l).items():
                key = (condition, name)
                if not holds:
                    self.active.discard(key)
                    continue
                if key in self.active:
                    continue
                threshold = self.saturation if condition == "saturated" else self.ratio
                assert threshold is not None
                new.append(
                    Alert(
                        condition,
                        name,
                        value,
                        reference,
                        threshold,
                        step=int(record.get("step", 0)),
                        epoch=record.get("epoch"),
                        speed_source=record["speed_source"][l],
                    )
                )
        for alert in new:  # one by one: a handler that raises leaves the rest to fire later
            self.active.add((alert.condition, alert.layer))
            self.fired.append(alert)
            self.on_alert(alert)
        return new
