"""layerspeed: see, measure and fix unstable gradients in deep neural networks.

A reproduction of "The vanishing gradient problem", chapter 5 of Michael Nielsen's
*Neural Networks and Deep Learning*, and tools that go beyond it.
"""

from importlib.metadata import PackageNotFoundError, version
from typing import Any

try:
    __version__ = version("layerspeed")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+unknown"


def __getattr__(name: str) -> Any:
    # ``layerspeed.load`` is the pipeline level's (layerspeed.export), imported on first use:
    # importing layerspeed imports no layer above this one, and never pandas.
    if name == "load":
        import importlib

        return importlib.import_module("layerspeed.export").load
    raise AttributeError(f"module 'layerspeed' has no attribute {name!r}")


__all__ = ["__version__", "load"]
