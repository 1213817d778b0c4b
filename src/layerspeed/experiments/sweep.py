"""Sweeps: a TOML grid of networks, each run measured layer by layer, summed up over seeds.

The chapter shows that in a deep sigmoid network "the first hidden layer is learning roughly
100 times slower than the final hidden layer", and asks (in an exercise) whether an activation
"whose derivative could be much larger" would help. A sweep answers such questions for any
grid of activation, initializer (and gain), cost, depth, width, eta, lmbda, mini-batch size,
epochs, training-set size and seeds.

A config (see ``examples/sweep.toml``)::

    name = "remedies"          # the sweep's name, also its default folder
    seeds = 3                  # seeds 0, 1, 2; or a list, seeds = [0, 7]
    [base]                     # fixed values (any field of SweepRun)
    depth = 4
    [grid]                     # axes: each a non-empty list; the grid is their product
    activation = ["sigmoid", "relu"]
    init = ["default", "he"]
    [quick]                    # optional: overrides for --quick (fields of SweepRun, seeds)
    epochs = 1

Each (grid point, seed) is one run in ``OUT/runs/<label>/seed-<k>/`` (:mod:`layerspeed.store`),
``label`` being the grid point's values, ``activation=relu,init=he``. Before every epoch's
update, and once after the last, a :class:`layerspeed.probes.SpeedProbe` measures every hidden
layer on the first ``n_probe`` training images: the speed ``||mean dC/db||``, the weight
gradient norm, the update-to-weight ratio, the saturated and dead shares, and the activations'
mean and standard deviation.

One number sums up the instability, the *speed spread* ``log10(max speed / min speed)`` over
the hidden layers; :func:`assess` flags a run as ``vanishing`` when its first hidden layer
learns more than 10 times slower than its last, ``exploding`` when it learns more than 10
times faster, ``balanced`` otherwise. It is assessed at initialization and over training (on
the per-layer geometric mean of the speeds measured after each epoch).

Seeding follows :mod:`layerspeed.experiments.runner`: the weights come from
``default_rng([seed, 0])``, the shuffles from ``default_rng([seed, 1])``, so every grid point
with the same seed and initializer starts from the same draws, and a run's numbers depend only
on its config and seed, never on the executor or the order.

Where it runs: :func:`run_sweep` takes any ``concurrent.futures.Executor``, through the
driver the chapter's runs use (:mod:`layerspeed.experiments.driver`). It loads the data once
(MNIST from the local cache, fetched if missing) and hands it to the workers: through the
pool's initializer for the default local process pool, as ``client.scatter(...,
broadcast=True)`` for Dask's ``Client.get_executor()``, as a plain argument otherwise. A worker
never downloads anything and writes no file: :func:`compute` returns the run's record and the
driver writes every folder, so a cluster needs no file system shared with the driver.
"""

from __future__ import annotations

import itertools
import math
import os
import time
import tomllib
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import Executor
from contextlib import AbstractContextManager, contextmanager
from dataclasses import asdict, dataclass, field, fields, replace
from importlib import resources
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from layerspeed import __version__, stats
from layerspeed.errors import BadInput
from layerspeed.experiments.driver import (
    DataSet,
    LocalPool,
    Outcome,
    floats,
    is_current,
    pending,
    train_recorded,
)
from layerspeed.experiments.driver import run as drive
from layerspeed.nn import Network, SGDConfig
from layerspeed.nn.activations import ACTIVATIONS
from layerspeed.nn.costs import COSTS
from layerspeed.nn.init import INITIALIZERS
from layerspeed.probes import SpeedProbe
from layerspeed.store import RunDir, read_json, result_record

# A first hidden layer more than FLAG_RATIO times slower (faster) than the last: vanishing
# (exploding). The threshold.
FLAG_RATIO = 10.0
# Speeds are floored here before the ratio: an all-dead ReLU layer has speed 0 exactly, and
# its spread is then "at least 12 decades" rather than infinite.
SPEED_FLOOR = 1e-12
# Activations whose units can be dead (never active on the probe set) in the sense.
DEAD_ACTIVATIONS = frozenset({"relu"})
DATA_SETS = ("mnist", "synthetic")
N_INPUTS, N_CLASSES = 784, 10
PRESETS = ("remedies",)

Array = np.ndarray
Progress = Callable[[int, str], AbstractContextManager[Callable[[str], None]]]


# ---- what one run is ---------------------------------------------------------------------


@dataclass(frozen=True)
class SweepRun:
    """One grid point: a network on MNIST (or synthetic data) and how it is trained."""

    kind: ClassVar[str] = "sweep"
    depth: int = 4  # hidden layers
    width: int = 30  # neurons per hidden layer
    activation: str = "sigmoid"  # the hidden layers'; see layerspeed.nn.activations
    init: str = "default"  # see layerspeed.nn.init
    gain: float = 1.0  # multiplies the initializer's weight scale
    cost: str = "cross-entropy"  # sigmoid output; "log-likelihood" has a softmax output
    epochs: int = 3
    mini_batch_size: int = 10
    eta: float = 0.1  # learning rate
    lmbda: float = 5.0  # L2 regularization; the decay uses n = n_train
    n_train: int = 10_000  # train on the first n_train training images
    n_probe: int = 1000  # measure on the first n_probe of them
    n_eval: int = 10_000  # score the first n_eval validation images after every epoch
    data: str = "mnist"  # or "synthetic": a fixed, generated 10-class set (tests, smoke runs)

    def __post_init__(self) -> None:
        for f in fields(self):
            check_value(f.name, getattr(self, f.name))
        if self.n_probe > self.n_train:
            raise BadInput(f"n_probe {self.n_probe} must not exceed n_train {self.n_train}")

    @property
    def sizes(self) -> tuple[int, ...]:
        return (N_INPUTS, *([self.width] * self.depth), N_CLASSES)

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, **asdict(self), "sizes": list(self.sizes)}


_FIELDS = {f.name: f for f in fields(SweepRun)}
_CHOICES: dict[str, tuple[str, ...]] = {
    "activation": tuple(ACTIVATIONS),
    "init": tuple(INITIALIZERS),
    "cost": tuple(COSTS),
    "data": DATA_SETS,
}
_INTS = {  # field: smallest allowed value
    "depth": 1,
    "width": 1,
    "epochs": 1,
    "mini_batch_size": 1,
    "n_train": 1,
    "n_probe": 1,
    "n_eval": 1,
}
_MAX_MNIST = {"n_train": 50_000, "n_eval": 10_000}
_POSITIVE = ("eta", "gain")
_NON_NEGATIVE = ("lmbda",)


def _norm(key: str, value: Any) -> Any:
    """An integer given for a float field as a float, so ``gain = 1`` and ``1.0`` are one run."""
    if key in _POSITIVE + _NON_NEGATIVE and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    return value


def check_value(key: str, value: Any, *, where: str | None = None) -> None:
    """Raise :class:`BadInput` naming ``where`` (or ``key``) unless ``value`` suits ``key``."""
    name = where or key
    if key in _CHOICES:
        if not isinstance(value, str) or value not in _CHOICES[key]:
            allowed = ", ".join(_CHOICES[key])
            raise BadInput(f"{name}: unknown value {value!r}; allowed values: {allowed}")
    elif key in _INTS:
        if isinstance(value, bool) or not isinstance(value, int) or value < _INTS[key]:
            raise BadInput(f"{name}: {value!r} must be an integer >= {_INTS[key]}")
        if key in _MAX_MNIST and value > _MAX_MNIST[key]:
            raise BadInput(f"{name}: {value!r} is more than MNIST has ({_MAX_MNIST[key]})")
    elif key in _POSITIVE or key in _NON_NEGATIVE:
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        ok = ok and math.isfinite(value) and (value > 0 if key in _POSITIVE else value >= 0)
        if not ok:
            what = "a positive number" if key in _POSITIVE else "a number >= 0"
            raise BadInput(f"{name}: {value!r} must be {what}")
    else:
        raise BadInput(f"unknown key {name!r}; allowed keys: {', '.join(_FIELDS)}")


# ---- the config: a grid -------------------------------------------------------------------


@dataclass(frozen=True)
class GridPoint:
    """One point of the grid: its label, the axes' values there, and the run config."""

    label: str  # the axes' values, "activation=relu,init=he": the run folder's name
    params: dict[str, Any]  # the grid axes' values at this point
    run: SweepRun


@dataclass(frozen=True)
class Sweep:
    """A checked sweep config: fixed values, grid axes (in order) and seeds."""

    name: str
    base: dict[str, Any]  # fixed values; the rest take SweepRun's defaults
    axes: dict[str, tuple[Any, ...]]  # axis -> its values, in the config's order
    seeds: tuple[int, ...]
    quick: dict[str, Any] = field(default_factory=dict)  # overrides for --quick

    def __post_init__(self) -> None:
        check_name(self.name)
        if not self.axes:
            raise BadInput(
                "grid: the grid is empty; give at least one axis, e.g. [grid] "
                'activation = ["sigmoid", "relu"]'
            )
        for key, values in self.axes.items():
            if not values:
                raise BadInput(f"grid.{key}: the axis is empty; give at least one value")
            for v in values:
                check_value(key, v, where=f"grid.{key}")
            if len(set(values)) != len(values):
                raise BadInput(f"grid.{key}: {list(values)} repeats a value")
        for key, v in self.base.items():
            check_value(key, v, where=f"base.{key}")
            if key in self.axes:
                raise BadInput(f"base.{key}: {key!r} is also a grid axis; give it in one place")
        if not self.seeds:
            raise BadInput("seeds: no seeds; give a count >= 1 or a non-empty list")
        self.points()  # every combination must make a valid run (n_probe <= n_train, ...)

    def points(self) -> list[GridPoint]:
        """Every combination of the axes, the first axis varying slowest."""
        keys = list(self.axes)
        out = []
        for combo in itertools.product(*(self.axes[k] for k in keys)):
            params = dict(zip(keys, combo, strict=True))
            label = ",".join(f"{k}={v}" for k, v in params.items())
            try:
                run = SweepRun(**{**self.base, **params})
            except BadInput as e:
                raise BadInput(f"grid point {label}: {e}") from None
            out.append(GridPoint(label, params, run))
        return out

    def with_quick(self) -> Sweep:
        """This sweep with its ``[quick]`` overrides (or :data:`QUICK` where it has none)."""
        q = dict(self.quick or QUICK)
        seeds = _parse_seeds(q.pop("seeds")) if "seeds" in q else self.seeds
        return replace(self, base={**self.base, **q}, seeds=seeds, quick={})

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "base": self.base,
            "grid": {k: list(v) for k, v in self.axes.items()},
            "seeds": list(self.seeds),
        }


# Overrides for --quick when a config has no [quick] table: one short epoch, two seeds.
QUICK: dict[str, Any] = {"epochs": 1, "n_train": 2000, "n_eval": 2000, "seeds": 2}
_TOP_KEYS = ("name", "seeds", "base", "grid", "quick")


def check_name(name: Any) -> None:
    if not isinstance(name, str) or not name or any(c in name for c in "/\\\0") or name[0] == ".":
        raise BadInput(f"name: {name!r} must be a non-empty folder name (no '/')")


def _parse_seeds(value: Any) -> tuple[int, ...]:
    if isinstance(value, int) and not isinstance(value, bool):
        if value < 1:
            raise BadInput(f"seeds: {value} must be >= 1 (a count) or a list of seeds")
        return tuple(range(value))
    if isinstance(value, list):
        if not value:
            raise BadInput("seeds: the list of seeds is empty")
        if any(isinstance(s, bool) or not isinstance(s, int) or s < 0 for s in value):
            raise BadInput(f"seeds: {value!r} must be integers >= 0")
        if len(set(value)) != len(value):
            raise BadInput(f"seeds: {value!r} repeats a seed")
        return tuple(value)
    raise BadInput(f"seeds: {value!r} must be a count or a list of integers")


def _table(data: Mapping[str, Any], key: str) -> dict[str, Any]:
    value = data.get(key, {})
    if not isinstance(value, dict):
        raise BadInput(f"{key}: must be a table, [{key}]")
    return dict(value)


def parse_sweep(data: Mapping[str, Any], *, default_name: str = "sweep") -> Sweep:
    """A :class:`Sweep` from a parsed TOML document; every problem is a one-line BadInput."""
    for key in data:
        if key not in _TOP_KEYS:
            raise BadInput(f"unknown key {key!r}; allowed top-level keys: {', '.join(_TOP_KEYS)}")
    grid = _table(data, "grid")
    if "grid" not in data:
        raise BadInput("grid: the config has no [grid] table; the grid is empty")
    axes: dict[str, tuple[Any, ...]] = {}
    for key, values in grid.items():
        if key not in _FIELDS:
            raise BadInput(f"unknown key 'grid.{key}'; allowed keys: {', '.join(_FIELDS)}")
        if not isinstance(values, list):
            raise BadInput(f"grid.{key}: {values!r} must be a list of values")
        axes[key] = tuple(_norm(key, v) for v in values)
    base = {k: _norm(k, v) for k, v in _table(data, "base").items()}
    for key in base:
        if key not in _FIELDS:
            raise BadInput(f"unknown key 'base.{key}'; allowed keys: {', '.join(_FIELDS)}")
    quick = {k: _norm(k, v) for k, v in _table(data, "quick").items()}
    for key, v in quick.items():
        if key == "seeds":
            _parse_seeds(v)
            continue
        if key not in _FIELDS:
            raise BadInput(f"unknown key 'quick.{key}'; allowed keys: seeds, {', '.join(_FIELDS)}")
        if key in axes:
            raise BadInput(f"quick.{key}: {key!r} is a grid axis; quick overrides fixed values")
        check_value(key, v, where=f"quick.{key}")
    sweep = Sweep(
        name=data.get("name", default_name),
        base=base,
        axes=axes,
        seeds=_parse_seeds(data.get("seeds", 1)),
        quick=quick,
    )
    if quick:
        sweep.with_quick()  # the quick variant must make valid runs too
    return sweep


def load_sweep(path: str | os.PathLike[str]) -> Sweep:
    """Read and check a sweep config file (TOML)."""
    p = Path(path)
    try:
        data = tomllib.loads(p.read_text(encoding="utf-8"))
    except OSError as e:
        raise BadInput(f"cannot read the sweep config {p}: {e.strerror or e}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise BadInput(f"{p}: not valid TOML: {e}") from None
    return parse_sweep(data, default_name=p.stem)


def load_preset(name: str) -> Sweep:
    """A built-in sweep, from ``layerspeed/experiments/presets/<name>.toml``."""
    if name not in PRESETS:
        raise BadInput(f"unknown preset {name!r}; choose one of: {', '.join(PRESETS)}")
    text = resources.files("layerspeed.experiments").joinpath(f"presets/{name}.toml").read_text()
    return parse_sweep(tomllib.loads(text), default_name=name)


# ---- the data, loaded once by the driver ----------------------------------------------------


# What the runs read: uint8 pixels and labels, shipped to the workers once.
SweepData = DataSet


SYNTHETIC_SEED = 20_151_105  # the synthetic set is the same everywhere, always
_BLOCK = 1000


def synthetic_split(n: int, split: int) -> tuple[Array, Array]:
    """``n`` examples of a fixed 10-class set: noisy copies of 10 random binary prototypes.

    Made in blocks of 1000 with their own streams, so the first ``k`` examples are the same
    whatever ``n`` is (``split`` 0: training, 1: evaluation).
    """
    protos = np.random.default_rng([SYNTHETIC_SEED]).random((N_CLASSES, N_INPUTS)) < 0.2
    xs, ys = [], []
    for b in range(-(-n // _BLOCK)):
        rng = np.random.default_rng([SYNTHETIC_SEED, split, b])
        labels = rng.integers(0, N_CLASSES, _BLOCK)
        noise = rng.random((_BLOCK, N_INPUTS))  # (block, 784)
        x = 0.7 * protos[labels] + 0.3 * noise  # (block, 784) in [0, 1]
        flip = rng.random((_BLOCK, N_INPUTS)) < 0.1  # hide a tenth of the pixels
        x[flip] = noise[flip]
        xs.append(np.rint(255 * x).astype(np.uint8))
        ys.append(labels.astype(np.int64))
    return np.concatenate(xs)[:n], np.concatenate(ys)[:n]


def load_sweep_data(
    sweep: Sweep, *, offline: bool = False, data_dir: str | os.PathLike[str] | None = None
) -> dict[str, SweepData]:
    """The data sets the sweep's runs need, as large as its largest run needs."""
    runs = [p.run for p in sweep.points()]
    out: dict[str, SweepData] = {}
    for name in sorted({r.data for r in runs}):
        n_train = max(r.n_train for r in runs if r.data == name)
        n_eval = max(r.n_eval for r in runs if r.data == name)
        if name == "synthetic":
            train, evaluation = synthetic_split(n_train, 0), synthetic_split(n_eval, 1)
            out[name] = SweepData.make(name, *train, *evaluation)
        else:
            from layerspeed.data import load_mnist

            mnist = load_mnist(offline=offline, data_dir=Path(data_dir) if data_dir else None)
            out[name] = SweepData.from_mnist(mnist, n_train, n_eval)
    return out


# ---- measuring the instability --------------------------------------------------------------


@dataclass(frozen=True)
class Instability:
    """How unevenly the hidden layers learn, from their speeds (first hidden layer first)."""

    spread: float  # log10(max speed / min speed) over the hidden layers
    ratio: float  # speed of the last hidden layer / speed of the first
    flag: str  # "vanishing" (ratio > 10), "exploding" (ratio < 1/10) or "balanced"
    first: float  # the first hidden layer's speed
    last: float  # the last hidden layer's speed

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def describe(self) -> str:
        """The flag with its numbers, e.g. ``vanishing: first 0.003, last 0.285 (95x)``."""
        if self.ratio >= 1:
            rel = f"the first {self.ratio:.3g}x slower"
        else:
            rel = f"the first {1 / self.ratio:.3g}x faster"
        return (
            f"{self.flag}: first hidden layer {self.first:.3g}, last {self.last:.3g} "
            f"({rel}; spread {self.spread:.2f})"
        )


def assess(speeds: Sequence[float]) -> Instability | None:
    """Spread and flag of one set of layer speeds; None if any is NaN or infinite.

    >>> assess([0.003, 0.017, 0.070, 0.285]).flag   # the chapter's [784,30,30,30,30,10]
    'vanishing'
    """
    s = np.asarray(speeds, dtype=np.float64)
    if s.size == 0 or not np.all(np.isfinite(s)):
        return None
    s = np.maximum(s, SPEED_FLOOR)
    ratio = float(s[-1] / s[0])
    if ratio > FLAG_RATIO:
        flag = "vanishing"
    elif ratio < 1 / FLAG_RATIO:
        flag = "exploding"
    else:
        flag = "balanced"
    return Instability(
        spread=float(np.log10(s.max() / s.min())),
        ratio=ratio,
        flag=flag,
        first=float(s[0]),
        last=float(s[-1]),
    )


def instability(measurements: Sequence[Sequence[float]]) -> dict[str, Any]:
    """Assess a run's speeds measured at initialization and after each epoch.

    ``measurements[0]`` is the initial network; ``"training"`` assesses the per-layer
    geometric mean of the later ones (None when the run diverged before any), ``"final"``
    the last one.
    """
    initial = assess(measurements[0]) if measurements else None
    later = np.asarray(measurements[1:], dtype=np.float64)
    training = final = None
    if later.size and np.all(np.isfinite(later)):
        geo = np.exp(np.mean(np.log(np.maximum(later, SPEED_FLOOR)), axis=0))  # (layers,)
        training = assess(geo)
        final = assess(later[-1])
    return {
        key: (a.to_dict() if a is not None else None)
        for key, a in (("initial", initial), ("training", training), ("final", final))
    }


# ---- one run (in a worker) -----------------------------------------------------------------


@dataclass(frozen=True)
class SweepTask:
    """One (grid point, seed), and where its folder is."""

    label: str
    params: dict[str, Any]
    run: SweepRun
    seed: int
    run_dir: str  # absolute path

    @property
    def name(self) -> str:
        return f"{self.label}/seed-{self.seed}"

    @property
    def config(self) -> SweepRun:
        return self.run

    @property
    def extra(self) -> dict[str, Any]:
        return {"params": self.params}  # written into result.json beside the result


SweepOutcome = Outcome  # what became of a task: done, diverged or failed (with a message)


def train_run(run: SweepRun, seed: int, data: SweepData) -> tuple[dict[str, Any], str, str | None]:
    """Train one network and measure it before every epoch and at the end.

    Returns the ``result.json`` body, the status (``done`` or ``diverged``) and a message.
    Beside :func:`layerspeed.store.result_record`'s fields the body holds ``final_probe`` (the
    reading after the last epoch, or, for a diverged run, the one before the update that
    diverged; None if none), ``instability`` (:func:`instability` of all the readings),
    ``final_accuracy`` (a fraction; None if diverged) and ``diverged_epoch``.
    Each ``epochs[e]`` holds the probe's reading before epoch ``e``'s update (the
    :class:`~layerspeed.probes.SpeedProbe` keys, a number per hidden layer) and the
    training cost and validation accuracy after it.
    """
    train_x, eval_x = floats(data)
    x = train_x[: run.n_train]  # (n, 784)
    y = np.eye(N_CLASSES)[data.train_labels[: run.n_train]]  # (n, 10)
    net = Network.create(
        run.sizes,
        rng=np.random.default_rng([seed, 0]),
        init=run.init,
        gain=run.gain,
        activation=run.activation,
        cost=run.cost,
    )
    probe = SpeedProbe(x[: run.n_probe], y[: run.n_probe], eta=run.eta)
    measured: list[dict[str, Any]] = []  # every probe reading, also one sgd never recorded

    def measure(epoch: int, net: Network, full_batch: Any) -> dict[str, Any]:
        measured.append({"epoch": epoch, **probe(epoch, net, full_batch)})
        return measured[-1]

    records, status, message = train_recorded(
        net,
        x,
        y,
        SGDConfig(run.epochs, run.mini_batch_size, run.eta, run.lmbda),
        seed=seed,
        evaluation=(eval_x[: run.n_eval], data.eval_labels[: run.n_eval]),
        callbacks=[measure],
    )
    if status == "done":
        with np.errstate(over="ignore", invalid="ignore"):
            measure(run.epochs, net, None)  # the trained network
    speeds = [m["layer_speeds"] for m in measured]
    # The reading that no epoch record holds: after the last epoch, or before the update
    # that diverged.
    final_probe = measured[-1] if len(measured) > len(records) else None
    acc = [r["evaluation_accuracy"] for r in records if "evaluation_accuracy" in r]
    result = result_record(
        run.to_dict(),
        seed=seed,
        kind="sweep",
        epochs=records,
        layer_names=[f"hidden {l + 1}" for l in range(run.depth)],
        final_probe=final_probe,
        instability=instability(speeds),
        final_accuracy=acc[-1] if acc and status == "done" else None,
        diverged_epoch=len(records) if status == "diverged" else None,
    )
    return result, status, message


def compute(
    run: SweepRun, seed: int, data: dict[str, SweepData]
) -> tuple[dict[str, Any], str, str | None]:
    """One run (in a worker) on its data set among the sweep's ``data``; writes nothing."""
    return train_run(run, seed, data[run.data])


# ---- the driver ------------------------------------------------------------------------------


def plan(sweep: Sweep, out: str | os.PathLike[str]) -> list[SweepTask]:
    """Every (grid point, seed) of ``sweep`` as a task with its folder under ``out/runs``."""
    root = Path(out).resolve() / "runs"
    return [
        SweepTask(p.label, p.params, p.run, seed, str(root / p.label / f"seed-{seed}"))
        for p in sweep.points()
        for seed in sweep.seeds
    ]


def _cost(task: SweepTask) -> float:
    """Rough multiply-adds, to hand out the longest runs first."""
    r = task.run
    s = r.sizes
    params = sum(a * b for a, b in zip(s[:-1], s[1:], strict=False))
    return params * r.epochs * (3.0 * r.n_train + r.n_eval + 3.0 * r.n_probe)


def local_pool(data: dict[str, SweepData], workers: int | None = None) -> LocalPool:
    """Local worker processes ("spawn"), one BLAS thread each, the data shipped once to each."""
    return LocalPool(data, workers)


@contextmanager
def _silent(total: int, description: str) -> Iterator[Callable[[str], None]]:
    def advance(message: str = "") -> None:
        return None

    yield advance


def execute(
    tasks: Sequence[SweepTask],
    data: dict[str, SweepData],
    *,
    executor: Executor | None = None,
    workers: int | None = None,
    progress: Progress | None = None,
    description: str = "sweep",
) -> list[SweepOutcome]:
    """Run the ``tasks`` not yet ended on ``executor`` (default: :func:`local_pool`)."""
    todo = pending(tasks, _cost)
    with (progress or _silent)(len(todo), description) as advance:

        def report(outcome: Outcome) -> None:
            advance(f"{outcome.task.name} {outcome.status} ({outcome.seconds:.1f} s)")

        return drive(todo, compute, data, executor=executor, workers=workers, on_outcome=report)


def run_sweep(
    sweep: Sweep,
    out: str | os.PathLike[str],
    *,
    executor: Executor | None = None,
    workers: int | None = None,
    progress: Progress | None = None,
    offline: bool = False,
    data_dir: str | os.PathLike[str] | None = None,
) -> dict[str, Any]:
    """Run every grid point and seed not yet ended, then sum the sweep up; return the summary.

    Writes ``out/runs/...`` (one folder per run) and nothing else; see :func:`write_outputs`
    for the summary files. ``progress(total, description)`` is a context manager yielding
    ``advance(message)``, such as :func:`layerspeed.console.progress`.
    """
    start = time.perf_counter()
    tasks = plan(sweep, out)
    data = load_sweep_data(sweep, offline=offline, data_dir=data_dir)
    outcomes = execute(
        tasks,
        data,
        executor=executor,
        workers=workers,
        progress=progress,
        description=f"sweep {sweep.name}",
    )
    summary = summarize(sweep, collect(tasks))
    summary["meta"].update(
        elapsed_s=time.perf_counter() - start,
        ran=len(outcomes),
        executor=type(executor).__name__ if executor is not None else "local_pool",
        workers=workers,
    )
    return summary


def collect(tasks: Sequence[SweepTask]) -> list[dict[str, Any]]:
    """What each task's folder holds: ``{"task", "status", "message", "result"}``."""
    out = []
    for t in tasks:
        run = RunDir(Path(t.run_dir))
        status_file = read_json(run.path / "status.json")
        current = is_current(t)
        out.append(
            {
                "task": t,
                "status": run.status if current or run.status in ("running", "failed") else None,
                "message": status_file.get("message") if isinstance(status_file, dict) else None,
                "result": run.result if current else None,
            }
        )
    return out


# ---- the summary -----------------------------------------------------------------------------


def _describe(values: Sequence[float]) -> dict[str, Any] | None:
    return stats.describe(values).to_dict() if values else None


def _initial_probe(result: Mapping[str, Any]) -> Mapping[str, Any]:
    """The probe's reading of the initial network (in the final probe if epoch 0 diverged)."""
    if result.get("epochs"):
        return result["epochs"][0]
    return result.get("final_probe") or {}


def _mean_of_layers(results: Sequence[dict[str, Any]], key: str) -> float | None:
    """Mean over seeds and hidden layers of a diagnostic at initialization."""
    vals = [v for r in results for v in (_initial_probe(r).get(key) or [])]
    vals = [v for v in vals if v is not None and math.isfinite(v)]
    return float(np.mean(vals)) if vals else None


def _point_summary(point: GridPoint, rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
    counts = {s: sum(r["status"] == s for r in rows) for s in ("done", "diverged", "failed")}
    counts["missing"] = len(rows) - sum(counts.values())
    ended = [r["result"] for r in rows if r["result"] is not None]

    def spreads(when: str) -> list[float]:
        return [r["instability"][when]["spread"] for r in ended if r["instability"][when]]

    def flags(when: str) -> dict[str, int]:
        got = [r["instability"][when]["flag"] for r in ended if r["instability"][when]]
        return {f: got.count(f) for f in ("vanishing", "balanced", "exploding")}

    def ratios(when: str) -> list[float]:
        return [r["instability"][when]["ratio"] for r in ended if r["instability"][when]]

    acc = [100 * r["final_accuracy"] for r in ended if r.get("final_accuracy") is not None]
    training_flags = flags("training")
    if counts["diverged"] and counts["diverged"] >= len(rows) / 2:
        verdict = "diverged"
    elif any(training_flags.values()):
        top = max(training_flags.values())
        tied = [f for f, k in training_flags.items() if k == top]
        verdict = tied[0] if len(tied) == 1 else "mixed"  # no majority: say so
    else:
        verdict = "unknown"
    dead = (
        _mean_of_layers(ended, "dead_share") if point.run.activation in DEAD_ACTIVATIONS else None
    )
    return {
        "label": point.label,
        "params": point.params,
        "n_runs": len(rows),
        "status": counts,
        "seeds": [r["task"].seed for r in rows],
        "spread_initial": _describe(spreads("initial")),
        "spread_training": _describe(spreads("training")),
        "ratio_initial": stats.geometric_mean(ratios("initial")) if ratios("initial") else None,
        "ratio_training": stats.geometric_mean(ratios("training")) if ratios("training") else None,
        "flags_initial": flags("initial"),
        "flags_training": training_flags,
        "verdict": verdict,
        "accuracy": _describe(acc),  # percent, after the last epoch, runs that did not diverge
        "saturated_share": _mean_of_layers(ended, "saturated_share"),
        "dead_share": dead,
        "update_ratio": _mean_of_layers(ended, "update_ratio"),
    }


def summarize(sweep: Sweep, rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Sum the runs up per grid point (mean and 95% CI over seeds) and state the findings.

    Structure::

        {"name", "meta": {...}, "config": Sweep.to_dict(), "axes": {axis: [values]},
         "runs": {"total", "done", "diverged", "failed", "missing",
                  "problems": [{"run", "status", "message"}]},
         "points": [{"label", "params", "n_runs", "status": {...}, "seeds",
                     "spread_initial", "spread_training": Description | None,
                     "ratio_initial", "ratio_training": geometric mean of last/first,
                     "flags_initial", "flags_training": {"vanishing", "balanced", "exploding"},
                     "verdict": the commonest training flag ("mixed" on a tie), or
                                "diverged" (at least half the seeds),
                     "accuracy": Description (percent) | None,
                     "saturated_share", "dead_share", "update_ratio": at init, mean of layers}],
         "findings": [sentences]}
    """
    by_label: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        by_label.setdefault(r["task"].label, []).append(r)
    points = [_point_summary(p, by_label.get(p.label, [])) for p in sweep.points()]
    statuses = [r["status"] for r in rows]
    runs = {s: statuses.count(s) for s in ("done", "diverged", "failed")}
    problems = [
        {"run": r["task"].name, "status": r["status"], "message": r["message"]}
        for r in rows
        if r["status"] not in ("done", "diverged")
    ]
    summary: dict[str, Any] = {
        "name": sweep.name,
        "meta": {"layerspeed_version": __version__},
        "config": sweep.to_dict(),
        "axes": {k: list(v) for k, v in sweep.axes.items()},
        "runs": {
            "total": len(rows),
            **runs,
            "missing": len(rows) - sum(runs.values()),
            "problems": problems,
        },
        "points": points,
    }
    summary["findings"] = findings(summary)
    return summary


def _acc_text(p: dict[str, Any]) -> str:
    a = p["accuracy"]
    if a is None:
        return "no accuracy (diverged)"
    if a["ci_low"] is None:
        return f"{a['mean']:.2f}%"
    return f"{a['mean']:.2f}% [{a['ci_low']:.2f}, {a['ci_high']:.2f}]"


def _spread_text(p: dict[str, Any], when: str = "training") -> str:
    s = p[f"spread_{when}"]
    return "-" if s is None else f"{s['mean']:.2f}"


def _mean_acc(p: Mapping[str, Any]) -> float:
    return p["accuracy"]["mean"] if p["accuracy"] else -1.0


def _listing(group: Sequence[dict[str, Any]], *, keep: int = 3) -> str:
    """``label (accuracy, spread)`` for each point; for a long list the best and worst few."""

    def one(p: dict[str, Any]) -> str:
        return f"{p['label']} ({_acc_text(p)}, spread {_spread_text(p)})"

    if len(group) <= 2 * keep:
        return ", ".join(one(p) for p in group)
    return (
        "best "
        + ", ".join(one(p) for p in group[:keep])
        + "; ...; worst "
        + ", ".join(one(p) for p in group[-keep:])
    )


def findings(summary: Mapping[str, Any]) -> list[str]:
    """Sentences with numbers: which grid points balance the speeds, and their accuracy."""
    points = summary["points"]
    out: list[str] = []
    groups: dict[str, list[dict[str, Any]]] = {}
    for p in points:
        groups.setdefault(p["verdict"], []).append(p)
    for verdict, words in (
        ("balanced", "keep the first and last hidden layers within 10x of each other in training"),
        ("vanishing", "leave the first hidden layer more than 10x slower than the last"),
        ("exploding", "make the first hidden layer more than 10x faster than the last"),
        ("mixed", "are balanced in some seeds and unbalanced in as many others"),
    ):
        g = sorted(groups.get(verdict, []), key=_mean_acc, reverse=True)
        if not g:
            continue
        accs = [p["accuracy"]["mean"] for p in g if p["accuracy"]]
        acc = f"; accuracy {min(accs):.2f}% to {max(accs):.2f}%" if accs else ""
        out.append(f"{len(g)} of {len(points)} grid points {words}{acc}: {_listing(g)}.")
    div = groups.get("diverged", [])
    if div:
        out.append(
            f"{len(div)} grid points diverged (NaN or inf) in most seeds: "
            + ", ".join(p["label"] for p in div)
            + "."
        )
    scored = [p for p in points if p["accuracy"] and p["spread_training"]]
    if scored:
        best = max(scored, key=_mean_acc)
        out.append(
            f"Best accuracy: {best['label']}, {_acc_text(best)}, speed spread "
            f"{_spread_text(best, 'initial')} at initialization and {_spread_text(best)} in "
            f"training ({best['verdict']})."
        )
        # Balance is needed, not sufficient: saturated units learn slowly in every layer alike.
        stuck = [
            p
            for p in groups.get("balanced", [])
            if p["accuracy"]
            and p["params"].get("activation") not in DEAD_ACTIVATIONS  # inactive, not flat
            and _mean_acc(p) < _mean_acc(best) - 5
            and (p["saturated_share"] or 0) > 0.1
        ]
        if stuck:
            out.append(
                "Balanced but held back by saturation (more than 10% of the units' derivatives "
                "below 1% of their maximum at initialization): "
                + ", ".join(
                    f"{p['label']} ({_acc_text(p)}, {100 * p['saturated_share']:.0f}% saturated)"
                    for p in sorted(stuck, key=_mean_acc, reverse=True)
                )
                + "."
            )
    if len(scored) >= 3:
        from scipy.stats import spearmanr

        rho = spearmanr(
            [p["spread_training"]["mean"] for p in scored], [_mean_acc(p) for p in scored]
        ).statistic
        if math.isfinite(rho):
            out.append(
                f"Across the {len(scored)} grid points that trained, the speed spread in "
                f"training and the accuracy have Spearman rank correlation {rho:+.2f} "
                f"(negative: the more unequal the layers' speeds, the lower the accuracy)."
            )
    out.extend(_scaled_sigmoid_findings(points))
    return out


def _scaled_sigmoid_findings(points: Sequence[dict[str, Any]]) -> list[str]:
    """The chapter's exercise: would an activation with a larger derivative help?

    Pairs each sigmoid grid point with the scaled_sigmoid one (4 sigma - 2, maximum derivative
    1 instead of 1/4) that differs from it in nothing else.
    """

    def key(p: dict[str, Any]) -> tuple[Any, ...]:
        return tuple(sorted((k, v) for k, v in p["params"].items() if k != "activation"))

    scaled = {key(p): p for p in points if p["params"].get("activation") == "scaled_sigmoid"}
    pairs = [
        (p, scaled[key(p)])
        for p in points
        if p["params"].get("activation") == "sigmoid" and key(p) in scaled
    ]
    if not pairs:
        return []
    n_bal = [sum(x["verdict"] == "balanced" for x in side) for side in zip(*pairs, strict=True)]
    per_pair = "; ".join(
        (",".join(f"{k}={v}" for k, v in key(p)) or "same settings")
        + f": spread in training {_spread_text(q)} vs {_spread_text(p)}, "
        + f"accuracy {_mean_acc(q):.1f}% vs {_mean_acc(p):.1f}%"
        for p, q in pairs
    )
    return [
        "A larger derivative (the chapter's exercise): scaled_sigmoid = 4 sigma - 2, whose "
        "derivative reaches 1 instead of 1/4, balances the layers' speeds at "
        f"{n_bal[1]} of {len(pairs)} settings against sigmoid's {n_bal[0]} "
        f"(scaled_sigmoid vs sigmoid; {per_pair})."
    ]


def _ci(d: Mapping[str, Any] | None) -> str:
    if d is None:
        return "-"
    if d["ci_low"] is None:
        return f"{d['mean']:.2f}"
    return f"{d['mean']:.2f} [{d['ci_low']:.2f}, {d['ci_high']:.2f}]"


def _share(v: float | None) -> str:
    return "-" if v is None else f"{100 * v:.0f}%"


def sweep_markdown(summary: Mapping[str, Any]) -> str:
    """The summary as Markdown: the findings, then one table row per grid point."""
    runs = summary["runs"]
    cfg = summary["config"]
    lines = [
        f"## Sweep `{summary['name']}`",
        "",
        f"{len(summary['points'])} grid points x {len(cfg['seeds'])} seeds = {runs['total']} "
        f"runs: {runs['done']} done, {runs['diverged']} diverged, {runs['failed']} failed, "
        f"{runs['missing']} not run. Fixed: "
        + (", ".join(f"{k}={v}" for k, v in cfg["base"].items()) or "the defaults")
        + ".",
        "",
        "Speed spread = log10(max / min layer speed ||mean dC/db||) over the hidden layers; "
        "flags: vanishing (first hidden layer > 10x slower than the last), exploding "
        "(> 10x faster), balanced. Numbers are means over seeds with 95% t intervals. "
        "Saturated: the share of (example, unit) pairs whose derivative is below 1% of its "
        "maximum (for relu, the inactive ones, z <= 0); dead: relu units inactive on every "
        "probe image.",
        "",
    ]
    lines += [f"- {f}" for f in summary["findings"]]
    lines += [
        "",
        "| grid point | runs (done/diverged/failed) | spread at init | spread in training | "
        "flags in training (v/b/e) | accuracy % | saturated at init | dead at init |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for p in summary["points"]:
        st = p["status"]
        ft = p["flags_training"]

        lines.append(
            f"| {p['label']} | {st['done']}/{st['diverged']}/{st['failed']} "
            f"| {_ci(p['spread_initial'])} | {_ci(p['spread_training'])} "
            f"| {p['verdict']} ({ft['vanishing']}/{ft['balanced']}/{ft['exploding']}) "
            f"| {_ci(p['accuracy'])} | {_share(p['saturated_share'])} | {_share(p['dead_share'])} |"
        )
    problems = runs["problems"]
    if problems:
        lines += ["", "Runs that did not finish:"]
        lines += [
            f"- {q['run']}: {q['status'] or 'not run'} {q['message'] or ''}".rstrip()
            for q in problems
        ]
    return "\n".join(lines) + "\n"


def write_outputs(summary: Mapping[str, Any], out: str | os.PathLike[str]) -> list[Path]:
    """``out/summary.json``, ``out/summary.md`` and ``out/figures/sweep.{png,svg}``."""
    from layerspeed.plots.speeds import save_figure
    from layerspeed.plots.sweep import sweep_figure
    from layerspeed.store import write_json_atomic, write_text_atomic

    root = Path(out)
    write_json_atomic(root / "summary.json", summary, indent=1)
    write_text_atomic(root / "summary.md", sweep_markdown(summary))
    paths = [root / "summary.json", root / "summary.md"]
    paths += save_figure(sweep_figure(summary), root / "figures" / "sweep")
    return paths


def run_preset(
    name: str,
    out_dir: str | os.PathLike[str],
    *,
    executor: Executor | None = None,
    workers: int | None = None,
    quick: bool = False,
    progress: Progress | None = None,
    offline: bool = False,
) -> dict[str, Any]:
    """Run a built-in sweep (``"remedies"``) into ``out_dir``, write its summary and figure.

    Resumes: runs already ended in ``out_dir`` with the same config are not run again.
    Returns the summary (see :func:`summarize`); ``sweep_markdown(summary)`` renders it.
    """
    sweep = load_preset(name)
    if quick:
        sweep = sweep.with_quick()
    summary = run_sweep(
        sweep, out_dir, executor=executor, workers=workers, progress=progress, offline=offline
    )
    summary["meta"]["quick"] = quick
    write_outputs(summary, out_dir)
    return summary
