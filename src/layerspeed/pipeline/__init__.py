"""The two jobs end to end: a reproduction of the chapter and a sweep, from runs to report.

The command line calls these and prints; they plan the runs
(:mod:`layerspeed.experiments.grid`), run them on one driver
(:mod:`layerspeed.experiments.driver`), sum them up (:mod:`layerspeed.experiments.chapter`,
:mod:`layerspeed.experiments.summary`), put the verdicts and findings into words
(:mod:`layerspeed.views.text`), and write ``results.json`` / ``summary.json``, ``summary.md``,
the figures and ``report.html`` through :mod:`layerspeed.store`.

A reproduction is the ``chapter`` preset, the ``remedies`` preset (in ``OUT/remedies``) and
the single-neuron chain; both presets' runs share one pool of workers.
"""

from layerspeed.experiments.driver import default_workers
from layerspeed.pipeline.common import Finished, Progress, versions
from layerspeed.pipeline.network import network_speeds, train_network
from layerspeed.pipeline.reproduce import chapter_grids, reproduce, theory_part, write_reproduction
from layerspeed.pipeline.sweep import sweep, sweep_summary, write_sweep

__all__ = [
    "Finished",
    "Progress",
    "chapter_grids",
    "default_workers",
    "network_speeds",
    "reproduce",
    "sweep",
    "sweep_summary",
    "theory_part",
    "train_network",
    "versions",
    "write_reproduction",
    "write_sweep",
]
