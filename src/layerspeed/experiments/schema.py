"""The results schema: its version, and the check every view makes before it reads.

``results.json`` (a reproduction) and ``summary.json`` (a sweep) carry ``schema_version``.
Version 1 is what layerspeed 0.1 wrote, without the key; version 2 adds the key and nothing
else, so both read the same.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypedDict

from layerspeed.errors import BadInput
from layerspeed.stats import BandDict

SCHEMA_VERSION = 2
KNOWN_VERSIONS = (1, 2)  # a file without the key is version 1
CHAPTER_PARTS = ("depth", "neurons", "initial", "training")  # the chapter's studies


def schema_version(results: Mapping[str, Any]) -> int:
    """The version ``results`` was written with; :class:`BadInput` for one we cannot read."""
    version = results.get("schema_version", 1)
    if isinstance(version, bool) or version not in KNOWN_VERSIONS:
        raise BadInput(
            f"results schema version {version!r} is not one this layerspeed reads "
            f"({', '.join(map(str, KNOWN_VERSIONS))}); upgrade layerspeed to read it"
        )
    return int(version)


# ---- the shape of results.json, checked by mypy where it is built ----------------------------
# Numbers are floats or None (undefined, e.g. the standard deviation of one run); ``sizes`` are
# lists of ints; a ``label`` is the sizes joined by dashes ("784-30-30-10").


class VerdictDict(TypedDict, total=False):
    """A claim judged: its id, whether it holds (None: undecided) and the numbers that
    decide it; ``claim`` and ``evidence`` are the words :mod:`layerspeed.views.text.verdicts`
    adds (version 1 had only those and ``holds``)."""

    id: str
    holds: bool | None
    numbers: dict[str, Any]
    claim: str
    evidence: str


class ProblemRun(TypedDict):
    experiment: str
    label: str
    seed: int
    status: str | None
    message: str | None


class RunsInfo(TypedDict):
    total: int
    done: int
    diverged: int
    failed: int
    problems: list[ProblemRun]


class Part(TypedDict, total=False):
    """One study summed up: ``rows`` (one per network) and its verdicts."""

    title: str
    config: dict[str, Any]
    rows: list[dict[str, Any]]
    welch: list[dict[str, Any]]  # depth only: Welch tests between neighbouring depths
    verdicts: list[VerdictDict]
    # neurons only
    label: str
    sizes: list[int]
    n_neurons: int
    n_runs: int
    example: dict[str, Any]
    mean_abs: list[BandDict]
    share_later_larger: float


class TheoryRow(TypedDict, total=False):
    """One network of :mod:`layerspeed.experiments.theory_check`: the mean-field q and chi per
    hidden layer, the predicted factors and, per pair of neighbouring hidden layers, the
    measured factor's band, the prediction, the book's bound and the relative error."""

    label: str
    sizes: list[int]
    hidden_layers: int
    n_runs: int
    q: list[float]
    chi: list[float]
    predicted: list[float | None]
    pairs: list[dict[str, Any]]
    speeds: BandDict  # the measured speeds per hidden layer over seeds
    predicted_speeds: list[float]  # the prediction, anchored at the last layer's median


class TheoryPart(TypedDict):
    """``results["theory"]``: the theory beside the initial study's measurement."""

    title: str
    study: str
    tolerance: float
    input_second_moment: float
    mean_field: dict[str, Any]  # layerspeed.theory.MeanField.to_dict()
    rows: list[TheoryRow]
    check: dict[str, Any]


class PointTheory(TypedDict, total=False):
    """A sweep point's ``"theory"`` (:func:`layerspeed.experiments.theory_check.point_theory`):
    the pairs as :class:`TheoryRow`'s; ``measured`` and ``predicted`` their geometric means;
    ``start``: "data" or "fixed point" (where the first hidden layer's q starts); where
    ``applies`` is False, ``reason`` (a key of ``NO_THEORY``) and ``why`` (a sentence)."""

    applies: bool
    reason: str | None
    why: str | None
    start: str
    input_second_moment: float | None
    book_bound: float | None  # sigmoid only
    tolerance: float
    n_runs: int
    n_left_out: int  # runs without finite, positive speeds at initialization
    q: list[float]
    chi: list[float]
    pairs: list[dict[str, Any]]
    measured: float | None
    predicted: float | None
    relative_error: float | None
    within: bool | None
    measured_per_example: float | None  # the same of the mean per-example norms
    relative_error_per_example: float | None
    within_per_example: bool | None
    mean_field_factor: float | None


class ModernRow(TypedDict):
    """One variant at one depth of the ``modern`` preset (:mod:`layerspeed.experiments.beyond`):
    spreads and accuracy as ``{"median", "mean", "ci_low", "ci_high", "n"}`` or None."""

    label: str
    variant: str
    depth: int
    n_runs: int
    status: dict[str, int]
    spread_initial: dict[str, Any] | None
    spread_training: dict[str, Any] | None
    flags_initial: dict[str, int]
    flags_training: dict[str, int]
    verdict: str
    accuracy: dict[str, Any] | None  # percent
    lars_step: float | None  # LARS: the share of its norm every layer's weights move a step


class ModernPart(TypedDict):
    study: str
    rows: list[ModernRow]


class DepthRow(TypedDict):
    """One variant of the ``depth`` preset: the mean-field ``theory`` (``applies``, ``why``,
    ``chi``, ``factor``) and its ``points`` by depth, each ``{"depth", "label", "initial",
    "after": {"geomean", "low", "high", "n"} | None, "theory": factor ** (depth - 1) | None}``."""

    variant: str
    activation: str
    init: str
    norm: str
    theory: dict[str, Any]
    points: list[dict[str, Any]]  # "floored": {"initial", "after": readings at the floor}
    fitted: dict[str, float | None]  # "initial", "after": the measured per-layer factor


class DepthPart(TypedDict):
    study: str
    rows: list[DepthRow]
    chapter: dict[str, Any]  # the book's "roughly 100" at four hidden layers, and ours


class ChaosPart(TypedDict):
    study: str
    rows: list[dict[str, Any]]  # layerspeed.experiments.theory_check.chaos_rows
    smallest: dict[str, Any] | None  # the row of smallest median spread
    by_activation: dict[str, dict[str, Any]]  # the same per activation


class BeyondPart(TypedDict, total=False):
    """``results["beyond"]`` (``reproduce --beyond``): the modern, depth and chaos sweeps."""

    title: str
    modern: ModernPart
    depth: DepthPart
    chaos: ChaosPart


class Results(TypedDict, total=False):
    """``results.json`` of a reproduction."""

    schema_version: int
    meta: dict[str, Any]  # versions, date, argv, quick, seeds per study, workers, elapsed_s
    runs: RunsInfo
    depth: Part
    neurons: Part
    initial: Part
    training: Part
    chain: dict[str, Any]  # layerspeed.chain.chapter_chain_results()
    remedies: dict[str, Any]  # a sweep summary (layerspeed.experiments.summary)
    theory: TheoryPart  # the mean-field prediction beside the initial speeds
    beyond: BeyondPart  # reproduce --beyond: the modern, depth and chaos presets
