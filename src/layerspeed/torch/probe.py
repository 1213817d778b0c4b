"""The speed-of-learning probe for PyTorch models, attached through hooks.

The chapter measures how fast each hidden layer learns by the length of its vector of bias
gradients, averaged over the first 1000 training images: ``||mean_x dC_x/db^l||``. This
module takes the same measurement in any ``torch.nn.Module``; :mod:`layerspeed.probes` is its
NumPy twin, and for the same weights, data and cost the two agree to rounding (a test).

What a layer is
    Every module that owns trainable parameters itself (``Linear``, ``Conv2d``, ...), named by
    its module path (``"0"``, ``"encoder.fc1"``). ``layers=`` picks some of them. A layer
    without a bias has no ``dC/db``: its speed falls back to ``||dC/dW||`` and its
    ``speed_source`` says ``"weight"`` instead of ``"bias"``.

What is recorded (one dict per measurement, in ``Probe.history``; per layer, in order)
    layer_speeds        ||dC/db|| (or ||dC/dW|| where ``speed_source`` is ``"weight"``)
    weight_grad_norms   ||dC/dW||, Frobenius norm over the layer's parameters but its bias
    mean_example_norms  E_x ||dC_x/db||, with a probe set, for Linear and Conv layers
    update_ratio        ||W_after - W_before|| / ||W_before|| of the optimizer step taken
                        from the measured state: the real step of whatever optimizer runs
                        (the NumPy probe's ``eta ||dC/dW|| / ||W||`` is SGD's version of it)
    saturated_share     share of (example, unit) pairs of the sigmoid or tanh module that
                        follows the layer whose derivative is below 1% of its maximum
    speed_source        "bias" or "weight", see above
Numbers that were not measured are NaN: saturation of a layer that no ``nn.Sigmoid`` or
``nn.Tanh`` follows, an update ratio when no optimizer step followed the record.

With a probe set, ``probe=(x, y)``
    The book's measurement: one extra batched forward and backward pass over the probe set,
    through ``torch.autograd.grad``, so neither the parameters' ``.grad`` nor the optimizer
    state changes. The model's buffers (batch-norm statistics) and the random number
    generators are put back afterwards; the model stays in whatever train/eval mode it is in.
    ``loss_fn(output, y)`` must be the *mean over examples* of a per-example cost, so that its
    gradient is the mean of the per-example gradients. The default, :func:`default_loss`, is
    the book's cross-entropy on logits (summed over the output units, averaged over examples)
    for float targets shaped like the output, and softmax cross-entropy for integer labels.

Without one, ``probe=None``
    The gradients of the training step itself are read from ``.grad`` (so the speed is that
    of the user's own loss: a mean-reduced loss gives the mean over the mini-batch), and the
    saturation comes from the forward passes since the step before.

When it records
    ``every=N`` records every N-th optimizer step (steps 0, N, 2N, ...), from a hook that runs
    just before the step: the record describes the network before that update, like the
    NumPy engine's records. The optimizer is found by its parameters (any optimizer that
    holds one of the model's); pass ``optimizer=`` to name it.
    ``probe.epoch_end()`` records once, labelled ``"epoch": k`` after k epochs. With a probe
    set and ``every=None``, entering the context records ``"epoch": 0``, the untrained
    network; so, as in the NumPy engine, record k is the network before epoch k's updates.
    Without a probe set, ``epoch_end`` reads the last mini-batch's gradients and counts
    saturation over all the epoch's forward passes (forward hooks stay on: slower).

Leaving the context removes every hook, also when the training loop raised.
"""

from __future__ import annotations

import math
import os
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.optim import Optimizer
from torch.optim.optimizer import (
    register_optimizer_step_post_hook,
    register_optimizer_step_pre_hook,
)
from torch.utils.hooks import RemovableHandle

from layerspeed.errors import BadInput
from layerspeed.store import RunDir, result_record

Tensor = torch.Tensor
LossFn = Callable[[Tensor, Tensor], Tensor]

SATURATION_LEVEL = 0.01  # a unit is saturated where its derivative is below 1% of the maximum


def _sigmoid_prime_from_output(a: Tensor) -> Tensor:
    return a * (1.0 - a)  # sigma' = sigma (1 - sigma)


def _tanh_prime_from_output(a: Tensor) -> Tensor:
    return 1.0 - a * a  # tanh' = 1 - tanh^2


# name -> (module type, derivative as a function of the module's output, largest derivative)
SATURATING: dict[str, tuple[type[nn.Module], Callable[[Tensor], Tensor], float]] = {
    "sigmoid": (nn.Sigmoid, _sigmoid_prime_from_output, 0.25),
    "tanh": (nn.Tanh, _tanh_prime_from_output, 1.0),
}


def book_cross_entropy(output: Tensor, y: Tensor) -> Tensor:
    """network2's ``CrossEntropyCost`` on logits, averaged over the examples.

    ``output`` (n, n_out) are the output layer's weighted inputs z^L (the sigmoid is applied
    here, stably); ``y`` (n, n_out) the desired outputs. Per example the cost is
    ``sum_j [-y_j ln a_j - (1 - y_j) ln(1 - a_j)]``; its gradient with respect to z^L is
    ``a - y``, the book's delta^L. The mean over the examples makes the gradient of every
    bias the mean of the per-example gradients, which is what the book's speed needs.
    """
    return F.binary_cross_entropy_with_logits(output, y, reduction="sum") / output.shape[0]


def default_loss(output: Tensor, y: Tensor) -> Tensor:
    """The probe's cost when none is given: a mean over the probe set of per-example costs.

    Integer labels of shape (n,): softmax cross-entropy (``F.cross_entropy``, mean).
    Float targets shaped like the output: :func:`book_cross_entropy`.
    """
    if not torch.is_floating_point(y) and y.ndim == 1:
        return F.cross_entropy(output, y)
    if y.shape == output.shape:
        return book_cross_entropy(output, y)
    raise BadInput(
        f"no default probe cost for targets of shape {tuple(y.shape)} and dtype {y.dtype} "
        f"with outputs of shape {tuple(output.shape)}; pass loss_fn= (a mean over examples)"
    )


# ---- layers ------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class Layer:
    """A module that owns trainable parameters: what the probe measures."""

    name: str  # the module path, as in model.named_modules()
    module: nn.Module
    bias: nn.Parameter | None  # the parameter named "bias", if trainable
    weights: tuple[nn.Parameter, ...]  # every other trainable parameter the module owns

    @property
    def speed_source(self) -> str:
        return "bias" if self.bias is not None else "weight"

    @property
    def params(self) -> tuple[nn.Parameter, ...]:
        return ((self.bias,) if self.bias is not None else ()) + self.weights


def _own_params(module: nn.Module) -> list[tuple[str, nn.Parameter]]:
    return [(n, p) for n, p in module.named_parameters(recurse=False) if p.requires_grad]


def find_layers(model: nn.Module, names: Sequence[str] | None = None) -> list[Layer]:
    """The modules of ``model`` that own trainable parameters, in registration order.

    ``names`` picks some of them by module path (in the order given).
    """
    found: dict[str, Layer] = {}
    for path, module in model.named_modules():
        own = _own_params(module)
        if not own:
            continue
        name = path or type(module).__name__  # the root module has the empty path
        bias = next((p for n, p in own if n == "bias"), None)
        weights = tuple(p for n, p in own if n != "bias")
        found[name] = Layer(name, module, bias, weights)
    if not found:
        raise BadInput(f"{type(model).__name__} has no trainable parameters to measure")
    if names is None:
        return list(found.values())
    unknown = [n for n in names if n not in found]
    if unknown:
        raise BadInput(
            f"no layer named {', '.join(map(repr, unknown))}; layers with parameters: "
            f"{', '.join(found)}"
        )
    return [found[n] for n in names]


def _mean_example_norm(module: nn.Module, grad_z: Tensor, n: int) -> float:
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


def _norm(tensors: Sequence[Tensor | None]) -> float:
    """The Euclidean norm of all the tensors together; NaN when any is missing."""
    present = [t for t in tensors if t is not None]
    if not present or len(present) < len(tensors):
        return math.nan
    norms = [float(torch.linalg.vector_norm(t.detach(), dtype=torch.float64)) for t in present]
    return norms[0] if len(norms) == 1 else math.hypot(*norms)


# ---- forward capture ---------------------------------------------------------------------


@dataclass(frozen=True)
class _Watched:
    """The modules a capture hooks into, found once."""

    n_layers: int
    param_modules: list[tuple[nn.Module, int | None]]  # index into the layers; None: unmeasured
    saturating_modules: list[tuple[nn.Module, str]]  # a key of SATURATING

    @classmethod
    def of(cls, model: nn.Module, layers: list[Layer]) -> _Watched:
        index = {id(layer.module): l for l, layer in enumerate(layers)}
        kinds = {kind: name for name, (kind, _, _) in SATURATING.items()}
        return cls(
            len(layers),
            [(m, index.get(id(m))) for m in model.modules() if _own_params(m)],
            [(m, kinds[type(m)]) for m in model.modules() if type(m) in kinds],
        )


class _Capture:
    """Forward hooks that give each sigmoid or tanh module's output to the layer before it.

    The pairing follows the order in which modules run, so it holds for ``nn.Sequential``
    and for hand-written ``forward`` methods alike, as long as the activation is a module.
    """

    def __init__(self, watched: _Watched, *, keep_outputs: bool) -> None:
        self.handles: list[RemovableHandle] = []
        self.current: int | None = None
        self.keep_outputs = keep_outputs
        n = watched.n_layers
        self.saturated = [0] * n
        self.total = [0] * n
        self.kind: list[str | None] = [None] * n
        self.outputs: list[list[Tensor]] = [[] for _ in range(n)]
        for module, l in watched.param_modules:
            self.handles.append(module.register_forward_hook(self._layer_hook(l)))
        for module, name in watched.saturating_modules:
            self.handles.append(module.register_forward_hook(self._saturation_hook(name)))

    def _layer_hook(self, l: int | None) -> Callable[..., None]:
        def hook(_module: nn.Module, _inputs: Any, output: Any) -> None:
            self.current = l
            if l is not None and self.keep_outputs and isinstance(output, Tensor):
                self.outputs[l].append(output)

        return hook

    def _saturation_hook(self, name: str) -> Callable[..., None]:
        _, prime, max_prime = SATURATING[name]

        def hook(_module: nn.Module, _inputs: Any, output: Any) -> None:
            l = self.current
            if l is None or not isinstance(output, Tensor):
                return
            d = prime(output.detach())
            self.saturated[l] += int((d < SATURATION_LEVEL * max_prime).sum())
            self.total[l] += d.numel()
            self.kind[l] = name

        return hook

    def reset(self) -> None:
        self.saturated = [0] * len(self.saturated)
        self.total = [0] * len(self.total)

    def shares(self) -> list[float]:
        return [s / t if t else math.nan for s, t in zip(self.saturated, self.total, strict=True)]

    def remove(self) -> None:
        for h in self.handles:
            h.remove()
        self.handles.clear()


# ---- the probe ---------------------------------------------------------------------------


class Probe:
    """Records the speed of learning of a model's layers; made by :func:`watch`.

    Use it as a context manager: entering attaches the hooks, leaving removes them all.
    ``history`` and ``save`` work after the context has ended.
    """

    def __init__(
        self,
        model: nn.Module,
        *,
        every: int | None = None,
        probe: tuple[Any, Any] | None = None,
        loss_fn: LossFn | None = None,
        optimizer: Optimizer | None = None,
        layers: Sequence[str] | None = None,
    ) -> None:
        if every is not None and (isinstance(every, bool) or not isinstance(every, int)):
            raise BadInput(f"every must be a number of optimizer steps or None, got {every!r}")
        if every is not None and every < 1:
            raise BadInput(f"every must be at least 1, got {every}")
        self.model = model
        self.every = every
        self.loss_fn: LossFn = loss_fn or default_loss
        self.optimizer = optimizer
        self.layers = find_layers(model, layers)
        self._watched = _Watched.of(model, self.layers)
        self.probe_set = _as_probe_set(model, probe) if probe is not None else None
        self.history: list[dict[str, Any]] = []
        self.steps = 0  # optimizer steps seen while attached
        self.epochs = 0  # epoch_end calls
        self.probe_passes = 0  # extra backward passes taken; tests read this
        self.error: str | None = None  # what the training loop raised, if it did
        self._param_ids = {id(p) for p in model.parameters()}
        # Dropout in the probe's pass draws from these generators; they are put back after.
        self._cuda_devices = sorted(
            {p.device.index or 0 for p in model.parameters() if p.device.type == "cuda"}
        )
        self._owns: weakref.WeakKeyDictionary[Optimizer, bool] = weakref.WeakKeyDictionary()
        self._handles: list[RemovableHandle] = []
        self._capture: _Capture | None = None  # training-batch capture, when probe is None
        self._pending: list[tuple[dict[str, Any], list[Tensor]]] = []  # awaiting update_ratio
        self._saturating: list[str | None] = [None] * len(self.layers)

    # ---- attaching -------------------------------------------------------------------

    @property
    def layer_names(self) -> list[str]:
        return [layer.name for layer in self.layers]

    @property
    def attached(self) -> bool:
        return bool(self._handles)

    def __enter__(self) -> Probe:
        if self.attached:
            raise BadInput("this probe is already attached; leave its context first")
        self.error = None
        if self.optimizer is not None:
            self._handles += [
                self.optimizer.register_step_pre_hook(self._before_step),
                self.optimizer.register_step_post_hook(self._after_step),
            ]
        else:
            self._handles += [
                register_optimizer_step_pre_hook(self._before_step),
                register_optimizer_step_post_hook(self._after_step),
            ]
        if self.probe_set is None:
            # every=None: epoch_end counts saturation over the epoch's forward passes, so the
            # capture stays on; every=N: step 0 is due.
            self._arm()
        elif self.every is None:
            self._record(epoch=0)
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        if exc is not None:
            self.error = f"{exc_type.__name__}: {exc}"
        self.close()

    def close(self) -> None:
        """Remove every hook this probe attached. Safe to call more than once."""
        for h in self._handles:
            h.remove()
        self._handles.clear()
        self._disarm()
        self._pending.clear()

    def _arm(self) -> None:
        if self._capture is None:
            self._capture = _Capture(self._watched, keep_outputs=False)

    def _disarm(self) -> _Capture | None:
        capture, self._capture = self._capture, None
        if capture is not None:
            capture.remove()
        return capture

    # ---- optimizer hooks -------------------------------------------------------------

    def _watches(self, optimizer: Optimizer) -> bool:
        if self.optimizer is not None:
            return optimizer is self.optimizer
        owns = self._owns.get(optimizer)
        if owns is None:
            params = (p for group in optimizer.param_groups for p in group["params"])
            owns = any(id(p) in self._param_ids for p in params)
            self._owns[optimizer] = owns
        return owns

    def _before_step(self, optimizer: Optimizer, _args: Any, _kwargs: Any) -> None:
        if not self._watches(optimizer):
            return
        if self.every is not None and self.steps % self.every == 0:
            self._record()

    def _after_step(self, optimizer: Optimizer, _args: Any, _kwargs: Any) -> None:
        if not self._watches(optimizer):
            return
        self.steps += 1
        if self._pending:
            for record, before in self._pending:
                record["update_ratio"] = self._update_ratios(before)
            self._pending.clear()
        if self.probe_set is None and self.every is not None and self.steps % self.every == 0:
            self._arm()  # capture the next step's forward passes

    # ---- measuring -------------------------------------------------------------------

    def epoch_end(self, **extra: Any) -> dict[str, Any]:
        """Record the network now, as the state after one more epoch; return the record.

        ``extra`` (JSON-serializable) joins the record, e.g. ``evaluation_accuracy=0.93``.
        """
        self.epochs += 1
        record = self._record(epoch=self.epochs)
        record.update(extra)
        return record

    def measure(self) -> dict[str, Any]:
        """The current measurement, without adding it to the history."""
        if self.probe_set is not None:
            return self._measure_probe()
        return self._measure_training(self._capture)

    def _record(self, *, epoch: int | None = None) -> dict[str, Any]:
        record: dict[str, Any] = {} if epoch is None else {"epoch": epoch}
        record["step"] = self.steps
        record.update(self.measure())
        self.history.append(record)
        if self.probe_set is None and self._capture is not None:
            if self.every is None:  # epoch mode: count the next epoch's forward passes afresh
                self._capture.reset()
            else:  # armed again after the step before the next due one
                self._disarm()
        if self.attached:  # the next optimizer step fills in the update ratio
            before = [layer.weights[0].detach().clone() for layer in self.layers if layer.weights]
            self._pending.append((record, before))
        return record

    def _update_ratios(self, before: list[Tensor]) -> list[float]:
        ratios: list[float] = []
        old = iter(before)
        for layer in self.layers:
            if not layer.weights:
                ratios.append(math.nan)
                continue
            w0 = next(old)
            w_norm = float(torch.linalg.vector_norm(w0.double()))
            step = float(torch.linalg.vector_norm((layer.weights[0].detach() - w0).double()))
            ratios.append(step / w_norm if w_norm > 0 else math.inf)
        return ratios

    def _result(
        self,
        bias_grads: list[Tensor | None],
        weight_grads: list[list[Tensor | None]],
        saturated: list[float],
        *,
        source: str,
        example_norms: list[float] | None = None,
    ) -> dict[str, Any]:
        w_norms = [_norm(g) for g in weight_grads]
        speeds = [
            _norm([b]) if layer.bias is not None else w
            for layer, b, w in zip(self.layers, bias_grads, w_norms, strict=True)
        ]
        out: dict[str, Any] = {
            "source": source,
            "layer_speeds": speeds,
            "weight_grad_norms": w_norms,
        }
        if example_norms is not None:
            out["mean_example_norms"] = example_norms
        out["update_ratio"] = [math.nan] * len(self.layers)
        out["saturated_share"] = saturated
        out["speed_source"] = [layer.speed_source for layer in self.layers]
        return out

    def _measure_training(self, capture: _Capture | None) -> dict[str, Any]:
        """From ``.grad``, as left by the training step's backward pass."""
        if capture is not None:
            self._note_saturating(capture)
            saturated = capture.shares()
        else:
            saturated = [math.nan] * len(self.layers)
        return self._result(
            [layer.bias.grad if layer.bias is not None else None for layer in self.layers],
            [[p.grad for p in layer.weights] for layer in self.layers],
            saturated,
            source="training",
        )

    def _measure_probe(self) -> dict[str, Any]:
        """One extra forward and backward pass over the probe set, off the books."""
        assert self.probe_set is not None
        x, y = self.probe_set
        model = self.model
        params = [p for layer in self.layers for p in layer.params]
        live = list(model.buffers())
        saved = [b.detach().clone() for b in live]
        capture = _Capture(self._watched, keep_outputs=True)
        try:
            with torch.random.fork_rng(self._cuda_devices, device_type="cuda"), torch.enable_grad():
                loss = self.loss_fn(model(x), y)
                zs = [outs[0] if len(outs) == 1 else None for outs in capture.outputs]
                wrt = params + [z for z in zs if z is not None and z.requires_grad]
                grads = torch.autograd.grad(loss, wrt, allow_unused=True)
        finally:
            capture.remove()
            with torch.no_grad():
                for b, old in zip(live, saved, strict=True):
                    b.copy_(old)
        self.probe_passes += 1
        self._note_saturating(capture)
        by_param = dict(zip(map(id, params), grads[: len(params)], strict=True))
        z_grads = iter(grads[len(params) :])
        n = x.shape[0]
        example_norms = []
        for layer, z in zip(self.layers, zs, strict=True):
            gz = next(z_grads) if z is not None and z.requires_grad else None
            if layer.bias is None or gz is None:
                example_norms.append(math.nan)
            else:
                example_norms.append(_mean_example_norm(layer.module, gz, n))
        return self._result(
            [
                _zeros_if_none(by_param[id(layer.bias)], layer.bias)
                if layer.bias is not None
                else None
                for layer in self.layers
            ],
            [[_zeros_if_none(by_param[id(p)], p) for p in layer.weights] for layer in self.layers],
            capture.shares(),
            source="probe",
            example_norms=example_norms,
        )

    def _note_saturating(self, capture: _Capture) -> None:
        for l, kind in enumerate(capture.kind):
            if kind is not None:
                self._saturating[l] = kind

    # ---- reading and saving ----------------------------------------------------------

    def series(self, key: str) -> np.ndarray:
        """``key`` over the records, shape (n_records, n_layers): ``series("layer_speeds")``."""
        rows = [r[key] for r in self.history if key in r]
        return np.asarray(rows, dtype=float).reshape(len(rows), len(self.layers))

    def config(self) -> dict[str, Any]:
        """What was measured, for ``config.json``."""
        return {
            "engine": "torch",
            "torch_version": torch.__version__,
            "model": type(self.model).__name__,
            "layers": self.layer_names,
            "every": self.every,
            "probe_examples": None if self.probe_set is None else int(self.probe_set[0].shape[0]),
            "loss_fn": getattr(self.loss_fn, "__name__", type(self.loss_fn).__name__),
            "dtype": str(next(self.model.parameters()).dtype).removeprefix("torch."),
        }

    def save(
        self,
        path: str | os.PathLike[str],
        *,
        config: dict[str, Any] | None = None,
        seed: int | None = None,
    ) -> RunDir:
        """Write the records as a run folder of :mod:`layerspeed.store` and return it.

        ``config`` (JSON-serializable) is merged over :meth:`config`. The status is ``done``,
        or ``failed`` with the exception's message when the training loop raised.
        """
        cfg = {**self.config(), **(config or {})}
        run = RunDir(Path(path))
        run.start(cfg, seed=seed, kind="torch")
        result = result_record(
            cfg,
            seed=seed,
            kind="torch",
            epochs=self.history,
            layer_names=self.layer_names,
            speed_source=[layer.speed_source for layer in self.layers],
            saturating=self._saturating,
            layer_types=[type(layer.module).__name__ for layer in self.layers],
            steps=self.steps,
        )
        if self.error is None:
            run.finish(result)
        else:
            run.finish(result, status="failed", message=self.error)
        return run


def watch(
    model: nn.Module,
    *,
    every: int | None = None,
    probe: tuple[Any, Any] | None = None,
    loss_fn: LossFn | None = None,
    optimizer: Optimizer | None = None,
    layers: Sequence[str] | None = None,
) -> Probe:
    """A :class:`Probe` on ``model``, to be used as ``with watch(model, ...) as probe:``.

    Parameters
    ----------
    model : torch.nn.Module
    every : int, optional
        Record before every ``every``-th optimizer step (0, every, 2 every, ...). None: only
        when :meth:`Probe.epoch_end` is called.
    probe : (x, y), optional
        The probe set: inputs (n, ...) and targets, tensors or arrays; moved to the model's
        device, floats to its dtype. None: read the training step's own gradients.
    loss_fn : callable(output, y) -> scalar, optional
        The probe's cost, a mean over examples; default :func:`default_loss`.
    optimizer : torch.optim.Optimizer, optional
        The optimizer whose steps count; default any that holds the model's parameters.
    layers : sequence of str, optional
        Module paths of the layers to measure; default every module with parameters.
    """
    return Probe(
        model, every=every, probe=probe, loss_fn=loss_fn, optimizer=optimizer, layers=layers
    )


# ---- helpers -----------------------------------------------------------------------------


def _zeros_if_none(grad: Tensor | None, p: Tensor) -> Tensor:
    # A parameter the probe's forward pass did not use has a zero gradient there.
    return torch.zeros_like(p) if grad is None else grad


def _as_probe_set(model: nn.Module, probe: tuple[Any, Any]) -> tuple[Tensor, Tensor]:
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
