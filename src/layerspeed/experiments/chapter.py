"""The chapter's experiments as declarative configs, and their aggregation into results.

"The vanishing gradient problem" (Nielsen, ch. 5) runs four experiments on MNIST:

1. ``depth``: train [784,30,10] ... [784,30,30,30,30,10] for 30 epochs (mini-batch 10,
   eta 0.1, lmbda 5.0) and compare validation accuracies; the book's single runs give
   96.48, 96.90, 96.57 and 96.53 percent.
2. ``neurons``: dC/db for the first six neurons of each hidden layer of a freshly initialized
   [784,30,30,10], averaged over the first 1000 training images (the book's bar figure).
3. ``initial``: the speed of learning ||delta^l|| of each hidden layer at initialization, for
   2, 3 and 4 hidden layers; the book's single networks give (0.07, 0.31),
   (0.012, 0.060, 0.283) and (0.003, 0.017, 0.070, 0.285).
4. ``training``: the same speeds recorded before each of 500 epochs of full-batch gradient
   descent on the first 1000 training images (eta 0.1, lmbda 5.0).

Each is an :class:`Experiment`: a name, a tuple of frozen run configs and a number of seeds.
A run is one (experiment, config, seed); :mod:`layerspeed.experiments.runner` runs it and
writes its folder ``runs/<experiment>/<config label>/seed-<k>/`` (see :mod:`layerspeed.store`).
The functions at the bottom of this file turn the runs' results into plain data, and
:func:`verdicts` decides, from the numbers, whether each of the book's claims holds.

Structure of ``results.json`` (what :func:`aggregate` returns, plus ``"meta"`` and
``"chain"`` added by the command line). Every number is a float or None (undefined, e.g. a
standard deviation of one run), every list is a plain list; ``sizes`` are lists of ints and a
``label`` is the sizes joined by dashes ("784-30-30-10")::

    {
      "meta": {"layerspeed_version", "python", "numpy", "scipy", "matplotlib", "date",
               "argv": [...], "quick": bool, "seeds": {experiment: n_seeds},
               "workers": int, "runs_this_time": int, "elapsed_s": float},
               # runs_this_time and elapsed_s count this invocation only: a rerun skips
               # the runs already done
      "runs": {"total": int, "done": int, "diverged": int, "failed": int,
               "problems": [{"experiment", "label", "seed", "status", "message"}]},
      "depth": {
        "title", "config": {...common hyper-parameters...},
        "rows": [{"label", "sizes", "hidden_layers", "n_runs", "seeds": [...],
                  "book": 96.48,                      # percent, the book's single run
                  "final": Description, "best": Description,   # percent, see below
                  "best_epoch": [int per seed],
                  "book_in_final_pi": bool|None, "book_in_best_pi": bool|None,
                  "book_in_final_range": bool, "book_in_best_range": bool,
                  "curve": Band of the validation accuracy (percent) per epoch}],
        "welch": [{"a": label, "b": label, "measure": "final"|"best",
                   "t", "df", "p", "mean_difference",            # b - a, percent points
                   "book_difference"}],
        "verdicts": [Verdict]},
      "neurons": {
        "title", "config", "label", "sizes", "n_neurons", "n_runs",
        "example": {"seed": 0, "layers": [[dC/db for the first n_neurons], ...]},
        "mean_abs": [Band over seeds of |dC/db| of the first n_neurons, per hidden layer],
        "share_later_larger": float,  # share of (seed, neuron j) with |layer 2| > |layer 1|
        "verdicts": [Verdict]},
      "initial": {
        "title", "config",
        "rows": [{"label", "sizes", "hidden_layers", "n_runs",
                  "book": [per hidden layer], "median": [...], "low": [...], "high": [...],
                  "q_low": 0.1, "q_high": 0.9,
                  "book_in_band": [bool per hidden layer],
                  "book_percentile": [share of seeds below the book's value, per layer],
                  "mean_example_norms": {"median": [...]},
                  "weight_grad_norms": {"median": [...]},
                  "share_increasing": float}],  # share of seeds with speeds rising by layer
        "verdicts": [Verdict]},
      "training": {
        "title", "config",
        "rows": [{"label", "sizes", "hidden_layers", "n_runs",
                  "epochs": [0, 1, ...],
                  "layers": [Band per hidden layer: median/low/high per epoch],
                  "ratio_last_first": Band,  # per epoch, speed of the last / first hidden
                  "ratio_typical": float,    # geometric mean over epochs of its median
                  "share_ordered": float,    # share of (seed, epoch) with speeds rising by layer
                  "share_first_slowest": float,  # share of (seed, epoch), first hidden slowest
                  "seeds_first_always_slowest": int,  # seeds where it is so in every epoch
                  "share_median_ordered": float,  # share of epochs, median curves rising
                  "final_accuracy": Description | None}],   # on the training images
        "verdicts": [Verdict]},
      "chain": layerspeed.chain.chapter_chain_results() (see there)
    }

``Description`` is :class:`layerspeed.stats.Description` as a dict: ``n, mean, sd, ci_low,
ci_high`` (95% t interval of the mean), ``pi_low, pi_high`` (95% t prediction interval for one
further run: the spread a single run such as the book's falls in), ``min, max, values``.
``Band`` is :class:`layerspeed.stats.Band` as a dict: ``median, low, high, q_low, q_high``.
A ``Verdict`` is ``{"claim": the book's words, "holds": bool | None, "evidence": a sentence
with the numbers}``; ``holds`` is None where there were too few runs to decide.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any, ClassVar

import numpy as np

from layerspeed import stats
from layerspeed.errors import BadInput
from layerspeed.nn.activations import ACTIVATIONS
from layerspeed.nn.costs import COSTS
from layerspeed.nn.init import INITIALIZERS

# ---- the book's numbers -------------------------------------------------------------------

# Validation accuracy (percent) of the book's single 30-epoch runs, by number of hidden layers.
BOOK_DEPTH: dict[int, float] = {1: 96.48, 2: 96.90, 3: 96.57, 4: 96.53}
# ||delta^l|| at initialization, first hidden layer first, by number of hidden layers.
BOOK_INITIAL: dict[int, tuple[float, ...]] = {
    2: (0.07, 0.31),
    3: (0.012, 0.060, 0.283),
    4: (0.003, 0.017, 0.070, 0.285),
}
# "the first hidden layer is learning roughly 100 times slower than the final hidden layer"
BOOK_RATIO_4 = 100.0
# What "roughly 100 times" admits: within a factor of 3 either way.
ROUGHLY = 3.0


def sizes_label(sizes: Sequence[int]) -> str:
    """``(784, 30, 10)`` -> ``"784-30-10"``, the name of a config's folder."""
    return "-".join(str(s) for s in sizes)


def _check_common(sizes: tuple[int, ...], init: str, activation: str, cost: str) -> None:
    if len(sizes) < 3 or any(int(s) <= 0 for s in sizes):
        raise BadInput(f"sizes {list(sizes)}: need at least one hidden layer, all positive")
    if sizes[0] != 784 or sizes[-1] != 10:
        raise BadInput(f"sizes {list(sizes)}: MNIST needs 784 inputs and 10 outputs")
    for what, value, table in (
        ("init", init, INITIALIZERS),
        ("activation", activation, ACTIVATIONS),
        ("cost", cost, COSTS),
    ):
        if value not in table:
            raise BadInput(f"unknown {what} {value!r}; choose from {', '.join(table)}")


# ---- run configs -------------------------------------------------------------------------


class _NetworkRun:
    """What every run config shares: a network's sizes, its neurons and cost, a label."""

    kind: ClassVar[str]
    sizes: tuple[int, ...]
    init: str
    activation: str
    cost: str

    def _check_network(self) -> None:
        object.__setattr__(self, "sizes", tuple(int(s) for s in self.sizes))
        _check_common(self.sizes, self.init, self.activation, self.cost)

    @property
    def label(self) -> str:
        return sizes_label(self.sizes)

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, **asdict(self), "sizes": list(self.sizes)}  # type: ignore[call-overload]


@dataclass(frozen=True)
class DepthRun(_NetworkRun):
    """Train by mini-batch SGD and score the validation images after every epoch."""

    kind: ClassVar[str] = "depth"
    sizes: tuple[int, ...]  # layer sizes, input first
    epochs: int = 30
    mini_batch_size: int = 10
    eta: float = 0.1  # learning rate
    lmbda: float = 5.0  # L2 regularization, decay uses n = n_train
    n_train: int = 50_000  # train on the first n_train training images
    init: str = "default"  # weights N(0, 1/n_in), biases N(0, 1): network2's default
    activation: str = "sigmoid"
    cost: str = "cross-entropy"

    def __post_init__(self) -> None:
        self._check_network()
        if self.epochs < 1 or self.mini_batch_size < 1 or not 1 <= self.n_train <= 50_000:
            raise BadInput(
                f"depth run: epochs {self.epochs}, mini-batch {self.mini_batch_size} and "
                f"n_train {self.n_train} must be >= 1 (n_train <= 50000)"
            )


@dataclass(frozen=True)
class InitialSpeeds(_NetworkRun):
    """Measure a freshly initialized network on the probe set: speeds and dC/db per neuron."""

    kind: ClassVar[str] = "initial"
    sizes: tuple[int, ...]
    n_probe: int = 1000  # the first n_probe training images, as the book's program
    init: str = "default"
    activation: str = "sigmoid"
    cost: str = "cross-entropy"

    def __post_init__(self) -> None:
        self._check_network()
        if not 1 <= self.n_probe <= 50_000:
            raise BadInput(f"n_probe must be in 1..50000, got {self.n_probe}")


@dataclass(frozen=True)
class TrainingSpeeds(_NetworkRun):
    """Full-batch gradient descent on the first n_train images; speeds before every epoch.

    The probe set is the training batch itself, so the speeds come from each step's own
    gradient, with no extra backward pass.
    """

    kind: ClassVar[str] = "training"
    sizes: tuple[int, ...]
    epochs: int = 500
    n_train: int = 1000  # also the n of the weight decay 1 - eta lmbda / n
    eta: float = 0.1
    lmbda: float = 5.0
    init: str = "default"
    activation: str = "sigmoid"
    cost: str = "cross-entropy"

    def __post_init__(self) -> None:
        self._check_network()
        if self.epochs < 1 or not 1 <= self.n_train <= 50_000:
            raise BadInput(
                f"training-speed run: epochs {self.epochs} must be >= 1 and n_train "
                f"{self.n_train} in 1..50000"
            )


RunConfig = DepthRun | InitialSpeeds | TrainingSpeeds
CONFIG_KINDS: dict[str, type[DepthRun] | type[InitialSpeeds] | type[TrainingSpeeds]] = {
    "depth": DepthRun,
    "initial": InitialSpeeds,
    "training": TrainingSpeeds,
}


def config_from_dict(data: Mapping[str, Any]) -> RunConfig:
    """The inverse of ``to_dict``."""
    fields = dict(data)
    kind = fields.pop("kind", None)
    if kind not in CONFIG_KINDS:
        raise BadInput(f"unknown run kind {kind!r}; choose from {', '.join(CONFIG_KINDS)}")
    return CONFIG_KINDS[kind](**fields)


@dataclass(frozen=True)
class Experiment:
    """One of the chapter's experiments: its configs, each run over ``n_seeds`` seeds."""

    name: str  # folder name under runs/, and key in results.json
    title: str  # one line for figures and the summary
    configs: tuple[RunConfig, ...]
    n_seeds: int
    seed_offset: int = 0  # seeds are seed_offset, ..., seed_offset + n_seeds - 1

    def __post_init__(self) -> None:
        if not self.name.isidentifier():
            raise BadInput(f"experiment name {self.name!r} must be an identifier")
        if self.n_seeds < 1:
            raise BadInput(f"experiment {self.name}: n_seeds must be >= 1, got {self.n_seeds}")
        labels = [c.label for c in self.configs]
        if len(set(labels)) != len(labels):
            raise BadInput(f"experiment {self.name}: two configs share a label in {labels}")

    @property
    def seeds(self) -> list[int]:
        return list(range(self.seed_offset, self.seed_offset + self.n_seeds))


DEPTH_SIZES: tuple[tuple[int, ...], ...] = (
    (784, 30, 10),
    (784, 30, 30, 10),
    (784, 30, 30, 30, 10),
    (784, 30, 30, 30, 30, 10),
)
SPEED_SIZES: tuple[tuple[int, ...], ...] = DEPTH_SIZES[1:]  # 2, 3 and 4 hidden layers


@dataclass(frozen=True)
class Plan:
    """How big a reproduction is: ``chapter`` at full size, ``quick`` as a smoke test."""

    seeds: int = 5  # depth and training-speed runs
    initial_seeds: int = 20  # neuron bars and initial speeds (each a single backward pass)
    depth_epochs: int = 30
    depth_n_train: int = 50_000
    training_epochs: int = 500
    n_probe: int = 1000
    quick: bool = False

    @classmethod
    def chapter(cls, seeds: int = 5) -> Plan:
        return cls(seeds=seeds, initial_seeds=max(20, 4 * seeds))

    @classmethod
    def smoke(cls, seeds: int = 2) -> Plan:
        """Seconds, not minutes: 2 depth epochs on 5000 images, 50 full-batch epochs."""
        return cls(
            seeds=seeds,
            initial_seeds=4 * seeds,
            depth_epochs=2,
            depth_n_train=5000,
            training_epochs=50,
            quick=True,
        )


def chapter_experiments(plan: Plan | None = None) -> tuple[Experiment, ...]:
    """The four experiments of the section, at the size ``plan`` says (default: the book's)."""
    p = plan or Plan.chapter()
    return (
        Experiment(
            "depth",
            f"Validation accuracy against depth ({p.depth_epochs} epochs on {p.depth_n_train} "
            "images, mini-batch 10, eta 0.1, lmbda 5.0)",
            tuple(DepthRun(s, epochs=p.depth_epochs, n_train=p.depth_n_train) for s in DEPTH_SIZES),
            p.seeds,
        ),
        Experiment(
            "neurons",
            "dC/db of the first six neurons of each hidden layer at initialization",
            (InitialSpeeds((784, 30, 30, 10), n_probe=p.n_probe),),
            p.initial_seeds,
        ),
        Experiment(
            "initial",
            "Speed of learning ||delta^l|| of each hidden layer at initialization",
            tuple(InitialSpeeds(s, n_probe=p.n_probe) for s in SPEED_SIZES),
            p.initial_seeds,
        ),
        Experiment(
            "training",
            f"Speed of learning during {p.training_epochs} epochs of full-batch training on "
            "1000 images",
            tuple(TrainingSpeeds(s, epochs=p.training_epochs) for s in SPEED_SIZES),
            p.seeds,
        ),
    )


# ---- aggregation: runs -> plain results ----------------------------------------------------


@dataclass(frozen=True)
class RunRecord:
    """What a finished (or failed) run left: its place, status and result."""

    experiment: str
    label: str
    seed: int
    status: str | None  # "done", "diverged", "failed", "running" or None (never started)
    message: str | None
    result: dict[str, Any] | None

    @property
    def data(self) -> dict[str, Any]:
        """The result, or an empty dict where there is none."""
        return self.result or {}


def _verdict(claim: str, holds: bool | None, evidence: str) -> dict[str, Any]:
    return {"claim": claim, "holds": holds, "evidence": evidence}


def _done(records: Iterable[RunRecord], label: str) -> list[RunRecord]:
    return sorted(
        (r for r in records if r.label == label and r.status == "done" and r.result),
        key=lambda r: r.seed,
    )


def _hidden(sizes: Sequence[int]) -> int:
    return len(sizes) - 2


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{x:.2f}%"


def aggregate_depth(exp: Experiment, records: Sequence[RunRecord]) -> dict[str, Any]:
    """The depth table: final and best validation accuracy (percent) per depth, with Welch."""
    rows: list[dict[str, Any]] = []
    for cfg in exp.configs:
        assert isinstance(cfg, DepthRun)
        runs = _done(records, cfg.label)
        h = _hidden(cfg.sizes)
        row: dict[str, Any] = {
            "label": cfg.label,
            "sizes": list(cfg.sizes),
            "hidden_layers": h,
            "n_runs": len(runs),
            "seeds": [r.seed for r in runs],
            "book": BOOK_DEPTH.get(h),
        }
        if runs:
            curves = [[100 * a for a in _series(r.result, "evaluation_accuracy")] for r in runs]
            final = stats.describe([c[-1] for c in curves])
            best = stats.describe([max(c) for c in curves])
            row |= {
                "final": final.to_dict(),
                "best": best.to_dict(),
                "best_epoch": [int(np.argmax(c)) for c in curves],
                "curve": stats.quantile_band(_rectangular(curves)).to_dict(),
            }
            if row["book"] is not None:
                row |= {
                    "book_in_final_pi": final.contains(row["book"], interval="pi"),
                    "book_in_best_pi": best.contains(row["book"], interval="pi"),
                    "book_in_final_range": final.contains(row["book"], interval="range"),
                    "book_in_best_range": best.contains(row["book"], interval="range"),
                }
        rows.append(row)
    welch = []
    for a, b in zip(rows[:-1], rows[1:], strict=True):
        if not (a["n_runs"] and b["n_runs"]):
            continue
        for measure in ("final", "best"):
            w = stats.welch(a[measure]["values"], b[measure]["values"])
            book_diff = (
                b["book"] - a["book"] if a["book"] is not None and b["book"] is not None else None
            )
            welch.append(
                {"a": a["label"], "b": b["label"], "measure": measure, **w.to_dict()}
                | {"book_difference": book_diff}
            )
    return {
        "title": exp.title,
        "config": _common_config(exp),
        "rows": rows,
        "welch": welch,
        "verdicts": _depth_verdicts(rows, welch),
    }


def _depth_verdicts(rows: list[dict[str, Any]], welch: list[dict[str, Any]]) -> list[dict]:
    out = []
    measured = [r for r in rows if r["n_runs"] and r["book"] is not None]
    inside = [r for r in measured if r.get("book_in_final_pi") or r.get("book_in_best_pi")]
    decidable = [r for r in measured if r["final"]["pi_low"] is not None]
    parts = [
        f"{r['hidden_layers']} hidden: book {r['book']:.2f}%, final "
        f"{r['final']['mean']:.2f}% (95% PI {_pct(r['final']['pi_low'])}.."
        f"{_pct(r['final']['pi_high'])}), best {r['best']['mean']:.2f}%"
        for r in measured
    ]
    out.append(
        _verdict(
            "each of the book's single-run accuracies is what one run gives (within the 95% "
            "prediction interval of the final or best-epoch accuracy)",
            (len(inside) == len(measured))
            if decidable and len(decidable) == len(measured)
            else None,
            "; ".join(parts) + "." if parts else "no finished runs.",
        )
    )
    by = {(w["a"], w["b"], w["measure"]): w for w in welch}
    labels = [r["label"] for r in rows]
    if len(labels) >= 4:
        w = by.get((labels[2], labels[3], "final"))
        if w is not None:
            holds = None if w["p"] is None else w["p"] >= 0.05
            out.append(
                _verdict(
                    "the drop from 3 to 4 hidden layers is probably not statistically significant",
                    holds,
                    f"Welch t-test on the final accuracy: difference {w['mean_difference']:+.2f} "
                    f"points, p = {_num(w['p'])} (book: {w['book_difference']:+.2f}).",
                )
            )
        w = by.get((labels[0], labels[1], "final"))
        if w is not None:
            holds = None if w["p"] is None else bool(w["p"] < 0.05 and w["mean_difference"] > 0)
            out.append(
                _verdict(
                    "a second hidden layer improves the accuracy (96.48% -> 96.90%)",
                    holds,
                    f"Welch t-test on the final accuracy: difference {w['mean_difference']:+.2f} "
                    f"points, p = {_num(w['p'])}.",
                )
            )
        means = [r["final"]["mean"] for r in rows if r["n_runs"]]
        if len(means) == len(rows):
            deeper_not_better = max(means[2:]) <= means[1] + 1e-12
            out.append(
                _verdict(
                    "more than two hidden layers do not help",
                    deeper_not_better,
                    "mean final accuracy by hidden layers: "
                    + ", ".join(
                        f"{r['hidden_layers']}: {m:.2f}%" for r, m in zip(rows, means, strict=True)
                    )
                    + ".",
                )
            )
    return out


def _num(v: float | None, fmt: str = ".3g") -> str:
    return "undefined" if v is None else format(v, fmt)


def aggregate_neurons(exp: Experiment, records: Sequence[RunRecord], *, n_neurons: int = 6):
    """The bar figure's data: seed 0's first six dC/db per hidden layer, and spread over seeds."""
    cfg = exp.configs[0]
    runs = _done(records, cfg.label)
    out: dict[str, Any] = {
        "title": exp.title,
        "config": cfg.to_dict(),
        "label": cfg.label,
        "sizes": list(cfg.sizes),
        "n_neurons": n_neurons,
        "n_runs": len(runs),
    }
    if not runs:
        return out | {"verdicts": []}
    grads = [np.asarray(r.data["neuron_gradients"], dtype=np.float64) for r in runs]
    first = [[g[:n_neurons] for g in run] for run in grads]  # run, layer, neuron
    n_layers = len(first[0])
    out["example"] = {"seed": runs[0].seed, "layers": [g.tolist() for g in first[0]]}
    out["mean_abs"] = [
        stats.quantile_band([np.abs(run[l]) for run in first]).to_dict() for l in range(n_layers)
    ]
    if n_layers >= 2:
        later = np.array([np.abs(run[1]) > np.abs(run[0]) for run in first])  # seed, neuron
        share = float(later.mean())
        ex = int(later[0].sum())
        out["share_later_larger"] = share
        out["verdicts"] = [
            _verdict(
                "the bars in the second hidden layer are mostly much larger than in the first",
                share > 0.5,
                f"|dC/db| of neuron j is larger in hidden layer 2 than in hidden layer 1 for "
                f"{share:.0%} of (seed, neuron) pairs over {len(runs)} seeds; seed "
                f"{runs[0].seed}: {ex} of {n_neurons}.",
            )
        ]
    else:
        out["verdicts"] = []
    return out


def aggregate_initial(exp: Experiment, records: Sequence[RunRecord]) -> dict[str, Any]:
    """Per-layer speeds at initialization: median and 10-90% band over seeds, beside the book."""
    rows = []
    for cfg in exp.configs:
        runs = _done(records, cfg.label)
        h = _hidden(cfg.sizes)
        row: dict[str, Any] = {
            "label": cfg.label,
            "sizes": list(cfg.sizes),
            "hidden_layers": h,
            "n_runs": len(runs),
            "book": list(BOOK_INITIAL[h]) if h in BOOK_INITIAL else None,
        }
        if runs:
            speeds = np.array([r.data["layer_speeds"] for r in runs])
            band = stats.quantile_band(speeds)
            row |= band.to_dict()
            if row["book"] is not None:
                row["book_in_band"] = [
                    bool(lo <= b <= hi)
                    for b, lo, hi in zip(row["book"], band.low, band.high, strict=True)
                ]
                # Where the book's network sits among ours: the share of seeds below it.
                row["book_percentile"] = [
                    float(np.mean(speeds[:, l] < b)) for l, b in enumerate(row["book"])
                ]
            for key in ("mean_example_norms", "weight_grad_norms"):
                values = np.array([r.data[key] for r in runs])
                row[key] = {"median": np.median(values, axis=0).tolist()}
            row["share_increasing"] = float(np.mean(np.all(np.diff(speeds, axis=1) > 0, axis=1)))
        rows.append(row)
    return {
        "title": exp.title,
        "config": _common_config(exp),
        "rows": rows,
        "verdicts": _initial_verdicts(rows),
    }


def _initial_verdicts(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    measured = [r for r in rows if r["n_runs"] and r["book"] is not None]
    if not measured:
        return []
    n_in = sum(sum(r["book_in_band"]) for r in measured)
    n_all = sum(len(r["book"]) for r in measured)
    outside = [
        f"{r['hidden_layers']} hidden, layer {l + 1}: book {b:g}, band {lo:.3g}..{hi:.3g}, "
        f"above {pct:.0%} of the seeds"
        for r in measured
        for l, (b, lo, hi, ok, pct) in enumerate(
            zip(
                r["book"], r["low"], r["high"], r["book_in_band"], r["book_percentile"], strict=True
            )
        )
        if not ok
    ]
    share = [r["share_increasing"] for r in measured]
    q = f"{100 * measured[0]['q_low']:.0f}-{100 * measured[0]['q_high']:.0f}%"
    return [
        _verdict(
            "early hidden layers learn slower than later ones at initialization",
            min(share) > 0.5,
            "the speeds rise from the first hidden layer to the last in "
            + ", ".join(
                f"{s:.0%} of seeds with {r['hidden_layers']} hidden layers"
                for s, r in zip(share, measured, strict=True)
            )
            + ".",
        ),
        _verdict(
            f"the book's single-network speeds are typical (inside the {q} band over seeds)",
            n_in == n_all,
            f"{n_in} of {n_all} of the book's values are inside the band"
            + (f"; outside: {'; '.join(outside)}." if outside else "."),
        ),
    ]


def aggregate_training(exp: Experiment, records: Sequence[RunRecord]) -> dict[str, Any]:
    """Speeds before each full-batch epoch: median and band per hidden layer over seeds."""
    rows = []
    for cfg in exp.configs:
        assert isinstance(cfg, TrainingSpeeds)
        runs = _done(records, cfg.label)
        h = _hidden(cfg.sizes)
        row: dict[str, Any] = {
            "label": cfg.label,
            "sizes": list(cfg.sizes),
            "hidden_layers": h,
            "n_runs": len(runs),
        }
        if runs:
            speeds = np.array(
                _rectangular([_series(r.result, "layer_speeds") for r in runs])
            )  # (seed, epoch, layer)
            row["epochs"] = list(range(speeds.shape[1]))
            row["layers"] = [stats.quantile_band(speeds[:, :, l]).to_dict() for l in range(h)]
            ratio = speeds[:, :, -1] / speeds[:, :, 0]  # (seed, epoch)
            ratio_band = stats.quantile_band(ratio)
            row["ratio_last_first"] = ratio_band.to_dict()
            row["ratio_typical"] = stats.geometric_mean(ratio_band.median)
            row["share_ordered"] = float(np.mean(np.all(np.diff(speeds, axis=2) > 0, axis=2)))
            first_slowest = np.argmin(speeds, axis=2) == 0  # (seed, epoch)
            row["share_first_slowest"] = float(np.mean(first_slowest))
            row["seeds_first_always_slowest"] = int(np.sum(np.all(first_slowest, axis=1)))
            medians = np.array([b["median"] for b in row["layers"]])  # (layer, epoch)
            row["share_median_ordered"] = float(
                np.mean(np.all(np.diff(medians, axis=0) > 0, axis=0))
            )
            acc = [
                100 * a for r in runs if (a := r.data.get("final_training_accuracy")) is not None
            ]
            row["final_accuracy"] = stats.describe(acc).to_dict() if acc else None
        rows.append(row)
    return {
        "title": exp.title,
        "config": _common_config(exp),
        "rows": rows,
        "verdicts": _training_verdicts(rows),
    }


def _training_verdicts(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    measured = [r for r in rows if r["n_runs"]]
    if not measured:
        return []
    out = [
        _verdict(
            "early hidden layers learn much more slowly than later ones throughout training",
            min(r["share_first_slowest"] for r in measured) > 0.9,
            "the first hidden layer is the slowest in "
            + ", ".join(
                f"{r['share_first_slowest']:.0%} of (seed, epoch) pairs with {r['hidden_layers']} "
                f"hidden layers (in all epochs for {r['seeds_first_always_slowest']} of "
                f"{r['n_runs']} seeds; speeds in strictly rising order: {r['share_ordered']:.0%}; "
                f"median curves in rising order: {r['share_median_ordered']:.0%} of epochs)"
                for r in measured
            )
            + "; the claim is taken to hold where the first is the slowest in over 90%.",
        )
    ]
    four = [r for r in measured if r["hidden_layers"] == 4]
    if four:
        ratio = four[0]["ratio_typical"]
        med = four[0]["ratio_last_first"]["median"]
        out.append(
            _verdict(
                "with four hidden layers the first learns roughly 100 times slower than the last",
                BOOK_RATIO_4 / ROUGHLY <= ratio <= BOOK_RATIO_4 * ROUGHLY,
                f"the median ratio last/first is {ratio:.0f} on average over the epochs "
                f"(geometric mean; {med[0]:.0f} at the start, {med[-1]:.0f} at the end, "
                f"range {min(med):.0f}..{max(med):.0f}); 'roughly' taken as within a factor "
                f"of {ROUGHLY:g}.",
            )
        )
    return out


AGGREGATORS = {
    "depth": aggregate_depth,
    "neurons": aggregate_neurons,
    "initial": aggregate_initial,
    "training": aggregate_training,
}


def aggregate(experiments: Sequence[Experiment], records: Sequence[RunRecord]) -> dict[str, Any]:
    """All experiments' results, keyed by experiment name, plus the runs' bookkeeping."""
    out: dict[str, Any] = {}
    counts = {s: sum(1 for r in records if r.status == s) for s in ("done", "diverged", "failed")}
    out["runs"] = {
        "total": len(records),
        **counts,
        "problems": [
            {
                "experiment": r.experiment,
                "label": r.label,
                "seed": r.seed,
                "status": r.status,
                "message": r.message,
            }
            for r in records
            if r.status != "done"
        ],
    }
    for exp in experiments:
        mine = [r for r in records if r.experiment == exp.name]
        out[exp.name] = AGGREGATORS[exp.name](exp, mine)
    return out


def verdicts(results: Mapping[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """Every verdict in ``results`` as (experiment name, verdict), in experiment order."""
    return [
        (name, v)
        for name, part in results.items()
        if isinstance(part, Mapping)
        for v in part.get("verdicts", [])
    ]


# ---- helpers -------------------------------------------------------------------------------


def _series(result: Mapping[str, Any] | None, key: str) -> list[Any]:
    return [e[key] for e in (result or {}).get("epochs", []) if key in e]


def _rectangular(curves: list[list[Any]]) -> list[list[Any]]:
    """Cut curves to the shortest one, so they stack (runs of one config have equal lengths)."""
    n = min(len(c) for c in curves)
    return [c[:n] for c in curves]


def _common_config(exp: Experiment) -> dict[str, Any]:
    """The hyper-parameters the experiment's configs share (all but ``sizes``)."""
    dicts = [c.to_dict() for c in exp.configs]
    common = {k: v for k, v in dicts[0].items() if k != "sizes"}
    common = {k: v for k, v in common.items() if all(d.get(k) == v for d in dicts)}
    return common | {"n_seeds": exp.n_seeds, "seeds": exp.seeds}


def isfinite_or_none(v: Any) -> Any:
    """Replace NaN and inf by None, recursively, so results are plain JSON."""
    if isinstance(v, float):
        return v if math.isfinite(v) else None
    if isinstance(v, dict):
        return {k: isfinite_or_none(x) for k, x in v.items()}
    if isinstance(v, list | tuple):
        return [isfinite_or_none(x) for x in v]
    return v
