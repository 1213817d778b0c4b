"""The chain of single neurons, the exploding example and the chapter's problems.

Covers the second half of "The vanishing gradient problem" (Nielsen, *Neural Networks and
Deep Learning*, chapter 5), from "What's causing the vanishing gradient problem?" on. One
module per concept:

* :mod:`~layerspeed.chain.model`: the chain, its costs, and the default, random and exploding
  chains (:func:`build_chain` makes one from the options of ``layerspeed chain``);
* :mod:`~layerspeed.chain.engine`: forward pass, backpropagation, and ``dC/db_1`` by
  equation (122) and by finite differences;
* :mod:`~layerspeed.chain.analysis`: everything reported about one chain;
* :mod:`~layerspeed.chain.statistics`: the spread over many random chains;
* :mod:`~layerspeed.chain.answers`: problems 1-3 and the chain half of problem 4;
* :mod:`~layerspeed.chain.results`: the JSON-ready dicts of ``results.json``.

The markdown for ``summary.md`` lives in :mod:`layerspeed.views.text.chain`.
"""

from layerspeed.chain.analysis import ChainAnalysis, analyse
from layerspeed.chain.answers import (
    EXERCISE_ACTIVATIONS,
    EXERCISE_WEIGHT_STDS,
    IDENTITY_W1,
    IdentityRow,
    Problem1,
    WidthMaximum,
    activation_comparison,
    activation_verdict,
    identity_check,
    identity_error_bound,
    identity_neuron,
    problem1,
    width_bound,
    width_curve,
    width_maximum,
    width_scan,
)
from layerspeed.chain.engine import (
    backprop,
    backprop_batch,
    cost_of,
    equation_122_terms,
    finite_difference_nabla_b,
    formula_nabla_b,
    forward,
    forward_batch,
    terms_batch,
)
from layerspeed.chain.model import (
    COSTS,
    DEFAULT_BIASES,
    DEFAULT_WEIGHTS,
    DEFAULT_X,
    DEFAULT_Y,
    Chain,
    ChainCost,
    build_chain,
    default_chain,
    exploding_chain,
    get_cost,
    random_chain,
)
from layerspeed.chain.results import chapter_chain_results, problems
from layerspeed.chain.statistics import ChainStatistics, chain_statistics

__all__ = [
    "COSTS",
    "DEFAULT_BIASES",
    "DEFAULT_WEIGHTS",
    "DEFAULT_X",
    "DEFAULT_Y",
    "EXERCISE_ACTIVATIONS",
    "EXERCISE_WEIGHT_STDS",
    "IDENTITY_W1",
    "Chain",
    "ChainAnalysis",
    "ChainCost",
    "ChainStatistics",
    "IdentityRow",
    "Problem1",
    "WidthMaximum",
    "activation_comparison",
    "activation_verdict",
    "analyse",
    "backprop",
    "backprop_batch",
    "build_chain",
    "chain_statistics",
    "chapter_chain_results",
    "cost_of",
    "default_chain",
    "equation_122_terms",
    "exploding_chain",
    "finite_difference_nabla_b",
    "formula_nabla_b",
    "forward",
    "forward_batch",
    "get_cost",
    "identity_check",
    "identity_error_bound",
    "identity_neuron",
    "problem1",
    "problems",
    "random_chain",
    "terms_batch",
    "width_bound",
    "width_curve",
    "width_maximum",
    "width_scan",
]
