"""The ``layerspeed`` command line.

Each subcommand lives in a module of this package that adds itself to the click group in
:mod:`layerspeed.cli._app`. ``main`` turns every expected error into one line on stderr and
an exit code, never a traceback.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Sequence

import click

from layerspeed.cli._app import cli
from layerspeed.errors import LayerspeedError

# Subcommand modules, each registering its commands on ``cli`` when imported.
_COMMAND_MODULES = [
    "chain",
    "export",
    "fetch",
    "report",
    "reproduce",
    "speeds",
    "sweep",
    "theory",
    "train",
]
for _name in _COMMAND_MODULES:
    importlib.import_module(f"layerspeed.cli.{_name}")


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the process exit code."""
    try:
        result = cli.main(
            args=list(argv) if argv is not None else None,
            prog_name="layerspeed",
            standalone_mode=False,
        )
    except click.exceptions.Abort:
        print("layerspeed: aborted", file=sys.stderr)
        return 130
    except click.ClickException as e:
        print(f"layerspeed: error: {e.format_message()}", file=sys.stderr)
        return e.exit_code
    except LayerspeedError as e:
        print(f"layerspeed: error: {e}", file=sys.stderr)
        return e.exit_code
    except OSError as e:  # an output folder that cannot be written, a full disk, ...
        where = f"{e.filename}: " if e.filename else ""
        print(f"layerspeed: error: {where}{e.strerror or e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("layerspeed: interrupted", file=sys.stderr)
        return 130
    return result if isinstance(result, int) else 0


__all__ = ["cli", "main"]
