"""layerspeed: see, measure and fix unstable gradients in deep neural networks.

A reproduction of "The vanishing gradient problem", chapter 5 of Michael Nielsen's
*Neural Networks and Deep Learning*, and tools that go beyond it.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("layerspeed")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+unknown"

__all__ = ["__version__"]
