"""The report's section on the theory beside the measurement: its figures and its rows.

A pure function of ``results["theory"]`` (:mod:`layerspeed.experiments.theory_check`) to the
plain data ``templates/sections/theory.html.j2`` needs, as :mod:`.sections` does for the
chapter's experiments; the words are :mod:`layerspeed.views.text.theory`'s.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from layerspeed.views.figures.render import spec
from layerspeed.views.figures.theory import theory_figures
from layerspeed.views.text.theory import findings, table_rows


def theory(d: Mapping[str, Any], figures: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The figure ids (one per measured network), the table's rows and the findings."""
    ids = []
    for stem, chart in theory_figures(d).items():
        fig_id = stem.replace("_", "-")
        figures[fig_id] = spec(chart)
        ids.append(fig_id)
    return {"figures": ids, "rows": table_rows(d), "findings": findings(d)}
