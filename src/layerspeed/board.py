"""TensorBoard event files from readings (:mod:`layerspeed.readings`): one TensorBoard run a
run folder, or a seed.

Per layer the readings become scalars tagged ``METRIC/LAYER`` (``layer_speeds/hidden_1``,
``weight_grad_norms/...``, ``update_ratio/...``, ``saturated_share/...``); the per-neuron
gradients a histogram of their sizes ``|dC/db_j|`` tagged ``neuron_abs_gradient/LAYER``; the
numbers of the whole network (``speed_spread``, ``instability_flag``, ``training_cost``, ...)
scalars under their own names. Characters TensorBoard does not hold in a tag become ``_``
(a space, as tensorboardX would). A reading's step is its optimizer step where it has one (the
PyTorch probe), else its epoch.

The events are written by a maintained writer, ``torch.utils.tensorboard.SummaryWriter``
where PyTorch and TensorBoard are installed, else ``tensorboardX.SummaryWriter``, into a
temporary folder; each finished file is then moved into ``LOGDIR/RUN/`` through
:func:`layerspeed.store.atomic_writer` under a fixed name, so a failed export leaves no
event file, and exporting again replaces the file rather than adding a second one beside it
(which TensorBoard would show as duplicate points).
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from collections import defaultdict
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from layerspeed.readings import NEURON_METRIC, Reading
from layerspeed.store import atomic_writer

# What TensorBoard tags hold; tensorboardX puts "_" for anything else, and so do we, so that
# both writers tag alike ("hidden 1" -> "hidden_1").
NOT_IN_TAGS = re.compile(r"[^-/\w.]")
HISTOGRAM = "neuron_abs_gradient"  # the tag of the per-neuron histogram, before the layer
EVENT_FILE = "events.out.tfevents.layerspeed"  # TensorBoard reads any name with "tfevents"
MISSING = (
    'TensorBoard output needs the tensorboard extra: pip install "layerspeed[tensorboard]" '
    "(tensorboard with PyTorch, or tensorboardX)"
)


def summary_writer() -> Any:
    """The ``SummaryWriter`` class to write with; ImportError naming the extra if none."""
    try:
        from torch.utils.tensorboard import SummaryWriter

        return SummaryWriter
    except ImportError:  # no PyTorch, or PyTorch without the tensorboard package
        pass
    try:
        from tensorboardX import SummaryWriter as SummaryWriterX
    except ImportError as e:
        raise ImportError(MISSING) from e
    return SummaryWriterX


def step_of(r: Reading) -> int:
    """Where a reading goes on TensorBoard's axis: its optimizer step, else its epoch."""
    return r.step if r.step is not None else r.epoch if r.epoch is not None else 0


def tag(metric: str, layer: str | None = None) -> str:
    """The tag of a metric (of a layer): ``layer_speeds/hidden_1``, ``speed_spread``."""
    return NOT_IN_TAGS.sub("_", metric if layer is None else f"{metric}/{layer}")


def _write_run(writer_cls: Any, folder: Path, rows: Sequence[Reading]) -> None:
    writer = writer_cls(log_dir=str(folder))
    neurons: dict[tuple[int, str], list[float]] = defaultdict(list)
    try:
        for r in rows:
            if r.metric == NEURON_METRIC and r.layer is not None:
                neurons[(step_of(r), r.layer)].append(abs(r.value))
                continue
            writer.add_scalar(tag(r.metric, r.layer), r.value, global_step=step_of(r))
        for (step, layer), sizes in neurons.items():
            writer.add_histogram(tag(HISTOGRAM, layer), np.asarray(sizes), global_step=step)
        writer.flush()
    finally:
        writer.close()


def _publish(made: Path, logdir: Path) -> list[Path]:
    """Move every file under ``made`` to the same place under ``logdir``, atomically, the
    event files under :data:`EVENT_FILE` (numbered where a folder holds more than one)."""
    written = []
    for folder, _, files in sorted(os.walk(made)):
        events = sorted(f for f in files if "tfevents" in f)
        for name in sorted(files):
            new = name
            if name in events:
                i = events.index(name)
                new = EVENT_FILE if i == 0 else f"{EVENT_FILE}.{i}"
            target = logdir / Path(folder).relative_to(made) / new
            with open(Path(folder) / name, "rb") as src, atomic_writer(target, binary=True) as f:
                shutil.copyfileobj(src, f)
            written.append(target)
    return written


def write_board(
    logdir: str | os.PathLike[str], runs: Mapping[str, Sequence[Reading]]
) -> list[Path]:
    """Write each run's readings as a TensorBoard run in ``LOGDIR/NAME`` ("" for ``LOGDIR``
    itself); return the files written. All are made before the first is moved into place."""
    writer_cls = summary_writer()
    with tempfile.TemporaryDirectory(prefix="layerspeed-board-") as tmp:
        made = Path(tmp)
        for name, rows in runs.items():
            _write_run(writer_cls, made / name if name else made, rows)
        return _publish(made, Path(logdir))
