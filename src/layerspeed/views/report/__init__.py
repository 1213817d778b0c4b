"""The HTML report: one self-contained page from ``results.json`` and run folders.

``layerspeed report DIR`` and the end of ``layerspeed reproduce`` write ``DIR/report.html``:
the book's numbers beside the measured ones for every experiment of "The vanishing gradient
problem" (Nielsen, ch. 5), with the verdicts, the chapter's figures (the same charts as the
PNG and SVG files, drawn interactively by Vega), and the run metadata. Run folders that are
not part of the chapter's reproduction (the PyTorch probe's, sweeps') get a generic section.

Three steps, as elsewhere in the package:

* :func:`read_report_inputs` reads a folder (``results.json``, a sweep's ``summary.json``,
  the run folders of :mod:`layerspeed.store`);
* :func:`to_html` is pure: plain data in, one HTML string out, from Jinja2 templates with
  autoescaping on (``templates/``); the figures travel as JSON through Jinja's ``tojson``;
* :func:`write_report` writes the page atomically.

The page loads nothing: its stylesheet and the Vega, Vega-Lite and vega-embed code are inlined,
so it opens from disk, offline.
"""

from __future__ import annotations

import functools
import json
import math
import os
import shlex
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import jinja2
from markupsafe import Markup

from layerspeed.errors import BadInput
from layerspeed.experiments.schema import schema_version
from layerspeed.store import iter_runs, read_json, write_text_atomic
from layerspeed.views.figures import javascript
from layerspeed.views.report import sections
from layerspeed.views.report.sections import CHAPTER_EXPERIMENTS, TITLES

MAX_BYTES = 5 * 1024 * 1024  # the limit on the page's size
Json = dict[str, Any]


# ---- reading a folder (I/O) ----------------------------------------------------------------


def read_report_inputs(directory: str | os.PathLike[str]) -> tuple[Json, list[Json]]:
    """``(results, runs)`` from a folder: its ``results.json`` and its run folders.

    ``results`` is ``{}`` where there is no readable ``results.json``; in a sweep's folder it
    is ``{"sweep": summary.json}``. ``runs`` holds one dict per run folder under ``directory``
    (itself included) that is not one of the runs already summed up in ``results``:
    ``{"path": relative path, "kind", "seed", "config", "status": status.json or {},
    "result": result.json or None}``.
    """
    base = Path(directory)
    if not base.is_dir():
        raise BadInput(f"{directory}: no such folder")
    results = read_json(base / "results.json")
    if not isinstance(results, dict):
        results = {}
    # A sweep's folder: its summary.json sums up every run under DIR/runs/.
    sweep = read_json(base / "summary.json")
    if not results and isinstance(sweep, dict) and isinstance(sweep.get("points"), list):
        results = {"sweep": sweep}
    summed = {name for name in CHAPTER_EXPERIMENTS if name in results}
    runs = []
    for run in iter_runs(base):
        config = run.config
        if not isinstance(config, dict):
            continue
        rel = run.path.relative_to(base).as_posix()
        parts = rel.split("/")
        if len(parts) > 1 and parts[0] == "runs" and parts[1] in summed:
            continue
        if ("sweep" in results and parts[0] == "runs") or (
            "remedies" in results and parts[0] == "remedies"
        ):
            continue
        status = read_json(run.path / "status.json")
        runs.append(
            {
                "path": rel,
                "kind": config.get("kind"),
                "seed": config.get("seed"),
                "config": config.get("config"),
                "status": status if isinstance(status, dict) else {},
                "result": run.result,
            }
        )
    return results, runs


def write_report(
    directory: str | os.PathLike[str], out: str | os.PathLike[str] | None = None
) -> Path:
    """Write the report of ``directory`` to ``out`` (default ``DIR/report.html``); its path.

    Raises :class:`layerspeed.errors.BadInput` when the folder holds neither a
    ``results.json`` nor any run folder, or results of a schema this version cannot read.
    """
    results, runs = read_report_inputs(directory)
    if not results and not runs:
        raise BadInput(
            f"{directory}: no results.json and no run folders to report on; "
            f"run `layerspeed reproduce --out {directory}` first"
        )
    path = Path(out) if out is not None else Path(directory) / "report.html"
    write_text_atomic(path, to_html(results, runs))
    return path


# ---- the page (pure) -----------------------------------------------------------------------


def to_html(results: Mapping[str, Any], runs: Sequence[Mapping[str, Any]] | None = None) -> str:
    """The report as one HTML page: tables, verdicts, and the figures as Vega-Lite specs.

    ``results``: the contents of ``results.json`` (see :mod:`layerspeed.experiments.chapter`);
    each experiment that is absent leaves its section out. ``runs``: run folders as
    :func:`read_report_inputs` returns them. Raises :class:`BadInput` for a results schema
    this version does not know.
    """
    for part in (results, results.get("sweep") or {}, results.get("remedies") or {}):
        schema_version(part)
    figures: sections.Figures = {}
    found: list[dict[str, Any]] = []

    def add(key: str, data: Any, extra: dict[str, Any]) -> None:
        found.append({"id": key, "title": TITLES[key], "d": data, "x": extra})

    for key in CHAPTER_EXPERIMENTS:
        if key in results:
            add(key, results[key], getattr(sections, key)(results[key], figures))
    if "chain" in results:
        chain = results["chain"]
        add("chain", chain, sections.chain(chain, figures))
        if "problems" in chain:
            add("problems", chain["problems"], sections.problems(chain["problems"], figures))
    for key in ("remedies", "sweep"):
        if key in results:
            add(key, results[key], sections.sweep(key, results[key], figures))
    groups = sections.run_groups(runs or [], figures)
    meta = results.get("meta") or {}
    chapter = any(k in results for k in (*CHAPTER_EXPERIMENTS, "chain"))
    page = (
        _environment()
        .get_template("page.html.j2")
        .render(
            chapter=chapter,
            meta=meta,
            tally=sections.verdicts(results),
            sections=found,
            groups=groups,
            meta_rows=sections.meta_rows(meta),
            counts=results.get("runs"),
            figures=figures,
            vega=Markup(javascript()),  # trusted code from vl-convert, checked for "</script"
        )
    )
    return str(page)


@functools.cache
def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("layerspeed.views.report", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,  # a key the data lack fails, never renders blank
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters.update(num=_num, pct=_pct, symbols=_symbols, shell=_shell, compact=_compact)
    return env


def _num(v: Any, fmt: str = ".3g") -> str:
    """A number for a table cell; a dash where there is none."""
    if v is None:
        return "–"
    if isinstance(v, bool) or not isinstance(v, int | float):
        return str(v)
    if isinstance(v, float) and not math.isfinite(v):
        return str(v)
    return format(v, fmt)


def _pct(v: Any, scale: float = 1.0) -> str:
    """A percentage with two decimals (``scale=100`` for a share); a dash where there is none."""
    return "–" if v is None else f"{_num(scale * v, '.2f')}%"


def _symbols(text: Any) -> str:
    """An experiment's title with the chapter's symbols for its ASCII spellings."""
    return str(text).replace("||delta^l||", "‖δˡ‖").replace("dC/db", "∂C/∂b")


def _shell(argv: Sequence[Any]) -> str:
    return shlex.join(str(a) for a in argv)


def _compact(v: Any) -> str:
    """A setting's value as short JSON."""
    return json.dumps(v, separators=(", ", ": "), default=str)


__all__ = ["MAX_BYTES", "read_report_inputs", "to_html", "write_report"]
