"""What a job will take before it starts: a run's memory, and how much memory there is.

A network too large for the machine would otherwise end, minutes in, in an out-of-memory
kill or a NumPy ``ArrayMemoryError`` traceback. :func:`run_bytes` estimates one run's peak
from its config (the network, its gradients, the widest batch's arrays and the images it
reads), :func:`memory_limit` reads the memory this process may use (the cgroup's limit where
one is set, else the machine's physical memory), and :func:`check_memory` refuses, in one
line with both numbers, what cannot fit. The estimate is rough on purpose: it is there to
catch what is off by orders of magnitude, not to pack a machine to the last byte.
"""

from __future__ import annotations

import os
from pathlib import Path

from layerspeed.errors import BadInput
from layerspeed.experiments.config import N_INPUTS, RunConfig

# cgroup v2's limit, then v1's; "max" (v2) or a huge number (v1) means none.
CGROUP_LIMITS = (
    Path("/sys/fs/cgroup/memory.max"),
    Path("/sys/fs/cgroup/memory/memory.limit_in_bytes"),
)
# A real data set (MNIST, Fashion-MNIST) is held whole as uint8 grey levels while a job starts;
# each run converts only what it reads (``per_image`` below).
REAL_IMAGES = 70_000


def _cgroup_limit() -> int | None:
    for path in CGROUP_LIMITS:
        try:
            text = path.read_text().strip()
        except OSError:
            continue
        if text.isdigit() and int(text) < 1 << 60:
            return int(text)
    return None


def _physical_memory() -> int | None:
    try:
        pages, size = os.sysconf("SC_PHYS_PAGES"), os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, OSError, ValueError):
        return None
    return pages * size if pages > 0 and size > 0 else None


def memory_limit() -> tuple[int | None, str]:
    """The bytes this process may use and where that number comes from; None if unknown."""
    cgroup, physical = _cgroup_limit(), _physical_memory()
    if cgroup is not None and (physical is None or cgroup < physical):
        return cgroup, "the cgroup's memory limit"
    if physical is not None:
        return physical, "the machine's memory"
    return None, "unknown"


def params(sizes: tuple[int, ...]) -> int:
    """Weights and biases of a network of ``sizes``."""
    return sum(n_in * n_out + n_out for n_in, n_out in zip(sizes[:-1], sizes[1:], strict=False))


def network_bytes(sizes: tuple[int, ...], *, batch: int, dtype: str = "float64") -> int:
    """A network, its gradients and the arrays of a forward and backward pass over ``batch``
    examples: drawn in float64, held as ``dtype`` with a gradient and a copy; ``zs``,
    activations, deltas and a temporary per layer."""
    item = 4 if dtype == "float32" else 8
    return params(sizes) * (8 + 3 * item) + batch * sum(sizes[1:]) * item * 4


def run_bytes(config: RunConfig) -> int:
    """A rough peak of one run: :func:`network_bytes` over its widest batch (a mini-batch,
    the training set whose cost every epoch records, the validation or probe images), plus
    the images it reads (grey levels, as float64, as ``dtype``) and, for MNIST, the loaded
    set."""
    widest = min(config.mini_batch_size, config.n_train)
    if config.epochs:
        widest = max(widest, config.n_train)
        if config.records("accuracy"):
            widest = max(widest, config.n_eval)
    if config.records("speeds"):
        widest = max(widest, config.n_probe)
    n_images = config.n_train_read + (config.n_eval if config.records("accuracy") else 1)
    per_image = N_INPUTS * (1 + 8 + (4 if config.dtype == "float32" else 0))
    loaded = REAL_IMAGES * N_INPUTS if config.dataset != "synthetic" else 0
    network = network_bytes(config.sizes, batch=widest, dtype=config.dtype)
    return network + n_images * per_image + loaded


def size_text(n: float) -> str:
    """``1536`` -> ``"1.5 KiB"``."""
    for unit in ("bytes", "KiB", "MiB", "GiB", "TiB"):
        if n < 1024 or unit == "TiB":
            return f"{n:.0f} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1024
    raise AssertionError("unreachable")


def check_memory(need: int, what: str, *, hint: str = "use smaller layers or fewer images") -> None:
    """Raise a one-line :class:`BadInput` when ``need`` bytes exceed :func:`memory_limit`."""
    limit, source = memory_limit()
    if limit is not None and need > limit:
        raise BadInput(
            f"{what} needs about {size_text(need)} of memory, more than the {size_text(limit)} "
            f"available ({source}); {hint}"
        )


def check_run(config: RunConfig, what: str | None = None) -> None:
    """:func:`check_memory` for one run's config."""
    check_memory(run_bytes(config), what or f"a run of {list(config.sizes)}")
