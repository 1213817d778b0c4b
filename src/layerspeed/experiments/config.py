"""The one run model: a frozen config that says what one run trains, measures and records.

Every run layerspeed makes, the chapter's and a sweep's alike, is one :class:`RunConfig`
and a seed. The chapter's three kinds of run are settings of it:

- the depth runs train for 30 epochs and record the validation accuracy (``"accuracy"``);
- the speeds at initialization train for zero epochs and record the probe's reading of the
  fresh network (``"speeds"``, with ``"neurons"`` for the per-neuron bars);
- the training speeds train full-batch (``mini_batch_size >= n_train``) and record the speeds
  before every epoch (``"speeds"``), read from each step's own gradient.

A sweep run records the accuracy, the speeds and the health numbers (``"diagnostics"``).

The random streams come from the seed in one place, :func:`weight_rng` and
:func:`shuffle_rng`: the weights from ``default_rng([seed, 0])``, the shuffles from
``default_rng([seed, 1])``, as ``layerspeed train --seed`` has always drawn them.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields
from typing import Any

import numpy as np

from layerspeed.errors import BadInput
from layerspeed.nn.activations import ACTIVATIONS
from layerspeed.nn.costs import COSTS
from layerspeed.nn.init import INITIALIZERS
from layerspeed.nn.norm import NORMS, skips
from layerspeed.nn.remedies import LAYER_LRS
from layerspeed.nn.train import check_decay
from layerspeed.theory import MAX_GAIN

N_INPUTS, N_CLASSES = 784, 10  # MNIST's pixels and digits; the synthetic set has the same
DATA_SETS = ("mnist", "fashion-mnist", "synthetic")
# What a run can record, beside the training cost of every epoch.
RECORDS = ("accuracy", "speeds", "diagnostics", "neurons", "training_accuracy")
MAX_N = {"n_train": 50_000, "n_probe": 50_000, "n_eval": 10_000}  # what MNIST's split holds
DTYPES = ("float64", "float32")
# How mini-batch epochs run: the compiled loop where it applies (equal to the NumPy reference
# to rounding), or always the NumPy reference.
ENGINES = ("auto", "fast", "numpy")


@dataclass(frozen=True)
class RunConfig:
    """One network, how it is trained, on what, and what is recorded. Checked when made."""

    sizes: tuple[int, ...]  # layer sizes, input first: (784, 30, 30, 10)
    activation: str = "sigmoid"  # the hidden layers'; see layerspeed.nn.activations
    init: str = "default"  # weights N(0, 1/n_in), biases N(0, 1): network2's default
    gain: float = 1.0  # multiplies the initializer's weight scale
    cost: str = "cross-entropy"  # sigmoid output; "log-likelihood" has a softmax output
    epochs: int = 30  # 0: measure the initialized network only
    mini_batch_size: int = 10  # at least n_train: full-batch gradient descent
    eta: float = 0.1  # learning rate
    lmbda: float = 5.0  # L2 regularization; the decay uses n = n_train
    n_train: int = 50_000  # train on the first n_train training images
    n_probe: int = 1000  # measure the speeds on the first n_probe of them
    n_eval: int = 10_000  # score the first n_eval validation images after every epoch
    dataset: str = "mnist"  # or "synthetic": a fixed, generated 10-class set
    record: tuple[str, ...] = ("accuracy",)  # what to record, from RECORDS
    dtype: str = "float64"
    engine: str = "auto"  # see ENGINES; the numbers differ between engines only by rounding
    # The remedies that came after the chapter (layerspeed.nn.norm, layerspeed.nn.remedies);
    # at their defaults a run is the book's, number for number.
    norm: str = "none"  # "batch": batch normalization before each hidden activation
    residual: bool = False  # skip connections over the hidden layers of equal width
    layer_lr: str = "none"  # "lars" (trust ratio) or "equalize" (inverse relative speed)
    clip: float = 0.0  # clip the mean gradient's global norm to this; 0: off
    bias_gain: float = 1.0  # multiplies the initial biases (sigma_b)

    def __post_init__(self) -> None:
        object.__setattr__(self, "sizes", tuple(self.sizes))
        object.__setattr__(self, "record", tuple(self.record))
        for f in fields(self):
            check_value(f.name, getattr(self, f.name))
        if self.records("speeds") and self.n_probe > self.n_train:
            raise BadInput(f"n_probe {self.n_probe} must not exceed n_train {self.n_train}")
        check_decay(self.eta, self.lmbda, self.n_train, n_name="n_train")
        self._check_remedies()

    def _check_remedies(self) -> None:
        if self.norm == "batch":
            self._check_batch_norm()
        if self.residual and not any(skips(self.sizes, True)):
            raise BadInput(
                f"residual: {self.label} has no hidden layer as wide as its input; give at "
                "least 2 hidden layers of equal width"
            )
        if self.engine == "fast" and self.remedies():
            raise BadInput(
                f"engine fast has no {', '.join(self.remedies())}; give engine auto or numpy"
            )

    def _check_batch_norm(self) -> None:
        """Batch norm takes statistics over a batch: one example has none (its variance is
        0, so every hidden weight's gradient is 0), and PyTorch refuses it too."""
        m, n = self.mini_batch_size, self.n_train
        if self.epochs and min(m, n) < 2:
            raise BadInput(
                "norm batch needs mini-batches of at least 2 examples to take statistics over; "
                "give mini_batch_size >= 2 and n_train >= 2"
            )
        if self.epochs and m < n and n % m == 1:
            fits = " or ".join(str(k) for k in (n - 1, n + 1) if k <= MAX_N["n_train"])
            raise BadInput(
                f"norm batch: n_train {n} in mini-batches of {m} leaves a last mini-batch of 1 "
                f"example, which has no batch statistics; give n_train {fits}, or another "
                "mini_batch_size"
            )
        if self.records("speeds") and self.n_probe < 2:
            raise BadInput(
                "norm batch measures the speeds with the probe set's batch statistics, which "
                "1 example does not have; give n_probe >= 2"
            )

    def remedies(self) -> list[str]:
        """The remedy keys set away from their defaults (those the compiled path lacks)."""
        return [k for k in ("norm", "residual", "layer_lr", "clip") if self._set(k)]

    def _set(self, key: str) -> bool:
        return bool(getattr(self, key) != REMEDY_DEFAULTS[key])

    @property
    def hidden_layers(self) -> int:
        return len(self.sizes) - 2

    @property
    def label(self) -> str:
        """``(784, 30, 10)`` -> ``"784-30-10"``."""
        return sizes_label(self.sizes)

    @property
    def full_batch(self) -> bool:
        return self.mini_batch_size >= self.n_train

    @property
    def n_train_read(self) -> int:
        """How many training images the run reads: its training set and its probe set."""
        if not self.epochs:
            return self.n_probe if self.records("speeds") else 1
        return self.n_train

    def records(self, what: str) -> bool:
        return what in self.record or (what == "speeds" and "diagnostics" in self.record)

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "sizes": list(self.sizes), "record": list(self.record)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RunConfig:
        """The inverse of :meth:`to_dict`; a one-line :class:`BadInput` for an unknown key."""
        known = {f.name for f in fields(cls)}
        for key in data:
            if key not in known:
                raise BadInput(f"unknown key {key!r}; allowed keys: {', '.join(sorted(known))}")
        return cls(**data)

    def cost_estimate(self) -> float:
        """Rough multiply-adds, to hand out the longest runs first."""
        params = sum(a * b for a, b in zip(self.sizes[:-1], self.sizes[1:], strict=False))
        evaluation = self.n_eval if self.records("accuracy") else 0
        probe = 3.0 * self.n_probe * (self.epochs + 1) if self.records("speeds") else 0.0
        return params * (self.epochs * (3.0 * self.n_train + evaluation) + probe)


FIELDS = tuple(f.name for f in fields(RunConfig))
REMEDY_DEFAULTS: dict[str, Any] = {
    "norm": "none", "residual": False, "layer_lr": "none", "clip": 0.0, "bias_gain": 1.0,
}  # fmt: skip
_CHOICES: dict[str, tuple[str, ...]] = {
    "activation": tuple(ACTIVATIONS),
    "init": tuple(INITIALIZERS),
    "cost": tuple(COSTS),
    "dataset": DATA_SETS,
    "dtype": DTYPES,
    "engine": ENGINES,
    "norm": NORMS,
    "layer_lr": LAYER_LRS,
}
_INTS = {"epochs": 0, "mini_batch_size": 1, "n_train": 1, "n_probe": 1, "n_eval": 1}
_POSITIVE = ("eta", "gain")
_NON_NEGATIVE = ("lmbda", "clip", "bias_gain")


def normalize(key: str, value: Any) -> Any:
    """A value as the config holds it: ``gain = 1`` and ``1.0`` are one run, sizes a tuple."""
    if key in _POSITIVE + _NON_NEGATIVE and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if key in ("sizes", "record") and isinstance(value, list):
        return tuple(value)
    return value


def check_value(key: str, value: Any, *, where: str | None = None) -> None:
    """Raise :class:`BadInput` naming ``where`` (or ``key``) unless ``value`` suits ``key``."""
    name = where or key
    if key == "sizes":
        _check_sizes(value, name)
    elif key == "record":
        if not isinstance(value, tuple | list) or any(r not in RECORDS for r in value):
            raise BadInput(f"{name}: {value!r} must be a list from {', '.join(RECORDS)}")
    elif key == "residual":
        if not isinstance(value, bool):
            raise BadInput(f"{name}: {value!r} must be true or false")
    elif key in _CHOICES:
        if not isinstance(value, str) or value not in _CHOICES[key]:
            allowed = ", ".join(_CHOICES[key])
            raise BadInput(f"{name}: unknown value {value!r}; allowed values: {allowed}")
    elif key in _INTS:
        if isinstance(value, bool) or not isinstance(value, int) or value < _INTS[key]:
            raise BadInput(f"{name}: {value!r} must be an integer >= {_INTS[key]}")
        if key in MAX_N and value > MAX_N[key]:
            raise BadInput(f"{name}: {value!r} is more than MNIST has ({MAX_N[key]})")
    elif key in _POSITIVE or key in _NON_NEGATIVE:
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        ok = ok and math.isfinite(value) and (value > 0 if key in _POSITIVE else value >= 0)
        if not ok:
            what = "a positive number" if key in _POSITIVE else "a number >= 0"
            raise BadInput(f"{name}: {value!r} must be {what}")
        if key in ("gain", "bias_gain") and value > MAX_GAIN:  # beyond it the theory's q overflows
            raise BadInput(f"{name}: {value!r} must be at most {MAX_GAIN:,.0f}")
    else:
        raise BadInput(f"unknown key {name!r}; allowed keys: {', '.join(FIELDS)}")


def _check_sizes(sizes: Any, name: str) -> None:
    ok = isinstance(sizes, tuple | list) and len(sizes) >= 3
    if not ok or any(isinstance(s, bool) or not isinstance(s, int) or s < 1 for s in sizes):
        raise BadInput(
            f"{name}: {sizes!r} must be a list of at least 3 positive integers: the inputs, "
            "at least one hidden layer, the outputs"
        )
    if sizes[0] != N_INPUTS or sizes[-1] != N_CLASSES:
        raise BadInput(
            f"{name}: {list(sizes)}: MNIST needs {N_INPUTS} inputs and {N_CLASSES} outputs, "
            "e.g. 784,30,10"
        )


def sizes_label(sizes: tuple[int, ...] | list[int]) -> str:
    """``(784, 30, 10)`` -> ``"784-30-10"``, the name of a config's folder."""
    return "-".join(str(s) for s in sizes)


def hidden_sizes(depth: int, width: int) -> tuple[int, ...]:
    """The sizes of ``depth`` hidden layers of ``width`` neurons on MNIST."""
    return (N_INPUTS, *([width] * depth), N_CLASSES)


def weight_rng(seed: int) -> np.random.Generator:
    """The stream the initial weights and biases are drawn from."""
    return np.random.default_rng([seed, 0])


def shuffle_rng(seed: int) -> np.random.Generator:
    """The stream the mini-batch shuffles are drawn from."""
    return np.random.default_rng([seed, 1])
