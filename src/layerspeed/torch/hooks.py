"""What the probe measures in a PyTorch model, and the forward hooks that see saturation.

A layer is every module that owns trainable parameters itself (``Linear``, ``Conv2d``, ...),
named by its module path (:func:`find_layers`). A :class:`Capture` hooks the forward pass:
it pairs each sigmoid or tanh module's output with the layer that ran just before it, to
count the saturated units, and can keep each layer's output z for the probe's backward pass.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from torch import Tensor, nn
from torch.nn import Module, Parameter
from torch.utils.hooks import RemovableHandle

from layerspeed.errors import BadInput

SATURATION_LEVEL = 0.01  # a unit is saturated where its derivative is below 1% of the maximum


def _sigmoid_prime_from_output(a: Tensor) -> Tensor:
    return a * (1.0 - a)  # sigma' = sigma (1 - sigma)


def _tanh_prime_from_output(a: Tensor) -> Tensor:
    return 1.0 - a * a  # tanh' = 1 - tanh^2


# name -> (module type, derivative as a function of the module's output, largest derivative)
SATURATING: dict[str, tuple[type[Module], Callable[[Tensor], Tensor], float]] = {
    "sigmoid": (nn.Sigmoid, _sigmoid_prime_from_output, 0.25),
    "tanh": (nn.Tanh, _tanh_prime_from_output, 1.0),
}


# ---- layers ------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class Layer:
    """A module that owns trainable parameters: what the probe measures."""

    name: str  # the module path, as in model.named_modules()
    module: Module
    bias: Parameter | None  # the parameter named "bias", if trainable
    weights: tuple[Parameter, ...]  # every other trainable parameter the module owns

    @property
    def speed_source(self) -> str:
        return "bias" if self.bias is not None else "weight"

    @property
    def params(self) -> tuple[Parameter, ...]:
        return ((self.bias,) if self.bias is not None else ()) + self.weights


def _own_params(module: Module) -> list[tuple[str, Parameter]]:
    return [(n, p) for n, p in module.named_parameters(recurse=False) if p.requires_grad]


def find_layers(model: Module, names: Sequence[str] | None = None) -> list[Layer]:
    """The modules of ``model`` that own trainable parameters, in registration order.

    ``names`` picks some of them by module path (in the order given).
    """
    found: dict[str, Layer] = {}
    for path, module in model.named_modules():
        own = _own_params(module)
        if not own:
            continue
        name = path or type(module).__name__  # the root module has the empty path
        bias = next((p for n, p in own if n == "bias"), None)
        weights = tuple(p for n, p in own if n != "bias")
        found[name] = Layer(name, module, bias, weights)
    if not found:
        raise BadInput(f"{type(model).__name__} has no trainable parameters to measure")
    if names is None:
        return list(found.values())
    unknown = [n for n in names if n not in found]
    if unknown:
        raise BadInput(
            f"no layer named {', '.join(map(repr, unknown))}; layers with parameters: "
            f"{', '.join(found)}"
        )
    return [found[n] for n in names]


# ---- forward capture ---------------------------------------------------------------------


@dataclass(frozen=True)
class Watched:
    """The modules a capture hooks into, found once."""

    n_layers: int
    param_modules: list[tuple[Module, int | None]]  # index into the layers; None: unmeasured
    saturating_modules: list[tuple[Module, str]]  # a key of SATURATING

    @classmethod
    def of(cls, model: Module, layers: list[Layer]) -> Watched:
        index = {id(layer.module): l for l, layer in enumerate(layers)}
        kinds = {kind: name for name, (kind, _, _) in SATURATING.items()}
        return cls(
            len(layers),
            [(m, index.get(id(m))) for m in model.modules() if _own_params(m)],
            [(m, kinds[type(m)]) for m in model.modules() if type(m) in kinds],
        )


class Capture:
    """Forward hooks that give each sigmoid or tanh module's output to the layer before it.

    The pairing follows the order in which modules run, so it holds for ``nn.Sequential``
    and for hand-written ``forward`` methods alike, as long as the activation is a module.
    """

    def __init__(self, watched: Watched, *, keep_outputs: bool) -> None:
        self.handles: list[RemovableHandle] = []
        self.current: int | None = None
        self.keep_outputs = keep_outputs
        n = watched.n_layers
        self.saturated = [0] * n
        self.total = [0] * n
        self.kind: list[str | None] = [None] * n
        self.outputs: list[list[Tensor]] = [[] for _ in range(n)]
        for module, l in watched.param_modules:
            self.handles.append(module.register_forward_hook(self._layer_hook(l)))
        for module, name in watched.saturating_modules:
            self.handles.append(module.register_forward_hook(self._saturation_hook(name)))

    def _layer_hook(self, l: int | None) -> Callable[..., None]:
        def hook(_module: Module, _inputs: Any, output: Any) -> None:
            self.current = l
            if l is not None and self.keep_outputs and isinstance(output, Tensor):
                self.outputs[l].append(output)

        return hook

    def _saturation_hook(self, name: str) -> Callable[..., None]:
        _, prime, max_prime = SATURATING[name]

        def hook(_module: Module, _inputs: Any, output: Any) -> None:
            l = self.current
            if l is None or not isinstance(output, Tensor):
                return
            d = prime(output.detach())
            self.saturated[l] += int((d < SATURATION_LEVEL * max_prime).sum())
            self.total[l] += d.numel()
            self.kind[l] = name

        return hook

    def reset(self) -> None:
        self.saturated = [0] * len(self.saturated)
        self.total = [0] * len(self.total)

    def shares(self) -> list[float]:
        return [s / t if t else math.nan for s, t in zip(self.saturated, self.total, strict=True)]

    def remove(self) -> None:
        for h in self.handles:
            h.remove()
        self.handles.clear()
