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
from layerspeed.experiments.validate import layout_problem
from layerspeed.store import check_writable, iter_runs, read_json, write_text_atomic
from layerspeed.views.figures import javascript
from layerspeed.views.report import sections
from layerspeed.views.report.beyond import beyond as beyond_section
from layerspeed.views.report.sections import CHAPTER_EXPERIMENTS, TITLES
from layerspeed.views.report.theory import theory as theory_section

MAX_BYTES = 5 * 1024 * 1024  # the limit on the page's size
Json = dict[str, Any]


# ---- reading a folder (I/O) ----------------------------------------------------------------


def read_report_inputs(directory: str | os.PathLike[str]) -> tuple[Json, list[Json]]:
    """``(results, runs)`` from a folder: its ``results.json`` and its run folders.

    ``results`` is ``{}`` where the folder has no ``results.json``; in a sweep's folder it is
    ``{"sweep": summary.json}``. ``runs`` holds one dict per run folder under ``directory``
    (itself included) that is not one of the runs already summed up in ``results``:
    ``{"path": relative path, "kind", "seed", "config", "status": status.json or {},
    "result": result.json or None}``.

    Raises :class:`BadInput` for a ``results.json`` or ``summary.json`` that is not a JSON
    object, a ``results.json`` missing beside the chapter's own runs, and a listed run whose
    ``result.json`` is not of the run-folder layout: a page of them would say the wrong thing.
    """
    base = Path(directory)
    if not base.is_dir():
        raise BadInput(f"{directory}: no such folder")
    redo = f"run `layerspeed reproduce --out {directory}` again to write it"
    results = _json_object(base / "results.json", redo) or {}
    # A sweep's folder: its summary.json sums up every run under DIR/runs/.
    sweep = _json_object(base / "summary.json", "run the sweep again to write it")
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
        if not results and sweep is None and _chapter_run(parts, config):
            raise BadInput(
                f"{base / 'results.json'}: missing, though {base / 'runs'} holds the chapter's "
                f"runs; run `layerspeed reproduce --out {directory}` to sum them up"
            )
        if len(parts) > 1 and parts[0] == "runs" and parts[1] in summed:
            continue
        if ("sweep" in results and parts[0] == "runs") or (
            "remedies" in results and parts[0] == "remedies"
        ):
            continue
        if "beyond" in results and parts[0] in results["beyond"]:  # OUT/modern, depth, chaos
            continue
        status = read_json(run.path / "status.json")
        why = layout_problem(run.result) if run.result is not None else None
        if why is not None:
            raise BadInput(f"{run.path / 'result.json'}: {why}; run it again, or remove its folder")
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


def _json_object(path: Path, fix: str) -> Json | None:
    """The JSON object in ``path``; None if there is no such file; :class:`BadInput`, saying
    what is wrong and ``fix``, if the file is there but holds no JSON object."""
    if not path.exists() and not path.is_symlink():
        return None
    try:
        data = json.loads(path.read_bytes())
    except OSError as e:
        raise BadInput(f"{path}: cannot be read ({e.strerror or e}); {fix}") from None
    except json.JSONDecodeError as e:
        where = f"line {e.lineno}, column {e.colno}"
        raise BadInput(f"{path}: not valid JSON ({where}); {fix}") from None
    except UnicodeDecodeError:
        raise BadInput(f"{path}: not valid JSON (not UTF-8 text); {fix}") from None
    if not isinstance(data, dict):
        raise BadInput(f"{path}: a JSON {_json_kind(data)}, not an object; {fix}")
    return data


def _json_kind(v: Any) -> str:
    if isinstance(v, list):
        return "list"
    if isinstance(v, str):
        return "string"
    if isinstance(v, bool):
        return "boolean"
    return "null" if v is None else "number"


def _chapter_run(parts: Sequence[str], config: Json) -> bool:
    """Whether a run folder at ``parts`` is one of the chapter's (``runs/depth/...``)."""
    return (
        len(parts) > 2
        and parts[0] == "runs"
        and parts[1] in CHAPTER_EXPERIMENTS
        and config.get("kind") == parts[1]
    )


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
    check_writable(path, label="--out" if out is not None else "")  # before the page is built
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

    if claim_rows := sections.claims(results):
        add("claims", claim_rows, {})
    for key in CHAPTER_EXPERIMENTS:
        if key in results:
            add(key, results[key], getattr(sections, key)(results[key], figures))
    if "theory" in results:
        add("theory", results["theory"], theory_section(results["theory"], figures))
    if "chain" in results:
        chain = results["chain"]
        add("chain", chain, sections.chain(chain, figures))
        if "problems" in chain:
            add("problems", chain["problems"], sections.problems(chain["problems"], figures))
    for key in ("remedies", "sweep"):
        if key in results:
            add(key, results[key], sections.sweep(key, results[key], figures))
    if "beyond" in results:
        add("beyond", results["beyond"], beyond_section(results["beyond"], figures))
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
