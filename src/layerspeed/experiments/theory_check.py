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
from layerspeed.experiments.datasets import Data
from layerspeed.experiments.driver import RunRecord
from layerspeed.experiments.grid import Study
from layerspeed.experiments.schema import PointTheory, TheoryPart, TheoryRow
from layerspeed.theory import (
    BOOK_BOUND,
    CHAPTER_WIDTH,
    Q_DIVERGED,
    init_variances,
    mean_field,
    network_prediction,
)

TOLERANCE = 0.15  # the issue's: the prediction within 15% of the measured median


def input_second_moment(config: RunConfig, data: Data) -> float:
    """The mean over the probe images and their pixels of x^2: where the q map starts.

    Only the probe images are made floats (``x / 255``, as the runs make them), not the whole
    training set."""
    x = np.divide(data[config.dataset].train_x[: config.n_probe], 255.0, dtype=np.float64)
    return float(np.mean(np.square(x)))  # x: (n_probe, 784)


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


# ---- the theory beside one sweep point ------------------------------------------------------

# Where the mean-field theory of the plain network says nothing of a point, and why.
NO_THEORY = {
    "batch norm": "batch norm rescales every hidden layer's pre-activations by the mini-batch's "
    "own statistics, so the plain network's q map and chi do not describe it",
    "residual": "a skip connection adds each hidden layer's input to its output, so the "
    "gradient does not pass through chi alone at each layer",
    "one hidden layer": "one hidden layer has no pair of neighbouring hidden layers to compare",
    "no measurement": "no run of this point measured its hidden layers' speeds at "
    "initialization (finite and above 0)",
}


def no_theory(config: RunConfig) -> str | None:
    """The key of :data:`NO_THEORY` that keeps the theory off ``config``'s network, or None."""
    if config.norm == "batch":
        return "batch norm"
    if config.residual:
        return "residual"
    if config.hidden_layers < 2:
        return "one hidden layer"
    return None


def fixed_point_moment(config: RunConfig) -> float:
    """The input mean square that starts the first hidden layer at the fixed point q*.

    Where the data's own mean square is not known, the first hidden layer is taken to sit at
    q* like the others: ``sigma_w^2 m2 + sigma_b^2 = q*`` for the first layer's variances (q*
    of the hidden layers' width; a q* that grows without bound is read at the q map's cap).
    """
    sizes = config.sizes
    v = init_variances(config.init, sizes[0], sizes[1], gain=config.gain,
                       bias_gain=_bias_gain(config))  # fmt: skip
    field = mean_field(config.activation, config.init, gain=config.gain,
                       bias_gain=_bias_gain(config), width=sizes[1])  # fmt: skip
    q = field.q_star if field.q_star is not None else Q_DIVERGED
    return max(0.0, (q - v.sigma_b2) / v.sigma_w2) if v.sigma_w2 > 0 else 0.0


def _finite(x: float | None) -> float | None:
    return x if x is not None and math.isfinite(x) else None


def _geomean(values: Sequence[float | None]) -> float | None:
    """The geometric mean over the pairs; None unless every pair has a positive number."""
    if not values or any(v is None or not v > 0 or not math.isfinite(v) for v in values):
        return None
    return stats.geometric_mean([float(v) for v in values if v is not None])


def point_theory(
    config: RunConfig,
    label: str,
    readings: Sequence[Mapping[str, Any]],
    input_second_moment: float | None,
) -> PointTheory:
    """The theory beside one sweep point: :func:`theory_row` on the initial probe readings
    (``layer_speeds``, ``mean_example_norms``) of its runs.

    The first hidden layer starts from ``input_second_moment`` (the data's, see
    :func:`input_second_moment`); None starts it at the fixed point (:func:`fixed_point_moment`)
    and ``"start"`` says so. Besides the pairs: ``measured`` and ``predicted``, the geometric
    means over the pairs of the measured medians and of the predictions (the typical per-layer
    factor from the first hidden layer to the last), their ``relative_error`` and whether it is
    ``within`` :data:`TOLERANCE`; the same of the mean per-example norms (``*_per_example``,
    the theory's own quantity); ``mean_field_factor``, the deep layers' factor at q*; the
    book's bound for sigmoid only (its ``|w sigma'| < 1/4`` is the sigmoid's). Where the theory
    does not apply, ``applies`` is False and ``why`` says why (``reason``: a key of
    :data:`NO_THEORY`).
    """
    h = config.hidden_layers
    sigmoid = config.activation == "sigmoid"
    out: PointTheory = {
        "applies": False,
        "reason": None,
        "why": None,
        "start": "data" if input_second_moment is not None else "fixed point",
        "input_second_moment": input_second_moment,
        "book_bound": BOOK_BOUND if sigmoid else None,
        "tolerance": TOLERANCE,
        "n_runs": 0,
        "n_left_out": 0,
        "pairs": [],
        "measured": None,
        "predicted": None,
        "relative_error": None,
        "within": None,
        "mean_field_factor": None,
        "measured_per_example": None,
        "relative_error_per_example": None,
        "within_per_example": None,
    }
    reason = no_theory(config)
    if reason is None:
        out["mean_field_factor"] = mean_field(
            config.activation, config.init, gain=config.gain, bias_gain=_bias_gain(config),
            width=config.sizes[1],
        ).factor  # fmt: skip

    def usable(m: Mapping[str, Any]) -> bool:
        got = [m.get("layer_speeds") or [], m.get("mean_example_norms") or []]
        return all(len(a) == h and all(math.isfinite(x) and x > 0 for x in a) for a in got)

    kept = [m for m in readings if usable(m)]
    out["n_runs"], out["n_left_out"] = len(kept), len(readings) - len(kept)
    if reason is None and not kept:
        reason = "no measurement"
    if reason is not None:
        if kept and h >= 2:  # measured all the same, beside no prediction
            s = np.array([m["layer_speeds"] for m in kept], dtype=np.float64)
            out["measured"] = _geomean(stats.quantile_band(s[:, 1:] / s[:, :-1]).median)
        out["reason"], out["why"] = reason, NO_THEORY[reason]
        return out
    m2 = input_second_moment if input_second_moment is not None else fixed_point_moment(config)
    speeds = np.array([m["layer_speeds"] for m in kept], dtype=np.float64)
    examples = np.array([m["mean_example_norms"] for m in kept], dtype=np.float64)
    row = theory_row(config, label, speeds, examples, m2)
    for p in row["pairs"]:
        if not sigmoid:
            p["book_bound"] = p["above_book_bound"] = None
    measured = _geomean([p["measured"]["median"] for p in row["pairs"]])
    predicted = _geomean([p["predicted"] for p in row["pairs"]])
    err = (predicted - measured) / measured if measured and predicted is not None else None
    out["applies"], out["q"], out["chi"], out["pairs"] = True, row["q"], row["chi"], row["pairs"]
    out["measured"], out["predicted"], out["relative_error"] = measured, predicted, _finite(err)
    out["within"] = err is not None and abs(err) <= TOLERANCE
    # The theory's own quantity: one example's gradient, not the mean over the probe images.
    example = _geomean([p["measured_per_example"]["median"] for p in row["pairs"]])
    err = (predicted - example) / example if example and predicted is not None else None
    out["measured_per_example"], out["relative_error_per_example"] = example, _finite(err)
    out["within_per_example"] = err is not None and abs(err) <= TOLERANCE
    return out


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
