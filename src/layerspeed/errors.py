"""Errors that the command line turns into a one-line message and an exit code.

Library code raises these; only :mod:`layerspeed.cli` prints them. Each message says what
was wrong and, where there is one, what to do about it.
"""

from __future__ import annotations


class LayerspeedError(Exception):
    """Base class. ``exit_code`` is what the command line exits with."""

    exit_code = 1


class BadInput(LayerspeedError, ValueError):
    """An argument, config or file that cannot be used as given (exit code 2)."""

    exit_code = 2


class DataError(LayerspeedError):
    """The MNIST files could not be obtained, or failed verification."""


class DivergenceError(LayerspeedError, ArithmeticError):
    """Training produced NaN or inf in the cost or the weights.

    ``hint`` says what to try, fitted to the run (:func:`layerspeed.nn.train.divergence_hint`);
    without one, the general advice.
    """

    def __init__(self, epoch: int, what: str, hint: str | None = None) -> None:
        self.epoch = epoch
        self.what = what
        hint = hint or "try a smaller --eta or a smaller weight initialization"
        super().__init__(f"training diverged in epoch {epoch}: {what} is NaN or infinite; {hint}")


def plural(n: int, noun: str, nouns: str | None = None) -> str:
    """``plural(1, "epoch")`` -> ``"1 epoch"``, ``plural(3, "epoch")`` -> ``"3 epochs"``:
    a count with its noun, for messages and text."""
    return f"{n} {noun if n == 1 else (nouns or noun + 's')}"
