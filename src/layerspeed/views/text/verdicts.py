"""The words of the book's claims and the sentences of evidence, from a verdict's numbers.

:mod:`layerspeed.experiments.chapter` decides each claim and keeps the numbers that decide
it (``{"id", "holds", "numbers"}``); this module says it: :func:`claim` gives the book's
words (from the table of :mod:`layerspeed.experiments.claims`), :func:`evidence` one sentence
with the numbers, :func:`measured` the deciding value in a few words. :func:`with_words` adds
them, and the threshold, to every verdict of a results dict, so ``results.json`` reads on its
own.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, cast

from layerspeed.errors import plural
from layerspeed.experiments.claims import CLAIMS as TABLE
from layerspeed.experiments.schema import CHAPTER_PARTS, Part, Results, VerdictDict

Numbers = Mapping[str, Any]


def _num(v: float | None, fmt: str = ".3g") -> str:
    return "undefined" if v is None else format(v, fmt)


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{x:.2f}%"


def _band(n: Numbers) -> str:
    return f"{100 * n['q_low']:.0f}-{100 * n['q_high']:.0f}%"


def _words(claim_id: str) -> Callable[[Numbers], str]:
    return lambda n: TABLE[claim_id].words


CLAIMS: dict[str, Callable[[Numbers], str]] = {c: _words(c) for c in TABLE} | {
    "initial.typical": lambda n: (
        f"{TABLE['initial.typical'].words} (inside the {_band(n)} band over seeds)"
    ),
}


def clip_percent(lo: float | None, hi: float | None) -> tuple[float | None, float | None, bool]:
    """An accuracy's interval in percent clipped to 0..100 (a t interval of few runs can
    reach past either end), and whether it was clipped. The numbers in ``results.json``
    stay as computed; only their words and table cells are clipped."""
    if lo is None or hi is None:
        return lo, hi, False
    clo, chi = min(max(lo, 0.0), 100.0), min(max(hi, 0.0), 100.0)
    return clo, chi, (clo, chi) != (lo, hi)


def percent_ci(d: Mapping[str, Any], unit: str = "%") -> str:
    """An accuracy's ``mean% [lo, hi]`` in percent, the 95% CI clipped to 0..100 and then
    marked ``†`` (:func:`clip_percent`); the mean alone where there is no interval."""
    lo, hi, clipped = clip_percent(d.get("ci_low"), d.get("ci_high"))
    ci = "" if lo is None or hi is None else f" [{lo:.2f}, {hi:.2f}]" + ("†" if clipped else "")
    return f"{d['mean']:.2f}{unit}{ci}"


def spread_ci(d: Mapping[str, Any] | None, empty: str = "-") -> str:
    """A speed spread's ``mean [ci_low, ci_high]``, the CI cut at 0: a spread is never
    negative, though the t interval of few seeds can reach below it; ``empty`` where there is
    none, the mean alone where there is no interval."""
    if not d:
        return empty
    if d.get("ci_low") is None:
        return f"{d['mean']:.2f}"
    return f"{d['mean']:.2f} [{max(0.0, d['ci_low']):.2f}, {d['ci_high']:.2f}]"


def _depth_typical(n: Numbers) -> str:
    parts = [
        f"{r['hidden_layers']} hidden: book {r['book']:.2f}%, final "
        f"{r['final']:.2f}% (95% PI {_clipped_pi(r['pi_low'], r['pi_high'])}), "
        f"best {r['best']:.2f}%"
        for r in n["rows"]
    ]
    return "; ".join(parts) + "." if parts else "no finished runs."


def _clipped_pi(lo: float | None, hi: float | None) -> str:
    clo, chi, clipped = clip_percent(lo, hi)
    return f"{_pct(clo)}..{_pct(chi)}" + (", clipped to 0..100%" if clipped else "")


def _welch(n: Numbers) -> str:
    text = (
        f"Welch t-test on the final accuracy: difference {n['mean_difference']:+.2f} "
        f"points, p = {_num(n['p'])}"
    )
    if n.get("book_difference") is not None:
        text += f" (book: {n['book_difference']:+.2f})"
    return text + "."


def _deeper(n: Numbers) -> str:
    return (
        "mean final accuracy by hidden layers: "
        + ", ".join(f"{h}: {m:.2f}%" for h, m in n["means"])
        + "."
    )


def _neurons(n: Numbers) -> str:
    return (
        f"|dC/db| of neuron j is larger in hidden layer 2 than in hidden layer 1 for "
        f"{n['share']:.0%} of (seed, neuron) pairs over {plural(n['n_runs'], 'seed')}; seed "
        f"{n['seed']}: {n['larger']} of {n['n_neurons']}"
        + (
            f"; the median ratio is {n['median_ratio']:.3g} ('much' taken as >= "
            f"{n['much']:g}, 'mostly' as >= {n['mostly']:.0%} of the pairs)."
            if "median_ratio" in n
            else "."
        )
    )


def _rising(n: Numbers) -> str:
    return (
        "the speeds rise from the first hidden layer to the last in "
        + ", ".join(f"{s:.0%} of seeds with {h} hidden layers" for h, s in n["shares"])
        + "."
    )


def _initial_typical(n: Numbers) -> str:
    outside = [
        f"{o['hidden_layers']} hidden, layer {o['layer']}: book {o['book']:g}, band "
        f"{o['low']:.3g}..{o['high']:.3g}, above {o['percentile']:.0%} of the seeds"
        for o in n["outside"]
    ]
    return f"{n['inside']} of {n['total']} of the book's values are inside the band" + (
        f"; outside: {'; '.join(outside)}." if outside else "."
    )


def _first_slowest(n: Numbers) -> str:
    return (
        "the first hidden layer is the slowest in "
        + ", ".join(
            f"{r['share_first_slowest']:.0%} of (seed, epoch) pairs with {r['hidden_layers']} "
            f"hidden layers (in all epochs for {r['seeds_first_always_slowest']} of "
            f"{plural(r['n_runs'], 'seed')}; speeds in strictly rising order: "
            f"{r['share_ordered']:.0%}; "
            f"median curves in rising order: {r['share_median_ordered']:.0%} of epochs"
            + (
                f"; the next-slowest layer {r['median_next_over_first']:.3g} times faster, median)"
                if "median_next_over_first" in r
                else ")"
            )
            for r in n["rows"]
        )
        + f"; the claim is taken to hold where the first is the slowest in over "
        f"{n['threshold']:.0%}"
        + (f" and at least {n['much']:g} times slower (median)." if "much" in n else ".")
    )


def _ratio(n: Numbers) -> str:
    return (
        f"the median ratio last/first is {n['ratio']:.0f} on average over the epochs "
        f"(geometric mean; {n['start']:.0f} at the start, {n['end']:.0f} at the end, "
        f"range {n['min']:.0f}..{n['max']:.0f}); 'roughly' taken as within a factor "
        f"of {n['roughly']:g}."
    )


EVIDENCE: dict[str, Callable[[Numbers], str]] = {
    "depth.typical": _depth_typical,
    "depth.drop_3_4": _welch,
    "depth.second_layer": _welch,
    "depth.deeper_not_better": _deeper,
    "neurons.second_larger": _neurons,
    "initial.rising": _rising,
    "initial.typical": _initial_typical,
    "training.first_slowest": _first_slowest,
    "training.ratio_100": _ratio,
}


def _measured_depth(n: Numbers) -> str:
    if "inside" in n:
        return f"{n['inside']} of {n['total']} inside"
    return f"{len(n['rows'])} depths"


MEASURED: dict[str, Callable[[Numbers], str]] = {
    "depth.typical": _measured_depth,
    "depth.drop_3_4": lambda n: f"{n['mean_difference']:+.2f} points, p = {_num(n['p'])}",
    "depth.second_layer": lambda n: f"{n['mean_difference']:+.2f} points, p = {_num(n['p'])}",
    "depth.deeper_not_better": lambda n: ", ".join(f"{h}: {m:.2f}%" for h, m in n["means"]),
    "neurons.second_larger": lambda n: (
        f"median ratio {n['median_ratio']:.3g}, larger in {n['share']:.0%}"
        if "median_ratio" in n
        else f"larger in {n['share']:.0%}"
    ),
    "initial.rising": lambda n: ", ".join(f"{h} hidden: {s:.0%}" for h, s in n["shares"]),
    "initial.typical": lambda n: f"{n['inside']} of {n['total']} inside",
    "training.first_slowest": lambda n: "; ".join(
        f"{r['hidden_layers']} hidden: slowest in {r['share_first_slowest']:.0%}"
        + (f", ratio {r['median_next_over_first']:.3g}" if "median_next_over_first" in r else "")
        for r in n["rows"]
    ),
    "training.ratio_100": lambda n: f"{n['ratio']:.0f}",
}


def claim(verdict: Mapping[str, Any]) -> str:
    """The book's words for the verdict's claim."""
    return CLAIMS[verdict["id"]](verdict["numbers"])


def evidence(verdict: Mapping[str, Any]) -> str:
    """One sentence with the numbers that decide the verdict."""
    return EVIDENCE[verdict["id"]](verdict["numbers"])


def measured(verdict: Mapping[str, Any]) -> str:
    """The value that decides the verdict, in a few words (the claims table's cell)."""
    return MEASURED[verdict["id"]](verdict["numbers"])


def data_set(results: Mapping[str, Any]) -> str | None:
    """The data set's name in words when the runs read another than the book's MNIST."""
    from layerspeed.data.catalog import title

    name = (results.get("meta") or {}).get("dataset", "mnist")
    return None if name == "mnist" else title(name)


def with_words(results: Results) -> Results:
    """``results`` with ``claim`` and ``evidence`` beside every verdict's numbers; on another
    data set than MNIST each evidence sentence starts by naming it."""
    on = data_set(results)
    where = f"On {on}: " if on else ""
    out = results.copy()
    for key in CHAPTER_PARTS:
        part = cast("Part | None", results.get(key))  # key is one of the Part keys
        if part is None:
            continue
        words: list[VerdictDict] = [
            {**v, "claim": claim(v), "evidence": where + evidence(v)} if "id" in v else v
            for v in part.get("verdicts", [])
        ]
        out[key] = {**part, "verdicts": words}  # type: ignore[literal-required]
    return out


def all_verdicts(results: Mapping[str, Any]) -> list[tuple[str, Mapping[str, Any]]]:
    """Every verdict in ``results`` as (part name, verdict), in the parts' order."""
    return [
        (name, v)
        for name, part in results.items()
        if isinstance(part, Mapping)
        for v in part.get("verdicts", [])
    ]
