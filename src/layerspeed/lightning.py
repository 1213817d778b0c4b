"""The chapter's speed of learning in a Lightning run: the :class:`LayerSpeed` callback.

::

    from layerspeed.lightning import LayerSpeed

    trainer = lightning.pytorch.Trainer(
        logger=TensorBoardLogger("tb"),
        callbacks=[LayerSpeed(every_n_steps=100, probe=(x_probe, y_probe))],
    )
    trainer.fit(module, loader)

Every ``every_n_steps`` optimizer steps the callback records the module's layers with
:class:`layerspeed.torch.Probe` (the same measurement as ``layerspeed.torch.watch``) and logs,
per layer, through every logger the Trainer has (TensorBoard, CSV, W&B, ...)::

    layerspeed_speed/<layer>              ||dC/db|| (||dC/dW|| for a layer without a bias)
    layerspeed_weight_grad_norm/<layer>   ||dC/dW||
    layerspeed_update_ratio/<layer>       ||W_after - W_before|| / ||W_before|| of that step
    layerspeed_saturated_share/<layer>    share of sigmoid/tanh units saturated
    layerspeed_mean_example_norm/<layer>  E_x ||dC_x/db||, with a probe set

with the optimizer step as the logger's step; a quantity not measured (NaN) is left out.
At the end of ``fit`` the records are also kept as a run folder (``run_dir``, by default
``<trainer.log_dir>/layerspeed``), which ``layerspeed report`` reads.

With ``probe=(x, y)`` the record is the book's, an extra forward and backward pass of the
module (its ``forward``) over the probe set. Without one, the record reads the training
step's own gradients: the callback records from ``on_before_optimizer_step``, after the
closure's backward pass, since Lightning runs the forward pass inside ``optimizer.step``.

Lightning is an optional extra: ``pip install "layerspeed[lightning]"``.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

try:
    import lightning.pytorch as pl
except ImportError as e:  # also when sys.modules["lightning"] is None
    raise ImportError(
        "layerspeed.lightning needs Lightning, an optional extra: "
        'pip install "layerspeed[lightning]"'
    ) from e

from layerspeed.errors import BadInput
from layerspeed.store import check_writable
from layerspeed.torch.alerts import Alert
from layerspeed.torch.loss import LossFn
from layerspeed.torch.probe import Probe

# record key -> the logged quantity's name
LOGGED = {
    "layer_speeds": "speed",
    "weight_grad_norms": "weight_grad_norm",
    "update_ratio": "update_ratio",
    "saturated_share": "saturated_share",
    "mean_example_norms": "mean_example_norm",
}


def metrics(record: dict[str, Any], layer_names: Sequence[str], prefix: str) -> dict[str, float]:
    """The logged scalars of one record: ``{prefix}{quantity}/{layer}``, NaNs left out."""
    out: dict[str, float] = {}
    for key, quantity in LOGGED.items():
        for name, value in zip(layer_names, record.get(key, ()), strict=False):
            if value is not None and not math.isnan(value):
                out[f"{prefix}{quantity}/{name}"] = float(value)
    return out


class LayerSpeed(pl.Callback):
    """Records and logs the speed of learning of a LightningModule's layers while it trains.

    Parameters
    ----------
    every_n_steps : int
        Record before every ``every_n_steps``-th optimizer step (0, n, 2n, ...).
    probe : (x, y), optional
        The probe set; None: the training step's own gradients.
    loss_fn, layers, on_alert, alert_ratio, alert_saturation
        As for :class:`layerspeed.torch.Probe`.
    run_dir : path, optional
        Where the run folder goes; default ``<trainer.log_dir>/layerspeed``. False: none.
    prefix : str
        Starts every logged name; default ``"layerspeed_"``.
    seed : int, optional
        Recorded in the run folder (the seed the training ran from).
    """

    def __init__(
        self,
        every_n_steps: int = 100,
        *,
        probe: tuple[Any, Any] | None = None,
        loss_fn: LossFn | None = None,
        layers: Sequence[str] | None = None,
        on_alert: Callable[[Alert], Any] | None = None,
        alert_ratio: float | None = 10.0,
        alert_saturation: float | None = 0.9,
        run_dir: str | os.PathLike[str] | bool | None = None,
        prefix: str = "layerspeed_",
        seed: int | None = None,
    ) -> None:
        if isinstance(every_n_steps, bool) or not isinstance(every_n_steps, int):
            raise BadInput(f"every_n_steps must be a whole number of steps, got {every_n_steps!r}")
        if every_n_steps < 1:
            raise BadInput(f"every_n_steps must be at least 1, got {every_n_steps}")
        self.every_n_steps = every_n_steps
        self.probe_set = probe
        self.options: dict[str, Any] = {
            "loss_fn": loss_fn,
            "layers": layers,
            "on_alert": on_alert,
            "alert_ratio": alert_ratio,
            "alert_saturation": alert_saturation,
        }
        self.run_dir_arg = run_dir
        self.prefix = prefix
        self.seed = seed
        self.probe: Probe | None = None
        self.run_dir: Path | None = None
        self._unlogged: list[dict[str, Any]] = []

    # ---- the run ---------------------------------------------------------------------

    def on_fit_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if self.run_dir_arg is False:
            self.run_dir = None
        elif self.run_dir_arg not in (None, True):
            self.run_dir = Path(self.run_dir_arg)  # type: ignore[arg-type]
        elif trainer.log_dir is not None:
            self.run_dir = Path(trainer.log_dir) / "layerspeed"
        if self.run_dir is not None and trainer.is_global_zero:
            check_writable(self.run_dir, folder=True)
        optimizers = trainer.optimizers
        self.probe = Probe(
            pl_module,
            every=self.every_n_steps,
            probe=self.probe_set,
            optimizer=optimizers[0] if len(optimizers) == 1 else None,
            auto_record=False,
            **self.options,
        )
        self.probe.__enter__()

    def on_before_optimizer_step(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, optimizer: Any
    ) -> None:
        probe = self.probe
        if probe is not None and probe.attached and probe.due:
            self._unlogged.append(probe.record())

    def on_train_batch_end(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, *args: Any
    ) -> None:
        # after the optimizer step, which filled in the update ratio
        if self.probe is not None:
            self._log(trainer, [r for r in self._unlogged if r["step"] < self.probe.steps])

    def on_fit_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._finish(trainer, None)

    def on_exception(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, exception: BaseException
    ) -> None:
        self._finish(trainer, exception)

    # ---- logging and keeping -------------------------------------------------------

    def _log(self, trainer: pl.Trainer, records: list[dict[str, Any]]) -> None:
        if not records or self.probe is None:
            return
        for record in records:
            values = metrics(record, self.probe.layer_names, self.prefix)
            for logger in trainer.loggers:
                logger.log_metrics(values, step=record["step"])
            self._unlogged.remove(record)
        for logger in trainer.loggers:
            logger.save()

    def _finish(self, trainer: pl.Trainer, exception: BaseException | None) -> None:
        probe = self.probe
        if probe is None or not probe.attached:
            return
        self._log(trainer, list(self._unlogged))
        if exception is None:
            probe.close()
        else:
            probe.__exit__(type(exception), exception, None)
        if self.run_dir is not None and trainer.is_global_zero:
            config = {
                "trainer": "lightning",
                "every_n_steps": self.every_n_steps,
                "max_epochs": trainer.max_epochs,
            }
            probe.save(self.run_dir, config=config, seed=self.seed)
