"""What is measured: how fast each hidden layer learns, the chapter's "speed of learning".

The chapter writes delta^l_j = dC/db^l_j and takes the length ||delta^l|| of a hidden layer's
vector of bias gradients as a (rough) global measure of how quickly the layer learns. Its
program averages the bias gradients over the first 1000 training images and then takes the
norm: the norm of the average, ``||mean_x dC_x/db^l||``, which is what ``layer_speeds`` holds.
Beside it, clearly apart, are two numbers that can tell a different story when the signs of
the per-example gradients cancel: ``mean_example_norms``, the average of the per-example
norms ``E_x ||delta^l_x||``, and ``weight_grad_norms``, ``||mean_x dC_x/dw^l||``.

All of it comes from one batched backward pass, or from none: during full-batch training the
probe reads the gradient of the training step itself.

In a batch-normalized network (``norm = "batch"``, :mod:`layerspeed.nn.norm`) a hidden layer's
bias is its shift beta, so its speed is ``||mean_x dC_x/dbeta^l||``, and the probe normalizes
the 1000 images with their own batch statistics (training mode), as one mini-batch of 1000.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from layerspeed.nn.network import Gradients, Network, backprop
from layerspeed.nn.train import FullBatch

Array = np.ndarray


@dataclass(frozen=True)
class SpeedReport:
    """The speed of learning of each hidden layer (index 0 is the first hidden layer)."""

    layer_speeds: list[float]  # ||mean_x dC_x/db^l||, the book's measure
    mean_example_norms: list[float]  # E_x ||dC_x/db^l||
    weight_grad_norms: list[float]  # ||mean_x dC_x/dw^l||, Frobenius norm
    neuron_gradients: list[list[float]]  # mean_x dC_x/db^l_j, one list per hidden layer

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def measure(grads: Gradients) -> SpeedReport:
    """The speeds of the hidden layers from one backward pass over the probe set."""
    n = len(grads.deltas[0])
    hidden = range(len(grads.deltas) - 1)  # every layer but the output
    mean_b = [grads.nabla_b[l] / n for l in hidden]  # (n_l,) each
    return SpeedReport(
        layer_speeds=[float(np.linalg.norm(g)) for g in mean_b],
        mean_example_norms=[
            float(np.mean(np.linalg.norm(grads.deltas[l], axis=1))) for l in hidden
        ],
        weight_grad_norms=[float(np.linalg.norm(grads.nabla_w[l] / n)) for l in hidden],
        neuron_gradients=[g.tolist() for g in mean_b],
    )


def layer_speeds(net: Network, x: Array, y: Array) -> SpeedReport:
    """Measure ``net`` on the probe set ``x`` (n, n_in) with desired outputs ``y`` (n, n_out)."""
    return measure(backprop(net, np.asarray(x, dtype=net.dtype), np.asarray(y, dtype=net.dtype)))


def diagnostics(net: Network, grads: Gradients, *, eta: float) -> dict[str, list[float]]:
    """Further per-hidden-layer health numbers from the same backward pass.

    update_ratio    ||eta dC/dW|| / ||W||, the relative size of a full-batch step
    saturated_share share of (example, unit) pairs whose derivative is below 1% of its maximum
    dead_share      share of units never active (z <= 0) on the whole probe set (ReLU-like)
    activation_mean, activation_std  over all examples and units of the layer
    """
    act = net._act
    n = len(grads.deltas[0])
    out: dict[str, list[float]] = {
        "update_ratio": [],
        "saturated_share": [],
        "dead_share": [],
        "activation_mean": [],
        "activation_std": [],
    }
    for l in range(len(net.weights) - 1):
        z = grads.zs[l]  # (n, n_l)
        a = grads.activations[l + 1]  # (n, n_l)
        w_norm = float(np.linalg.norm(net.weights[l]))
        step = eta * float(np.linalg.norm(grads.nabla_w[l] / n))
        out["update_ratio"].append(step / w_norm if w_norm > 0 else float("inf"))
        out["saturated_share"].append(float(np.mean(act.prime(z) < 0.01 * act.max_prime)))
        out["dead_share"].append(float(np.mean(np.all(z <= 0, axis=0))))
        out["activation_mean"].append(float(np.mean(a)))
        out["activation_std"].append(float(np.std(a)))
    return out


class SpeedProbe:
    """An epoch callback for :func:`layerspeed.nn.sgd` that records the layers' speeds.

    It measures on a fixed probe set before each epoch's update. When training is full-batch
    on that same set it reuses the step's gradient instead of a second backward pass.
    With ``eta`` given it also records :func:`diagnostics`; with ``neurons`` the per-neuron
    gradients.
    """

    def __init__(
        self, x: Array, y: Array, *, eta: float | None = None, neurons: bool = False
    ) -> None:
        self.x = x
        self.y = y
        self.eta = eta
        self.neurons = neurons
        self.backward_passes = 0  # how many extra passes it needed; tests read this

    def _is_probe_set(self, full_batch: FullBatch) -> bool:
        def same(a: Array, b: Array) -> bool:
            return a is b or (a.shape == b.shape and np.array_equal(a, b))

        return same(full_batch.x, self.x) and same(full_batch.y, self.y)

    def __call__(self, epoch: int, net: Network, full_batch: FullBatch | None) -> Mapping[str, Any]:
        if full_batch is not None and self._is_probe_set(full_batch):
            grads = full_batch.grads
        else:
            self.backward_passes += 1
            grads = backprop(
                net, np.asarray(self.x, dtype=net.dtype), np.asarray(self.y, dtype=net.dtype)
            )
        report = measure(grads)
        record: dict[str, Any] = {
            "layer_speeds": report.layer_speeds,
            "mean_example_norms": report.mean_example_norms,
            "weight_grad_norms": report.weight_grad_norms,
        }
        if self.neurons:
            record["neuron_gradients"] = report.neuron_gradients
        if self.eta is not None:
            record.update(diagnostics(net, grads, eta=self.eta))
        return record
