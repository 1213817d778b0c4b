"""What the probe measures in a PyTorch model, and the forward hooks that see saturation.

A layer is every module that owns trainable parameters itself (``Linear``, ``Conv2d``, ...),
named by its module path (:func:`find_layers`). A :class:`Capture` hooks the forward pass:
it pairs each sigmoid or tanh, a module or a function called inside ``forward``, with the
layer that ran just before it, to count the saturated units, and can keep each layer's
output z for the probe's backward pass.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn
from torch.nn import Module, Parameter
from torch.overrides import TorchFunctionMode
from torch.utils.hooks import RemovableHandle

from layerspeed.errors import BadInput

SATURATION_LEVEL = 0.01  # a unit is saturated where its derivative is below 1% of the maximum


def _sigmoid_prime_from_output(a: Tensor) -> Tensor:
    return torch.mul(a, torch.rsub(a, 1.0))  # sigma' = sigma (1 - sigma)


def _tanh_prime_from_output(a: Tensor) -> Tensor:
    return torch.rsub(torch.mul(a, a), 1.0)  # tanh' = 1 - tanh^2


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


def _saturating_functions() -> dict[Callable[..., Any], str]:
    """The torch functions that compute a sigmoid or a tanh, by the name of SATURATING.

    ``nn.Sigmoid`` and ``nn.Tanh`` call ``torch.sigmoid`` and ``torch.tanh``; ``F.sigmoid`` and
    ``F.tanh`` call the tensor methods: one table sees modules and functions alike.
    """
    out: dict[Callable[..., Any], str] = {}
    for name, fns in (
        ("sigmoid", (torch.sigmoid, torch.sigmoid_, Tensor.sigmoid, Tensor.sigmoid_)),
        ("tanh", (torch.tanh, torch.tanh_, Tensor.tanh, Tensor.tanh_)),
    ):
        out.update(dict.fromkeys(fns, name))
    out[torch.special.expit] = "sigmoid"
    return out


SATURATING_FUNCTIONS = _saturating_functions()


@dataclass(frozen=True)
class Watched:
    """The modules a capture hooks into, found once."""

    n_layers: int
    modules: list[tuple[Module, int | None]]  # every module; index into the layers, or None

    @classmethod
    def of(cls, model: Module, layers: list[Layer]) -> Watched:
        index = {id(layer.module): l for l, layer in enumerate(layers)}
        return cls(len(layers), [(m, index.get(id(m))) for m in model.modules()])


class _Saturation(TorchFunctionMode):
    """Sees every sigmoid and tanh computed while the model's forward runs."""

    def __init__(self, capture: Capture) -> None:
        super().__init__()
        self.capture = capture

    def __torch_function__(
        self,
        func: Callable[..., Any],
        types: Any,
        args: Sequence[Any] = (),
        kwargs: dict[str, Any] | None = None,
    ) -> Any:
        out = func(*args, **(kwargs or {}))
        name = SATURATING_FUNCTIONS.get(func)
        if name is not None and isinstance(out, Tensor) and out.is_floating_point():
            self.capture.count(name, out)
        return out


class Capture:
    """Forward hooks that give each sigmoid or tanh to the layer that ran just before it.

    Every module of the model gets a pre-hook and a hook. While the outermost module called
    runs, a :class:`~torch.overrides.TorchFunctionMode` sees each sigmoid or tanh computed,
    as an ``nn.Sigmoid``/``nn.Tanh`` module or as a function inside ``forward``
    (``torch.sigmoid``, ``F.tanh``, ``x.sigmoid()``), and counts its saturated units for
    the layer (a module with parameters) whose forward ended last. The pairing follows the
    order in which things run, so it holds for ``nn.Sequential`` and hand-written
    ``forward`` methods alike. Not seen: gates computed inside fused kernels (``nn.LSTM``,
    ``nn.GRU``), and code that TorchScript or ``torch.compile`` runs outside Python.
    ``own_mode=False`` hooks only the layers: the caller enters :attr:`mode` around the
    forward pass (the probe's pass does; fewer hooks, less time).
    """

    def __init__(self, watched: Watched, *, keep_outputs: bool, own_mode: bool = True) -> None:
        self.handles: list[RemovableHandle] = []
        self.current: int | None = None
        self.keep_outputs = keep_outputs
        n = watched.n_layers
        self.saturated = [0] * n
        self.total = [0] * n
        self.kind: list[str | None] = [None] * n
        self.outputs: list[list[Tensor]] = [[] for _ in range(n)]
        self._depth = 0
        self.mode = _Saturation(self)
        for module, l in watched.modules:
            if own_mode:
                self.handles.append(module.register_forward_pre_hook(self._enter))
            elif l is None:  # the caller enters ``mode`` around the forward pass itself
                continue
            self.handles.append(module.register_forward_hook(self._layer_hook(l), always_call=True))

    def _enter(self, _module: Module, _inputs: Any) -> None:
        if self._depth == 0:
            self.mode.__enter__()
        self._depth += 1

    def _leave(self) -> None:
        self._depth -= 1
        if self._depth == 0:
            self.mode.__exit__(None, None, None)

    def _layer_hook(self, l: int | None) -> Callable[..., None]:
        def hook(_module: Module, _inputs: Any, output: Any) -> None:
            if self._depth > 0:  # a hook added while the module ran gets no pre-hook call
                self._leave()
            if l is None:
                return
            self.current = l
            if self.keep_outputs and isinstance(output, Tensor):
                self.outputs[l].append(output)

        return hook

    def count(self, name: str, output: Tensor) -> None:
        """Count the saturated units of one sigmoid or tanh output for the current layer."""
        l = self.current
        if l is None:
            return
        _, prime, max_prime = SATURATING[name]
        d = prime(output.detach())
        self.saturated[l] += int(torch.count_nonzero(torch.lt(d, SATURATION_LEVEL * max_prime)))
        self.total[l] += d.numel()
        self.kind[l] = name

    def reset(self) -> None:
        self.saturated = [0] * len(self.saturated)
        self.total = [0] * len(self.total)

    def shares(self) -> list[float]:
        return [s / t if t else math.nan for s, t in zip(self.saturated, self.total, strict=True)]

    def remove(self) -> None:
        for h in self.handles:
            h.remove()
        self.handles.clear()
        while self._depth > 0:  # removed from inside a forward pass: leave the mode stack clean
            self._leave()
