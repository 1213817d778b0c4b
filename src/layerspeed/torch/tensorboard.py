"""The PyTorch probe's history as a TensorBoard run: ``probe.to_tensorboard(logdir)``.

Per layer, as scalars tagged ``METRIC/LAYER``: the speed ``layer_speeds``,
``weight_grad_norms`` ``||dC/dW||``, ``update_ratio`` and ``saturated_share`` (where
measured), ``mean_example_norms`` with a probe set; for the whole model the
``speed_spread`` and the ``instability_flag`` (+1 vanishing, -1 exploding, 0 balanced) of
each record, over the layers the probe measures, first to last. The step is the optimizer
step of the record. See :mod:`layerspeed.board` for the writer and the file names, and
:mod:`layerspeed.readings` for what becomes a number.

Needs the tensorboard package: ``pip install "layerspeed[tensorboard]"``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from layerspeed.board import summary_writer, write_board
from layerspeed.readings import readings
from layerspeed.store import check_writable

if TYPE_CHECKING:
    from layerspeed.torch.probe import Probe


def write_probe(probe: Probe, logdir: str | os.PathLike[str], *, run: str = "") -> list[Path]:
    """Write ``probe.history`` as one TensorBoard run in ``logdir`` (in ``logdir/run`` with
    ``run``, e.g. ``run="seed-0"``); return the files written."""
    summary_writer()  # ImportError naming the extra, before any folder is made
    out = Path(logdir) / run if run else Path(logdir)
    check_writable(out, folder=True, label="logdir")
    return write_board(logdir, {run: readings(probe.history, probe.layer_names)})
