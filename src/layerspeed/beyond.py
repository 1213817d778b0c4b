"""``reproduce --beyond``: the modern, depth and chaos presets beside the chapter's runs.

:func:`plan_beyond` plans the three presets (``--quick`` and ``--dataset`` honoured) into
``OUT/modern``, ``OUT/depth`` and ``OUT/chaos``; the reproduction runs their tasks in the same
pool of workers as the chapter's. :meth:`Later.finish` then sums each up as a sweep
(``summary.json``, ``summary.md``, ``figures/sweep.*`` in its folder, as ``OUT/remedies``),
puts ``results["beyond"]`` (:mod:`layerspeed.experiments.beyond`) into the results and draws
its figures into ``OUT/figures``. The words of summary.md and the report are
:mod:`layerspeed.views.text.beyond`'s and :mod:`layerspeed.views.report.beyond`'s.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from layerspeed.experiments.beyond import beyond_part, seed_ratios
from layerspeed.experiments.datasets import with_dataset
from layerspeed.experiments.driver import STALE_AFTER_S, RunRecord, Task, collect, plan
from layerspeed.experiments.grid import Grid, load_preset
from layerspeed.store import check_writable, remove_stale_temporaries

PRESETS = ("modern", "depth", "chaos")


@dataclass
class Later:
    """The presets planned for a reproduction (none where ``--beyond`` was not given)."""

    quick: bool = False
    grids: dict[str, Grid] = field(default_factory=dict)
    planned: dict[str, list[Task]] = field(default_factory=dict)

    @property
    def tasks(self) -> list[Task]:
        """Every planned run of the three presets, to join the chapter's in one pool."""
        return [t for name in self.grids for t in self.planned[name]]

    def finish(self, results: Any, out: Path, unfinished: list[str]) -> list[Path]:
        """Sum up what ran: each preset's sweep folder, ``results["beyond"]`` and the figures.

        Adds each run that did not end to ``unfinished``; returns the files written."""
        if not self.grids:
            return []
        from layerspeed.pipeline.common import unfinished_runs
        from layerspeed.pipeline.sweep import sweep_summary, write_sweep
        from layerspeed.views.figures import save_figures
        from layerspeed.views.figures.beyond import beyond_figures

        summaries: dict[str, dict[str, Any]] = {}
        records: dict[str, list[RunRecord]] = {}
        paths: list[Path] = []
        for name, grid in self.grids.items():
            records[name] = collect(self.planned[name])
            summaries[name] = sweep_summary(grid.studies[0], records[name], quick=self.quick)
            paths += write_sweep(summaries[name], out / name)
            unfinished += unfinished_runs(records[name])
        results["beyond"] = beyond_part(
            modern=summaries.get("modern"),
            depth=summaries.get("depth"),
            depth_ratios=seed_ratios(records.get("depth", [])),
            chaos=summaries.get("chaos"),
        )
        return paths + save_figures(beyond_figures(results["beyond"]), out / "figures")


def beyond_grids(*, quick: bool, dataset: str | None) -> dict[str, Grid]:
    """The three presets at the size asked for, on ``dataset``."""
    out = {}
    for name in PRESETS:
        grid = load_preset(name)
        out[name] = with_dataset(grid.with_quick() if quick else grid, dataset)
    return out


def plan_beyond(out: Path, *, quick: bool, dataset: str | None, run: bool = True) -> Later:
    """The presets' runs under ``out/<preset>`` (nothing where ``run`` is False), each folder
    proved writable and cleared of what killed writers left in it first."""
    if not run:
        return Later()
    grids = beyond_grids(quick=quick, dataset=dataset)
    for name in grids:  # before any run starts, not when the first of its runs does
        check_writable(out / name, folder=True, label=f"--out {out.name}/{name}")
    before = time.time() - STALE_AFTER_S
    for name in grids:
        for folder in (out / name, out / name / "figures"):
            remove_stale_temporaries(folder, before=before)
    return Later(quick, grids, {name: plan(g, out / name) for name, g in grids.items()})


__all__ = ["PRESETS", "Later", "beyond_grids", "plan_beyond"]
