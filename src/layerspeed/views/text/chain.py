"""The chain section of ``summary.md``: the terms of equation (122), the claims, problem 4.

Renders the dict of :func:`layerspeed.chain.chapter_chain_results` (the second half of "The
vanishing gradient problem", Nielsen, chapter 5) as markdown; it computes nothing.
"""

from __future__ import annotations

import math
from typing import Any


def _g(v: Any, fmt: str = ".4g") -> str:
    if v is None:
        return "-"
    if isinstance(v, float) and not math.isfinite(v):
        return str(v)
    return format(v, fmt)


def _cell(text: str) -> str:
    # A literal | would end a markdown table cell.
    return text.replace("|", "\\|")


def to_markdown(results: dict[str, Any]) -> str:
    """A short markdown section for summary.md from :func:`chapter_chain_results`."""
    d, e, v, p = results["default"], results["exploding"], results["vanishing"], results["problems"]
    lines = ["## The chain of single neurons and the problems", ""]
    n = len(d["terms"]) - 1
    lines += [
        f"Default chain (L = {n}, {d['chain']['activation']}): the terms of equation (122).",
        "",
        "| term | default chain | exploding chain |",
        "|---|---|---|",
    ]
    names = ["sigma'(z_1)"] + [f"w_{j} sigma'(z_{j})" for j in range(2, n + 1)] + [f"dC/da_{n}"]
    for name, a, b in zip(names, d["terms"], e["terms"], strict=True):
        lines.append(f"| {name} | {_g(a)} | {_g(b)} |")
    for label, key in [
        ("formula (122)", "formula"),
        ("backprop", "backprop"),
        ("finite difference", "finite_difference"),
    ]:
        lines.append(
            f"| dC/db_1, {label} | {_g(d['dC_db1'][key], '.10g')} | "
            f"{_g(e['dC_db1'][key], '.10g')} |"
        )
    lines.append(f"| dC/db_1 / dC/db_3 | {_g(d['ratio_db1_db3'])} | {_g(e['ratio_db1_db3'])} |")
    lines += [
        "",
        f"Over {v['n_chains']} random sigmoid chains (N(0,1) weights and biases): "
        f"{v['term_below_quarter']:.1%} of terms |w_j sigma'(z_j)| are below 1/4; "
        f"median log10 |dC/db_1 / dC/db_{v['length']}| = {v['log10_ratio_median']:.2f} "
        f"(5-95%: {v['log10_ratio_p05']:.2f} to {v['log10_ratio_p95']:.2f}).",
        "",
        "| claim | holds | evidence |",
        "|---|---|---|",
    ]
    for c in results["claims"]:
        holds = "yes" if c["holds"] else "no"
        lines.append(f"| {_cell(c['claim'])} | {holds} | {_cell(c['evidence'])} |")
    lines += [
        "",
        "Problem 4 (chain half): does a larger derivative help?",
        "",
        "| activation | weight std | median nonzero term | terms > 1 | "
        "median log10 ratio | 5-95% log10 ratio | vanish (<=1/16) | explode (>=16) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    acts = p["activations"]
    rows = [*acts["stats"].values(), *acts.get("stats_large_weights", {}).values()]
    for s in rows:
        lines.append(
            f"| {s['activation']} | {s['weight_std']:g} | "
            f"{_g(s['term_median_nonzero'], '.3f')} | "
            f"{s['term_above_one']:.1%} | {_g(s['log10_ratio_median'], '.2f')} | "
            f"{_g(s['log10_ratio_p05'], '.2f')} to {_g(s['log10_ratio_p95'], '.2f')} | "
            f"{s['vanishing']:.1%} | {s['exploding']:.1%} |"
        )
    lines += ["", p["activations"]["verdict"], ""]
    return "\n".join(lines)
