"""summary.md: the book's numbers beside the measured ones, as text, from ``results.json``.

Pure functions of the results dict (:mod:`layerspeed.experiments.schema` documents it):
:func:`comparison_rows` gives one row per number the book quotes, which the command line also
prints as a rich table, and :func:`to_markdown` the whole summary. Whether each claim holds is
read from the verdicts the aggregation computed; nothing here is hard-coded.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from layerspeed.experiments.claims import CLAIMS
from layerspeed.views.text.verdicts import all_verdicts, clip_percent, data_set

Row = tuple[str, str, str, str, str]  # experiment, quantity, book, measured, inside?

FIGURES = {
    "depth": "figures/depth.png",
    "neurons": "figures/neurons.png",
    "initial": "figures/initial_speeds.png",
    "training": "figures/training_speeds.png",
}


def _f(v: float | None, fmt: str = ".3g") -> str:
    return "-" if v is None else format(v, fmt)


def _yes(v: bool | None) -> str:
    return {True: "yes", False: "**no**", None: "-"}[v]


def _mean_sd(d: Mapping[str, Any], fmt: str = ".2f") -> str:
    sd = f" ± {d['sd']:{fmt}}" if d.get("sd") is not None else ""
    return f"{d['mean']:{fmt}}{sd}"


CLIPPED = "†"  # marks an accuracy interval clipped to 0..100%
CLIPPED_NOTE = f"{CLIPPED} clipped to 0..100%: the t interval of few runs reaches past it."


def _interval(d: Mapping[str, Any], kind: str, fmt: str = ".2f") -> str:
    """An accuracy's interval in percent, clipped to 0..100 and then marked :data:`CLIPPED`."""
    lo, hi, clipped = clip_percent(d.get(f"{kind}_low"), d.get(f"{kind}_high"))
    if lo is None or hi is None:
        return "-"
    return f"{lo:{fmt}}..{hi:{fmt}}" + (CLIPPED if clipped else "")


def _any_clipped(rows: list[list[str]] | list[Row]) -> bool:
    return any(CLIPPED in cell for row in rows for cell in row)


def _net(label: str) -> str:
    return "[" + label.replace("-", ",") + "]"


def comparison_rows(results: Mapping[str, Any]) -> list[Row]:
    """Every number the book quotes beside the measured one and its spread."""
    rows: list[Row] = []
    for r in results.get("depth", {}).get("rows", []):
        if not r["n_runs"] or r["book"] is None:
            continue
        f, b = r["final"], r["best"]
        rows.append(
            (
                "depth",
                f"validation accuracy (%), {_net(r['label'])}",
                f"{r['book']:.2f}",
                (
                    f"final {_mean_sd(f)} (95% PI {_interval(f, 'pi')}); "
                    f"best {_mean_sd(b)} (95% PI {_interval(b, 'pi')}); n={f['n']}"
                ).replace(CLIPPED, ", clipped to 0..100"),
                _yes(bool(r.get("book_in_final_pi") or r.get("book_in_best_pi")))
                if r.get("book_in_final_pi") is not None
                else "-",
            )
        )
    for r in results.get("initial", {}).get("rows", []):
        if not r["n_runs"] or not r.get("book"):
            continue
        q = f"{100 * r['q_low']:.0f}-{100 * r['q_high']:.0f}%"
        for l, book in enumerate(r["book"]):
            rows.append(
                (
                    "initial",
                    f"||delta^{l + 1}|| at initialization, {_net(r['label'])}",
                    f"{book:g}",
                    f"median {r['median'][l]:.3g} ({q} {r['low'][l]:.3g}..{r['high'][l]:.3g}); "
                    f"n={r['n_runs']}",
                    _yes(r["book_in_band"][l]),
                )
            )
    for r in results.get("training", {}).get("rows", []):
        if r["n_runs"] and r["hidden_layers"] == 4:
            band = r["ratio_last_first"]
            book, roughly = (
                CLAIMS["training.ratio_100"]["book"],
                CLAIMS["training.ratio_100"]["roughly"],
            )
            rows.append(
                (
                    "training",
                    f"speed of last / first hidden layer, {_net(r['label'])}",
                    f"~{book:g}",
                    f"{r['ratio_typical']:.0f} (geometric mean over epochs of the median; "
                    f"median per epoch {min(band['median']):.0f}..{max(band['median']):.0f})",
                    _yes(book / roughly <= r["ratio_typical"] <= book * roughly),
                )
            )
    return rows


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    cells = [[c.replace("|", "\\|") for c in row] for row in rows]
    return [
        "| " + " | ".join(header) + " |",
        "|" + "---|" * len(header),
        *("| " + " | ".join(row) + " |" for row in cells),
        "",
    ]


def _verdict_lines(part: Mapping[str, Any]) -> list[str]:
    out = []
    for v in part.get("verdicts", []):
        word = {True: "Holds", False: "Does not hold", None: "Undecided"}[v["holds"]]
        out.append(f"- **{word}**: {v['claim']}. {v['evidence']}")
    return out + [""] if out else []


def _depth(d: Mapping[str, Any]) -> list[str]:
    lines = [f"## 1. {d['title']}", "", f"![accuracy against depth]({FIGURES['depth']})", ""]
    rows = []
    for r in d["rows"]:
        if not r["n_runs"]:
            rows.append([_net(r["label"]), _f(r["book"], ".2f"), "no runs", "", "", "", ""])
            continue
        f, b = r["final"], r["best"]
        rows.append(
            [
                _net(r["label"]),
                _f(r["book"], ".2f"),
                _mean_sd(f),
                _interval(f, "ci"),
                _interval(f, "pi"),
                _mean_sd(b),
                _interval(b, "pi"),
            ]
        )
    lines += _table(
        [
            "network",
            "book (%)",
            "final mean ± sd",
            "final 95% CI",
            "final 95% PI",
            "best mean ± sd",
            "best 95% PI",
        ],
        rows,
    )
    if _any_clipped(rows):
        lines += [CLIPPED_NOTE, ""]
    if d["welch"]:
        lines += [
            "Welch's t-test between neighbouring depths (difference = deeper minus shallower, "
            "percentage points):",
            "",
        ]
        lines += _table(
            ["from", "to", "accuracy", "difference", "book", "t", "df", "p"],
            [
                [
                    _net(w["a"]),
                    _net(w["b"]),
                    w["measure"],
                    f"{w['mean_difference']:+.2f}",
                    _f(w["book_difference"], "+.2f"),
                    _f(w["t"]),
                    _f(w["df"]),
                    _f(w["p"]),
                ]
                for w in d["welch"]
            ],
        )
    return lines + _verdict_lines(d)


def _neurons(n: Mapping[str, Any]) -> list[str]:
    lines = [f"## 2. {n['title']}", "", f"![per-neuron gradients]({FIGURES['neurons']})", ""]
    if not n.get("n_runs"):
        return lines + ["No runs.", ""]
    k = n["n_neurons"]
    rows = []
    for l, grads in enumerate(n["example"]["layers"]):
        rows.append([f"hidden {l + 1}, seed {n['example']['seed']}", *(f"{g:+.4f}" for g in grads)])
    for l, band in enumerate(n["mean_abs"]):
        rows.append([f"hidden {l + 1}, median abs", *(f"{g:.4f}" for g in band["median"])])
    lines += _table(["dC/db", *(f"neuron {j + 1}" for j in range(k))], rows)
    return lines + _verdict_lines(n)


def _initial(d: Mapping[str, Any]) -> list[str]:
    lines = [f"## 3. {d['title']}", "", f"![initial speeds]({FIGURES['initial']})", ""]
    rows = []
    for r in d["rows"]:
        if not r["n_runs"]:
            continue
        for l in range(r["hidden_layers"]):
            rows.append(
                [
                    _net(r["label"]),
                    str(l + 1),
                    _f(r["book"][l], "g") if r.get("book") else "-",
                    f"{r['median'][l]:.3g}",
                    f"{r['low'][l]:.3g}..{r['high'][l]:.3g}",
                    _yes(r["book_in_band"][l]) if r.get("book") else "-",
                    f"{r['mean_example_norms']['median'][l]:.3g}",
                    f"{r['weight_grad_norms']['median'][l]:.3g}",
                ]
            )
    q = d["rows"][0]
    band = f"{100 * q.get('q_low', 0.1):.0f}-{100 * q.get('q_high', 0.9):.0f}%"
    lines += _table(
        [
            "network",
            "hidden layer",
            "book",
            "median ||mean dC/db||",
            band,
            "book inside",
            "median E||delta_x||",
            "median ||dC/dw||",
        ],
        rows,
    )
    lines += [
        "The speed is the book's measure, the norm of the bias gradient averaged over the "
        "probe images. E||delta_x||, the mean of the per-example norms, and ||dC/dw||, the "
        "norm of the averaged weight gradient, are shown beside it for comparison.",
        "",
    ]
    return lines + _verdict_lines(d)


def _training(d: Mapping[str, Any]) -> list[str]:
    lines = [f"## 4. {d['title']}", "", f"![speeds during training]({FIGURES['training']})", ""]
    rows = []
    for r in d["rows"]:
        if not r["n_runs"]:
            continue
        last = len(r["epochs"]) - 1
        for l, band in enumerate(r["layers"]):
            med = band["median"]
            rows.append(
                [
                    _net(r["label"]),
                    str(l + 1),
                    f"{med[0]:.3g}",
                    f"{min(med):.3g} (epoch {med.index(min(med))})",
                    f"{med[-1]:.3g} (epoch {last})",
                ]
            )
    lines += _table(
        ["network", "hidden layer", "median speed, start", "minimum", "end"],
        rows,
    )
    return lines + _verdict_lines(d)


def to_markdown(results: Mapping[str, Any]) -> str:
    """The whole summary.md."""
    meta = results.get("meta", {})
    lines = ['# Reproducing "The vanishing gradient problem" (Nielsen, chapter 5)', ""]
    if on := data_set(results):
        lines[0] += f" on {on}"
        lines += [
            f"Every run reads **{on}**, not the book's MNIST (the same split: the first "
            "50,000 training images train, the last 10,000 validate). The book's numbers are "
            f"MNIST's; each claim below says whether it still holds on {on}.",
            "",
        ]
    if meta:
        lines += [
            f"layerspeed {meta.get('layerspeed_version', '?')}, {meta.get('date', '?')}; "
            f"seeds per experiment: "
            + ", ".join(f"{k} {v}" for k, v in meta.get("seeds", {}).items())
            + ".",
            "",
        ]
        if meta.get("quick"):
            lines += [
                "**This is a `--quick` smoke run** (few seeds, 2 epochs on 5000 images, 50 "
                "full-batch epochs): its numbers are not the chapter's and its verdicts say "
                "little.",
                "",
            ]
    runs = results.get("runs")
    if runs:
        lines += [
            f"Runs: {runs['total']} planned, {runs['done']} done, {runs['diverged']} diverged, "
            f"{runs['failed']} failed.",
            "",
        ]
        for p in runs["problems"]:
            lines.append(
                f"- {p['experiment']} {_net(p['label'])} seed {p['seed']}: "
                f"{p['status'] or 'not run'}" + (f" ({p['message']})" if p["message"] else "")
            )
        if runs["problems"]:
            lines.append("")
    lines += ["## The book against the measurements", ""]
    lines += _table(
        ["experiment", "quantity", "book", "measured", "book inside the spread"],
        [list(r) for r in comparison_rows(results)],
    )
    lines += [
        "Spreads: PI is the 95% t prediction interval of one run (where a single run such as "
        "the book's should fall), CI the 95% t confidence interval of the mean; speeds use the "
        "10-90% band over seeds.",
        "",
        "## Claims",
        "",
    ]
    for name, v in all_verdicts(results):
        word = {True: "holds", False: "does not hold", None: "undecided"}[v["holds"]]
        lines.append(f"- {name}: {v['claim']}: **{word}**.")
    lines.append("")
    for key, section in (
        ("depth", _depth),
        ("neurons", _neurons),
        ("initial", _initial),
        ("training", _training),
    ):
        if key in results:
            lines += section(results[key])
    if "chain" in results:
        from layerspeed.views.text.chain import to_markdown as chain_markdown

        lines += [chain_markdown(results["chain"]).rstrip(), ""]
        lines += [
            "![sigma prime](figures/chain_sigma_prime.png)",
            "![width bound](figures/chain_width_bound.png)",
            "",
        ]
    if "beyond" in results:
        from layerspeed.views.text.beyond import beyond_markdown

        lines += [beyond_markdown(results["beyond"]).rstrip(), ""]
    return "\n".join(lines).rstrip() + "\n"
