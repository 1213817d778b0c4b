"""Progress bars and tables for the terminal: rich when it is a terminal, plain lines if not."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)

stdout = Console()
stderr = Console(stderr=True)


@contextmanager
def progress(total: int, description: str) -> Iterator[Callable[[str], None]]:
    """Yield ``advance(message)``: one step done, with a short status message.

    On a terminal this drives a rich progress bar on stderr; otherwise each step prints one
    plain line on stderr, so logs stay readable.
    """
    if stderr.is_terminal:
        with Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            TextColumn("{task.fields[status]}"),
            console=stderr,
            transient=False,
        ) as bar:
            task = bar.add_task(description, total=total, status="")

            def advance(message: str = "") -> None:
                bar.update(task, advance=1, status=message)

            yield advance
    else:
        done = 0

        def advance(message: str = "") -> None:
            nonlocal done
            done += 1
            print(f"{description} {done}/{total} {message}".rstrip(), file=sys.stderr, flush=True)

        yield advance


@contextmanager
def byte_progress(
    description: str, total: int | None, *, show: bool = True
) -> Iterator[Callable[[int], None]]:
    """Yield ``advance(n_bytes)`` for one transfer of ``total`` bytes (None: unknown).

    A rich bar on stderr with the bytes moved and the speed, removed once the transfer
    ends; ``show=False`` shows nothing.
    """
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        console=stderr,
        disable=not show,
        transient=True,
    ) as bar:
        task = bar.add_task(description, total=total)

        def advance(n_bytes: int) -> None:
            bar.advance(task, n_bytes)

        yield advance
