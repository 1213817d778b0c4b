"""Mini-batch stochastic gradient descent, network2's ``SGD`` as a function.

The step is the book's: ``w -> (1 - eta*lmbda/n) w - (eta/m) sum_x dC_x/dw`` and
``b -> b - (eta/m) sum_x dC_x/db``, with ``n`` the training-set size and ``m`` the
mini-batch's. Measurement hooks in as callbacks: each ``EpochCallback`` is called before an
epoch's update and returns the numbers to add to that epoch's record. When the mini-batch is
the whole training set (the chapter's full-batch runs) the callback also receives the
gradient that the step is about to use, so it can measure without a second backward pass.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple, Protocol

import numpy as np
from scipy.linalg.blas import dgemm, sgemm

from layerspeed.errors import BadInput, DivergenceError
from layerspeed.nn import fast, remedies
from layerspeed.nn.activations import sigmoid
from layerspeed.nn.costs import softmax
from layerspeed.nn.network import Gradients, Network, accuracy, backprop, total_cost

Array = np.ndarray


class FullBatch(NamedTuple):
    """The whole training set and the gradient of this epoch's single step on it."""

    x: Array  # (n, n_in)
    y: Array  # (n, n_out)
    grads: Gradients


class EpochCallback(Protocol):
    def __call__(
        self, epoch: int, net: Network, full_batch: FullBatch | None
    ) -> Mapping[str, Any] | None: ...


@dataclass
class History:
    """One record per epoch: ``{"epoch": e, "training_cost": ..., ...}``.

    Accuracy and cost describe the network after epoch ``e``'s updates; whatever the
    callbacks measured describes it before them (so record 0 holds the initial network).
    """

    epochs: list[dict[str, Any]] = field(default_factory=list)

    def series(self, key: str) -> list[Any]:
        """The values of ``key`` over the epochs, e.g. ``history.series("evaluation_accuracy")``."""
        return [r[key] for r in self.epochs if key in r]

    @property
    def evaluation_accuracy(self) -> list[float]:
        return self.series("evaluation_accuracy")

    @property
    def training_cost(self) -> list[float]:
        return self.series("training_cost")


@dataclass(frozen=True)
class SGDConfig:
    """Hyper-parameters of :func:`sgd`, checked when made."""

    epochs: int = 30  # passes over the training set
    mini_batch_size: int = 10  # m; at least the training-set size means full-batch descent
    eta: float = 0.1  # learning rate
    lmbda: float = 5.0  # L2 regularization; the decay uses the training-set size n
    layer_lr: str = "none"  # "lars" or "equalize": per-layer steps (nn.remedies)
    clip: float = 0.0  # clip the mean gradient's global norm to this; 0: off

    def __post_init__(self) -> None:
        remedies.check(self.layer_lr, self.clip)
        if self.epochs < 0:
            raise BadInput(f"epochs must be >= 0, got {self.epochs}")
        if self.mini_batch_size < 1:
            raise BadInput(f"mini-batch size must be >= 1, got {self.mini_batch_size}")
        if not (np.isfinite(self.eta) and self.eta > 0):
            raise BadInput(f"eta must be a positive number, got {self.eta}")
        if not (np.isfinite(self.lmbda) and self.lmbda >= 0):
            raise BadInput(f"lmbda must be a non-negative number, got {self.lmbda}")


def check_decay(eta: float, lmbda: float, n: int, *, n_name: str = "n") -> None:
    """Refuse a weight decay factor ``1 - eta*lmbda/n`` below zero: every step would flip the
    weights' sign and, above 2, make them grow."""
    decay = 1.0 - eta * lmbda / n
    if decay < 0:
        raise BadInput(
            f"eta {eta:g} x lmbda {lmbda:g} / {n_name} {n} makes the weight decay factor "
            f"1 - eta*lmbda/n = {decay:.3g} negative; give a smaller eta or lmbda "
            f"(eta*lmbda at most {n})"
        )


def divergence_hint(net: Network, *, eta: float, lmbda: float, n: int) -> str:
    """What to try after a divergence, fitted to the run: the weight decay when it is what
    shrinks the weights by half or more a step, float64 only for a float32 run."""
    decay = eta * lmbda / n
    tries = []
    if decay > 0.5:
        tries.append(f"a smaller --lmbda (the weight decay eta*lmbda/n is {decay:.3g} a step)")
    tries.append(f"a smaller --eta (now {eta:g})")
    tries.append("a smaller weight initialization")
    if net.dtype == np.float32:
        tries.append("--dtype float64")
    return "try " + ", ".join(tries[:-1]) + " or " + tries[-1]


def step(net: Network, grads: Gradients, *, eta: float, lmbda: float, n: int, m: int) -> None:
    """Apply one SGD step to ``net`` in place (the book's ``update_mini_batch``)."""
    decay = 1.0 - eta * lmbda / n
    scale = eta / m
    for w, nw in zip(net.weights, grads.nabla_w, strict=True):
        if decay != 1.0:
            w *= decay
        w -= scale * nw
    for b, nb in zip(net.biases, grads.nabla_b, strict=True):
        b -= scale * nb


def minibatch_epoch(
    net: Network, x: Array, y: Array, order: Array, *, m: int, eta: float, lmbda: float
) -> None:
    """One epoch of mini-batch SGD over ``x[order]``, updating ``net`` in place.

    The same arithmetic as ``step(net, backprop(net, xb, yb), ...)`` for each mini-batch
    ``xb``, fused for speed: at mini-batch 10 the time goes to Python overhead and to small
    matrix products, so each layer's weight update is one BLAS ``gemm`` that computes
    ``decay * w - (eta/m) * delta.T @ a`` in place, without forming ``nabla_w``. Layer ``l``'s
    weights are updated only after they have carried the error back to layer ``l - 1``.
    """
    n = len(x)
    weights, biases = net.weights, net.biases
    for l, w in enumerate(weights):
        # gemm updates ``w.T`` in place only when ``w`` is C-ordered; anything else would
        # be a silently dropped update, so make it so (the weights may have been replaced).
        if not w.flags.c_contiguous or w.dtype != net.dtype:
            weights[l] = np.ascontiguousarray(w, dtype=net.dtype)
    fn, prime_of_output = net._act.fn, net._act.prime_of_output
    out_fn = sigmoid if net._cost.output == "sigmoid" else softmax
    cost_delta = net._cost.delta
    gemm = dgemm if net.dtype == np.float64 else sgemm
    w_t = [w.T for w in weights]  # (n_in, n_out), Fortran-ordered views gemm updates in place
    last = len(weights) - 1
    decay = 1.0 - eta * lmbda / n
    for k in range(0, n, m):
        idx = order[k : k + m]
        a = x.take(idx, axis=0)  # (m, n_in)
        activations = [a]
        for l in range(last + 1):
            z = a @ w_t[l]  # (m, n_out)
            z += biases[l]
            a = out_fn(z) if l == last else fn(z)
            activations.append(a)
        delta = cost_delta(z, a, y.take(idx, axis=0))  # (m, n_out); z is the output layer's
        scale = eta / len(idx)
        for l in range(last, -1, -1):
            # The error reaches layer l - 1 through the weights before they are updated.
            back = (delta @ weights[l]) * prime_of_output(activations[l]) if l else delta
            # activations[l].T is Fortran-ordered already: gemm takes it without a copy.
            gemm(-scale, activations[l].T, delta, beta=decay, c=w_t[l], overwrite_c=True)
            biases[l] -= scale * delta.sum(axis=0)
            delta = back


def sgd(
    net: Network,
    x: Array,
    y: Array,
    config: SGDConfig,
    *,
    rng: np.random.Generator | int,
    evaluation: tuple[Array, Array] | None = None,
    training_labels: Array | None = None,
    callbacks: Sequence[EpochCallback] = (),
    on_epoch_end: Callable[[dict[str, Any]], None] | None = None,
    engine: str = "auto",
) -> History:
    """Train ``net`` in place by mini-batch SGD and return its :class:`History`.

    Parameters
    ----------
    x, y : (n, n_in) inputs and (n, n_out) desired outputs (one-hot for MNIST).
    rng : the shuffles' random source (a Generator or a seed).
    evaluation : optional (inputs, integer labels) scored after every epoch.
    training_labels : optional integer labels of ``x``, to record training accuracy.
    callbacks : measurements taken before each epoch's update, merged into its record.
    on_epoch_end : called with each finished record (progress bars, logging).
    engine : how mini-batch epochs run: "fast", the compiled loop of ``nn.fast`` (equal to
        the NumPy path to rounding); "numpy", the reference; "auto" (the default), fast
        wherever it has the network's activation, cost and dtype. Full-batch epochs always
        run on NumPy, and so does every run with a remedy (batch norm, skips, ``layer_lr``,
        ``clip``: :mod:`layerspeed.nn.remedies`), for which "fast" is refused.

    Raises
    ------
    DivergenceError
        When the cost or a weight becomes NaN or infinite; the message names the epoch.
    """
    gen = np.random.default_rng(rng)
    dtype = net.dtype
    x = np.asarray(x, dtype=dtype)
    y = np.asarray(y, dtype=dtype)
    n = len(x)
    if n == 0:
        raise BadInput("the training set is empty")
    if x.shape[1] != net.sizes[0] or y.shape[1] != net.sizes[-1]:
        raise BadInput(
            f"data of shapes {x.shape} and {y.shape} does not fit a network of sizes "
            f"{list(net.sizes)}"
        )
    ev = None
    if evaluation is not None:
        ev = (np.asarray(evaluation[0], dtype=dtype), np.asarray(evaluation[1]))
    m = config.mini_batch_size
    eta, lmbda = config.eta, config.lmbda
    check_decay(eta, lmbda, n)
    hint = divergence_hint(net, eta=eta, lmbda=lmbda, n=n)
    full = m >= n
    if engine not in ("auto", "fast", "numpy"):
        raise BadInput(f"unknown engine {engine!r}; choose one of: auto, fast, numpy")
    remedy = remedies.needs_remedies(net, config.layer_lr, config.clip)
    if engine == "fast" and remedy:
        raise BadInput(
            "the fast engine has no batch norm, skips, layer_lr or clip; use engine auto or numpy"
        )
    if net.norm == "batch" and config.epochs:  # as RunConfig refuses it, for direct calls
        if min(m, n) < 2:
            raise BadInput(
                f"batch norm needs mini-batches of at least 2 examples to take statistics over, "
                f"got mini_batch_size {m} and {n} examples"
            )
        if m < n and n % m == 1:
            raise BadInput(
                f"batch norm: {n} examples in mini-batches of {m} leave a last mini-batch of 1 "
                "example, which has no batch statistics; drop or add an example, or choose "
                "another mini_batch_size"
            )
    if engine == "fast" and not fast.supports(net):
        raise BadInput(f"the fast engine has no {net.activation!r} or {net.dtype} network")
    rows = None  # the inputs' nonzero entries, listed once for the fast path's epochs
    if not full and engine != "numpy" and fast.supports(net) and not remedy:
        rows = fast.sparse_rows(x, dtype)
    history = History()
    # Overflow inside a diverging run is reported once, by the finiteness check below.
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        for epoch in range(config.epochs):
            record: dict[str, Any] = {"epoch": epoch}
            if full:
                # One step on the whole set: shuffling would change nothing but rounding.
                grads = backprop(net, x, y)
                batch = FullBatch(x, y, grads)
                for cb in callbacks:
                    record.update(cb(epoch, net, batch) or {})
                if remedy:
                    remedies.train_step(net, grads, eta=eta, lmbda=lmbda, n=n, m=n,
                                        layer_lr=config.layer_lr, clip=config.clip)  # fmt: skip
                else:
                    step(net, grads, eta=eta, lmbda=lmbda, n=n, m=n)
            else:
                for cb in callbacks:
                    record.update(cb(epoch, net, None) or {})
                order = gen.permutation(n)
                if rows is not None:
                    fast.train_epoch(net, rows, y, order, m=m, eta=eta, lmbda=lmbda)
                elif remedy:
                    remedies.remedy_epoch(net, x, y, order, m=m, eta=eta, lmbda=lmbda,
                                          layer_lr=config.layer_lr, clip=config.clip)  # fmt: skip
                else:
                    minibatch_epoch(net, x, y, order, m=m, eta=eta, lmbda=lmbda)
            record["training_cost"] = total_cost(net, x, y, lmbda)
            _check_finite(net, record["training_cost"], epoch, hint)
            if training_labels is not None:
                record["training_accuracy"] = accuracy(net, x, training_labels)
            if ev is not None:
                ev_y = np.eye(net.sizes[-1], dtype=dtype)[ev[1]]
                record["evaluation_cost"] = total_cost(net, ev[0], ev_y, lmbda)
                record["evaluation_accuracy"] = accuracy(net, ev[0], ev[1])
            history.epochs.append(record)
            if on_epoch_end is not None:
                on_epoch_end(record)
    return history


def _check_finite(net: Network, cost: float, epoch: int, hint: str | None = None) -> None:
    if not np.isfinite(cost):
        raise DivergenceError(epoch, "the training cost", hint)
    for l, (w, b) in enumerate(zip(net.weights, net.biases, strict=True), start=1):
        if not (np.isfinite(w).all() and np.isfinite(b).all()):
            raise DivergenceError(epoch, f"a weight or bias of layer {l}", hint)
    for l, g in enumerate(net.gammas or [], start=1):
        if not np.isfinite(g).all():
            raise DivergenceError(epoch, f"a batch-norm scale of layer {l}", hint)
