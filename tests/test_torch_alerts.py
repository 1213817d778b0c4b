"""Live alerts: vanishing, exploding and saturated layers, once per condition until it clears."""

from __future__ import annotations

import math
import warnings
from typing import Any

import pytest

torch = pytest.importorskip(
    "torch", reason='PyTorch is an optional extra (pip install "layerspeed[torch]")'
)

from torch import nn  # noqa: E402

import layerspeed.torch as lst  # noqa: E402
from layerspeed.errors import BadInput  # noqa: E402
from layerspeed.torch.alerts import Alert, Alerts  # noqa: E402

NAMES = ["a", "b", "out"]


def record(speeds: list[float], shares: list[float] | None = None, step: int = 0) -> dict:
    return {
        "step": step,
        "layer_speeds": speeds,
        "saturated_share": shares or [math.nan] * len(speeds),
        "speed_source": ["bias", "weight", "bias"],
    }


def alerts(**kwargs: Any) -> tuple[Alerts, list[Alert]]:
    seen: list[Alert] = []
    return Alerts(seen.append, **kwargs), seen


def test_vanishing_and_exploding_fire_with_the_numbers() -> None:
    checker, seen = alerts()
    checker.check(record([0.01, 25.0, 1.0], step=7), NAMES)
    assert [(a.condition, a.layer) for a in seen] == [("vanishing", "a"), ("exploding", "b")]
    vanishing, exploding = seen
    assert (vanishing.value, vanishing.reference, vanishing.threshold) == (0.01, 1.0, 10.0)
    assert vanishing.step == 7 and vanishing.epoch is None
    assert "100x below the last layer's 1" in vanishing.message
    assert "25x above" in exploding.message and "||dC/dW||" in exploding.message


def test_the_last_layer_is_the_yardstick_and_never_alerts_on_speed() -> None:
    checker, seen = alerts()
    checker.check(record([1.0, 1.0, 1e-9]), NAMES)  # the others are 1e9 x above the last
    assert {(a.condition, a.layer) for a in seen} == {("exploding", "a"), ("exploding", "b")}


def test_fires_once_until_the_condition_clears_then_again() -> None:
    checker, seen = alerts()
    for _ in range(3):
        checker.check(record([0.01, 1.0, 1.0]), NAMES)
    assert len(seen) == 1
    checker.check(record([0.5, 1.0, 1.0]), NAMES)  # cleared
    assert len(seen) == 1
    checker.check(record([0.01, 1.0, 1.0], step=30), NAMES)  # holds again: fires again
    assert [a.step for a in seen] == [0, 30]


def test_nan_neither_fires_nor_clears() -> None:
    checker, seen = alerts()
    checker.check(record([0.01, 1.0, 1.0]), NAMES)
    checker.check(record([math.nan, 1.0, 1.0]), NAMES)
    checker.check(record([0.01, 1.0, 1.0]), NAMES)
    assert len(seen) == 1


@pytest.mark.parametrize(
    ("ratio", "speeds", "fired"),
    [
        (10.0, [0.1, 1.0, 1.0], []),  # exactly 10x is not more than 10x
        (10.0, [0.099, 1.0, 1.0], ["vanishing"]),
        (10.0, [10.0, 1.0, 1.0], []),
        (10.0, [10.01, 1.0, 1.0], ["exploding"]),
        (1000.0, [0.01, 50.0, 1.0], []),
        (2.0, [0.4, 1.0, 1.0], ["vanishing"]),
        (None, [1e-9, 1e9, 1.0], []),  # None: no speed alerts
    ],
)
def test_the_ratio_threshold(ratio: float | None, speeds: list[float], fired: list[str]) -> None:
    checker, seen = alerts(ratio=ratio)
    checker.check(record(speeds), NAMES)
    assert [a.condition for a in seen] == fired


@pytest.mark.parametrize(
    ("threshold", "share", "fired"),
    [(0.9, 0.9, False), (0.9, 0.91, True), (0.5, 0.6, True), (0.99, 0.95, False), (None, 1, False)],
)
def test_the_saturation_threshold(threshold: float | None, share: float, fired: bool) -> None:
    checker, seen = alerts(saturation=threshold, ratio=None)
    checker.check(record([1.0, 1.0, 1.0], shares=[share, math.nan, math.nan]), NAMES)
    assert [(a.condition, a.layer) for a in seen] == ([("saturated", "a")] if fired else [])
    if fired:
        assert f"{100 * share:.1f}% of its units" in seen[0].message


def test_bad_thresholds() -> None:
    with pytest.raises(BadInput, match="alert_ratio must be a number in"):
        Alerts(ratio=1.0)
    with pytest.raises(BadInput, match="alert_saturation must be a number in"):
        Alerts(saturation=1.5)
    with pytest.raises(BadInput, match="on_alert must be a callable"):
        Alerts(on_alert=3)  # type: ignore[arg-type]


# ---- through watch ---------------------------------------------------------------------------


def deep_sigmoid(seed: int = 0) -> nn.Sequential:
    """Five sigmoid layers with small weights: the early layers learn much slower."""
    torch.manual_seed(seed)
    layers: list[nn.Module] = []
    for _ in range(5):
        layers += [nn.Linear(8, 8), nn.Sigmoid()]
    return nn.Sequential(*layers, nn.Linear(8, 3))


def probe_set(n: int = 40) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(1)
    return torch.randn(n, 8, generator=g), torch.randint(0, 3, (n,), generator=g)


def test_watch_warns_by_default_with_the_numbers() -> None:
    model = deep_sigmoid()
    speeds = lst.watch(model, probe=probe_set(), alert_ratio=None).measure()["layer_speeds"]
    below = [f"'{i}'" for i, s in zip(range(0, 10, 2), speeds, strict=False) if s * 10 < speeds[-1]]
    assert below  # the deep sigmoid net does vanish: the test means something
    with pytest.warns(lst.LayerSpeedAlert) as caught:
        with lst.watch(model, probe=probe_set()):
            pass
    messages = [str(w.message) for w in caught]
    assert len(messages) == len(below)
    for name, message in zip(below, messages, strict=True):
        assert f"layer {name} vanishing at step 0, epoch 0" in message


def test_watch_calls_on_alert_once_per_condition_over_training() -> None:
    model = deep_sigmoid()
    opt = torch.optim.SGD(model.parameters(), lr=0.0)  # nothing changes: the alert holds
    seen: list[Alert] = []
    x, y = probe_set()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a handler given: no warning
        with lst.watch(model, every=1, probe=(x, y), on_alert=seen.append) as probe:
            for _ in range(4):
                opt.zero_grad()
                nn.functional.cross_entropy(model(x), y).backward()
                opt.step()
    assert len(probe.history) == 4
    assert seen and all(a.step == 0 for a in seen)  # fired at the first record only
    assert probe.alerts == seen
    names = {a.layer for a in seen}
    assert len(names) == len(seen)


def test_a_handler_that_raises_loses_no_record(tmp_path) -> None:
    def boom(alert: Alert) -> None:
        raise RuntimeError(alert.layer)

    model = deep_sigmoid()
    probe = lst.watch(model, probe=probe_set(), on_alert=boom)
    with pytest.raises(RuntimeError):
        with probe:
            pass
    assert len(probe.history) == 1 and not probe.attached
    run = probe.save(tmp_path / "run")
    assert [a["layer"] for a in run.result["alerts"]] == [a.layer for a in probe.alerts]
