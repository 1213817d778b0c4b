"""The feedforward network: parameters, forward pass and backpropagation, vectorized.

This is network2.py of the book as a library. Arrays are batch-first: an input batch ``x``
has shape ``(n, sizes[0])``. Weights keep the book's ``(n_out, n_in)`` shape, so a layer is
``z = a @ w.T + b``. Index convention: Python lists are 0-based, so ``weights[0]`` and
``biases[0]`` belong to the book's layer 2 (the first hidden layer), and ``deltas[0]`` is the
book's delta^2, which the chapter calls delta^1, "the first hidden layer".

Backprop returns every layer's error ``delta`` for every example, so a probe can read the
bias gradients dC/db^l = delta^l from the same pass that trains the network.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from layerspeed.errors import BadInput
from layerspeed.nn import norm as _norm
from layerspeed.nn.activations import Activation, get_activation
from layerspeed.nn.costs import Cost, cost_name, get_cost, softmax
from layerspeed.nn.init import get_initializer
from layerspeed.store import write_json_atomic

Array = np.ndarray


class Gradients(NamedTuple):
    """What one backward pass over a batch of ``n`` examples yields.

    nabla_b : list of (n_out,) arrays, the bias gradients summed over the batch.
    nabla_w : list of (n_out, n_in) arrays, the weight gradients summed over the batch.
    deltas  : list of (n, n_out) arrays, dC_x/dz^l for every example x (= dC_x/db^l).
    activations : list of (n, size) arrays, the activations of every layer, input first.
    zs      : list of (n, n_out) arrays, the weighted inputs of every layer but the input.
    nabla_gamma : with batch norm, the (n_out,) gradients of each hidden layer's scale.
    batch_stats : with batch norm, each hidden layer's batch (mean, biased variance, n).
    """

    nabla_b: list[Array]
    nabla_w: list[Array]
    deltas: list[Array]
    activations: list[Array]
    zs: list[Array]
    nabla_gamma: list[Array] | None = None
    batch_stats: list[tuple[Array, Array, int]] | None = None


@dataclass(eq=False)
class Network:
    """A fully connected network: ``sizes``, ``weights``, ``biases`` and its neurons and cost.

    Build one with :meth:`Network.create` (random, from a seed or Generator) or
    :meth:`Network.load` (network2's JSON format). ``norm`` and ``residual`` are the remedies
    of :mod:`layerspeed.nn.norm`; with ``norm = "batch"`` a hidden layer's ``biases`` are its
    shift beta, beside its scale in ``gammas`` and its running statistics.
    """

    sizes: tuple[int, ...]
    weights: list[Array]  # weights[l]: (sizes[l+1], sizes[l])
    biases: list[Array]  # biases[l]: (sizes[l+1],)
    activation: str = "sigmoid"  # the hidden layers' activation; the output's follows the cost
    cost: str = "cross-entropy"
    norm: str = "none"  # "batch": batch normalization before each hidden activation
    residual: bool = False  # skip connections over the hidden layers of equal width
    gammas: list[Array] | None = None  # batch norm's scale, one (n_l,) per hidden layer
    running_means: list[Array] | None = None  # batch norm's running averages, for evaluation
    running_vars: list[Array] | None = None
    _act: Activation = field(init=False, repr=False)
    _cost: Cost = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.sizes = tuple(int(s) for s in self.sizes)
        check_sizes(self.sizes)
        # C order, so that w.T is the Fortran-ordered view that BLAS updates in place.
        self.weights = [np.ascontiguousarray(w) for w in self.weights]
        self.biases = [np.ascontiguousarray(b) for b in self.biases]
        if self.weights and self.weights[0].dtype not in (np.float32, np.float64):
            raise BadInput(f"weights of dtype {self.weights[0].dtype}: use float64 or float32")
        self._act = get_activation(self.activation)
        self._cost = get_cost(self.cost)
        self.cost = cost_name(self._cost)
        if len(self.weights) != len(self.sizes) - 1 or len(self.biases) != len(self.sizes) - 1:
            raise BadInput(
                f"a network of sizes {list(self.sizes)} needs {len(self.sizes) - 1} weight "
                f"matrices and bias vectors, got {len(self.weights)} and {len(self.biases)}"
            )
        for l, (w, b) in enumerate(zip(self.weights, self.biases, strict=True)):
            want = (self.sizes[l + 1], self.sizes[l])
            if w.shape != want or b.shape != (want[0],):
                raise BadInput(
                    f"layer {l + 1}: weights have shape {w.shape} and biases {b.shape}, "
                    f"expected {want} and {(want[0],)} for sizes {list(self.sizes)}"
                )
        self._check_norm()

    def _check_norm(self) -> None:
        if self.norm not in _norm.NORMS:
            raise BadInput(f"unknown norm {self.norm!r}; choose one of: {', '.join(_norm.NORMS)}")
        if self.norm == "none":
            self.gammas = self.running_means = self.running_vars = None
            return
        hidden = self.sizes[1:-1]
        dt = self.dtype
        defaults = {"gammas": np.ones, "running_means": np.zeros, "running_vars": np.ones}
        for name, make in defaults.items():
            given = getattr(self, name)
            if given is None:
                given = [make(k, dtype=dt) for k in hidden]
            if len(given) != len(hidden) or any(
                np.shape(g) != (k,) for g, k in zip(given, hidden, strict=False)
            ):
                raise BadInput(f"batch norm's {name} must be one vector per hidden layer {hidden}")
            setattr(self, name, [np.array(g, dtype=dt) for g in given])
        assert self.running_vars is not None
        for l, v in enumerate(self.running_vars):
            bad = v[~(np.isfinite(v) & (v >= 0))]
            if bad.size:
                raise BadInput(
                    f"batch norm's running variance of hidden layer {l + 1} holds {bad[0]}; "
                    "a variance is a finite number >= 0"
                )

    @property
    def plain(self) -> bool:
        """Whether the network is the book's: no batch norm, no skips (the fast path's kind)."""
        return self.norm == "none" and not self.residual

    def _remedy_fields(self) -> dict[str, Any]:
        out: dict[str, Any] = {"norm": self.norm, "residual": self.residual}
        for name in ("gammas", "running_means", "running_vars"):
            arrays = getattr(self, name)
            out[name] = None if arrays is None else [a.copy() for a in arrays]
        return out

    @classmethod
    def create(
        cls,
        sizes: tuple[int, ...] | list[int],
        *,
        rng: np.random.Generator | int,
        init: str = "default",
        gain: float = 1.0,
        activation: str = "sigmoid",
        cost: str = "cross-entropy",
        dtype: str | np.dtype = "float64",
        bias_gain: float = 1.0,
        norm: str = "none",
        residual: bool = False,
    ) -> Network:
        """A randomly initialized network.

        Layer by layer, each layer's biases and then its weights are drawn from ``rng`` (a
        Generator, or a seed for ``numpy.random.default_rng``). ``bias_gain`` multiplies the
        drawn biases (sigma_b); batch norm's scales start at 1, its shifts are the biases.
        """
        sizes = tuple(int(s) for s in sizes)
        check_sizes(sizes)
        gen = np.random.default_rng(rng)
        initializer = get_initializer(init)
        pairs = [
            initializer(gen, n_in, n_out, gain)
            for n_in, n_out in zip(sizes[:-1], sizes[1:], strict=False)
        ]
        dt = np.dtype(dtype)
        return cls(
            sizes=sizes,
            weights=[w.astype(dt) for w, _ in pairs],
            biases=[(b if bias_gain == 1.0 else bias_gain * b).astype(dt) for _, b in pairs],
            activation=activation,
            cost=cost,
            norm=norm,
            residual=residual,
        )

    @property
    def dtype(self) -> np.dtype:
        return self.weights[0].dtype

    @property
    def num_hidden(self) -> int:
        return len(self.sizes) - 2

    def copy(self) -> Network:
        return Network(
            sizes=self.sizes,
            weights=[w.copy() for w in self.weights],
            biases=[b.copy() for b in self.biases],
            activation=self.activation,
            cost=self.cost,
            **self._remedy_fields(),
        )

    def astype(self, dtype: str | np.dtype) -> Network:
        net = self.copy()
        net.weights = [w.astype(dtype) for w in net.weights]
        net.biases = [b.astype(dtype) for b in net.biases]
        for name in ("gammas", "running_means", "running_vars"):
            if getattr(net, name) is not None:
                setattr(net, name, [a.astype(dtype) for a in getattr(net, name)])
        return net

    # ---- network2's JSON format -------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """network2's ``save`` format, plus our ``activation`` (network2 ignores extra keys),
        and the remedies' settings and parameters where they are not the book's."""
        out: dict[str, Any] = {
            "sizes": list(self.sizes),
            "weights": [w.tolist() for w in self.weights],
            "biases": [b.reshape(-1, 1).tolist() for b in self.biases],  # network2: (n, 1)
            "cost": self._cost.book_name,
            "activation": self.activation,
        }
        if self.residual:
            out["residual"] = True
        if self.norm != "none":
            out["norm"] = self.norm
            for name in ("gammas", "running_means", "running_vars"):
                out[name] = [a.tolist() for a in getattr(self, name)]
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any], *, source: str = "network") -> Network:
        if not isinstance(data.get("sizes"), list):
            raise BadInput(f"{source}: 'sizes' must be a list of layer sizes, e.g. [784, 30, 10]")
        if any(isinstance(s, bool) or not isinstance(s, int) for s in data["sizes"]):
            raise BadInput(
                f"{source}: sizes {data['sizes']} must be whole numbers of neurons, "
                "e.g. [784, 30, 10]"
            )
        try:
            sizes = tuple(int(s) for s in data["sizes"])
            weights = [np.asarray(w, dtype=np.float64) for w in data["weights"]]
            biases = [np.asarray(b, dtype=np.float64).reshape(-1) for b in data["biases"]]
            cost = str(data.get("cost", "CrossEntropyCost"))
            activation = str(data.get("activation", "sigmoid"))
            remedies: dict[str, Any] = {
                "norm": str(data.get("norm", "none")),
                "residual": data.get("residual", False),
            }
            for name in ("gammas", "running_means", "running_vars"):
                if name in data:
                    remedies[name] = [np.asarray(a, dtype=np.float64) for a in data[name]]
        except (KeyError, TypeError, ValueError) as e:
            raise BadInput(
                f"{source} is not a network in network2's JSON format "
                f"(needs sizes, weights, biases, cost): {e}"
            ) from None
        if not isinstance(remedies["residual"], bool):
            raise BadInput(f"{source}: 'residual' must be true or false")
        extra = [
            a for k in ("gammas", "running_means", "running_vars") for a in remedies.get(k, [])
        ]
        if not all(np.isfinite(a).all() for a in weights + biases + extra):
            raise BadInput(f"{source}: a weight, bias or batch-norm statistic is NaN or infinite")
        try:
            return cls(
                sizes=sizes, weights=weights, biases=biases, activation=activation, cost=cost,
                **remedies,
            )  # fmt: skip
        except BadInput as e:  # name the file
            raise BadInput(f"{source}: {e}") from None

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the network as JSON, atomically: a finished file is never half-written."""
        write_json_atomic(Path(path), self.to_dict())

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Network:
        p = Path(path)
        try:
            data = json.loads(p.read_text())
        except FileNotFoundError:
            raise BadInput(f"{p}: no such file") from None
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
            raise BadInput(f"{p} is not readable JSON: {e}") from None
        if not isinstance(data, dict):
            raise BadInput(f"{p} is not a network in network2's JSON format")
        return cls.from_dict(data, source=str(p))


def check_sizes(sizes: tuple[int, ...]) -> None:
    if len(sizes) < 2 or any(s <= 0 for s in sizes):
        raise BadInput(f"layer sizes {list(sizes)}: need at least two layers, all positive")


# ---- the numerical core -------------------------------------------------------------------


def _output(net: Network, z: Array) -> Array:
    return softmax(z) if net._cost.output == "softmax" else get_activation("sigmoid").fn(z)


def forward(net: Network, x: Array) -> tuple[list[Array], list[Array]]:
    """All weighted inputs ``zs`` and activations of a batch ``x`` of shape (n, sizes[0]).

    A network with batch norm is evaluated with its running statistics here.
    """
    if not net.plain:
        zs_, activations_, _ = _norm.forward(net, x, batch_stats=False)
        return zs_, activations_
    act = net._act.fn
    activations = [x]
    zs = []
    a = x
    last = len(net.weights) - 1
    for l, (w, b) in enumerate(zip(net.weights, net.biases, strict=True)):
        z = a @ w.T + b  # (n, n_out)
        a = _output(net, z) if l == last else act(z)
        zs.append(z)
        activations.append(a)
    return zs, activations


def feedforward(net: Network, x: Array) -> Array:
    """The network's output for a batch ``x``: shape (n, sizes[-1])."""
    return forward(net, x)[1][-1]


def backprop(net: Network, x: Array, y: Array) -> Gradients:
    """Gradients of the cost summed over the batch (x: (n, n_in), y: (n, n_out)).

    The four equations of chapter 2 as matrix algebra over the whole batch:
    delta^L = cost delta, delta^l = (delta^{l+1} @ w^{l+1}) * sigma'(z^l),
    dC/db^l = delta^l, dC/dw^l = delta^l (outer) a^{l-1}.
    A network with batch norm or skips goes through :func:`layerspeed.nn.norm.backprop`,
    normalizing with the batch's own statistics.
    """
    if not net.plain:
        return _norm.backprop(net, x, y)
    zs, activations = forward(net, x)
    prime = net._act.prime
    delta = net._cost.delta(zs[-1], activations[-1], y)  # (n, n_out)
    n_layers = len(net.weights)
    deltas: list[Array] = [delta] * n_layers
    nabla_b: list[Array] = [delta] * n_layers
    nabla_w: list[Array] = [delta] * n_layers
    for l in range(n_layers - 1, -1, -1):
        if l < n_layers - 1:
            delta = (delta @ net.weights[l + 1]) * prime(zs[l])  # (n, sizes[l+1])
        deltas[l] = delta
        nabla_b[l] = delta.sum(axis=0)
        nabla_w[l] = delta.T @ activations[l]  # (n_out, n_in), summed over the batch
    return Gradients(nabla_b, nabla_w, deltas, activations, zs)


def total_cost(net: Network, x: Array, y: Array, lmbda: float = 0.0) -> float:
    """network2's ``total_cost``: the mean cost plus the L2 term 0.5 (lmbda/n) sum ||w||^2.

    As in the book, ``n`` is the number of examples in the data being costed.
    """
    zs, activations = forward(net, x)
    c = float(np.mean(net._cost.fn(zs[-1], activations[-1], y)))
    if lmbda:
        c += 0.5 * (lmbda / len(x)) * sum(float(np.sum(w * w)) for w in net.weights)
    return c


def accuracy(net: Network, x: Array, labels: Array) -> float:
    """The fraction of ``x`` whose most active output neuron is its label."""
    return float(np.mean(np.argmax(feedforward(net, x), axis=1) == labels))
