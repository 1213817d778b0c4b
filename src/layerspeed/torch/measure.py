"""One measurement of a PyTorch model's layers: from ``.grad``, or from the probe set.

:func:`measure_training` reads the gradients the training step's backward pass left in
``.grad``; :func:`measure_probe` takes the book's measurement, one extra batched forward and
backward pass over the probe set through ``torch.autograd.grad``, off the books. Both return
one record of per-layer lists (see :mod:`layerspeed.torch.probe` for the keys);
:func:`update_ratios` fills in the step the optimizer then took.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor, nn
from torch.nn import Module

from layerspeed.errors import BadInput
from layerspeed.torch.hooks import Capture, Layer, Watched
from layerspeed.torch.loss import LossFn


def _mean_example_norm(module: Module, grad_z: Tensor, n: int) -> float:
    """E_x ||dC_x/db|| from dC/dz of a mean-over-examples cost (so dC_x/dz = n dC/dz_x)."""
    if isinstance(module, nn.Linear) and grad_z.ndim == 2:
        per_example = grad_z  # (n, n_out)
    elif isinstance(module, nn.Linear):  # (n, ..., n_out): the bias is added at every position
        per_example = grad_z.reshape(n, -1, grad_z.shape[-1]).sum(dim=1)
    elif isinstance(module, nn.modules.conv._ConvNd):
        per_example = grad_z.sum(dim=tuple(range(2, grad_z.ndim)))  # (n, channels)
    else:
        return math.nan
    return n * float(torch.linalg.vector_norm(per_example, dim=1, dtype=torch.float64).mean())


def _has_example_norm(layer: Layer) -> bool:
    """Whether :func:`_mean_example_norm` applies: a bias, in a Linear or Conv layer."""
    return layer.bias is not None and isinstance(layer.module, (nn.Linear, nn.modules.conv._ConvNd))


def _grad_norm(tensors: Sequence[Tensor | None]) -> float:
    """The Euclidean norm of all the tensors together; NaN when any is missing."""
    present = [t for t in tensors if t is not None]
    if not present or len(present) < len(tensors):
        return math.nan
    norms = [float(torch.linalg.vector_norm(t.detach(), dtype=torch.float64)) for t in present]
    return norms[0] if len(norms) == 1 else math.hypot(*norms)


def _zeros_if_none(grad: Tensor | None, p: Tensor) -> Tensor:
    # A parameter the probe's forward pass did not use has a zero gradient there.
    return torch.zeros_like(p) if grad is None else grad


def _record(
    layers: list[Layer],
    bias_grads: list[Tensor | None],
    weight_grads: list[list[Tensor | None]],
    saturated: list[float],
    *,
    source: str,
    example_norms: list[float] | None = None,
) -> dict[str, Any]:
    """The record's per-layer lists, in the order the history has always kept them."""
    w_norms = [_grad_norm(g) for g in weight_grads]
    speeds = [
        _grad_norm([b]) if layer.bias is not None else w
        for layer, b, w in zip(layers, bias_grads, w_norms, strict=True)
    ]
    out: dict[str, Any] = {
        "source": source,
        "layer_speeds": speeds,
        "weight_grad_norms": w_norms,
    }
    if example_norms is not None:
        out["mean_example_norms"] = example_norms
    out["update_ratio"] = [math.nan] * len(layers)
    out["saturated_share"] = saturated
    out["speed_source"] = [layer.speed_source for layer in layers]
    return out


def measure_training(layers: list[Layer], capture: Capture | None) -> dict[str, Any]:
    """From ``.grad``, as left by the training step's backward pass; saturation from
    ``capture`` (NaN without one)."""
    saturated = capture.shares() if capture is not None else [math.nan] * len(layers)
    return _record(
        layers,
        [layer.bias.grad if layer.bias is not None else None for layer in layers],
        [[p.grad for p in layer.weights] for layer in layers],
        saturated,
        source="training",
    )


def measure_probe(
    model: Module,
    layers: list[Layer],
    watched: Watched,
    probe_set: tuple[Tensor, Tensor],
    loss_fn: LossFn,
    cuda_devices: list[int],
) -> tuple[dict[str, Any], Capture]:
    """One extra forward and backward pass over the probe set, off the books.

    Neither ``.grad`` nor the optimizer state changes; the model's buffers and the random
    number generators of the CPU and of ``cuda_devices`` are put back. Returns the record
    and the (removed) capture, whose ``kind`` names each layer's saturating module.
    """
    x, y = probe_set
    params = [p for layer in layers for p in layer.params]
    live = list(model.buffers())
    saved = [b.detach().clone() for b in live]
    capture = Capture(watched, keep_outputs=True, own_mode=False)
    try:
        with torch.random.fork_rng(cuda_devices, device_type="cuda"), torch.enable_grad():
            with capture.mode:  # sees sigmoid and tanh in the forward pass, not in the loss
                output = model(x)
            loss = loss_fn(output, y)
            zs = [
                outs[0] if len(outs) == 1 and _has_example_norm(layer) else None
                for layer, outs in zip(layers, capture.outputs, strict=True)
            ]
            wrt = params + [z for z in zs if z is not None and z.requires_grad]
            grads = torch.autograd.grad(loss, wrt, allow_unused=True)
    finally:
        capture.remove()
        with torch.no_grad():
            for b, old in zip(live, saved, strict=True):
                b.copy_(old)
    by_param = dict(zip(map(id, params), grads[: len(params)], strict=True))
    z_grads = iter(grads[len(params) :])
    n = x.shape[0]
    example_norms = []
    for layer, z in zip(layers, zs, strict=True):
        gz = next(z_grads) if z is not None and z.requires_grad else None
        if layer.bias is None or gz is None:
            example_norms.append(math.nan)
        else:
            example_norms.append(_mean_example_norm(layer.module, gz, n))
    record = _record(
        layers,
        [
            _zeros_if_none(by_param[id(layer.bias)], layer.bias) if layer.bias is not None else None
            for layer in layers
        ],
        [[_zeros_if_none(by_param[id(p)], p) for p in layer.weights] for layer in layers],
        capture.shares(),
        source="probe",
        example_norms=example_norms,
    )
    return record, capture


def first_weights(layers: list[Layer]) -> list[Tensor]:
    """A copy of each layer's first weight, for :func:`update_ratios` after the next step."""
    return [layer.weights[0].detach().clone() for layer in layers if layer.weights]


def update_ratios(layers: list[Layer], before: list[Tensor]) -> list[float]:
    """||W_after - W_before|| / ||W_before|| per layer; NaN for a layer without weights."""
    ratios: list[float] = []
    old = iter(before)
    for layer in layers:
        if not layer.weights:
            ratios.append(math.nan)
            continue
        w0 = next(old)
        w_norm = float(torch.linalg.vector_norm(w0.double()))
        step = float(torch.linalg.vector_norm((layer.weights[0].detach() - w0).double()))
        ratios.append(step / w_norm if w_norm > 0 else math.inf)
    return ratios


def as_probe_set(model: Module, probe: tuple[Any, Any]) -> tuple[Tensor, Tensor]:
    """``probe = (x, y)`` as tensors on the model's device, floats in its dtype."""
    try:
        x, y = probe
    except (TypeError, ValueError):
        raise BadInput(f"probe must be a pair (x, y) or None, got {type(probe).__name__}") from None
    first = next(model.parameters(), None)
    device = first.device if first is not None else torch.device("cpu")
    dtype = first.dtype if first is not None else torch.get_default_dtype()
    x, y = torch.as_tensor(x), torch.as_tensor(y)
    if x.shape[0] != y.shape[0] or x.shape[0] == 0:
        raise BadInput(
            f"the probe set needs as many targets as inputs, at least one: got {x.shape[0]} "
            f"inputs and {y.shape[0]} targets"
        )

    def place(t: Tensor) -> Tensor:
        return t.to(device=device, dtype=dtype if t.is_floating_point() else t.dtype)

    return place(x), place(y)
