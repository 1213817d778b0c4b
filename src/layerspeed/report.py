"""The HTML report: one self-contained page from ``results.json`` and run folders.

``layerspeed report DIR`` and the end of ``layerspeed reproduce`` write ``DIR/report.html``:
the book's numbers beside the measured ones for every experiment of "The vanishing gradient
problem" (Nielsen, ch. 5), with the verdicts of :func:`layerspeed.experiments.chapter.verdicts`,
the chapter's figures drawn as interactive SVG, and the run metadata. Run folders that are not
part of the chapter's reproduction (the PyTorch probe's, sweeps') get a generic section: their
speed of learning per layer during training, and a table of the final speeds.

Three layers, as elsewhere in the package:

* :func:`collect` reads a folder (``results.json`` and the run folders of
  :mod:`layerspeed.store`);
* :func:`to_html` is pure: plain data in, one HTML string out. Every string from the data
  goes through :func:`html.escape`; the figures' data travel as JSON in a
  ``<script type="application/json">`` block in which ``<``, ``>`` and ``&`` are escaped, so
  no string in the data can end the block;
* :func:`write_report` writes the page atomically.

The page loads nothing: its stylesheet and script (``report_assets/``) are inlined, and the
script draws every figure with hand-written SVG, so it opens from disk, offline.
"""

from __future__ import annotations

import html
import json
import math
import os
import shlex
import warnings
from collections.abc import Callable, Mapping, Sequence
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from layerspeed.errors import BadInput
from layerspeed.store import iter_runs, read_json, write_text_atomic

# The chapter's experiments, in the order of the text; their run folders live under
# DIR/runs/<name>/ and are summed up in results.json, so the generic runs section skips them.
CHAPTER_EXPERIMENTS = ("depth", "neurons", "initial", "training")
MAX_POINTS = 600  # points per curve in the page; longer runs are thinned evenly
SIGNIFICANT = 4  # significant digits of the numbers embedded for the figures
MAX_BYTES = 5 * 1024 * 1024  # the limit on the page's size

Json = dict[str, Any]


# ---- reading a folder (I/O) ----------------------------------------------------------------


def collect(directory: str | os.PathLike[str]) -> tuple[Json, list[Json]]:
    """``(results, runs)`` from a folder: its ``results.json`` and its run folders.

    ``results`` is ``{}`` where there is no readable ``results.json``. ``runs`` holds one dict
    per run folder under ``directory`` (itself included) that is not one of the chapter's
    runs already summed up in ``results``: ``{"path": relative path, "kind", "seed",
    "config", "status": status.json or {}, "result": result.json or None}``.
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
    ``results.json`` nor any run folder.
    """
    results, runs = collect(directory)
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
    """The report as one HTML page: tables, verdicts, and the figures' data for the script.

    ``results``: the contents of ``results.json`` (see
    :mod:`layerspeed.experiments.chapter`), possibly empty or partial; each part that is
    missing leaves its section out. ``runs``: run folders as :func:`collect` returns them.
    """
    figures: dict[str, Any] = {}
    chapter = any(k in results for k in (*CHAPTER_EXPERIMENTS, "chain"))
    body = [_header(results, chapter)]
    sections: list[tuple[str, str, Callable[..., str], Any]] = [
        ("depth", "Accuracy against depth", _depth_section, results.get("depth")),
        (
            "neurons",
            "The gradient per neuron at initialization",
            _neurons_section,
            results.get("neurons"),
        ),
        (
            "initial",
            "Speed of learning at initialization",
            _initial_section,
            results.get("initial"),
        ),
        (
            "training",
            "Speed of learning during training",
            _training_section,
            results.get("training"),
        ),
        ("chain", "The chain of single neurons", _chain_section, results.get("chain")),
        (
            "problems",
            "The problems",
            _problems_section,
            (results.get("chain") or {}).get("problems"),
        ),
        (
            "remedies",
            "Remedies: activations and initializers side by side",
            _sweep_section,
            results.get("remedies"),
        ),
        ("sweep", "Sweep", _sweep_section, results.get("sweep")),
    ]
    toc = []
    for key, title, render, data in sections:
        if not isinstance(data, Mapping):
            continue
        try:
            inner = render(data, figures)
        except (KeyError, TypeError, ValueError, IndexError, ZeroDivisionError) as e:
            inner = (
                f'<p class="note">This part of the results could not be shown '
                f"({_esc(type(e).__name__)}: {_esc(e)}).</p>"
            )
        body.append(f'<section id="{key}"><h2>{_esc(title)}</h2>{inner}</section>')
        toc.append((key, title))
    if runs:
        body.append(f'<section id="runs"><h2>Runs</h2>{_runs_section(runs, figures)}</section>')
        toc.append(("runs", "Runs"))
    if results.get("meta") or results.get("runs"):
        body.append(
            f'<section id="meta"><h2>How this was run</h2>{_meta_section(results)}</section>'
        )
        toc.append(("meta", "How this was run"))
    if len(body) == 1:
        body.append('<p class="note">There are no results in this folder yet.</p>')
    nav = "".join(f'<a href="#{k}">{_esc(t)}</a>' for k, t in toc)
    title = "The vanishing gradient problem, reproduced" if chapter else "Speed of learning"
    return _PAGE.format(
        title=_esc(title),
        css=_asset("report.css"),
        nav=nav,
        body="\n".join(body),
        data=_script_json({"figures": figures}),
        js=_asset("report.js"),
    )


_PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} - layerspeed</title>
<style>
{css}
</style>
</head>
<body>
<nav class="toc">{nav}</nav>
<main>
{body}
</main>
<div id="tooltip" role="tooltip" hidden></div>
<script type="application/json" id="report-data">{data}</script>
<script>
{js}
</script>
</body>
</html>
"""


def _asset(name: str) -> str:
    return (resources.files("layerspeed") / "report_assets" / name).read_text(encoding="utf-8")


def _script_json(data: Any) -> str:
    """JSON that cannot end its ``<script>`` block: ``<``, ``>`` and ``&`` as \\u escapes."""
    text = json.dumps(_plain(data), separators=(",", ":"), allow_nan=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _plain(v: Any) -> Any:
    """JSON-ready, with NaN and inf as null and floats cut to a few significant digits."""
    if isinstance(v, bool) or v is None or isinstance(v, int | str):
        return v
    if isinstance(v, float | np.floating):
        f = float(v)
        return float(f"{f:.{SIGNIFICANT}g}") if math.isfinite(f) else None
    if isinstance(v, np.integer):
        return int(v)
    if isinstance(v, Mapping):
        return {str(k): _plain(x) for k, x in v.items()}
    if isinstance(v, list | tuple | np.ndarray):
        return [_plain(x) for x in v]
    return str(v)


def _part(results: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    """``results[key]`` where it is a mapping, else an empty one."""
    part = results.get(key)
    return part if isinstance(part, Mapping) else {}


def _title(v: Any) -> str:
    """An experiment's title, escaped, with the chapter's symbols for its ASCII spellings."""
    text = _esc(v)
    for ascii_, symbol in (
        ("||delta^l||", "&#8214;&delta;<sup>l</sup>&#8214;"),
        ("dC/db", "&part;C/&part;b"),
    ):
        text = text.replace(ascii_, symbol)
    return text


def _esc(v: Any) -> str:
    return html.escape(str(v), quote=True)


def _num(v: Any, fmt: str = ".3g") -> str:
    """A number for a table cell, escaped; a dash where there is none."""
    if v is None or isinstance(v, bool) or not isinstance(v, int | float):
        return "&ndash;" if v is None else _esc(v)
    if isinstance(v, float) and not math.isfinite(v):
        return _esc(v)
    return _esc(format(v, fmt))


def _pct(v: Any) -> str:
    return "&ndash;" if v is None else f"{_num(v, '.2f')}%"


def _yes(v: Any) -> str:
    if v is None:
        return '<span class="maybe">undecided</span>'
    return '<span class="yes">yes</span>' if v else '<span class="no">no</span>'


def _table(head: Sequence[str], rows: Sequence[Sequence[str]], cls: str = "") -> str:
    """A table; ``head`` and the cells are HTML already (escape data before)."""
    th = "".join(f"<th>{h}</th>" for h in head)
    trs = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows)
    return (
        f'<div class="table-wrap"><table class="{cls}"><thead><tr>{th}</tr></thead>'
        f"<tbody>{trs}</tbody></table></div>"
    )


def _verdicts(items: Any) -> str:
    """The book's claims with a mark: holds, does not hold, or too few runs to decide."""
    if not isinstance(items, list) or not items:
        return ""
    lis = []
    for v in items:
        if not isinstance(v, Mapping):
            continue
        holds = v.get("holds")
        cls, mark, word = (
            ("maybe", "?", "undecided")
            if holds is None
            else ("yes", "\u2713", "holds")
            if holds
            else ("no", "\u2717", "does not hold")
        )
        lis.append(
            f'<li class="verdict {cls}"><span class="mark" title="{word}">{mark}</span>'
            f'<div><p class="claim">&ldquo;{_esc(v.get("claim", ""))}&rdquo; '
            f'<span class="word">{word}</span></p>'
            f'<p class="evidence">{_esc(v.get("evidence", ""))}</p></div></li>'
        )
    return f'<ul class="verdicts">{"".join(lis)}</ul>'


def _figure(fig_id: str, caption: str, spec: Json, figures: dict[str, Any]) -> str:
    """A placeholder the script fills with SVG, and its spec under ``figures[fig_id]``."""
    figures[fig_id] = spec
    return (
        f'<figure class="chart"><div class="figure" data-figure="{_esc(fig_id)}"></div>'
        f"<figcaption>{caption}</figcaption></figure>"
    )


def _config_line(config: Any) -> str:
    if not isinstance(config, Mapping) or not config:
        return ""
    items = ", ".join(
        f"{_esc(k)} <code>{_esc(json.dumps(_plain(v)))}</code>" for k, v in config.items()
    )
    return f'<p class="config">Settings: {items}.</p>'


# ---- header --------------------------------------------------------------------------------


def _all_verdicts(results: Mapping[str, Any]) -> list[tuple[str, Mapping[str, Any]]]:
    out = []
    for name in CHAPTER_EXPERIMENTS:
        part = results.get(name)
        if isinstance(part, Mapping):
            out += [(name, v) for v in part.get("verdicts") or [] if isinstance(v, Mapping)]
    chain = results.get("chain")
    if isinstance(chain, Mapping):
        out += [("chain", v) for v in chain.get("claims") or [] if isinstance(v, Mapping)]
    return out


def _header(results: Mapping[str, Any], chapter: bool) -> str:
    meta = _part(results, "meta")
    if not chapter:
        return (
            "<header><h1>Speed of learning per layer</h1>"
            '<p class="lead">How fast each layer learns, measured as the length of its '
            "gradient vector &#8214;&delta;<sup>l</sup>&#8214; = "
            "&#8214;&part;C/&part;b<sup>l</sup>&#8214;, "
            "as in chapter 5 of Michael Nielsen's <cite>Neural Networks and Deep "
            "Learning</cite>.</p></header>"
        )
    quick = (
        '<p class="warn">This is a <strong>quick</strong> run (a smoke test: few epochs, '
        "few images). Its numbers are not the book's experiments; run <code>layerspeed "
        "reproduce</code> without <code>--quick</code> for those.</p>"
        if meta.get("quick")
        else ""
    )
    found = _all_verdicts(results)
    n_yes = sum(1 for _, v in found if v.get("holds") is True)
    n_no = sum(1 for _, v in found if v.get("holds") is False)
    n_maybe = len(found) - n_yes - n_no
    tally = ""
    if found:
        tally = (
            f'<p class="tally">Of the chapter\'s {len(found)} claims checked here, '
            f'<span class="yes">{n_yes} hold</span>, <span class="no">{n_no} do not</span>'
            + (f' and <span class="maybe">{n_maybe} are undecided</span>' if n_maybe else "")
            + ". Each section below sets the book's numbers beside the measured ones.</p>"
        )
    date = f" on {_esc(meta['date'])}" if meta.get("date") else ""
    return (
        "<header><h1>The vanishing gradient problem, reproduced</h1>"
        '<p class="lead">Chapter 5 of Michael Nielsen\'s <cite>Neural Networks and Deep '
        "Learning</cite> claims that in a deep network of sigmoid neurons the early hidden "
        "layers learn much more slowly than the later ones: the gradient "
        "&part;C/&part;b shrinks as it is propagated backwards, because it is a product of "
        "terms w<sub>j</sub>&sigma;&prime;(z<sub>j</sub>) and &sigma;&prime; is at most "
        "&frac14;. So adding hidden layers beyond two does not improve the accuracy on "
        "MNIST. With large weights the product can instead explode: the gradient is "
        "unstable. This page repeats the chapter's experiments over several random seeds "
        "and checks each claim against the spread of the measurements.</p>"
        f'<p class="generated">Generated by layerspeed{date}.</p>{quick}{tally}</header>'
    )


# ---- the chapter's experiments -------------------------------------------------------------


def _depth_section(d: Mapping[str, Any], figures: dict[str, Any]) -> str:
    rows = []
    for r in d.get("rows", []):
        final, best = r.get("final") or {}, r.get("best") or {}
        rows.append(
            [
                _num(r.get("hidden_layers"), "d"),
                f"<code>{_esc(r.get('label'))}</code>",
                _pct(r.get("book")),
                f"{_pct(final.get('mean'))} <small>({_pct(final.get('ci_low'))} &ndash; "
                f"{_pct(final.get('ci_high'))})</small>",
                f"{_pct(final.get('pi_low'))} &ndash; {_pct(final.get('pi_high'))}",
                f"{_pct(best.get('mean'))} <small>({_pct(best.get('ci_low'))} &ndash; "
                f"{_pct(best.get('ci_high'))})</small>",
                f"{_yes(r.get('book_in_final_pi'))} / {_yes(r.get('book_in_best_pi'))}",
                _num(r.get("n_runs"), "d"),
            ]
        )
    table = _table(
        [
            "hidden layers",
            "network",
            "book",
            "final: mean (95% CI)",
            "final: 95% prediction interval",
            "best epoch: mean (95% CI)",
            "book inside PI (final / best)",
            "runs",
        ],
        rows,
        "numbers",
    )
    wrows = [
        [
            f"<code>{_esc(w.get('a'))}</code> &rarr; <code>{_esc(w.get('b'))}</code>",
            _esc(w.get("measure")),
            _num(w.get("mean_difference"), "+.2f"),
            _num(w.get("book_difference"), "+.2f"),
            _num(w.get("t"), ".2f"),
            _num(w.get("df"), ".1f"),
            _num(w.get("p"), ".3g"),
        ]
        for w in d.get("welch", [])
    ]
    welch = (
        "<h3>Welch's t-test between neighbouring depths</h3>"
        + _table(
            [
                "networks",
                "accuracy",
                "difference (points)",
                "book's difference",
                "t",
                "df",
                "p",
            ],
            wrows,
            "numbers",
        )
        if wrows
        else ""
    )
    return (
        f"<p>{_title(d.get('title', ''))}. The book reports one run per depth; here each "
        "depth is trained with several seeds, and the book's number is compared with the "
        "95% prediction interval, the range in which one more run would fall.</p>"
        + _config_line(d.get("config"))
        + table
        + welch
        + _verdicts(d.get("verdicts"))
    )


def _neurons_section(d: Mapping[str, Any], figures: dict[str, Any]) -> str:
    parts = [
        f"<p>{_title(d.get('title', ''))}, in the network <code>{_esc(d.get('label'))}</code>. "
        "As in the book's figure, each bar is &part;C/&part;b of one neuron, averaged over "
        "the first 1000 training images. Hover over a bar to read its value.</p>"
    ]
    example = d.get("example")
    if isinstance(example, Mapping) and example.get("layers"):
        layers = example["layers"]
        spec = {
            "type": "bars",
            "groups": [
                {"name": f"hidden layer {l + 1}", "layer": l, "values": list(v)}
                for l, v in enumerate(layers)
            ],
            "xlabel": "neuron j",
            "ylabel": "\u2202C/\u2202b",
        }
        parts.append(
            _figure(
                "neurons",
                f"&part;C/&part;b of the first {len(layers[0])} neurons of each hidden layer "
                f"at initialization (seed {_esc(example.get('seed'))}).",
                spec,
                figures,
            )
        )
    bands = d.get("mean_abs")
    if isinstance(bands, list) and bands:
        head = ["hidden layer"] + [f"neuron {j + 1}" for j in range(len(bands[0]["median"]))]
        rows = [
            [f"{l + 1}"]
            + [
                f"{_num(m)} <small>({_num(lo)} &ndash; {_num(hi)})</small>"
                for m, lo, hi in zip(b["median"], b["low"], b["high"], strict=True)
            ]
            for l, b in enumerate(bands)
        ]
        q = f"{100 * bands[0].get('q_low', 0.1):.0f}&ndash;{100 * bands[0].get('q_high', 0.9):.0f}%"
        parts.append(
            f"<h3>|&part;C/&part;b| over {_num(d.get('n_runs'), 'd')} seeds: median ({q})</h3>"
            + _table(head, rows, "numbers")
        )
    parts.append(_verdicts(d.get("verdicts")))
    return "".join(parts)


def _initial_section(d: Mapping[str, Any], figures: dict[str, Any]) -> str:
    rows, panels = [], []
    for r in d.get("rows", []):
        h = r.get("hidden_layers") or 0
        book = r.get("book") or [None] * h
        med = r.get("median") or [None] * h
        low, high = r.get("low") or [None] * h, r.get("high") or [None] * h
        inside = r.get("book_in_band") or [None] * h
        for l in range(h):
            rows.append(
                [
                    f"<code>{_esc(r.get('label'))}</code>" if l == 0 else "",
                    f'<span class="swatch layer-{l}"></span>hidden {l + 1}',
                    _num(book[l]),
                    _num(med[l]),
                    f"{_num(low[l])} &ndash; {_num(high[l])}",
                    _yes(inside[l]),
                ]
            )
        if r.get("median"):
            panels.append(
                {
                    "title": f"{h} hidden layers",
                    "points": [
                        {
                            "layer": l,
                            "median": med[l],
                            "low": low[l],
                            "high": high[l],
                            "book": book[l],
                        }
                        for l in range(h)
                    ],
                }
            )
    q_low, q_high = 0.1, 0.9
    first = next((r for r in d.get("rows", []) if r.get("q_low") is not None), None)
    if first:
        q_low, q_high = first["q_low"], first["q_high"]
    q = f"{100 * q_low:.0f}&ndash;{100 * q_high:.0f}%"
    out = [
        f"<p>{_title(d.get('title', ''))}: the length of the vector &delta;<sup>l</sup> = "
        "&part;C/&part;b<sup>l</sup>, averaged over the first 1000 training images, for "
        "freshly initialized networks with two, three and four hidden layers. The book gives "
        f"one network each; here the median and the {q} band are over many seeds.</p>",
        _config_line(d.get("config")),
    ]
    if panels:
        out.append(
            _figure(
                "initial",
                f"Speed of learning of each hidden layer at initialization (log scale): the "
                f"median over seeds (dot), the {q} band (bar) and the book's value (diamond).",
                {
                    "type": "points",
                    "panels": panels,
                    "log": True,
                    "xlabel": "hidden layer",
                    "ylabel": "speed \u2016\u03b4\u02e1\u2016",
                },
                figures,
            )
        )
    out.append(
        _table(
            ["network", "layer", "book", "median", f"{q} band", "book inside band"], rows, "numbers"
        )
    )
    out.append(_verdicts(d.get("verdicts")))
    return "".join(out)


def _training_section(d: Mapping[str, Any], figures: dict[str, Any]) -> str:
    panels, rows = [], []
    n_layers = 0
    for r in d.get("rows", []):
        h = r.get("hidden_layers") or 0
        final = r.get("final_accuracy") or {}
        rows.append(
            [
                f"<code>{_esc(r.get('label'))}</code>",
                _num(r.get("ratio_typical"), ".0f"),
                f"{_num(100 * r['share_first_slowest'], '.0f')}%"
                if r.get("share_first_slowest") is not None
                else "&ndash;",
                f"{_num(100 * r['share_ordered'], '.0f')}%"
                if r.get("share_ordered") is not None
                else "&ndash;",
                _pct(final.get("mean")),
                _num(r.get("n_runs"), "d"),
            ]
        )
        if not r.get("layers"):
            continue
        n_layers = max(n_layers, h)
        epochs = list(r.get("epochs") or range(len(r["layers"][0]["median"])))
        idx = _thin(len(epochs))
        panels.append(
            {
                "title": f"{h} hidden layers",
                "x": [epochs[i] for i in idx],
                "series": [
                    {
                        "layer": l,
                        "name": f"hidden {l + 1}",
                        "median": [b["median"][i] for i in idx],
                        "low": [b["low"][i] for i in idx],
                        "high": [b["high"][i] for i in idx],
                    }
                    for l, b in enumerate(r["layers"])
                ],
            }
        )
    out = [
        f"<p>{_title(d.get('title', ''))}. The book trains one network of each depth by "
        "full-batch gradient descent on 1000 images for 500 epochs and plots each hidden "
        "layer's speed of learning before every epoch: the early layers stay slower "
        "throughout. Here the line is the median over seeds and the shaded band the spread "
        "between seeds. Click a layer in the legend to hide or show it.</p>",
        _config_line(d.get("config")),
    ]
    if panels:
        out.append(
            _figure(
                "training",
                "Speed of learning &#8214;&delta;<sup>l</sup>&#8214; of each hidden layer "
                "during training (log scale), by depth.",
                {
                    "type": "bands",
                    "panels": panels,
                    "log": True,
                    "toggle": True,
                    "legend": [f"hidden {l + 1}" for l in range(n_layers)],
                    "xlabel": "epoch",
                    "ylabel": "speed \u2016\u03b4\u02e1\u2016",
                },
                figures,
            )
        )
    out.append(
        _table(
            [
                "network",
                "last / first hidden layer (geometric mean over epochs)",
                "first hidden layer slowest",
                "speeds rising layer by layer",
                "final training accuracy",
                "runs",
            ],
            rows,
            "numbers",
        )
    )
    out.append(_verdicts(d.get("verdicts")))
    return "".join(out)


def _thin(n: int, limit: int = MAX_POINTS) -> list[int]:
    """At most ``limit`` evenly spread indices of ``range(n)``, the first and last kept."""
    if n <= limit:
        return list(range(n))
    return sorted({round(i * (n - 1) / (limit - 1)) for i in range(limit)})


def _chain_section(c: Mapping[str, Any], figures: dict[str, Any]) -> str:
    d, e = c.get("default") or {}, c.get("exploding") or {}
    n = len(d.get("terms", [])) - 1
    names = (
        ["&sigma;&prime;(z<sub>1</sub>)"]
        + [f"w<sub>{j}</sub>&sigma;&prime;(z<sub>{j}</sub>)" for j in range(2, n + 1)]
        + [f"&part;C/&part;a<sub>{n}</sub>"]
    )
    e_terms = e.get("terms") or [None] * len(names)
    rows = [
        [name, _num(a, ".4g"), _num(b, ".4g")]
        for name, a, b in zip(names, d.get("terms", []), e_terms, strict=False)
    ]
    for label, key in (
        ("formula (122)", "formula"),
        ("backpropagation", "backprop"),
        ("finite difference", "finite_difference"),
    ):
        rows.append(
            [
                f"&part;C/&part;b<sub>1</sub> by {label}",
                _num((d.get("dC_db1") or {}).get(key), ".10g"),
                _num((e.get("dC_db1") or {}).get(key), ".10g"),
            ]
        )
    rows.append(
        [
            "&part;C/&part;b<sub>1</sub> / &part;C/&part;b<sub>3</sub>",
            _num(d.get("ratio_db1_db3"), ".4g"),
            _num(e.get("ratio_db1_db3"), ".4g"),
        ]
    )
    chain = d.get("chain") or {}
    out = [
        "<p>The chapter explains the instability with the simplest deep network: a chain of "
        f"single neurons. For a chain of {n}, &part;C/&part;b<sub>1</sub> is the product "
        "(equation 122) of &sigma;&prime;(z<sub>1</sub>), the terms "
        "w<sub>j</sub>&sigma;&prime;(z<sub>j</sub>) and &part;C/&part;a<sub>" + str(n) + "</sub>. "
        f"The default chain has weights <code>{_esc(_plain(chain.get('weights')))}</code> and "
        f"biases <code>{_esc(_plain(chain.get('biases')))}</code> "
        f"({_esc(chain.get('activation', 'sigmoid'))}, {_esc(chain.get('cost', 'quadratic'))} "
        "cost); the exploding chain has every "
        "w<sub>j</sub> = 100 and biases chosen so that every z<sub>j</sub> = 0.</p>",
        _table(["term", "default chain", "exploding chain"], rows, "numbers"),
    ]
    v = c.get("vanishing")
    if isinstance(v, Mapping) and v.get("term_below_quarter") is not None:
        out.append(
            f"<p>Over {_num(v.get('n_chains'), 'd')} random sigmoid chains of length "
            f"{_num(v.get('length'), 'd')} with N(0, 1) weights and biases, "
            f"{_num(100 * v['term_below_quarter'], '.1f')}% of the terms "
            "|w<sub>j</sub>&sigma;&prime;(z<sub>j</sub>)| are below &frac14;, and the median "
            f"of log<sub>10</sub> |&part;C/&part;b<sub>1</sub> / "
            f"&part;C/&part;b<sub>{_num(v.get('length'), 'd')}</sub>| is "
            f"{_num(v.get('log10_ratio_median'), '.2f')} (5&ndash;95%: "
            f"{_num(v.get('log10_ratio_p05'), '.2f')} to "
            f"{_num(v.get('log10_ratio_p95'), '.2f')}).</p>"
        )
    z = [i / 20 for i in range(-160, 161)]
    sp = [_sigmoid_prime(x) for x in z]
    out.append(
        _figure(
            "sigma-prime",
            "The derivative of the sigmoid, &sigma;&prime;(z) = &sigma;(z)(1 &minus; &sigma;(z)): "
            "it peaks at &frac14; for z = 0, so with |w<sub>j</sub>| &lt; 1 each term of the "
            "product is below &frac14;.",
            {
                "type": "line",
                "series": [{"name": "\u03c3\u2032(z)", "x": z, "y": sp, "color": 0}],
                "marks": [{"x": 0.0, "y": 0.25, "label": "max \u00bc at z = 0"}],
                "xlabel": "z",
                "ylabel": "\u03c3\u2032(z)",
                "ymin": 0.0,
            },
            figures,
        )
    )
    out.append(_verdicts(c.get("claims")))
    return "".join(out)


def _sigmoid_prime(z: float) -> float:
    s = 1.0 / (1.0 + math.exp(-z))
    return s * (1.0 - s)


def _problems_section(p: Mapping[str, Any], figures: dict[str, Any]) -> str:
    out = []
    p1 = p.get("problem1") or {}
    wmax, book = p.get("width_max") or {}, p.get("width_max_book") or {}
    answers = [
        [
            "1",
            "the smallest |w| with |w&sigma;&prime;(wa + b)| &ge; 1",
            "4",
            _num(p.get("min_abs_w"), ".6g"),
        ],
        [
            "1",
            "the maximum of &sigma;&prime; (at z = 0)",
            "&frac14;",
            _num(p1.get("max_sigma_prime"), ".6g"),
        ],
        [
            "2",
            "|w| where the width bound (123) is greatest",
            _num(book.get("abs_w")),
            _num(wmax.get("abs_w"), ".4f"),
        ],
        ["2", "the greatest width", _num(book.get("width")), _num(wmax.get("width"), ".4f")],
    ]
    out.append(
        "<p>The chapter ends the section with problems on the term "
        "|w&sigma;&prime;(wa + b)|. Their answers, computed:</p>"
        + _table(["problem", "quantity", "book", "computed"], answers, "numbers")
    )
    curve = p.get("width_curve")
    if isinstance(curve, Mapping) and curve.get("abs_w"):
        marks = []
        if wmax.get("abs_w") is not None:
            marks.append(
                {
                    "x": wmax["abs_w"],
                    "y": wmax["width"],
                    "label": f"maximum {wmax['width']:.3f} at |w| = {wmax['abs_w']:.2f}",
                }
            )
        if book.get("abs_w") is not None:
            marks.append(
                {"x": book["abs_w"], "y": book["width"], "label": "book: 0.45 at 6.9", "open": True}
            )
        out.append(
            _figure(
                "width",
                "Problem 2: the width of the interval of inputs a where "
                "|w&sigma;&prime;(wa + b)| &ge; 1, at best (equation 123), against |w|.",
                {
                    "type": "line",
                    "series": [
                        {
                            "name": "width bound (123)",
                            "x": curve["abs_w"],
                            "y": curve["width"],
                            "color": 1,
                        }
                    ],
                    "marks": marks,
                    "xlabel": "|w|",
                    "ylabel": "width of the interval of a",
                    "ymin": 0.0,
                },
                figures,
            )
        )
    checks = p.get("width_check") or []
    if checks:
        out.append(
            "<h3>The formula (123) against a numerical scan</h3>"
            + _table(
                ["w", "b", "formula", "scan"],
                [
                    [
                        _num(c.get("w"), "g"),
                        _num(c.get("b"), "g"),
                        _num(c.get("formula"), ".8g"),
                        _num(c.get("scan"), ".8g"),
                    ]
                    for c in checks
                ],
                "numbers",
            )
        )
    ident = p.get("identity") or {}
    if ident.get("rows"):
        out.append(
            "<h3>Problem 3: a sigmoid neuron as an identity</h3>"
            + _table(
                [
                    "w<sub>1</sub>",
                    "largest error on [0, 1]",
                    "bound",
                    "error / bound",
                    "within the bound",
                ],
                [
                    [
                        _num(r.get("w1"), "g"),
                        _num(r.get("max_error"), ".3g"),
                        _num(r.get("max_bound"), ".3g"),
                        _num(r.get("tightness"), ".4f"),
                        _yes(r.get("within_bound")),
                    ]
                    for r in ident["rows"]
                ],
                "numbers",
            )
            + f"<p>{_esc(ident.get('statement', ''))}</p>"
        )
    acts = p.get("activations") or {}
    stats = [*(acts.get("stats") or {}).values(), *(acts.get("stats_large_weights") or {}).values()]
    if stats:
        out.append(
            "<h3>Problem 4 (the chain half): would an activation with a larger derivative "
            "help?</h3>"
            + _table(
                [
                    "activation",
                    "weight std",
                    "median nonzero term",
                    "terms &gt; 1",
                    "median log<sub>10</sub> ratio",
                    "5&ndash;95% log<sub>10</sub> ratio",
                    "vanishing (&le; 1/16)",
                    "exploding (&ge; 16)",
                ],
                [
                    [
                        _esc(s.get("activation")),
                        _num(s.get("weight_std"), "g"),
                        _num(s.get("term_median_nonzero"), ".3f"),
                        _pct(_times100(s.get("term_above_one"))),
                        _num(s.get("log10_ratio_median"), ".2f"),
                        f"{_num(s.get('log10_ratio_p05'), '.2f')} to "
                        f"{_num(s.get('log10_ratio_p95'), '.2f')}",
                        _pct(_times100(s.get("vanishing"))),
                        _pct(_times100(s.get("exploding"))),
                    ]
                    for s in stats
                ],
                "numbers",
            )
            + f"<p>{_esc(acts.get('verdict', ''))}</p>"
        )
    return "".join(out)


def _times100(v: Any) -> float | None:
    return None if v is None else 100 * v


# ---- other run folders ---------------------------------------------------------------------


def _group_name(path: str) -> str:
    """``torch/sigmoid/seed-0`` -> ``torch/sigmoid``: a run's seeds form one group."""
    head, _, last = path.rpartition("/")
    if last.startswith("seed-") or last.startswith("seed_"):
        return head or "."
    return path


def _series(result: Mapping[str, Any]) -> tuple[list[float], list[list[float | None]], str]:
    """The x values, speeds (record, layer) and the x axis's name of one run's result."""
    records = [e for e in result.get("epochs") or [] if isinstance(e, Mapping)]
    records = [e for e in records if isinstance(e.get("layer_speeds"), list)]
    if records and all(isinstance(e.get("epoch"), int | float) for e in records):
        x, name = [e["epoch"] for e in records], "epoch"
    elif records and all(isinstance(e.get("step"), int | float) for e in records):
        x, name = [e["step"] for e in records], "step"
    else:
        x, name = list(range(len(records))), "record"
    speeds = [[_finite(s) for s in e["layer_speeds"]] for e in records]
    return x, speeds, name


def _finite(v: Any) -> float | None:
    return float(v) if isinstance(v, int | float) and math.isfinite(v) and v > 0 else None


def _runs_section(runs: Sequence[Mapping[str, Any]], figures: dict[str, Any]) -> str:
    groups: dict[str, list[Mapping[str, Any]]] = {}
    for run in runs:
        groups.setdefault(_group_name(str(run.get("path", "."))), []).append(run)
    out = [
        "<p>Run folders in this folder that are not part of the chapter's reproduction: "
        "the speed of learning of each layer (the length of its bias gradient, or of its "
        "weight gradient for a layer without biases) at each record. Lines are single runs; "
        "where a folder holds several seeds, the band spans them. Click a layer in a legend "
        "to hide or show it.</p>"
    ]
    for i, (name, members) in enumerate(sorted(groups.items())):
        out.append(_run_group(f"runs-{i}", name, members, figures))
    return "".join(out)


def _run_group(
    fig_id: str, name: str, members: Sequence[Mapping[str, Any]], figures: dict[str, Any]
) -> str:
    members = sorted(members, key=lambda r: (str(r.get("seed")), str(r.get("path"))))
    first = next((m["result"] for m in members if isinstance(m.get("result"), Mapping)), None)
    kind = members[0].get("kind")
    head = (
        f"<h3><code>{_esc('this folder' if name == '.' else name)}</code> "
        f"<small>{_esc(kind or 'run')}, {len(members)} run{'s' if len(members) != 1 else ''}"
        "</small></h3>"
    )
    config = members[0].get("config")
    layer_names = [str(s) for s in (first or {}).get("layer_names") or []]
    curves, x_name = [], "epoch"
    for m in members:
        res = m.get("result")
        if isinstance(res, Mapping):
            x, speeds, x_name = _series(res)
            if speeds:
                curves.append((m, x, speeds))
    n_layers = max((len(s[0]) for _, _, s in curves), default=len(layer_names))
    layer_names += [f"layer {l + 1}" for l in range(len(layer_names), n_layers)]
    parts = [head, _config_line(config)]
    if curves:
        parts.append(_run_figure(fig_id, curves, layer_names, x_name, figures))
    rows = []
    for m in members:
        status = m.get("status") or {}
        found = next((c for c in curves if c[0] is m), None)
        last = found[2][-1] if found else []
        cells = [_esc(m.get("seed")), _status(status.get("status"), status.get("message"))]
        cells += [_num(last[l] if l < len(last) else None) for l in range(n_layers)]
        ratio = (
            last[-1] / last[0]
            if len(last) >= 2 and last[0] is not None and last[-1] is not None
            else None
        )
        cells += [_num(ratio), _num(len(found[1]) if found else 0, "d")]
        rows.append(cells)
    head_cells = (
        ["seed", "status"]
        + [
            f'<span class="swatch layer-{l % 10}"></span>{_esc(n)}'
            for l, n in enumerate(layer_names)
        ]
        + ["last / first", "records"]
    )
    parts.append(
        f'<p class="table-title">Speeds at the last record</p>{_table(head_cells, rows, "numbers")}'
    )
    return "".join(parts)


def _status(status: Any, message: Any) -> str:
    cls = {"done": "yes", "diverged": "maybe", "failed": "no"}.get(str(status), "maybe")
    text = f'<span class="{cls}">{_esc(status or "unknown")}</span>'
    return text + (f" <small>{_esc(message)}</small>" if message else "")


def _run_figure(
    fig_id: str,
    curves: list[tuple[Mapping[str, Any], list[float], list[list[float | None]]]],
    layer_names: list[str],
    x_name: str,
    figures: dict[str, Any],
) -> str:
    n_layers = len(layer_names)
    n = min(len(x) for _, x, _ in curves)
    idx = _thin(n)
    x = [curves[0][1][i] for i in idx]
    series = []
    for l in range(n_layers):
        per_run = [
            [s[i][l] if l < len(s[i]) else None for i in idx] for _, _, s in curves
        ]  # run, record
        entry: Json = {"layer": l, "name": layer_names[l]}
        if len(per_run) == 1:
            entry["median"] = per_run[0]
        else:
            arr = np.array([[np.nan if v is None else v for v in r] for r in per_run])
            with warnings.catch_warnings():  # an all-NaN record gives NaN: drawn as a gap
                warnings.simplefilter("ignore", RuntimeWarning)
                entry["median"] = np.nanmedian(arr, axis=0).tolist()
                entry["low"] = np.nanmin(arr, axis=0).tolist()
                entry["high"] = np.nanmax(arr, axis=0).tolist()
            if len(per_run) <= 10:
                entry["runs"] = per_run
        series.append(entry)
    spec = {
        "type": "bands",
        "panels": [{"title": "", "x": x, "series": series}],
        "log": True,
        "toggle": True,
        "legend": layer_names,
        "xlabel": x_name,
        "ylabel": "speed of learning",
        "wide": True,
    }
    what = "the median over runs (line), the runs (thin lines) and their range (band)"
    return _figure(
        fig_id,
        f"Speed of learning per layer against the {_esc(x_name)} (log scale)"
        + (f": {what}." if len(curves) > 1 else "."),
        spec,
        figures,
    )


# ---- metadata ------------------------------------------------------------------------------

_META_LABELS = {
    "layerspeed_version": "layerspeed",
    "python": "Python",
    "numpy": "NumPy",
    "scipy": "SciPy",
    "matplotlib": "Matplotlib",
    "torch": "PyTorch",
    "date": "date",
    "argv": "command line",
    "quick": "quick run",
    "seeds": "seeds per experiment",
    "workers": "worker processes",
    "elapsed_s": "elapsed",
}


def _sweep_section(summary: Mapping[str, Any], figures: dict[str, Any]) -> str:
    """A sweep's findings and one row per grid point (``layerspeed sweep``'s summary.json)."""
    config = summary.get("config") or {}
    axes = list((summary.get("axes") or {}).keys())
    intro = (
        f"<p>Every combination of {_esc(', '.join(axes) or 'the grid')} on the same network, "
        "each over several seeds. The <em>speed spread</em> is log<sub>10</sub> of the fastest "
        "hidden layer's speed over the slowest's: 0 when all layers learn equally fast, 2 when "
        "one learns 100 times slower. A run is <em>vanishing</em> when its first hidden layer "
        "learns more than 10 times slower than its last, <em>exploding</em> when it learns "
        "more than 10 times faster.</p>"
    )
    base = config.get("base") if isinstance(config, Mapping) else None
    settings = _config_line(base) if isinstance(base, Mapping) else ""
    findings = summary.get("findings") or []
    found = "".join(f"<li>{_esc(f)}</li>" for f in findings if isinstance(f, str))
    rows = []
    for point in summary.get("points") or []:
        if not isinstance(point, Mapping):
            continue
        params = point.get("params") or {}
        acc = point.get("accuracy") or {}
        verdict = str(point.get("verdict") or "")
        cls = {"balanced": "yes", "vanishing": "no", "exploding": "no"}.get(verdict, "maybe")
        rows.append(
            [_esc(params.get(a)) for a in axes]
            + [
                f'<span class="{cls}">{_esc(verdict)}</span>',
                _num((point.get("spread_initial") or {}).get("mean"), ".2f"),
                _num((point.get("spread_training") or {}).get("mean"), ".2f"),
                f"{_num(acc.get('mean'), '.2f')}% "
                f"<small>({_num(acc.get('ci_low'), '.2f')} &ndash; "
                f"{_num(acc.get('ci_high'), '.2f')})</small>"
                if acc.get("mean") is not None
                else "&ndash;",
                _pct(_times100(point.get("saturated_share"))),
                _esc(point.get("n_runs")),
            ]
        )
    head = [_esc(a) for a in axes] + [
        "verdict",
        "spread at init",
        "spread in training",
        "accuracy (95% CI)",
        "saturated",
        "runs",
    ]
    return (
        intro
        + settings
        + (f'<ul class="findings">{found}</ul>' if found else "")
        + _table(head, rows)
    )


def _meta_section(results: Mapping[str, Any]) -> str:
    meta = _part(results, "meta")
    rows = []
    for key in [*_META_LABELS, *(k for k in meta if k not in _META_LABELS)]:
        if key not in meta:
            continue
        v = meta[key]
        if key == "argv" and isinstance(v, list):
            cell = f"<code>{_esc(shlex.join(str(a) for a in v))}</code>"
        elif key == "seeds" and isinstance(v, Mapping):
            cell = ", ".join(f"{_esc(k)}: {_esc(n)}" for k, n in v.items())
        elif key == "elapsed_s" and isinstance(v, int | float):
            cell = f"{_num(v, '.1f')} s"
        elif key == "quick":
            cell = _esc("yes" if v else "no")
        elif isinstance(v, Mapping | list):
            cell = f"<code>{_esc(json.dumps(_plain(v)))}</code>"
        else:
            cell = _esc(v)
        rows.append([_esc(_META_LABELS.get(key, key)), cell])
    out = [_table(["", ""], rows, "meta")] if rows else []
    counts = results.get("runs")
    if isinstance(counts, Mapping):
        out.append(
            f"<p>Runs: {_num(counts.get('total'), 'd')} in all, {_num(counts.get('done'), 'd')} "
            f"done, {_num(counts.get('diverged'), 'd')} diverged, "
            f"{_num(counts.get('failed'), 'd')} failed.</p>"
        )
        problems = [p for p in counts.get("problems") or [] if isinstance(p, Mapping)]
        if problems:
            out.append(
                _table(
                    ["experiment", "network", "seed", "status", "message"],
                    [
                        [
                            _esc(p.get("experiment")),
                            f"<code>{_esc(p.get('label'))}</code>",
                            _esc(p.get("seed")),
                            _status(p.get("status"), None),
                            _esc(p.get("message") or ""),
                        ]
                        for p in problems
                    ],
                )
            )
    return "".join(out)


__all__ = ["collect", "to_html", "write_report"]
