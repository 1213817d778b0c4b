"""Every number of every run under a folder as one long ("tidy") table: a row per number.

The columns are ``run``, ``study``, ``dataset``, one column per grid key the runs were swept
over, ``seed``, ``epoch``, ``step``, ``layer``, ``neuron``, ``metric`` and ``value``
(:data:`FIXED_BEFORE`, the grid keys, :data:`FIXED_AFTER`). What a row holds is a
:class:`layerspeed.readings.Reading` of one record; this module finds the records.

Where runs are found (any layout layerspeed writes):

- a reproduction (``layerspeed reproduce``: ``results.json``, ``runs/STUDY/LABEL/seed-N/``
  and ``remedies/runs/...``), a sweep (``summary.json``, ``runs/LABEL/seed-N/``), a folder
  the PyTorch probe saved (``Probe.save``), or any folder holding such folders: every run
  folder below it (:func:`layerspeed.store.iter_runs`) that has ended (done, diverged, or
  failed with a result, as the PyTorch probe records a loop that raised) with a
  ``result.json`` of the config and seed its ``config.json`` names;
- a ``layerspeed train --history FILE`` (the same body as a run folder's ``result.json``).

A run is named by its folder's path below the folder given, without the ``runs`` parts
(``depth/784-30-10/seed-0``, ``remedies/activation=relu/seed-1``); a single run folder or
history file by its own name. Its records are its ``epochs`` then its ``final_probe``.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from layerspeed.errors import BadInput
from layerspeed.experiments.schema import schema_version
from layerspeed.readings import Reading, readings
from layerspeed.store import iter_runs, read_json

FIXED_BEFORE = ("run", "study", "dataset")
FIXED_AFTER = ("seed", "epoch", "step", "layer", "neuron", "metric", "value")
INTEGER_COLUMNS = ("seed", "epoch", "step", "neuron")
TEXT_COLUMNS = ("run", "study", "dataset", "layer", "metric")
ENDED = ("done", "diverged", "failed")  # "failed" counts only with its result on disk


@dataclass(frozen=True)
class Run:
    """One run found on disk: what names it, and its records."""

    name: str  # the folder's path below the folder given, without "runs" parts
    study: str | None  # the result's "kind": the study ("depth", "tiny"), "torch", "train"
    dataset: str | None  # the config's data set, where it says one
    params: dict[str, Any]  # the grid point's values, {} outside a grid
    seed: int | None
    layer_names: list[str]
    records: list[dict[str, Any]]  # epochs, then the final probe reading

    def readings(self) -> list[Reading]:
        return readings(self.records, self.layer_names)


def _is_result(body: Any) -> bool:
    return (
        isinstance(body, dict)
        and isinstance(body.get("epochs"), list)
        and isinstance(body.get("layer_names"), list)
    )


def _grid_value(v: Any) -> Any:
    """A grid value as a table cell: lists of numbers as labels do (784-30-10)."""
    if isinstance(v, list | tuple):
        return "-".join(str(_grid_value(u)) for u in v)
    return v


def _as_run(name: str, body: dict[str, Any], default_study: str | None = None) -> Run:
    config = body.get("config") if isinstance(body.get("config"), dict) else {}
    assert isinstance(config, dict)
    params = body.get("params") if isinstance(body.get("params"), dict) else {}
    assert isinstance(params, dict)
    records = [r for r in body["epochs"] if isinstance(r, dict)]
    final = body.get("final_probe")
    if isinstance(final, dict):
        records.append(final)
    seed = body.get("seed")
    kind = body.get("kind")
    dataset = config.get("dataset")
    return Run(
        name=name,
        study=kind if isinstance(kind, str) else default_study,
        dataset=dataset if isinstance(dataset, str) else None,
        params={str(k): _grid_value(v) for k, v in params.items()},
        seed=seed if isinstance(seed, int) and not isinstance(seed, bool) else None,
        layer_names=[str(n) for n in body["layer_names"]],
        records=records,
    )


def _run_name(folder: Path, root: Path) -> str:
    if folder == root:
        return root.resolve().name
    parts = [p for p in folder.relative_to(root).parts if p != "runs"]
    return "/".join(parts) or folder.relative_to(root).as_posix()


def _folder_runs(root: Path) -> Iterator[tuple[Path, dict[str, Any]]]:
    """The run folders below ``root`` that ended with a result of their own config."""
    for run in iter_runs(root):
        if run.status not in ENDED:
            continue
        result, config = run.result, run.config
        if not (_is_result(result) and isinstance(config, dict)):
            continue  # a failed NumPy run has no result; a stale one is not its config's
        assert isinstance(result, dict)
        if result.get("config") != config.get("config") or result.get("seed") != config.get("seed"):
            continue
        yield run.path, result


def _check_versions(root: Path) -> None:
    for name in ("results.json", "summary.json"):
        body = read_json(root / name)
        if isinstance(body, dict):
            try:
                schema_version(body)
            except BadInput as e:
                raise BadInput(f"{root / name}: {e}") from None


def find_runs(path: str | os.PathLike[str]) -> list[Run]:
    """Every run in ``path``, a folder or a ``train --history`` file (see the module
    docstring); :class:`BadInput` when it holds none."""
    p = Path(path)
    if not p.exists():
        raise BadInput(f"{p} does not exist; give a folder layerspeed wrote runs into")
    if p.is_file():
        body = read_json(p)
        if not _is_result(body):
            raise BadInput(
                f"{p} is not a run's result (a JSON object with epochs and layer_names); "
                "give a run folder, a sweep or reproduction folder, or a train --history file"
            )
        assert isinstance(body, dict)
        return [_as_run(p.stem, body, default_study="train")]
    _check_versions(p)
    runs = [_as_run(_run_name(folder, p), body) for folder, body in _folder_runs(p)]
    if not runs:
        raise BadInput(
            f"{p} holds no ended run folder (config.json, status.json, result.json); give "
            "what reproduce --out, sweep --out or Probe.save wrote, or a train --history file"
        )
    if len({r.name for r in runs}) < len(runs):  # "runs" dropped from two paths alike
        runs = [
            _as_run(folder.relative_to(p).as_posix() or p.resolve().name, body)
            for folder, body in _folder_runs(p)
        ]
    return runs


def grid_keys(runs: list[Run]) -> list[str]:
    """The grid keys of all runs, in order of first appearance; a key that is also a fixed
    column (the data set, swept) is that column."""
    keys: dict[str, None] = {}
    for run in runs:
        keys |= dict.fromkeys(k for k in run.params if k not in FIXED_BEFORE + FIXED_AFTER)
    return list(keys)


def _column_type(values: list[Any]) -> type:
    """One type for a grid column: int, float, bool or str (mixed or other values as text)."""
    present = [v for v in values if v is not None]
    if present and all(isinstance(v, bool) for v in present):
        return bool
    if present and all(isinstance(v, int) and not isinstance(v, bool) for v in present):
        return int
    if present and all(isinstance(v, int | float) and not isinstance(v, bool) for v in present):
        return float
    return str


@dataclass(frozen=True)
class Table:
    """The tidy table as columns: ``columns[name]`` is that column's values, row by row;
    None where a row has no value (a number of the whole network has no layer)."""

    columns: dict[str, list[Any]]
    grid: list[str]  # the grid keys' columns, between FIXED_BEFORE and FIXED_AFTER
    types: dict[str, type]  # each column's type: str, int, float or bool
    runs: int  # how many runs it holds
    source: str | None = None  # the folder or file the runs were found in

    @property
    def names(self) -> list[str]:
        return list(self.columns)

    def __len__(self) -> int:
        return len(self.columns["value"])

    def rows(self) -> Iterator[dict[str, Any]]:
        names = self.names
        for values in zip(*(self.columns[n] for n in names), strict=True):
            yield dict(zip(names, values, strict=True))


def table_of(runs: list[Run], source: str | os.PathLike[str] | None = None) -> Table:
    """The tidy table of ``runs`` (found in ``source``)."""
    grid = grid_keys(runs)
    names = [*FIXED_BEFORE, *grid, *FIXED_AFTER]
    columns: dict[str, list[Any]] = {n: [] for n in names}
    for run in runs:
        rows = run.readings()
        k = len(rows)
        for name, v in (("run", run.name), ("study", run.study), ("dataset", run.dataset)):
            columns[name] += [v] * k
        for key in grid:
            columns[key] += [run.params.get(key)] * k
        columns["seed"] += [run.seed] * k
        for field in Reading._fields:
            columns[field] += [getattr(r, field) for r in rows]
    types: dict[str, type] = dict.fromkeys(TEXT_COLUMNS, str)
    types |= dict.fromkeys(INTEGER_COLUMNS, int) | {"value": float}
    for key in grid:
        kind = types[key] = _column_type(columns[key])
        if kind is str:
            columns[key] = [None if v is None else str(v) for v in columns[key]]
        elif kind is float:
            columns[key] = [None if v is None else float(v) for v in columns[key]]
    where = None if source is None else str(source)
    return Table(columns, grid, {n: types[n] for n in names}, len(runs), where)


def tidy(path: str | os.PathLike[str]) -> Table:
    """The tidy table of every run in ``path`` (see the module docstring)."""
    return table_of(find_runs(path), path)


def by_run(runs: list[Run]) -> Mapping[str, list[Reading]]:
    """Each run's readings by its name, for TensorBoard (one TensorBoard run a run)."""
    return {run.name: run.readings() for run in runs}
