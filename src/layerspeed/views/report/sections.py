"""What each section of the page shows: its figures' specs and the rows its tables need.

Pure functions from the parts of ``results.json`` (see :mod:`layerspeed.experiments.chapter`),
a sweep's summary and run folders to plain data for the templates. A key the schema promises
and the data lack raises here (or in the template, which is strict about undefined names):
the page never hides a section because its data are not what they should be.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from layerspeed.experiments.claims import CLAIMS as CLAIM_TABLE
from layerspeed.views import figures as fig
from layerspeed.views.figures.runs import Series, group_name, layer_names, series
from layerspeed.views.text.verdicts import clip_percent, measured

Json = Mapping[str, Any]
Figures = dict[str, dict[str, Any]]  # figure id -> Vega-Lite spec

# The chapter's experiments, in the order of the text; their run folders live under
# DIR/runs/<name>/ and are summed up in results.json, so the generic runs section skips them.
CHAPTER_EXPERIMENTS = ("depth", "neurons", "initial", "training")
TITLES = {
    "claims": "The book's claims, and how each is judged",
    "depth": "Accuracy against depth",
    "neurons": "The gradient per neuron at initialization",
    "initial": "Speed of learning at initialization",
    "training": "Speed of learning during training",
    "theory": "The theory beside the measurement",
    "chain": "The chain of single neurons",
    "problems": "The problems",
    "remedies": "Remedies: activations and initializers side by side",
    "beyond": "Beyond the book: remedies, depth and the order-to-chaos line",
    "sweep": "Sweep",
    "runs": "Runs",
    "meta": "How this was run",
}
VERDICT_CLASS = {"balanced": "yes", "vanishing": "no", "exploding": "no"}
META_LABELS = {
    "layerspeed_version": "layerspeed",
    "python": "Python",
    "numpy": "NumPy",
    "scipy": "SciPy",
    "matplotlib": "Matplotlib",
    "altair": "Altair",
    "torch": "PyTorch",
    "date": "date",
    "argv": "command line",
    "quick": "quick run",
    "seeds": "seeds per experiment",
    "workers": "worker processes",
    "elapsed_s": "elapsed",
}


def _quantiles(band: Json) -> str:
    return f"{100 * band['q_low']:.0f}–{100 * band['q_high']:.0f}%"


def depth(d: Json, figures: Figures) -> dict[str, Any]:
    """The depth table's prediction intervals, clipped to 0..100% (``clipped`` marks them);
    ``results.json`` keeps them as computed."""
    if any(r["n_runs"] for r in d["rows"]):
        figures["depth"] = fig.spec(fig.depth_accuracy(d))
    pi = [
        {
            which: dict(zip(("low", "high", "clipped"), clip_percent(
                r[which]["pi_low"], r[which]["pi_high"]
            ), strict=True))
            for which in ("final", "best")
        }
        if r["n_runs"]
        else {}
        for r in d["rows"]
    ]  # fmt: skip
    clipped = any(v["clipped"] for row in pi for v in row.values())
    return {"pi": pi, "clipped": clipped}


def neurons(d: Json, figures: Figures) -> dict[str, Any]:
    if not d["n_runs"]:
        return {"q": None}
    figures["neurons"] = fig.spec(fig.neuron_bars(d))
    bands = d.get("mean_abs") or []
    return {"q": _quantiles(bands[0]) if bands else None}


def initial(d: Json, figures: Figures) -> dict[str, Any]:
    rows, measured = [], [r for r in d["rows"] if r["n_runs"]]
    for r in d["rows"]:
        h = r["hidden_layers"]
        book = r.get("book") or [None] * h
        for l in range(h):
            cells = {"book": book[l], "layer": l}
            if r["n_runs"]:
                cells |= {k: r[k][l] for k in ("median", "low", "high")}
                cells["inside"] = r["book_in_band"][l]
            rows.append({"label": r["label"] if l == 0 else ""} | cells)
    if measured:
        figures["initial"] = fig.spec(fig.initial_speeds(d))
    return {"rows": rows, "q": _quantiles(measured[0]) if measured else "10–90%"}


def training(d: Json, figures: Figures) -> dict[str, Any]:
    if any(r["n_runs"] and r.get("layers") for r in d["rows"]):
        figures["training"] = fig.spec(fig.training_speeds(d))
    return {}


def chain(c: Json, figures: Figures) -> dict[str, Any]:
    default, exploding = c["default"], c["exploding"]
    n = len(default["terms"]) - 1
    names = ["σ′(z₁)"] + [f"w{_sub(j)}σ′(z{_sub(j)})" for j in range(2, n + 1)]
    names.append(f"∂C/∂a{_sub(n)}")
    rows = [
        {"term": name, "default": a, "exploding": b}
        for name, a, b in zip(names, default["terms"], exploding["terms"], strict=True)
    ]
    figures["sigma-prime"] = fig.spec(fig.sigma_prime())
    return {"n": n, "sub_n": _sub(n), "terms": rows}


def _sub(n: int) -> str:
    """``12`` -> ``₁₂``: a subscript as text, so the templates escape every string."""
    return str(n).translate(str.maketrans("0123456789", "₀₁₂₃₄₅₆₇₈₉"))


def problems(p: Json, figures: Figures) -> dict[str, Any]:
    figures["width"] = fig.spec(fig.width_bound(p))
    acts = p["activations"]
    stats = [*acts["stats"].values(), *(acts.get("stats_large_weights") or {}).values()]
    return {"stats": stats}


def sweep(key: str, summary: Json, figures: Figures) -> dict[str, Any]:
    """A sweep's table: one row per grid point (``layerspeed sweep``'s summary.json)."""
    axes = list(summary["axes"])
    rows = [
        dict(p)
        | {
            "params": [p["params"].get(a) for a in axes],
            "cls": VERDICT_CLASS.get(str(p["verdict"]), "maybe"),
        }
        for p in summary["points"]
    ]
    if summary["points"]:
        figures[key] = fig.spec(fig.sweep_figure(summary))
    base = summary.get("config", {}).get("base")
    return {"axes": axes, "rows": rows, "base": base if isinstance(base, Mapping) else None}


def run_groups(runs: Sequence[Json], figures: Figures) -> list[dict[str, Any]]:
    """Run folders grouped by configuration (their seeds together), each with its figure."""
    groups: dict[str, list[Json]] = {}
    for run in runs:
        groups.setdefault(group_name(str(run["path"])), []).append(run)
    out = []
    for i, (name, members) in enumerate(sorted(groups.items())):
        members = sorted(members, key=lambda r: (str(r["seed"]), str(r["path"])))
        found: list[tuple[Json, Series | None]] = [
            (m, series(m["result"]) if isinstance(m["result"], Mapping) else None) for m in members
        ]
        drawn = [s for _, s in found if s is not None and s.speeds]
        n_layers = max((len(s.speeds[0]) for s in drawn), default=0)
        first = next((m["result"] for m in members if isinstance(m["result"], Mapping)), None)
        names = layer_names(first, n_layers)
        fig_id = f"runs-{i}"
        if drawn:
            figures[fig_id] = fig.spec(fig.run_speeds(drawn, names))
        rows = []
        for m, s in found:
            last = s.speeds[-1] if s is not None and s.speeds else []
            speeds = [last[l] if l < len(last) else None for l in range(len(names))]
            ratio = (
                speeds[-1] / speeds[0]
                if len(speeds) >= 2 and speeds[0] is not None and speeds[-1] is not None
                else None
            )
            records = len(s.x) if s is not None and s.speeds else 0
            rows.append({"seed": m["seed"], "status": m["status"], "speeds": speeds} | {
                "ratio": ratio, "records": records
            })  # fmt: skip
        out.append(
            {
                "name": "this folder" if name == "." else name,
                "kind": members[0]["kind"] or "run",
                "config": members[0]["config"],
                "n": len(members),
                "figure": fig_id if drawn else None,
                "x_name": drawn[0].x_name if drawn else "epoch",
                "several": len(drawn) > 1,
                "layers": names,
                "rows": rows,
            }
        )
    return out


def meta_rows(meta: Json) -> list[dict[str, Any]]:
    """The metadata in a fixed order (known keys first), each value with how to show it."""
    keys = [*(k for k in META_LABELS if k in meta), *(k for k in meta if k not in META_LABELS)]
    rows = []
    for key in keys:
        v = meta[key]
        if key == "argv" and isinstance(v, list):
            kind = "argv"
        elif key == "seeds" and isinstance(v, Mapping):
            kind = "seeds"
        elif key == "elapsed_s" and isinstance(v, int | float):
            kind = "seconds"
        elif key == "quick":
            kind = "bool"
        elif isinstance(v, Mapping | list):
            kind = "json"
        else:
            kind = "text"
        rows.append({"label": META_LABELS.get(key, key), "value": v, "kind": kind})
    return rows


def claims(results: Json) -> list[Json]:
    """One row per judged claim of the chapter: the book's words, the threshold (from the
    table of claims), the measured value and the verdict."""
    rows: list[Json] = []
    for name in CHAPTER_EXPERIMENTS:
        for v in (results.get(name) or {}).get("verdicts", []):
            c = CLAIM_TABLE.get(v.get("id", ""))
            if c is None:
                continue
            rows.append(
                {
                    "words": c.words,
                    "threshold": c.threshold,
                    "kind": c.kind,
                    "measured": measured(v),
                    "holds": v["holds"],
                }
            )
    return rows


def verdicts(results: Json) -> list[Json]:
    """Every verdict of the chapter's experiments and the chain, for the header's tally."""
    out = [v for name in CHAPTER_EXPERIMENTS if name in results for v in results[name]["verdicts"]]
    if "chain" in results:
        out += results["chain"]["claims"]
    return out


def finite(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)
