"""The book's claims that layerspeed judges, each with its threshold, in one table.

"The vanishing gradient problem" (Nielsen, ch. 5) makes a handful of claims about its four
experiments. Each entry of :data:`CLAIMS` says, for one of them: the book's words, the
quantity measured, the threshold (with a number for every "much", "roughly" and "mostly"),
the kind of interval, and why. :mod:`layerspeed.experiments.chapter` reads every threshold
from here; :mod:`layerspeed.views.text.verdicts` takes the words from here; the README and
the report render the table.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

# ---- the magnitudes of the book's words ----------------------------------------------------

# "much" larger / slower: by a factor of at least 2. Below 2 the gap is within the seed-to-seed
# spread of one layer's speed (its 10-90% band spans about a factor of 2), so a reader could
# not see it as "much" in one network.
MUCH = 2.0
# "mostly": in at least three quarters of the pairs, a clear majority rather than a coin flip.
MOSTLY = 0.75
# "roughly N times": within a factor of 3 either way, half an order of magnitude on a log scale.
ROUGHLY = 3.0
# "throughout training": in over 90% of (seed, epoch) pairs, so a brief catch-up is allowed.
THROUGHOUT = 0.9
# A plain majority, for claims the book states without a qualifier.
MAJORITY = 0.5
# Welch's p below this: a significant difference (the usual 5% level).
SIGNIFICANCE = 0.05
# Float rounding only: equal means count as "not better".
SLACK = 1e-12

# ---- one rule per kind of number -----------------------------------------------------------

INTERVALS: Mapping[str, str] = MappingProxyType(
    {
        "accuracy": (
            "95% prediction interval of one run (Student t over the seeds' final-epoch "
            "accuracies); a difference between depths by Welch's t-test at p = 0.05"
        ),
        "speed": "10-90% band over seeds (quantiles), where the book's single network should fall",
        "ratio": (
            "the median over (seed, neuron) or (seed, epoch) pairs, and the share of pairs "
            "past the threshold; for a ratio over epochs, the geometric mean of the median curve"
        ),
    }
)


@dataclass(frozen=True)
class Claim:
    """One of the book's claims and how it is judged."""

    id: str  # "depth.typical": the verdict's identifier
    words: str  # the book's words (quoted where the book says it in so many words)
    quantity: str  # what is measured
    threshold: str  # when it holds, in words, with every magnitude
    kind: str  # "accuracy", "speed" or "ratio": which rule of INTERVALS applies
    why: str  # one sentence on why this threshold
    limits: Mapping[str, float] = field(default_factory=dict)  # the numbers the code reads

    def __post_init__(self) -> None:
        if self.kind not in INTERVALS:
            raise ValueError(f"claim {self.id!r}: unknown kind {self.kind!r}")
        object.__setattr__(self, "limits", MappingProxyType(dict(self.limits)))

    def __getitem__(self, name: str) -> float:
        return self.limits[name]


_ALL = (
    Claim(
        "depth.typical",
        "each of the book's single-run accuracies (96.48, 96.90, 96.57, 96.53%) is what one run "
        "gives",
        "validation accuracy after the last (30th) epoch, per depth",
        "every book value inside the 95% prediction interval of one run's final accuracy",
        "accuracy",
        "The book reports the accuracy after training, not a peak picked among 30 epochs; "
        "the final epoch is also what the Welch tests compare, so one accuracy serves all.",
        {"share_inside": 1.0},
    ),
    Claim(
        "depth.drop_3_4",
        "the drop from 3 to 4 hidden layers is probably not statistically significant",
        "Welch's t-test on the final accuracy, 3 against 4 hidden layers",
        f"p >= {SIGNIFICANCE:g}",
        "accuracy",
        "The book's own word is 'statistically significant', whose usual level is 5%.",
        {"significance": SIGNIFICANCE},
    ),
    Claim(
        "depth.second_layer",
        "a second hidden layer improves the accuracy (96.48% -> 96.90%)",
        "Welch's t-test on the final accuracy, 1 against 2 hidden layers",
        f"p < {SIGNIFICANCE:g} and the mean difference > 0",
        "accuracy",
        "An improvement is a gain larger than the spread over seeds explains, at the same 5% "
        "level as the drop from 3 to 4.",
        {"significance": SIGNIFICANCE},
    ),
    Claim(
        "depth.deeper_not_better",
        "more than two hidden layers do not help",
        "mean final accuracy of 3 and 4 hidden layers against 2",
        "the best mean with 3 or 4 hidden layers <= the mean with 2 (up to float rounding)",
        "accuracy",
        "'Do not help' asks only that no deeper net be better on average; the slack absorbs "
        "rounding, nothing more.",
        {"slack": SLACK},
    ),
    Claim(
        "neurons.second_larger",
        "the bars in the second hidden layer are mostly much larger than in the first",
        "|dC/db| of neuron j in hidden layer 2 over hidden layer 1, per (seed, neuron) pair, "
        "for the first six neurons of [784,30,30,10] at initialization",
        f"median ratio >= {MUCH:g} ('much') and layer 2 larger in >= {MOSTLY:.0%} of the "
        "pairs ('mostly')",
        "ratio",
        "Each of the book's words gets its number: 'much' a factor of 2 in the typical pair, "
        "'mostly' three quarters of the pairs.",
        {"much": MUCH, "mostly": MOSTLY},
    ),
    Claim(
        "initial.rising",
        "early hidden layers learn slower than later ones at initialization",
        "per seed, whether ||delta^l|| rises strictly from the first hidden layer to the last",
        f"rising in over {MAJORITY:.0%} of the seeds, for every depth",
        "speed",
        "The book states it of one network per depth without a qualifier, so most of ours must "
        "show it.",
        {"majority": MAJORITY},
    ),
    Claim(
        "initial.typical",
        "the book's single-network speeds are typical",
        "||delta^l|| at initialization per hidden layer, for 2, 3 and 4 hidden layers",
        "every one of the book's nine values inside the 10-90% band over seeds",
        "speed",
        "The book shows one network each; a typical one falls inside the middle 80% of ours.",
        {"share_inside": 1.0},
    ),
    Claim(
        "training.first_slowest",
        "early hidden layers learn much more slowly than later ones throughout training",
        "per (seed, epoch) of full-batch training: whether the first hidden layer is the "
        "slowest, and the next-slowest layer's speed over the first's",
        f"the first the slowest in over {THROUGHOUT:.0%} of (seed, epoch) pairs "
        f"('throughout') and the median ratio >= {MUCH:g} ('much'), for every depth",
        "ratio",
        "'Throughout' allows a brief catch-up in one seed out of ten epochs; 'much' is the "
        "same factor of 2 as for the bars.",
        {"throughout": THROUGHOUT, "much": MUCH},
    ),
    Claim(
        "training.ratio_100",
        "with four hidden layers the first learns roughly 100 times slower than the last",
        "||delta^4|| / ||delta^1|| during training of [784,30,30,30,30,10]: median over seeds "
        "per epoch, geometric mean over the epochs",
        f"between 100/{ROUGHLY:g} and 100*{ROUGHLY:g}",
        "ratio",
        "'Roughly 100' names an order of magnitude; a factor of 3 either way is half of one "
        "on a log scale.",
        {"book": 100.0, "roughly": ROUGHLY},
    ),
)

CLAIMS: Mapping[str, Claim] = MappingProxyType({c.id: c for c in _ALL})
