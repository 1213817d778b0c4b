"""``layerspeed export`` and ``layerspeed.load``: the runs in a folder as a tidy table (CSV,
Parquet, a pandas DataFrame) and as TensorBoard runs.

The table is :func:`layerspeed.experiments.tidy.tidy`'s; the event files
:func:`layerspeed.board.write_board`'s, one TensorBoard run a run folder (a grid point and a
seed). Every optional library an output needs is checked first, then the runs are found (a folder
without runs is refused before anything is made), then every output is proved writable before
the table is built; every file is written through :func:`layerspeed.store.atomic_writer`, so
a failure leaves no half-written file.
"""

from __future__ import annotations

import csv
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from layerspeed import __version__
from layerspeed.board import summary_writer, write_board
from layerspeed.errors import BadInput
from layerspeed.experiments.tidy import Table, by_run, find_runs, table_of
from layerspeed.store import atomic_writer, check_writable

PANDAS_MISSING = 'layerspeed.load needs pandas, an optional extra: pip install "layerspeed[pandas]"'
PYARROW_MISSING = (
    'Parquet output needs pyarrow, an optional extra: pip install "layerspeed[pandas]"'
)


@dataclass(frozen=True)
class Exported:
    """What an export wrote."""

    runs: int
    rows: int
    paths: list[Path] = field(default_factory=list)


def write_csv(table: Table, path: str | os.PathLike[str]) -> None:
    """The table as CSV with a header line; an empty cell where a row has no value."""
    with atomic_writer(path) as f:
        out = csv.writer(f, lineterminator="\n")
        out.writerow(table.names)
        for row in zip(*table.columns.values(), strict=True):
            out.writerow(["" if v is None else v for v in row])


def _arrow_types() -> dict[type, Any]:
    import pyarrow as pa

    return {str: pa.string(), int: pa.int64(), float: pa.float64(), bool: pa.bool_()}


def write_parquet(table: Table, path: str | os.PathLike[str]) -> None:
    """The table as Parquet, each column typed (grid keys by their values); the schema's
    metadata names the layerspeed version and the folder the runs came from."""
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError as e:
        raise ImportError(PYARROW_MISSING) from e
    types = _arrow_types()
    meta = {"layerspeed_version": __version__, "source": str(table.source)}
    schema = pa.schema([(n, types[table.types[n]]) for n in table.names], metadata=meta)
    arrow = pa.Table.from_pydict(table.columns, schema=schema)
    with atomic_writer(path, binary=True) as f:
        pq.write_table(arrow, f)


def to_dataframe(table: Table) -> Any:
    """The table as a ``pandas.DataFrame``; integer columns with gaps as pandas' ``Int64``."""
    try:
        import pandas as pd
    except ImportError as e:
        raise ImportError(PANDAS_MISSING) from e
    dtypes = {str: "object", int: "Int64", float: "float64", bool: "boolean"}
    return pd.DataFrame(
        {n: pd.array(table.columns[n], dtype=dtypes[table.types[n]]) for n in table.names}
    )


def load(path: str | os.PathLike[str]) -> Any:
    """Every run in ``path`` (a reproduction, a sweep, run folders, a ``train --history``
    file) as one long ``pandas.DataFrame``: run, study, dataset, the grid keys, seed, epoch,
    step, layer, neuron, metric, value (see :mod:`layerspeed.experiments.tidy`)."""
    try:
        import pandas  # noqa: F401  (checked before the runs are read)
    except ImportError as e:
        raise ImportError(PANDAS_MISSING) from e
    return to_dataframe(table_of(find_runs(path), path))


def _needs(module: str, message: str) -> None:
    try:
        __import__(module)
    except ImportError:
        raise BadInput(message) from None


def _not_an_input(out: str | os.PathLike[str], source: str | os.PathLike[str], label: str) -> None:
    """Refuse an output that would replace what is exported: the source file, or a JSON file
    (a run's config, status or result, a summary) inside the source folder."""
    if str(out) == "-":
        return
    target, root = Path(os.path.realpath(out)), Path(os.path.realpath(source))
    inside = target == root or root in target.parents
    if inside and (target == root or (target.suffix == ".json" and target.exists())):
        raise BadInput(
            f"{label} {out} is one of the files being exported from {source}; "
            "give a file outside it, or a new name"
        )


def export(
    path: str | os.PathLike[str],
    *,
    csv_path: str | os.PathLike[str] | None = None,
    parquet_path: str | os.PathLike[str] | None = None,
    logdir: str | os.PathLike[str] | None = None,
) -> Exported:
    """Write the runs in ``path`` as CSV, Parquet and/or TensorBoard runs in ``logdir``."""
    if csv_path is None and parquet_path is None and logdir is None:
        raise BadInput("nothing to export to; give --csv FILE, --parquet FILE or --tensorboard DIR")
    if not Path(path).exists():
        raise BadInput(f"{path} does not exist; give a folder layerspeed wrote runs into")
    if csv_path is not None and parquet_path is not None:
        if os.path.realpath(csv_path) == os.path.realpath(parquet_path):
            raise BadInput(f"--csv and --parquet both name {csv_path}; give two different files")
    if parquet_path is not None:
        _needs("pyarrow.parquet", PYARROW_MISSING)
    if logdir is not None:
        try:
            summary_writer()
        except ImportError as e:
            raise BadInput(str(e)) from None
    runs = find_runs(path)  # reads only: a bad folder is refused before anything is made
    for label, out in (("--csv", csv_path), ("--parquet", parquet_path)):
        if out is not None:
            _not_an_input(out, path, label)
            check_writable(out, label=label)
    if logdir is not None:
        check_writable(logdir, folder=True, label="--tensorboard")
    table = table_of(runs, path)
    paths: list[Path] = []
    if csv_path is not None:
        write_csv(table, csv_path)
        paths.append(Path(csv_path))
    if parquet_path is not None:
        write_parquet(table, parquet_path)
        paths.append(Path(parquet_path))
    if logdir is not None:
        paths += write_board(logdir, by_run(runs))
    return Exported(table.runs, len(table), paths)
