"""The network engine: network2.py of the book, vectorized over the mini-batch."""

from layerspeed.nn.activations import ACTIVATIONS, Activation, get_activation
from layerspeed.nn.costs import COSTS, Cost, get_cost
from layerspeed.nn.init import INITIALIZERS, get_initializer
from layerspeed.nn.network import (
    Gradients,
    Network,
    accuracy,
    backprop,
    feedforward,
    forward,
    total_cost,
)
from layerspeed.nn.train import FullBatch, History, SGDConfig, sgd, step

__all__ = [
    "ACTIVATIONS",
    "COSTS",
    "INITIALIZERS",
    "Activation",
    "Cost",
    "FullBatch",
    "Gradients",
    "History",
    "Network",
    "SGDConfig",
    "accuracy",
    "backprop",
    "feedforward",
    "forward",
    "get_activation",
    "get_cost",
    "get_initializer",
    "sgd",
    "step",
    "total_cost",
]
