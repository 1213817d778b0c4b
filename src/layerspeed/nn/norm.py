"""Batch normalization and skip connections: the forward and backward pass of a network that
has either, written out in NumPy.

Two of the remedies that came after the chapter (issue 13), as settings of
:class:`~layerspeed.nn.network.Network`:

- ``norm = "batch"`` (Ioffe & Szegedy 2015): each hidden layer normalizes its weighted input
  ``u = a @ w.T`` over the batch before the activation, ``z = gamma * (u - mean) / sqrt(var +
  EPS) + beta``, with a learned scale ``gamma`` and shift ``beta``. A bias ``b`` added to ``u``
  would be removed again by the mean, so it is dropped, and **the hidden layer's bias vector
  is beta**: ``net.biases[l]`` holds beta for a hidden layer of a batch-normalized network.
  So ``nabla_b`` is dC/dbeta, ``deltas[l]`` is dC/dz at the activation's input, as in the book,
  and the chapter's speed ``||dC/db^l||`` (:mod:`layerspeed.probes`) is ``||dC/dbeta^l||``.
  Training uses the batch's own mean and variance; evaluation (:func:`forward` with
  ``batch_stats=False``: accuracy, cost) uses running averages, updated after every training
  step with momentum :data:`MOMENTUM` from the batch's mean and unbiased variance (PyTorch's
  convention). The output layer is not normalized and keeps its bias.
- ``residual = True``: every hidden layer whose input width equals its output width carries
  its input past itself, ``a^l = a^{l-1} + sigma(z^l)`` (the first hidden layer, 784 -> 30,
  has no skip). The error then reaches layer ``l-1`` both through the weights and straight
  through the skip.

Index convention as in :mod:`layerspeed.nn.network`: ``weights[l]`` is the book's layer
``l + 2``; ``zs[l]`` is the input to layer ``l``'s activation (after the normalization).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple

import numpy as np

from layerspeed.nn.activations import sigmoid
from layerspeed.nn.costs import softmax

if TYPE_CHECKING:
    from layerspeed.nn.network import Gradients, Network

Array = np.ndarray

NORMS = ("none", "batch")
EPS = 1e-5  # added to the variance before the square root, as PyTorch does
MOMENTUM = 0.1  # running = (1 - MOMENTUM) * running + MOMENTUM * batch, as PyTorch does


class BatchCache(NamedTuple):
    """What one batch-normalized layer's forward pass keeps for the backward pass."""

    xhat: Array  # (n, n_out) the normalized weighted inputs
    inv_std: Array  # (n_out,) 1 / sqrt(var + EPS)
    mean: Array  # (n_out,) the batch mean of u
    var: Array  # (n_out,) the batch variance of u (biased, over n)


def batch_norm(u: Array, gamma: Array, beta: Array) -> tuple[Array, BatchCache]:
    """Normalize ``u`` (n, k) with its own batch statistics; returns ``z`` and the cache."""
    mean = u.mean(axis=0)  # (k,)
    centred = u - mean  # (n, k)
    var = np.mean(centred * centred, axis=0)  # (k,)
    inv_std = 1.0 / np.sqrt(var + EPS)
    xhat = centred * inv_std  # (n, k)
    return gamma * xhat + beta, BatchCache(xhat, inv_std, mean, var)


def batch_norm_backward(dz: Array, cache: BatchCache, gamma: Array) -> tuple[Array, Array]:
    """``dC/du`` (n, k) and ``dC/dgamma`` (k,) from ``dz = dC/dz`` (n, k).

    With ``g = gamma * dz`` (dC/dxhat): ``du = inv_std * (g - mean(g) - xhat * mean(g *
    xhat))``, the batch means taken over the examples; ``dC/dbeta`` is ``dz.sum(0)``.
    """
    g = dz * gamma  # (n, k)
    du = cache.inv_std * (g - g.mean(axis=0) - cache.xhat * np.mean(g * cache.xhat, axis=0))
    return du, np.sum(dz * cache.xhat, axis=0)


def batch_norm_eval(u: Array, gamma: Array, beta: Array, mean: Array, var: Array) -> Array:
    """Normalize ``u`` (n, k) with fixed (running) statistics."""
    return gamma * ((u - mean) / np.sqrt(var + EPS)) + beta


def update_running(net: Network, stats: list[tuple[Array, Array, int]]) -> None:
    """Move the running averages towards one training batch's (mean, biased var, n) per
    hidden layer, in place; the variance enters unbiased, ``var * n / (n - 1)``. A batch of
    one example has no variance to give and leaves them as they are."""
    assert net.running_means is not None and net.running_vars is not None
    for l, (mean, var, n) in enumerate(stats):
        if n < 2:
            continue
        unbiased = var * (n / (n - 1))
        rm, rv = net.running_means[l], net.running_vars[l]
        rm *= 1.0 - MOMENTUM
        rm += MOMENTUM * mean
        rv *= 1.0 - MOMENTUM
        rv += MOMENTUM * unbiased


def skips(sizes: tuple[int, ...], residual: bool) -> tuple[bool, ...]:
    """Which weight layers carry a skip: hidden layers whose input and output widths match."""
    hidden = len(sizes) - 2
    return tuple(residual and l < hidden and sizes[l] == sizes[l + 1] for l in range(hidden + 1))


def forward(
    net: Network, x: Array, *, batch_stats: bool
) -> tuple[list[Array], list[Array], list[BatchCache]]:
    """``zs``, ``activations`` and, with ``batch_stats``, each normalized layer's cache.

    ``batch_stats``: normalize with the batch's own statistics (training, the probe);
    otherwise with the running averages (evaluation).
    """
    act = net._act.fn
    skip = skips(net.sizes, net.residual)
    activations, zs, caches = [x], [], []
    a = x
    last = len(net.weights) - 1
    for l, (w, b) in enumerate(zip(net.weights, net.biases, strict=True)):
        u = a @ w.T  # (n, n_out)
        if l == last:
            z = u + b
            a = softmax(z) if net._cost.output == "softmax" else sigmoid(z)
        else:
            if net.norm == "batch":
                assert net.gammas is not None
                if batch_stats:
                    z, cache = batch_norm(u, net.gammas[l], b)
                    caches.append(cache)
                else:
                    assert net.running_means is not None and net.running_vars is not None
                    z = batch_norm_eval(
                        u, net.gammas[l], b, net.running_means[l], net.running_vars[l]
                    )
            else:
                z = u + b
            a = a + act(z) if skip[l] else act(z)
        zs.append(z)
        activations.append(a)
    return zs, activations, caches


def backprop(net: Network, x: Array, y: Array) -> Gradients:
    """Gradients summed over the batch, as :func:`layerspeed.nn.network.backprop` gives them,
    with ``nabla_gamma`` and the batch statistics of a batch-normalized network.

    With ``e = dC/da^l`` (n, n_l): ``delta^l = e * sigma'(z^l)``; through the normalization
    ``dC/du^l`` = :func:`batch_norm_backward`; ``dC/dw^l = (dC/du^l).T @ a^{l-1}``; and
    ``dC/da^{l-1} = dC/du^l @ w^l``, plus ``e`` itself where layer ``l`` has a skip.
    """
    from layerspeed.nn.network import Gradients

    zs, activations, caches = forward(net, x, batch_stats=True)
    prime = net._act.prime
    skip = skips(net.sizes, net.residual)
    bn = net.norm == "batch"
    n_layers = len(net.weights)
    last = n_layers - 1
    delta = net._cost.delta(zs[-1], activations[-1], y)  # (n, n_out)
    deltas: list[Array] = [delta] * n_layers
    nabla_b: list[Array] = [delta.sum(axis=0)] * n_layers
    nabla_w: list[Array] = [delta.T @ activations[last]] * n_layers
    nabla_gamma: list[Array] = []
    e = delta @ net.weights[last]  # (n, sizes[last]): dC/da of the last hidden layer
    for l in range(last - 1, -1, -1):
        delta = e * prime(zs[l])  # (n, n_l): dC/dz^l, dC_x/dbeta^l with batch norm
        deltas[l], nabla_b[l] = delta, delta.sum(axis=0)
        du = delta
        if bn:
            assert net.gammas is not None
            du, nabla_g = batch_norm_backward(delta, caches[l], net.gammas[l])
            nabla_gamma.insert(0, nabla_g)
        nabla_w[l] = du.T @ activations[l]  # (n_l, n_{l-1})
        if l:
            e = du @ net.weights[l] + e if skip[l] else du @ net.weights[l]
    stats = [(c.mean, c.var, len(x)) for c in caches] if bn else None
    return Gradients(nabla_b, nabla_w, deltas, activations, zs, nabla_gamma if bn else None, stats)
