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
    saturated_share     share of (example, unit) pairs of the sigmoid or tanh that
                        follows the layer whose derivative is below 1% of its maximum;
                        a module (``nn.Sigmoid``) or a function called inside ``forward``
                        (``torch.sigmoid``, ``F.tanh``, ``x.tanh()``), seen by a
                        ``TorchFunctionMode`` while the model's forward runs
    speed_source        "bias" or "weight", see above
Numbers that were not measured are NaN: saturation of a layer that no sigmoid or tanh
follows, an update ratio when no optimizer step followed the record. Not seen as saturation:
the gates inside fused kernels (``nn.LSTM``, ``nn.GRU``), whose sigmoids and tanhs never
reach Python, and code run by TorchScript or ``torch.compile``.

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

Live alerts
    After each record, a layer whose speed is more than ``alert_ratio`` (10) times below the
    last layer's (vanishing) or above it (exploding), or whose saturated share exceeds
    ``alert_saturation`` (0.9), calls ``on_alert(alert)`` (default: a
    :class:`~layerspeed.torch.alerts.LayerSpeedAlert` warning with the numbers), once per
    condition and layer until a record shows it cleared. ``None`` turns a check off;
    ``probe.alerts`` lists every alert raised. See :mod:`layerspeed.torch.alerts`.

Leaving the context removes every hook, also when the training loop raised.
"""

from __future__ import annotations

import dataclasses
import os
import weakref
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor
from torch.nn import Module
from torch.optim import Optimizer
from torch.optim.optimizer import (
    register_optimizer_step_post_hook,
    register_optimizer_step_pre_hook,
)
from torch.utils.hooks import RemovableHandle

from layerspeed.errors import BadInput
from layerspeed.store import RunDir, result_record
from layerspeed.torch.alerts import Alert, Alerts
from layerspeed.torch.hooks import Capture, Watched, find_layers
from layerspeed.torch.loss import LossFn, default_loss
from layerspeed.torch.measure import (
    as_probe_set,
    first_weights,
    measure_probe,
    measure_training,
    update_ratios,
)


class Probe:
    """Records the speed of learning of a model's layers: ``with watch(model, ...) as probe:``.

    Use it as a context manager: entering attaches the hooks, leaving removes them all.
    ``history`` and ``save`` work after the context has ended. :func:`watch` is this class
    under the name that reads well in a ``with`` statement.

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
    on_alert : callable(Alert), optional
        Called for each alert; default: a ``LayerSpeedAlert`` warning with the numbers.
    alert_ratio : float or None
        A layer's speed this many times below (above) the last layer's is vanishing
        (exploding); default 10. None: no speed alerts.
    alert_saturation : float or None
        A saturated share above this alerts; default 0.9. None: no saturation alerts.
    auto_record : bool
        True (default): record from the optimizer's pre-step hook when a step is due. False:
        the hooks only count steps and fill in update ratios; the caller calls
        :meth:`record` when :attr:`due` (Lightning's callback does, after its closure's
        backward pass, since Lightning runs the forward pass inside ``optimizer.step``).
    """

    def __init__(
        self,
        model: Module,
        *,
        every: int | None = None,
        probe: tuple[Any, Any] | None = None,
        loss_fn: LossFn | None = None,
        optimizer: Optimizer | None = None,
        layers: Sequence[str] | None = None,
        on_alert: Callable[[Alert], Any] | None = None,
        alert_ratio: float | None = 10.0,
        alert_saturation: float | None = 0.9,
        auto_record: bool = True,
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
        self._watched = Watched.of(model, self.layers)
        self.probe_set = as_probe_set(model, probe) if probe is not None else None
        self.history: list[dict[str, Any]] = []
        self._alerts = Alerts(on_alert, ratio=alert_ratio, saturation=alert_saturation)
        self.auto_record = auto_record
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
        self._capture: Capture | None = None  # training-batch capture, when probe is None
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
            try:
                self._record(epoch=0)
            except BaseException:  # `with` calls no __exit__ when __enter__ raises
                self.close()
                raise
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
            self._capture = Capture(self._watched, keep_outputs=False)

    def _disarm(self) -> Capture | None:
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
        if self.auto_record and self.due:
            self._record()

    def _after_step(self, optimizer: Optimizer, _args: Any, _kwargs: Any) -> None:
        if not self._watches(optimizer):
            return
        self.steps += 1
        if self._pending:
            for record, before in self._pending:
                record["update_ratio"] = update_ratios(self.layers, before)
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

    @property
    def due(self) -> bool:
        """Whether a record is due before the coming optimizer step (``every`` steps)."""
        return self.every is not None and self.steps % self.every == 0

    @property
    def alerts(self) -> list[Alert]:
        """Every alert raised so far, in order."""
        return list(self._alerts.fired)

    def record(self, **extra: Any) -> dict[str, Any]:
        """Record the network now, labelled with the optimizer steps so far; return the record.

        ``extra`` (JSON-serializable) joins the record. Without a probe set it reads ``.grad``,
        so call it after the backward pass and before the step.
        """
        record = self._record()
        record.update(extra)
        return record

    def measure(self) -> dict[str, Any]:
        """The current measurement, without adding it to the history."""
        capture: Capture | None
        if self.probe_set is not None:
            record, capture = measure_probe(
                self.model,
                self.layers,
                self._watched,
                self.probe_set,
                self.loss_fn,
                self._cuda_devices,
            )
            self.probe_passes += 1
        else:
            record, capture = measure_training(self.layers, self._capture), self._capture
        if capture is not None:  # which saturating module follows each layer, once seen
            for l, kind in enumerate(capture.kind):
                if kind is not None:
                    self._saturating[l] = kind
        return record

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
            self._pending.append((record, first_weights(self.layers)))
        self._alerts.check(record, self.layer_names)  # last: a handler that raises loses nothing
        return record

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
            alerts=[dataclasses.asdict(a) for a in self._alerts.fired],
        )
        if self.error is None:
            run.finish(result)
        else:
            run.finish(result, status="failed", message=self.error)
        return run

    def to_tensorboard(self, logdir: str | os.PathLike[str], *, run: str = "") -> list[Path]:
        """Write the history as a TensorBoard run in ``logdir`` (``logdir/run`` with ``run``)
        and return the files; see :mod:`layerspeed.torch.tensorboard`. Needs the
        tensorboard package, imported only here."""
        from layerspeed.torch.tensorboard import write_probe

        return write_probe(self, logdir, run=run)


# The name that reads well in ``with watch(model, ...) as probe:``; the same class.
watch = Probe
