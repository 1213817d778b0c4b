"""The report's section on the presets beyond the book: its figures, tables and findings.

A pure function of ``results["beyond"]`` (:mod:`layerspeed.experiments.beyond`) to the plain
data ``templates/sections/beyond.html.j2`` needs, as :mod:`.theory` does for the theory; the
words are :mod:`layerspeed.views.text.beyond`'s.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from layerspeed.views.figures.beyond import beyond_figures
from layerspeed.views.figures.render import spec
from layerspeed.views.text.beyond import (
    chaos_findings,
    depth_findings,
    depth_rows,
    modern_findings,
    modern_rows,
)


def beyond(d: Mapping[str, Any], figures: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The figure ids and, per part that ran, its table's rows and its findings."""
    ids = {}
    for stem, chart in beyond_figures(d).items():
        fig_id = stem.replace("_", "-")
        figures[fig_id] = spec(chart)
        ids[stem.removeprefix("beyond_")] = fig_id
    out: dict[str, Any] = {"figures": ids}
    if "modern" in d:
        out["modern"] = {"rows": modern_rows(d["modern"]), "findings": modern_findings(d["modern"])}
    if "depth" in d:
        out["depth"] = {"rows": depth_rows(d["depth"]), "findings": depth_findings(d["depth"])}
    if "chaos" in d:
        out["chaos"] = {"findings": chaos_findings(d["chaos"])}
    return out
