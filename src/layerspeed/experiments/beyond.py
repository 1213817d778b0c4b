"""Beyond the book, in numbers: the ``modern``, ``depth`` and ``chaos`` sweeps summed up.

``layerspeed reproduce --beyond`` runs three more presets beside the chapter's
(``presets/modern.toml``, ``depth.toml``, ``chaos.toml``), each summed up per grid point by
:func:`layerspeed.experiments.summary.summarize`. This module turns those summaries into
``results["beyond"]``:

- :func:`modern_part`: per variant and depth, the speed spread at initialization and during
  training (median, mean and 95% CI over seeds), the flags and the verdict, and the
  validation accuracy with its 95% CI; for LARS also the share of its norm every layer's
  weights move a step (``eta * LARS_TRUST``, the same for every layer by the trust ratio);
- :func:`depth_part`: per variant and depth, the first-to-last speed ratio (last hidden
  layer's speed over the first's) at initialization and after the one epoch (geometric mean
  and 10-90% band over seeds), beside the mean-field line ``factor ** (depth - 1)`` with
  ``factor = 1/sqrt(chi)`` of :func:`layerspeed.theory.mean_field` for that activation and
  initializer; batch norm has no such line (the mean-field theory of the plain network does
  not describe it), and neither does a residual network;
- :func:`chaos_part`: :func:`~layerspeed.experiments.theory_check.chaos_rows` and the point
  of smallest measured spread, overall and per activation.

Numbers only: the words are :mod:`layerspeed.views.text.beyond`'s.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from layerspeed.experiments.claims import CLAIMS
from layerspeed.experiments.config import RunConfig
from layerspeed.experiments.driver import RunRecord
from layerspeed.experiments.grid import VARIANT
from layerspeed.experiments.schema import (
    BeyondPart,
    ChaosPart,
    DepthPart,
    DepthRow,
    ModernPart,
    ModernRow,
)
from layerspeed.experiments.theory_check import chaos_rows
from layerspeed.nn.remedies import LARS_TRUST
from layerspeed.readings import SPEED_FLOOR
from layerspeed.theory import CHAPTER_WIDTH, mean_field

CHAPTER_DEPTH = 4  # the chapter's deepest network, [784,30,30,30,30,10]
BAND = (0.1, 0.9)  # the quantiles of a band over seeds
BOOK = ("sigmoid", "default", "none")  # the book's network: activation, initializer, norm
# Where the mean-field line of the plain network does not describe a variant, and why.
NO_LINE = {
    "norm": "batch norm rescales every hidden layer's pre-activations by the mini-batch's own "
    "statistics, so the plain network's fixed point q* and chi do not describe it",
    "residual": "a skip connection adds each layer's input to its output, so the gradient does "
    "not pass through chi alone at each layer",
}
_DEFAULTS = {
    f.name: f.default for f in dataclasses.fields(RunConfig) if f.default is not dataclasses.MISSING
}


def point_values(summary: Mapping[str, Any], point: Mapping[str, Any]) -> dict[str, Any]:
    """A grid point's run settings: RunConfig's defaults, then the study's base, its
    variant's values and the point's own axes (the variant's name under ``"variant"``)."""
    config = summary.get("config") or {}
    params = dict(point["params"])
    variant = (config.get("variants") or {}).get(params.get(VARIANT), {})
    return _DEFAULTS | dict(config.get("base") or {}) | dict(variant) | params


def _median(d: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """A summary's Description as median, mean, 95% CI of the mean and n."""
    if not d or not d.get("values"):
        return None
    keys = ("mean", "ci_low", "ci_high", "n")
    return {"median": float(np.median(d["values"]))} | {k: d.get(k) for k in keys}


def modern_part(summary: Mapping[str, Any]) -> ModernPart:
    """``presets/modern.toml``'s summary as one row per variant and depth."""
    rows: list[ModernRow] = []
    for p in summary["points"]:
        v = point_values(summary, p)
        row: ModernRow = {
            "label": p["label"],
            "variant": str(v.get(VARIANT, p["label"])),
            "depth": int(v.get("depth", CHAPTER_DEPTH)),
            "n_runs": p["n_runs"],
            "status": dict(p["status"]),
            "spread_initial": _median(p["spread_initial"]),
            "spread_training": _median(p["spread_training"]),
            "flags_initial": dict(p["flags_initial"]),
            "flags_training": dict(p["flags_training"]),
            "verdict": p["verdict"],
            "accuracy": _median(p["accuracy"]),
            "lars_step": float(v["eta"]) * LARS_TRUST if v.get("layer_lr") == "lars" else None,
        }
        rows.append(row)
    return {"study": summary["name"], "rows": rows}


def seed_ratios(records: Sequence[RunRecord]) -> dict[str, dict[str, list[float]]]:
    """Per grid point (label), the first-to-last speed ratio of every ended run at
    initialization and after its training (``"initial"``, ``"after"``), seed by seed, and
    under ``"floored_initial"`` and ``"floored_after"`` a 1 for each of those readings whose
    first hidden layer's speed was at :data:`SPEED_FLOOR` (its ratio is then a lower bound)."""
    out: dict[str, dict[str, list[float]]] = {}
    for r in records:
        inst = (r.result or {}).get("instability") or {}
        mine = out.setdefault(r.task.label, {})
        for key, when in (("initial", "initial"), ("after", "final")):
            mine.setdefault(key, [])
            mine.setdefault(f"floored_{key}", [])
            if inst.get(when) and math.isfinite(inst[when]["ratio"]):
                mine[key].append(float(inst[when]["ratio"]))
                if inst[when].get("first", 1.0) <= SPEED_FLOOR:
                    mine[f"floored_{key}"].append(1.0)
    return out


def _geo_band(values: Sequence[float]) -> dict[str, Any] | None:
    """Geometric mean and the 10-90% band of positive ratios over seeds (quantiles of logs)."""
    a = np.asarray([x for x in values if x > 0], dtype=np.float64)
    if not a.size:
        return None
    logs = np.log(a)
    lo, hi = np.quantile(logs, BAND)
    return {
        "geomean": float(np.exp(logs.mean())),
        "low": float(np.exp(lo)),
        "high": float(np.exp(hi)),
        "n": int(a.size),
    }


def _theory(v: Mapping[str, Any]) -> dict[str, Any]:
    """The mean-field per-layer factor for a variant's settings, or why there is none."""
    for key, why in NO_LINE.items():
        if v.get(key) not in (None, False, "none"):
            return {"applies": False, "why": why, "chi": None, "factor": None}
    sizes = v.get("sizes")
    width = int(sizes[1]) if sizes else int(v.get("width", CHAPTER_WIDTH))
    mf = mean_field(
        str(v["activation"]), str(v["init"]),
        gain=float(v["gain"]), bias_gain=float(v["bias_gain"]), width=width,
    )  # fmt: skip
    return {"applies": mf.factor is not None, "why": None, "chi": mf.chi, "factor": mf.factor}


def depth_part(
    summary: Mapping[str, Any], ratios: Mapping[str, Mapping[str, Sequence[float]]]
) -> DepthPart:
    """``presets/depth.toml``'s summary and its runs' ratios (:func:`seed_ratios`) as one row
    per variant: its points by depth, each with the measured ratios and the theory's."""
    by_variant: dict[str, DepthRow] = {}
    for p in summary["points"]:
        v = point_values(summary, p)
        name = str(v.get(VARIANT, "book"))
        if name not in by_variant:
            t = _theory(v)
            by_variant[name] = {
                "variant": name,
                "activation": str(v["activation"]),
                "init": str(v["init"]),
                "norm": str(v["norm"]),
                "theory": t,
                "points": [],
                "fitted": {},
            }
        factor = by_variant[name]["theory"]["factor"]
        depth = int(v.get("depth", len(v.get("sizes") or ()) - 2))
        mine = ratios.get(p["label"], {})
        by_variant[name]["points"].append(
            {
                "depth": depth,
                "label": p["label"],
                "initial": _geo_band(mine.get("initial", [])),
                "after": _geo_band(mine.get("after", [])),
                "theory": factor ** (depth - 1) if factor is not None else None,
                "floored": {w: len(mine.get(f"floored_{w}", [])) for w in ("initial", "after")},
            }
        )
    rows = list(by_variant.values())
    for r in rows:
        r["points"].sort(key=lambda q: q["depth"])
        r["fitted"] = {when: fitted_factor(r["points"], when) for when in ("initial", "after")}
    return {"study": summary["name"], "rows": rows, "chapter": _chapter_point(rows)}


def fitted_factor(points: Sequence[Mapping[str, Any]], when: str) -> float | None:
    """The per-layer factor of the straight line through ratio 1 at one hidden layer that best
    fits the measured ratios on a log scale: ``exp(sum x log r / sum x^2)``, ``x = depth - 1``,
    over the points with a ratio and no speed at the floor; None without such a point."""
    xs, ys = [], []
    for p in points:
        m = p.get(when)
        if m and p["depth"] > 1 and not (p.get("floored") or {}).get(when):
            xs.append(p["depth"] - 1.0)
            ys.append(math.log(m["geomean"]))
    if not xs:
        return None
    x, y = np.asarray(xs), np.asarray(ys)
    return float(np.exp(np.sum(x * y) / np.sum(x * x)))


def _chapter_point(rows: Sequence[DepthRow]) -> dict[str, Any]:
    """The chapter's "roughly 100 times" at four hidden layers, beside the book's own line
    (the first variant: sigmoid with the default initializer) at that depth."""
    claim = CLAIMS["training.ratio_100"]
    out: dict[str, Any] = {"depth": CHAPTER_DEPTH, "book": claim["book"]}
    out["roughly"] = claim["roughly"]
    book = next((r for r in rows if (r["activation"], r["init"], r["norm"]) == BOOK), None)
    at = [q for q in (book or {"points": []})["points"] if q["depth"] == CHAPTER_DEPTH]
    out["variant"] = book["variant"] if book else None
    out["initial"] = at[0]["initial"] if at else None
    out["after"] = at[0]["after"] if at else None
    out["theory"] = at[0]["theory"] if at else None
    return out


def chaos_part(summary: Mapping[str, Any]) -> ChaosPart:
    """:func:`chaos_rows` and the rows of smallest measured median spread."""
    rows = chaos_rows(summary)
    best: dict[str, dict[str, Any]] = {}
    for r in rows:
        if r["activation"] not in best or r["median"] < best[r["activation"]]["median"]:
            best[r["activation"]] = r
    smallest = min(rows, key=lambda r: r["median"]) if rows else None
    return {"study": summary["name"], "rows": rows, "smallest": smallest, "by_activation": best}


def beyond_part(
    *,
    modern: Mapping[str, Any] | None = None,
    depth: Mapping[str, Any] | None = None,
    depth_ratios: Mapping[str, Mapping[str, Sequence[float]]] | None = None,
    chaos: Mapping[str, Any] | None = None,
) -> BeyondPart:
    """``results["beyond"]`` from the sweeps' summaries that ran."""
    out: BeyondPart = {"title": "Beyond the book: remedies, depth and the order-to-chaos line"}
    if modern is not None:
        out["modern"] = modern_part(modern)
    if depth is not None:
        out["depth"] = depth_part(depth, depth_ratios or {})
    if chaos is not None:
        out["chaos"] = chaos_part(chaos)
    return out
