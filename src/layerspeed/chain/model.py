"""What a chain of single neurons is, its cost, and the chains the chapter looks at.

Covers the setup of "What's causing the vanishing gradient problem?" (Nielsen, *Neural
Networks and Deep Learning*, chapter 5): the chain ``z_j = w_j a_{j-1} + b_j``,
``a_j = sigma(z_j)``, ``a_0 = x``, with a cost ``C`` of the output ``a_L``; the synopsis chain
of ``layerspeed chain``; a chain drawn from N(0, 1) as the book initializes (the vanishing
case); and the exploding case (every ``w_j = 100``, biases ``b_j = -100 a_{j-1}`` so every
``z_j = 0``). :func:`build_chain` turns the options of ``layerspeed chain`` into one of these.

Indices follow the book: neurons are numbered ``j = 1 .. L``; Python arrays hold neuron ``j``
at index ``j - 1``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from layerspeed.errors import BadInput
from layerspeed.nn.activations import get_activation

Array = np.ndarray


# ----------------------------------------------------------------------------------------
# Costs at the end of the chain: (fn, derivative with respect to a_L) pairs, as activations.


class ChainCost(NamedTuple):
    """A cost ``fn(a, y)`` with its derivative ``da(a, y) = dC/da``."""

    fn: Callable[[Array, Array], Array]
    da: Callable[[Array, Array], Array]


def _quadratic(a: Array, y: Array) -> Array:
    return 0.5 * (a - y) ** 2


def _quadratic_da(a: Array, y: Array) -> Array:
    return a - y


def _cross_entropy(a: Array, y: Array) -> Array:
    # Only defined for 0 < a < 1, i.e. a sigmoid output.
    return -(y * np.log(a) + (1.0 - y) * np.log1p(-a))


def _cross_entropy_da(a: Array, y: Array) -> Array:
    return (a - y) / (a * (1.0 - a))


COSTS: dict[str, ChainCost] = {
    "quadratic": ChainCost(_quadratic, _quadratic_da),
    "cross-entropy": ChainCost(_cross_entropy, _cross_entropy_da),  # spelled as in `train`
}


def get_cost(name: str) -> ChainCost:
    """Look up a chain cost by name, with an error that lists the allowed names."""
    try:
        return COSTS[name]
    except KeyError:
        allowed = ", ".join(sorted(COSTS))
        raise BadInput(f"unknown cost {name!r}; choose one of: {allowed}") from None


# ----------------------------------------------------------------------------------------
# The chain.

# The chain in the command's synopsis: four neurons, as in the book's figure.
DEFAULT_WEIGHTS = (0.9, -1.7, 2.3, 0.6)
DEFAULT_BIASES = (0.4, -0.2, 0.3, -0.5)
DEFAULT_X = 0.35
DEFAULT_Y = 0.8


@dataclass(frozen=True)
class Chain:
    """A chain of ``L`` single neurons with a cost at the end.

    Attributes
    ----------
    weights, biases : tuple of float, length L
        ``w_1 .. w_L`` and ``b_1 .. b_L``.
    x : float
        The input ``a_0``.
    y : float
        The desired output that the cost compares ``a_L`` with.
    activation : str
        A name in :data:`layerspeed.nn.activations.ACTIVATIONS`.
    cost : str
        A name in :data:`COSTS`.
    """

    weights: tuple[float, ...]
    biases: tuple[float, ...]
    x: float = DEFAULT_X
    y: float = DEFAULT_Y
    activation: str = "sigmoid"
    cost: str = "quadratic"

    def __post_init__(self) -> None:
        object.__setattr__(self, "weights", tuple(float(w) for w in self.weights))
        object.__setattr__(self, "biases", tuple(float(b) for b in self.biases))
        if len(self.weights) == 0:
            raise BadInput("a chain needs at least one neuron; got no weights")
        if len(self.weights) != len(self.biases):
            raise BadInput(
                f"{len(self.weights)} weights but {len(self.biases)} biases; "
                "give one weight and one bias per neuron"
            )
        values = (*self.weights, *self.biases, self.x, self.y)
        if not all(math.isfinite(v) for v in values):
            raise BadInput(f"weights, biases, x and y must be finite; got {values}")
        get_activation(self.activation)
        get_cost(self.cost)

    @property
    def length(self) -> int:
        """``L``, the number of neurons."""
        return len(self.weights)


def default_chain(*, activation: str = "sigmoid", cost: str = "quadratic") -> Chain:
    """The four-neuron chain of the ``layerspeed chain`` synopsis."""
    return Chain(DEFAULT_WEIGHTS, DEFAULT_BIASES, DEFAULT_X, DEFAULT_Y, activation, cost)


def random_chain(
    length: int,
    rng: np.random.Generator,
    *,
    x: float = DEFAULT_X,
    y: float = DEFAULT_Y,
    activation: str = "sigmoid",
    cost: str = "quadratic",
) -> Chain:
    """A chain with weights and biases drawn from N(0, 1), the book's initialization."""
    check_length(length)
    weights = rng.standard_normal(length)
    biases = rng.standard_normal(length)
    return Chain(tuple(weights), tuple(biases), x, y, activation, cost)


def exploding_chain(
    length: int = 4,
    *,
    weight: float = 100.0,
    x: float = DEFAULT_X,
    y: float = DEFAULT_Y,
    activation: str = "sigmoid",
    cost: str = "quadratic",
) -> Chain:
    """The book's exploding example: every ``w_j = weight`` and ``b_j = -weight * a_{j-1}``.

    Every weighted input is then ``z_j = 0`` (exactly, in floating point too: ``b_j`` is the
    negation of the very product it cancels), so with the sigmoid each term
    ``w_j sigma'(z_j)`` is ``100 * 1/4 = 25``.
    """
    check_length(length)
    act = get_activation(activation)
    biases = []
    a = x
    for _ in range(length):
        b = -(weight * a)
        biases.append(b)
        a = float(act.fn(np.asarray(weight * a + b)))
    return Chain((weight,) * length, tuple(biases), x, y, activation, cost)


MAX_LENGTH = 100_000  # the finite differences take time quadratic in the length


def check_length(length: int) -> None:
    if not isinstance(length, int | np.integer) or length < 1:
        raise BadInput(f"chain length must be a positive integer; got {length!r}")
    if length > MAX_LENGTH:
        raise BadInput(
            f"chain length {length:,} is more than {MAX_LENGTH:,} neurons (the finite "
            "differences take time quadratic in the length)"
        )


def build_chain(
    *,
    weights: tuple[float, ...] | None = None,
    biases: tuple[float, ...] | None = None,
    x: float = DEFAULT_X,
    y: float = DEFAULT_Y,
    seed: int | None = None,
    exploding: bool = False,
    length: int | None = None,
    activation: str = "sigmoid",
    cost: str = "quadratic",
) -> Chain:
    """The chain that the options of ``layerspeed chain`` describe.

    With nothing given, the synopsis chain (:func:`default_chain`). ``exploding`` gives
    :func:`exploding_chain` of ``length`` neurons (default 4). ``seed`` draws the weights
    and biases from N(0, 1) (:func:`random_chain` with ``numpy.random.default_rng(seed)``),
    ``length`` neurons (default: as many as the weights or biases given, else 4), and
    ``weights`` or ``biases``, when given, replace the drawn ones (giving both with a seed
    is refused: the seed would draw nothing). Otherwise both ``weights`` and ``biases`` are
    needed.

    Raises
    ------
    BadInput
        On contradictory options; the message names the command's flags.
    """
    if length is not None:
        check_length(length)
    if exploding:
        if weights is not None or biases is not None or seed is not None:
            raise BadInput(
                "--exploding sets the weights and biases; drop --weights/--biases/--seed"
            )
        return exploding_chain(length or 4, x=x, y=y, activation=activation, cost=cost)
    if seed is not None:
        if weights is not None and biases is not None:
            raise BadInput(
                "--seed draws the weights and biases, but both --weights and --biases were "
                "given; drop --seed (or one of them, to draw it)"
            )
        n = length or len(weights or biases or DEFAULT_WEIGHTS)
        drawn = random_chain(n, np.random.default_rng(seed), x=x, y=y)
        weights = weights if weights is not None else drawn.weights
        biases = biases if biases is not None else drawn.biases
    elif weights is None and biases is None:
        if length not in (None, len(DEFAULT_WEIGHTS)):
            raise BadInput(
                f"--length {length} needs --seed or --exploding (the default chain has "
                f"{len(DEFAULT_WEIGHTS)} neurons)"
            )
        weights, biases = DEFAULT_WEIGHTS, DEFAULT_BIASES
    elif weights is None or biases is None:
        raise BadInput("give both --weights and --biases (or --seed to draw the missing one)")
    if len(weights) != len(biases):
        raise BadInput(
            f"--weights has {len(weights)} values but --biases has {len(biases)}; "
            "give one weight and one bias per neuron"
        )
    check_length(len(weights))
    if length is not None and length != len(weights):
        raise BadInput(f"--length {length} does not match the {len(weights)} weights given")
    return Chain(weights, biases, x, y, activation, cost)
