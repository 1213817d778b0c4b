"""Grids of runs in TOML: the chapter, the remedies and a user's own sweep, in one format.

A *study* is a grid: fixed values, axes whose product are the grid points, and seeds::

    name = "remedies"          # the study's name, also its default folder
    seeds = 3                  # seeds 0, 1, 2; or a list, seeds = [0, 7]
    [base]                     # fixed values: any RunConfig field, or depth and width
    depth = 4
    [grid]                     # axes: each a non-empty list; the grid is their product
    activation = ["sigmoid", "relu"]
    init = ["default", "he"]
    [quick]                    # optional: overrides for --quick (fixed values, seeds)
    epochs = 1
    [variants]                 # optional: named sets of values, an axis "variant" (first)
    book = {}
    relu_he = {activation = "relu", init = "he"}

A file holds one study as above, or several as ``[studies.NAME]`` tables with the same keys
(``presets/chapter.toml``: the depth, neurons, initial and training studies), each with an
optional ``title`` (formatted with its fixed values, ``"{epochs} epochs"``) and
``seed_factor`` (how many seeds per ``--seeds`` unit; the cheap studies run 4 per unit).

Each (grid point, seed) is one run, in ``OUT/runs/<label>/seed-<k>/`` for a one-study file and
``OUT/runs/<study>/<label>/seed-<k>/`` for several; ``label`` names the point by its axes'
values, ``activation=relu,init=he``, a ``sizes`` axis by the sizes alone, ``784-30-10``.
"""

from __future__ import annotations

import itertools
import math
import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from importlib import resources
from pathlib import Path
from typing import Any

from layerspeed.errors import BadInput
from layerspeed.experiments.config import (
    FIELDS,
    RunConfig,
    check_value,
    hidden_sizes,
    normalize,
    sizes_label,
)

PRESETS = ("chapter", "remedies", "modern", "depth", "chaos")
SHAPE_KEYS = ("depth", "width")  # the hidden layers' number and width, instead of sizes
ALIASES = {"data": "dataset"}  # layerspeed 0.1's key
KEYS = (*FIELDS, *SHAPE_KEYS)
# The fields a sweep's run takes where its file says nothing: 3 epochs on 10,000 images with
# the speeds, health numbers and accuracy recorded.
SWEEP_DEFAULTS: dict[str, Any] = {
    "depth": 4,
    "width": 30,
    "epochs": 3,
    "n_train": 10_000,
    "record": ("accuracy", "speeds", "diagnostics"),
}
# Overrides for --quick when a study has no [quick] table: one short epoch, two seeds.
QUICK: dict[str, Any] = {"epochs": 1, "n_train": 2000, "n_eval": 2000, "seeds": 2}
_STUDY_KEYS = ("name", "title", "seeds", "seed_factor", "base", "grid", "quick", "variants")
VARIANT = "variant"  # the axis of a study's [variants], whose values are their names
# Runs are counted before any list of them is made. Above MAX_RUNS a grid is refused
# outright; above CONFIRM_RUNS the command line asks for --yes (load_grid's max_runs).
MAX_RUNS = 1_000_000
CONFIRM_RUNS = 10_000


@dataclass(frozen=True)
class GridPoint:
    """One point of a grid: its label, the axes' values there, and the run config."""

    label: str  # the axes' values, "activation=relu,init=he": the run folder's name
    params: dict[str, Any]  # the grid axes' values at this point
    config: RunConfig


def _value_text(key: str, value: Any) -> str:
    return sizes_label(value) if key == "sizes" else f"{key}={value}"


def make_config(values: Mapping[str, Any]) -> RunConfig:
    """A run config from grid values: ``depth`` and ``width`` make the sizes."""
    v = dict(values)
    shape = {k: v.pop(k) for k in SHAPE_KEYS if k in v}
    if shape:
        if "sizes" in v:
            raise BadInput("give either sizes or depth and width, not both")
        v["sizes"] = hidden_sizes(shape.get("depth", 4), shape.get("width", 30))
    return RunConfig(**v)


def _check(key: str, value: Any, where: str) -> None:
    if key in SHAPE_KEYS:
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise BadInput(f"{where}: {value!r} must be an integer >= 1")
    else:
        check_value(key, value, where=where)


@dataclass(frozen=True)
class Study:
    """A checked grid: fixed values, axes (in order), seeds."""

    name: str
    base: dict[str, Any]  # fixed values; the rest take RunConfig's defaults
    axes: dict[str, tuple[Any, ...]]  # axis -> its values, in the file's order
    seeds: tuple[int, ...]
    quick: dict[str, Any] = field(default_factory=dict)  # overrides for --quick
    title: str = ""
    seed_factor: int = 1
    defaults: dict[str, Any] = field(default_factory=dict)  # where base says nothing
    where: str = field(default="", compare=False)  # "studies.NAME." in a file of several
    variants: dict[str, dict[str, Any]] = field(default_factory=dict)  # name -> its values

    def __post_init__(self) -> None:
        check_name(self.name)
        if not self.axes:
            raise BadInput(
                f"{self.name}: the grid is empty; give at least one axis, e.g. [grid] "
                'activation = ["sigmoid", "relu"]'
            )
        for key, values in self.axes.items():
            name = f"{self.where}grid.{key}"
            if not values:
                raise BadInput(f"{name}: the axis is empty; give at least one value")
            for v in values if key != VARIANT else ():
                _check(key, v, name)
            if len(set(values)) != len(values):
                raise BadInput(f"{name}: {list(values)} repeats a value")
        for key, v in self.base.items():
            name = f"{self.where}base.{key}"
            _check(key, v, name)
            if key in self.axes:
                raise BadInput(f"{name}: {key!r} is also a grid axis; give it in one place")
        if not self.seeds:
            raise BadInput(f"{self.where}seeds: no seeds; give a count >= 1 or a non-empty list")
        self.points()  # every combination must make a valid run (n_probe <= n_train, ...)

    def points(self) -> list[GridPoint]:
        """Every combination of the axes, the first axis varying slowest."""
        keys = list(self.axes)
        out = []
        for combo in itertools.product(*(self.axes[k] for k in keys)):
            params = dict(zip(keys, combo, strict=True))
            label = ",".join(_value_text(k, v) for k, v in params.items())
            fixed = {**self.variants.get(params.get(VARIANT, ""), {}), **params}
            fixed.pop(VARIANT, None)
            try:
                config = make_config({**self._defaults(fixed), **self.base, **fixed})
            except BadInput as e:
                raise BadInput(f"{self.name}: grid point {label}: {e}") from None
            out.append(GridPoint(label, params, config))
        return out

    def _defaults(self, fixed: Mapping[str, Any] | None = None) -> dict[str, Any]:
        given = {*self.base, *self.axes, *(fixed or {})}
        drop = set(SHAPE_KEYS) if "sizes" in given else set()
        return {k: v for k, v in self.defaults.items() if k not in given and k not in drop}

    def with_quick(self) -> Study:
        """This study with its ``[quick]`` overrides (or :data:`QUICK` where it has none)."""
        q = dict(self.quick or QUICK)
        seeds = parse_seeds(q.pop("seeds")) if "seeds" in q else self.seeds
        return replace(self, base={**self.base, **q}, seeds=seeds, quick={})

    def with_seeds(self, n: int, *, quick: bool = False) -> Study:
        """``n`` seeds' worth: ``n * seed_factor`` seeds; a study with a factor keeps at least
        the file's own count, unless ``quick``."""
        count = n * self.seed_factor
        if self.seed_factor > 1 and not quick:
            count = max(count, len(self.seeds))  # the cheap studies keep their floor
        check_runs(self.axes, count, self.name, max_runs=None, split=f"give fewer seeds than {n}")
        return replace(self, seeds=tuple(range(count)))

    def display_title(self) -> str:
        """The title, its ``{field}`` placeholders filled from the fixed values."""
        values = {**RunConfig((784, 10, 10)).to_dict(), **self._defaults(), **self.base}
        # "{epochs} epochs" of a one-epoch study reads "1 epoch".
        return re.sub(r"\b1 (epoch|seed|image|run|layer)s\b", r"1 \1", self.title.format(**values))

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "base": {k: list(v) if isinstance(v, tuple) else v for k, v in self.base.items()},
            "grid": {
                k: [list(x) if isinstance(x, tuple) else x for x in v] for k, v in self.axes.items()
            },  # fmt: skip
            "seeds": list(self.seeds),
        } | ({"variants": self.variants} if self.variants else {})


@dataclass(frozen=True)
class Grid:
    """A grid file: one study, or several (the chapter). ``nested``: several, each in its
    own folder under ``runs/``."""

    name: str
    studies: tuple[Study, ...]
    nested: bool

    def with_quick(self) -> Grid:
        return replace(self, studies=tuple(s.with_quick() for s in self.studies))

    def with_seeds(self, n: int, *, quick: bool = False) -> Grid:
        return replace(self, studies=tuple(s.with_seeds(n, quick=quick) for s in self.studies))


def check_name(name: Any) -> None:
    if not isinstance(name, str) or not name or any(c in name for c in "/\\\0") or name[0] == ".":
        raise BadInput(f"name: {name!r} must be a non-empty folder name (no '/')")


def seed_count(value: Any, where: str = "seeds") -> int:
    """How many seeds ``value`` (a count or a list) names, without making the list."""
    if isinstance(value, int) and not isinstance(value, bool):
        if value < 1:
            raise BadInput(f"{where}: {value} must be >= 1 (a count) or a list of seeds")
        if value > MAX_RUNS:
            raise BadInput(f"{where}: {value:,} seeds is more than the {MAX_RUNS:,} runs allowed")
        return value
    return len(value) if isinstance(value, list) else 0


def parse_seeds(value: Any, where: str = "seeds") -> tuple[int, ...]:
    if isinstance(value, int) and not isinstance(value, bool):
        return tuple(range(seed_count(value, where)))
    if isinstance(value, list):
        if not value:
            raise BadInput(f"{where}: the list of seeds is empty")
        if any(isinstance(s, bool) or not isinstance(s, int) or s < 0 for s in value):
            raise BadInput(f"{where}: {value!r} must be integers >= 0")
        if len(set(value)) != len(value):
            raise BadInput(f"{where}: {value!r} repeats a seed")
        return tuple(value)
    raise BadInput(f"{where}: {value!r} must be a count or a list of integers")


def _subtable(data: Mapping[str, Any], key: str, where: str) -> dict[str, Any]:
    value = data.get(key, {})
    if not isinstance(value, dict):
        raise BadInput(f"{where}{key}: must be a table, [{where}{key}]")
    for old, new in ALIASES.items():
        if old in value and new in value:
            raise BadInput(f"{where}{key}: give {new} or its old name {old}, not both")
    return {ALIASES.get(str(k), str(k)): v for k, v in value.items()}


def _values(data: Mapping[str, Any], key: str, where: str) -> dict[str, Any]:
    table = _subtable(data, key, where)
    for k in table:
        if k not in KEYS and not (key == "quick" and k == "seeds"):
            raise BadInput(f"unknown key '{where}{key}.{k}'; allowed keys: {', '.join(KEYS)}")
    return {k: normalize(k, v) for k, v in table.items()}


def check_runs(
    axes: Mapping[str, tuple[Any, ...]],
    n_seeds: int,
    name: str,
    *,
    max_runs: int | None,
    split: str | None = None,
) -> int:
    """The number of runs of a grid (points x seeds), refused above ``max_runs`` (when
    given) or :data:`MAX_RUNS`, with a line that says how to split the grid."""
    points = math.prod(len(v) for v in axes.values())
    runs = points * n_seeds
    limit = MAX_RUNS if max_runs is None else min(max_runs, MAX_RUNS)
    if runs > limit:
        widest = max(axes, key=lambda k: len(axes[k]), default=None)
        split = split or (
            f"split it into files of fewer values (e.g. one per value of the {len(axes[widest])} "
            f"of grid.{widest})"
            if widest is not None and len(axes[widest]) > 1
            else "give fewer seeds"
        )
        confirm = " or give --yes to run them all" if runs <= MAX_RUNS else ""
        limit = limit if runs <= MAX_RUNS else MAX_RUNS  # past it, --yes cannot help
        raise BadInput(
            f"{name}: {runs:,} runs ({points:,} grid point{'s' * (points != 1)} x {n_seeds:,} "
            f"seed{'s' * (n_seeds != 1)}) is more than {limit:,}; {split}{confirm}"
        )
    return runs


def parse_study(
    data: Mapping[str, Any],
    *,
    default_name: str,
    where: str = "",
    defaults: Mapping[str, Any],
    max_runs: int | None = None,
) -> Study:
    """A :class:`Study` from a parsed TOML table; every problem is a one-line BadInput.

    The runs are counted (:func:`check_runs`) before any grid point is made."""
    for key in data:
        if key not in _STUDY_KEYS:
            raise BadInput(
                f"unknown key '{where}{key}'; allowed keys here: {', '.join(_STUDY_KEYS)}"
            )
    if "grid" not in data and "variants" not in data:
        raise BadInput(f"{where}grid: the config has no [{where}grid] table; the grid is empty")
    axes: dict[str, tuple[Any, ...]] = {}
    for key, values in _subtable(data, "grid", where).items():
        if key not in KEYS:
            raise BadInput(f"unknown key '{where}grid.{key}'; allowed keys: {', '.join(KEYS)}")
        if not isinstance(values, list):
            raise BadInput(f"{where}grid.{key}: {values!r} must be a list of values")
        axes[key] = tuple(normalize(key, v) for v in values)
    base = _values(data, "base", where)
    quick = _values(data, "quick", where)
    for key, v in quick.items():
        if key == "seeds":
            parse_seeds(v, f"{where}quick.seeds")
        elif key in axes:
            raise BadInput(
                f"{where}quick.{key}: {key!r} is a grid axis; quick overrides fixed values"
            )
        else:
            _check(key, v, f"{where}quick.{key}")
    taken = {**dict.fromkeys(quick, "set by [quick]"), **dict.fromkeys(axes, "a grid axis")}
    variants = _variants(data, where, taken)
    axes = {VARIANT: tuple(variants), **axes} if variants else axes
    factor = data.get("seed_factor", 1)
    if isinstance(factor, bool) or not isinstance(factor, int) or factor < 1:
        raise BadInput(f"{where}seed_factor: {factor!r} must be an integer >= 1")
    name = data.get("name", default_name)
    check_runs(
        axes, seed_count(data.get("seeds", 1), f"{where}seeds"), f"{name}", max_runs=max_runs
    )
    study = Study(
        name=name,
        base=base,
        axes=axes,
        seeds=parse_seeds(data.get("seeds", 1), f"{where}seeds"),
        quick=quick,
        title=str(data.get("title", "")),
        seed_factor=factor,
        defaults=dict(defaults),
        where=where,
        variants=variants,
    )
    if quick:
        study.with_quick()  # the quick variant must make valid runs too
    return study


def _variants(data: Mapping[str, Any], where: str, taken: dict[str, str]) -> dict[str, Any]:
    """``[variants]``: each a name and a table of fixed values that override ``[base]``."""
    table = _subtable(data, "variants", where)
    out = {}
    for name in table:
        check_name(name)
        out[name] = _values(table, name, f"{where}variants.")
        for key, v in out[name].items():
            at = f"{where}variants.{name}.{key}"
            if key in taken:
                raise BadInput(f"{at}: {key!r} is {taken[key]}; give it in one place")
            _check(key, v, at)
    return out


def parse_grid(
    data: Mapping[str, Any], *, default_name: str = "sweep", max_runs: int | None = None
) -> Grid:
    """A :class:`Grid` from a parsed TOML document: one study, or ``[studies.NAME]`` tables.

    ``max_runs``: refuse a study of more runs (always refused: above :data:`MAX_RUNS`)."""
    if "studies" not in data:
        study = parse_study(
            data, default_name=default_name, defaults=SWEEP_DEFAULTS, max_runs=max_runs
        )
        return Grid(study.name, (study,), nested=False)
    for key in data:
        if key not in ("name", "studies"):
            raise BadInput(f"unknown key {key!r}; a file with [studies] has only name and studies")
    studies = data["studies"]
    if not isinstance(studies, dict) or not studies:
        raise BadInput("studies: must hold at least one [studies.NAME] table")
    parsed = []
    for name, table in studies.items():
        if not isinstance(table, dict):
            raise BadInput(f"studies.{name}: must be a table, [studies.{name}]")
        if "name" in table:
            raise BadInput(f"studies.{name}.name: a study is named by its table")
        parsed.append(
            parse_study(
                table, default_name=name, where=f"studies.{name}.", defaults={}, max_runs=max_runs
            )
        )
    name = data.get("name", default_name)
    check_name(name)
    return Grid(name, tuple(parsed), nested=True)


def load_grid(path: str | os.PathLike[str], *, max_runs: int | None = None) -> Grid:
    """Read and check a grid file (TOML); ``max_runs`` as for :func:`parse_grid`."""
    p = Path(path)
    try:
        data = tomllib.loads(p.read_text(encoding="utf-8"))
    except OSError as e:
        raise BadInput(f"cannot read the sweep config {p}: {e.strerror or e}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise BadInput(f"{p}: not valid TOML: {e}") from None
    return parse_grid(data, default_name=p.stem, max_runs=max_runs)


def load_preset(name: str) -> Grid:
    """A built-in grid, from ``layerspeed/experiments/presets/<name>.toml``."""
    if name not in PRESETS:
        raise BadInput(f"unknown preset {name!r}; choose one of: {', '.join(PRESETS)}")
    text = resources.files("layerspeed.experiments").joinpath(f"presets/{name}.toml").read_text()
    return parse_grid(tomllib.loads(text), default_name=name)
