"""The chapter's speed of learning, measured in your own PyTorch model.

::

    import layerspeed.torch as lst

    with lst.watch(model, every=None, probe=(x_probe, y_probe)) as probe:
        for epoch in range(epochs):
            for x, y in loader:
                loss = loss_fn(model(x), y); opt.zero_grad(); loss.backward(); opt.step()
            probe.epoch_end()
    probe.history          # one record per measurement, the NumPy probe's keys
    probe.save("run/")     # the run folder of layerspeed.store: `layerspeed report run/`

PyTorch is an optional dependency (``pip install "layerspeed[torch]"``); the rest of
layerspeed never imports it. See :mod:`layerspeed.torch.probe` for what is measured and when;
:mod:`~layerspeed.torch.hooks` finds the layers and counts saturation,
:mod:`~layerspeed.torch.measure` takes one measurement, :mod:`~layerspeed.torch.loss` is the
probe's default cost, :mod:`~layerspeed.torch.alerts` raises the live alerts;
:mod:`~layerspeed.torch.models` holds real architectures (a ResNet-18 shape, a Transformer,
an LSTM) to try it on.
"""

from __future__ import annotations

try:
    import torch  # noqa: F401  (absolute: the real PyTorch, not this package)
except ImportError as e:  # also when sys.modules["torch"] is None
    raise ImportError(
        'layerspeed.torch needs PyTorch, an optional extra: pip install "layerspeed[torch]"'
    ) from e

from layerspeed.torch import models
from layerspeed.torch.alerts import Alert, LayerSpeedAlert
from layerspeed.torch.hooks import SATURATING, Layer, find_layers
from layerspeed.torch.loss import book_cross_entropy, default_loss
from layerspeed.torch.probe import Probe, watch

__all__ = [
    "SATURATING",
    "Alert",
    "LayerSpeedAlert",
    "Layer",
    "Probe",
    "book_cross_entropy",
    "default_loss",
    "find_layers",
    "models",
    "watch",
]
