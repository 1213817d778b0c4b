"""The mean-field prediction beside the measured speeds at initialization.

For each network of the chapter's ``initial`` study (speeds ``||delta^l||`` of freshly
initialized networks, one run per seed) this sets the measured per-layer factors
``speed^{l+1} / speed^l`` (median and band over seeds, :func:`layerspeed.stats.quantile_band`)
beside the mean-field prediction ``1/sqrt(chi^l)`` of :func:`layerspeed.theory.
network_prediction` (the q map iterated from the probe images' own second moment, so the
first hidden layer is predicted from the pixels, not from the fixed point) and the book's
bound of 4 per layer, with the prediction's relative error.

The theory predicts the expected squared per-example gradient; the book's speed is the norm
of the gradient averaged over the probe images. Both are measured (``layer_speeds`` and
``mean_example_norms``) and both are set beside the prediction. Numbers only: the words are
:mod:`layerspeed.views.text.theory`'s.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from layerspeed import stats
from layerspeed.experiments.config import RunConfig
from layerspeed.experiments.datasets import Data, floats
from layerspeed.experiments.driver import RunRecord
from layerspeed.experiments.grid import Study
from layerspeed.experiments.schema import TheoryPart, TheoryRow
from layerspeed.theory import BOOK_BOUND, CHAPTER_WIDTH, mean_field, network_prediction

TOLERANCE = 0.15  # the issue's: the prediction within 15% of the measured median


def input_second_moment(config: RunConfig, data: Data) -> float:
    """The mean over the probe images and their pixels of x^2: where the q map starts."""
    train_x, _ = floats(data[config.dataset])
    x = train_x[: config.n_probe]  # (n_probe, 784)
    return float(np.mean(np.square(x)))


def _bias_gain(config: RunConfig) -> float:
    # A run model without a bias gain draws its biases at the initializer's own scale.
    return float(getattr(config, "bias_gain", 1.0))


def _band_at(band: stats.Band, i: int) -> dict[str, float]:
    return {"median": band.median[i], "low": band.low[i], "high": band.high[i]}


def theory_row(
    config: RunConfig, label: str, speeds: np.ndarray, per_example: np.ndarray, m2: float
) -> TheoryRow:
    """One network: ``speeds`` and ``per_example`` are (seed, hidden layer) arrays of the
    book's speeds and of the mean per-example norms; ``m2`` the input's second moment."""
    pred = network_prediction(
        config.activation, config.init, config.sizes, m2, gain=config.gain,
        bias_gain=_bias_gain(config),
    )  # fmt: skip
    h = config.hidden_layers
    row: TheoryRow = {
        "label": label,
        "sizes": list(config.sizes),
        "hidden_layers": h,
        "n_runs": int(speeds.shape[0]),
        "q": pred.q,
        "chi": pred.chi,
        "predicted": pred.factors,
        "pairs": [],
    }
    if not speeds.shape[0] or h < 2:
        return row
    ratios = stats.quantile_band(speeds[:, 1:] / speeds[:, :-1])  # (seed, pair) over seeds
    example_ratios = stats.quantile_band(per_example[:, 1:] / per_example[:, :-1])
    speed_band = stats.quantile_band(speeds)
    row["speeds"] = speed_band.to_dict()
    # The prediction as speeds: anchored at the last hidden layer's median, each layer
    # before it slower by the predicted factor.
    line = [speed_band.median[-1]]
    for f in reversed(pred.factors):
        line.insert(0, line[0] / f if f else float("nan"))
    row["predicted_speeds"] = line
    for l, f in enumerate(pred.factors):
        measured = _band_at(ratios, l)
        err = (f - measured["median"]) / measured["median"] if f is not None else None
        example = _band_at(example_ratios, l)
        row["pairs"].append(
            {
                "pair": [l + 1, l + 2],  # hidden layers, counted from 1 as the chapter does
                "includes_first": l == 0,
                "measured": measured,
                "measured_per_example": example,
                "predicted": f,
                "book_bound": BOOK_BOUND,
                "relative_error": err,
                "relative_error_per_example": (
                    (f - example["median"]) / example["median"] if f is not None else None
                ),
                "within": err is not None and abs(err) <= TOLERANCE,
                "in_band": f is not None and measured["low"] <= f <= measured["high"],
                "above_book_bound": measured["median"] >= BOOK_BOUND,
            }
        )
    return row


def _done(records: Sequence[RunRecord], label: str) -> list[RunRecord]:
    return sorted(
        (r for r in records if r.task.label == label and r.status == "done" and r.result),
        key=lambda r: r.task.seed,
    )


def aggregate_theory(study: Study, records: Sequence[RunRecord], data: Data) -> TheoryPart:
    """The theory beside every network of an initial-speeds study (``presets/chapter.toml``)."""
    rows: list[TheoryRow] = []
    configs = [p.config for p in study.points()]
    m2 = input_second_moment(configs[0], data)
    for p in study.points():
        readings = [r.result["epochs"][0] for r in _done(records, p.label) if r.result]
        h = p.config.hidden_layers
        speeds = np.array([m["layer_speeds"] for m in readings]).reshape(-1, h)
        examples = np.array([m["mean_example_norms"] for m in readings]).reshape(-1, h)
        rows.append(theory_row(p.config, p.label, speeds, examples, m2))
    c = configs[0]
    field = mean_field(c.activation, c.init, gain=c.gain, bias_gain=_bias_gain(c))
    return {
        "title": "The mean-field prediction beside the measured speeds at initialization",
        "study": study.name,
        "tolerance": TOLERANCE,
        "input_second_moment": m2,
        "mean_field": field.to_dict(),
        "rows": rows,
        "check": check(rows),
    }


def check(rows: Sequence[TheoryRow]) -> dict[str, Any]:
    """The issue's test: within ``TOLERANCE`` for every pair of neighbouring hidden layers
    but those including the first (None when no such pair was measured)."""
    later = [p for r in rows for p in r["pairs"] if not p["includes_first"]]
    first = [p for r in rows for p in r["pairs"] if p["includes_first"]]

    def worst(pairs: list[dict[str, Any]]) -> float | None:
        errs = [abs(p["relative_error"]) for p in pairs if p["relative_error"] is not None]
        return max(errs) if errs else None

    return {
        "holds": all(p["within"] for p in later) if later else None,
        "n_pairs": len(later),
        "worst_relative_error": worst(later),
        "first_pair_worst_relative_error": worst(first),
        "first_pair_within": all(p["within"] for p in first) if first else None,
        "tolerance": TOLERANCE,
    }


# ---- the order-to-chaos line -------------------------------------------------------------------


def chaos_rows(summary: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Rows for :func:`layerspeed.views.figures.theory.order_to_chaos` from a sweep's summary
    (``presets/chaos.toml``): per grid point its activation, gain, bias gain, the mean-field
    chi at the fixed point, and the median and 10-90% band over seeds of the speed spread at
    initialization (the spread is ``log10(max speed / min speed)``, see
    :mod:`layerspeed.experiments.instability`), beside the spread the theory predicts for
    speeds that fall by 1/sqrt(chi) at every layer. Points without a measured spread are
    left out."""
    base = dict(summary.get("config", {}).get("base") or {})
    rows = []
    for p in summary["points"]:
        values = (p.get("spread_initial") or {}).get("values") or []
        if not values:
            continue
        v = base | dict(p["params"])
        activation, init = v.get("activation", "sigmoid"), v.get("init", "default")
        gain, bias_gain = float(v.get("gain", 1.0)), float(v.get("bias_gain", 1.0))
        sizes = v.get("sizes")
        width = int(sizes[1]) if sizes else int(v.get("width", CHAPTER_WIDTH))
        hidden = len(sizes) - 2 if sizes else int(v.get("depth", 1))
        field = mean_field(activation, init, gain=gain, bias_gain=bias_gain, width=width)
        band = stats.quantile_band([[x] for x in values])
        rows.append(
            {"label": p["label"], "activation": activation, "init": init, "gain": gain}
            | {"bias_gain": bias_gain, "chi": field.chi, "n_runs": len(values)}
            # log10(max/min) of speeds falling by 1/sqrt(chi) a layer, over (hidden - 1) steps
            | {"predicted_spread": (hidden - 1) * abs(math.log10(field.chi)) / 2}
            | {"median": band.median[0], "low": band.low[0], "high": band.high[0]}
        )
    return rows
