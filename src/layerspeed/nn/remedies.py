"""The training step with the remedies of issue 13: per-layer learning rates and clipping.

The book's step is ``w -> (1 - eta*lmbda/n) w - eta g_w`` and ``b -> b - eta g_b`` with
``g = nabla / m`` the mini-batch's mean gradient. Here, in this order:

1. ``clip > 0``: when the global norm of ``g`` over every weight, bias and batch-norm scale
   exceeds ``clip``, all of ``g`` is scaled down to norm ``clip`` (the weight decay is not part
   of ``g``: it is the book's separate shrink). Under ``"lars"`` clipping changes nothing, as
   the trust ratio divides the scale out again, so it is not applied.
2. ``layer_lr`` scales the step of each layer ``l`` (its weights, biases and batch-norm
   scales alike) by a factor ``r_l``:

   - ``"lars"`` (You, Gitman & Ginsburg 2017, "Large batch training of convolutional
     networks"): ``r_l = LARS_TRUST * ||w^l|| / ||g_w^l||``, the trust ratio, so that every
     layer's weights move by the same fraction ``eta * LARS_TRUST`` of their norm a step, fast
     layer or slow. ``r_l = 1`` where either norm is zero. The paper's ratio also has the
     weight decay in its denominator; here the decay stays the book's separate shrink.
   - ``"equalize"``: ``r_l = speed^L / speed^l``, the inverse of layer ``l``'s speed relative
     to the last hidden layer's ``L``, with the speeds ``||g_b^l||`` of this very mini-batch
     (the chapter's measure, ``||dC/db^l||``, or ``||dC/dbeta^l||`` with batch norm). It is
     kept within ``[1/EQUALIZE_CAP, EQUALIZE_CAP]`` so a layer whose gradient happens to be
     near zero does not take a huge step. The output layer keeps ``r = 1``.
3. Batch norm's running averages move towards the batch's statistics
   (:func:`layerspeed.nn.norm.update_running`).

A network with batch norm or skips, or a run with ``layer_lr`` or ``clip``, trains here, one
mini-batch at a time through :func:`layerspeed.nn.network.backprop`, never on the compiled path.
"""

from __future__ import annotations

import math

import numpy as np

from layerspeed.errors import BadInput
from layerspeed.nn.network import Gradients, Network, backprop
from layerspeed.nn.norm import update_running

Array = np.ndarray

LAYER_LRS = ("none", "lars", "equalize")
# At the chapter's eta 0.1, every layer's weights move by eta * LARS_TRUST = 1% of their norm a
# step. You et al.'s trust coefficient, 0.001, goes with learning rates of 2 to 30; at eta 0.1
# it moves them 0.01% a step, and [784,30,30,30,30,10] stays at chance for 3 epochs on 10,000
# images (0.01: 10%, 0.05: 58%, 0.1: 81%, 0.2: 86% validation accuracy, one seed, measured).
LARS_TRUST = 0.1
EQUALIZE_CAP = 100.0  # no layer's step is scaled by more than 100, or less than 1/100


def _sq(a: Array) -> float:
    """The squared norm, without BLAS: its dot product spends more on threads than sums."""
    return float(np.sum(a * a))


def needs_remedies(net: Network, layer_lr: str = "none", clip: float = 0.0) -> bool:
    """Whether training ``net`` so takes this module's step instead of the book's."""
    return not net.plain or layer_lr != "none" or bool(clip)


def check(layer_lr: str, clip: float) -> None:
    if layer_lr not in LAYER_LRS:
        raise BadInput(f"unknown layer_lr {layer_lr!r}; choose one of: {', '.join(LAYER_LRS)}")
    if isinstance(clip, bool) or not (np.isfinite(clip) and clip >= 0):
        raise BadInput(f"clip must be a number >= 0 (0: off), got {clip!r}")


def clip_factor(grads: Gradients, m: int, clip: float) -> float:
    """What the mean gradient is multiplied by so its global norm is at most ``clip``."""
    if not clip:
        return 1.0
    parts = [*grads.nabla_w, *grads.nabla_b, *(grads.nabla_gamma or [])]
    norm = math.sqrt(sum(_sq(p) for p in parts)) / m
    return clip / norm if norm > clip else 1.0


def layer_factors(net: Network, grads: Gradients, m: int, layer_lr: str) -> list[float]:
    """Each weight layer's step factor ``r_l`` (see the module docstring)."""
    n_layers = len(net.weights)
    if layer_lr == "lars":
        out = []
        for w, nw in zip(net.weights, grads.nabla_w, strict=True):
            w_norm, g_norm = math.sqrt(_sq(w)), math.sqrt(_sq(nw)) / m
            out.append(LARS_TRUST * w_norm / g_norm if w_norm > 0 and g_norm > 0 else 1.0)
        return out
    if layer_lr == "equalize" and n_layers > 1:
        speeds = [math.sqrt(_sq(nb)) / m for nb in grads.nabla_b[:-1]]  # hidden layers
        ref = speeds[-1]
        out = [
            float(np.clip(ref / s, 1.0 / EQUALIZE_CAP, EQUALIZE_CAP)) if s > 0 else EQUALIZE_CAP
            for s in speeds
        ]
        return [*out, 1.0]
    return [1.0] * n_layers


def train_step(
    net: Network,
    grads: Gradients,
    *,
    eta: float,
    lmbda: float,
    n: int,
    m: int,
    layer_lr: str = "none",
    clip: float = 0.0,
) -> list[float]:
    """Apply one step to ``net`` in place; returns each layer's effective learning rate
    (``eta`` times the clip and layer factors), which the tests read."""
    if grads.batch_stats is not None:
        update_running(net, grads.batch_stats)
    # LARS's trust ratio holds ||g_w|| in its denominator: clipping g would change nothing.
    c = 1.0 if layer_lr == "lars" else clip_factor(grads, m, clip)
    rates = [eta * c * r / m for r in layer_factors(net, grads, m, layer_lr)]
    decay = 1.0 - eta * lmbda / n
    for l, (w, b) in enumerate(zip(net.weights, net.biases, strict=True)):
        if decay != 1.0:
            w *= decay
        w -= rates[l] * grads.nabla_w[l]
        b -= rates[l] * grads.nabla_b[l]
    if net.gammas is not None and grads.nabla_gamma is not None:
        for l, (g, ng) in enumerate(zip(net.gammas, grads.nabla_gamma, strict=True)):
            g -= rates[l] * ng
    return [r * m for r in rates]


def remedy_epoch(
    net: Network,
    x: Array,
    y: Array,
    order: Array,
    *,
    m: int,
    eta: float,
    lmbda: float,
    layer_lr: str = "none",
    clip: float = 0.0,
) -> None:
    """One epoch of mini-batch SGD over ``x[order]`` with :func:`train_step`."""
    n = len(x)
    for k in range(0, n, m):
        idx = order[k : k + m]
        grads = backprop(net, x.take(idx, axis=0), y.take(idx, axis=0))
        train_step(net, grads, eta=eta, lmbda=lmbda, n=n, m=len(idx),
                   layer_lr=layer_lr, clip=clip)  # fmt: skip
