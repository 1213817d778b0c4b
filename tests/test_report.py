"""The HTML report as a pure function: sections, graceful gaps, escaping, size, no network.

The chapter's results are made the way ``layerspeed reproduce`` makes them, by
:func:`layerspeed.experiments.chapter.aggregate` over run records, but the records are
synthetic (drawn numbers, no training), so the test takes well under a second.
"""

from __future__ import annotations

import functools
import html
import json
import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from layerspeed.chain import chapter_chain_results
from layerspeed.cli import main
from layerspeed.experiments.chapter import (
    Plan,
    RunRecord,
    aggregate,
    chapter_experiments,
    isfinite_or_none,
)
from layerspeed.report import MAX_BYTES, collect, to_html, write_report
from layerspeed.store import RunDir, result_record

HOSTILE = "<script>alert(1)</script>"


def _result(cfg: Any, seed: int, rng: np.random.Generator) -> dict[str, Any]:
    """What a run of ``cfg`` could have left: plausible numbers, nothing trained."""
    h = len(cfg.sizes) - 2
    base = 0.3 * 0.2 ** np.arange(h)[::-1]  # speeds rising by layer, as in the chapter
    if cfg.kind == "depth":
        acc = 0.95 + 0.01 * rng.random() + 0.005 * np.log1p(np.arange(cfg.epochs))
        epochs = [{"epoch": e, "evaluation_accuracy": float(a)} for e, a in enumerate(acc)]
        return result_record(
            cfg.to_dict(),
            seed=seed,
            kind=cfg.kind,
            epochs=epochs,
            layer_names=[f"hidden {l + 1}" for l in range(h)],
        )
    if cfg.kind == "initial":
        speeds = (base * np.exp(0.2 * rng.standard_normal(h))).tolist()
        grads = [(s * rng.standard_normal(30) / 5).tolist() for s in speeds]
        report = {
            "layer_speeds": speeds,
            "neuron_gradients": grads,
            "mean_example_norms": [2 * s for s in speeds],
            "weight_grad_norms": [3 * s for s in speeds],
        }
        return result_record(
            cfg.to_dict(),
            seed=seed,
            kind=cfg.kind,
            epochs=[{"epoch": 0, **report}],
            layer_names=[f"hidden {l + 1}" for l in range(h)],
            **report,
        )
    decay = np.exp(-np.arange(cfg.epochs) / 20)[:, None]  # (epoch, 1)
    speeds = base[None, :] * (0.3 + decay) * np.exp(0.1 * rng.standard_normal((cfg.epochs, h)))
    epochs = [{"epoch": e, "layer_speeds": s.tolist()} for e, s in enumerate(speeds)]
    return result_record(
        cfg.to_dict(),
        seed=seed,
        kind=cfg.kind,
        epochs=epochs,
        layer_names=[f"hidden {l + 1}" for l in range(h)],
        final_training_accuracy=0.9,
    )


@functools.cache
def _chapter_results_json() -> str:
    rng = np.random.default_rng(0)
    experiments = chapter_experiments(Plan.smoke(seeds=3))
    records = [
        RunRecord(exp.name, cfg.label, seed, "done", None, _result(cfg, seed, rng))
        for exp in experiments
        for cfg in exp.configs
        for seed in exp.seeds
    ]
    results = aggregate(experiments, records)
    results["meta"] = {
        "layerspeed_version": "0.1.0",
        "python": "3.11.7",
        "numpy": np.__version__,
        "scipy": "1.x",
        "matplotlib": "3.x",
        "date": "2024-01-02T03:04:05+00:00",
        "argv": ["layerspeed", "reproduce", "--quick", "--out", "out dir"],
        "quick": True,
        "seeds": {e.name: e.n_seeds for e in experiments},
        "workers": 2,
        "elapsed_s": 12.5,
    }
    results["chain"] = chapter_chain_results(n_chains=500)
    return json.dumps(isfinite_or_none(results))


def chapter_results() -> dict[str, Any]:
    """A results.json of the chapter's shape, fresh for every caller to change."""
    return json.loads(_chapter_results_json())


def torch_runs(n_epochs: int = 20) -> list[dict[str, Any]]:
    """Two groups of run folders as the PyTorch probe writes them, as collect returns them."""
    rng = np.random.default_rng(1)
    runs = []
    for group, scale in (("torch-results/sigmoid", 0.1), ("torch-results/relu-he", 1.0)):
        for seed in (0, 1):
            speeds = scale * np.exp(rng.standard_normal((n_epochs, 5)))
            speeds[0, 0] = float("nan")  # not measured: must not break the page
            epochs = [
                {"epoch": e, "step": 10 * e, "layer_speeds": s.tolist()}
                for e, s in enumerate(speeds)
            ]
            result = result_record(
                {"engine": "torch"},
                seed=seed,
                kind="torch",
                epochs=epochs,
                layer_names=["0", "2", "4", "6", "8"],
            )
            runs.append(
                {
                    "path": f"{group}/seed-{seed}",
                    "kind": "torch",
                    "seed": seed,
                    "config": {"engine": "torch"},
                    "status": {"status": "done"},
                    "result": result,
                }
            )
    return runs


def _script_data(page: str) -> dict[str, Any]:
    m = re.search(r'<script type="application/json" id="report-data">(.*?)</script>', page, re.S)
    assert m is not None
    return json.loads(m.group(1))


# ---- sections ------------------------------------------------------------------------------


def test_all_sections_and_figures_present():
    results = chapter_results()
    page = to_html(results, torch_runs())
    for section in ("depth", "neurons", "initial", "training", "chain", "problems", "runs", "meta"):
        assert f'<section id="{section}">' in page, section
    figures = _script_data(page)["figures"]
    assert {"neurons", "initial", "training", "sigma-prime", "width"} <= set(figures)
    assert {k for k in figures if k.startswith("runs-")} == {"runs-0", "runs-1"}
    for fig_id in figures:
        assert f'data-figure="{fig_id}"' in page
    # book beside measured, and the verdicts' words
    assert "96.48" in page and "96.90" in page
    assert "0.285" in page  # the book's initial speed of the last of four hidden layers
    for name in ("depth", "neurons", "initial", "training"):
        for v in results[name]["verdicts"]:
            assert html.escape(v["claim"]) in page and html.escape(v["evidence"]) in page
    assert "Welch" in page
    assert "width bound" in page
    # metadata: versions, seeds, date and command line
    assert "2024-01-02T03:04:05+00:00" in page
    assert "layerspeed reproduce --quick --out &#x27;out dir&#x27;" in page
    assert "quick" in page and "numpy" in page.lower()


def test_figure_data_matches_results():
    results = chapter_results()
    figures = _script_data(to_html(results))["figures"]
    bars = figures["neurons"]["groups"]
    for group, layer in zip(bars, results["neurons"]["example"]["layers"], strict=True):
        assert group["values"] == pytest.approx(layer, rel=1e-3)
    training = figures["training"]["panels"]
    assert len(training) == 3 and [len(p["series"]) for p in training] == [2, 3, 4]
    assert figures["training"]["log"] is True and figures["training"]["toggle"] is True
    sigma = figures["sigma-prime"]["series"][0]
    assert max(sigma["y"]) == pytest.approx(0.25)


def test_runs_only_folder_has_no_chapter_sections():
    page = to_html({}, torch_runs())
    assert "<h1>Speed of learning per layer</h1>" in page
    assert '<section id="runs">' in page
    for section in ("depth", "neurons", "initial", "training", "chain", "problems", "meta"):
        assert f'<section id="{section}">' not in page
    figures = _script_data(page)["figures"]
    assert set(figures) == {"runs-0", "runs-1"}
    series = figures["runs-0"]["panels"][0]["series"]
    assert [s["name"] for s in series] == ["0", "2", "4", "6", "8"]
    assert all(len(s["runs"]) == 2 for s in series)  # two seeds drawn as lines, plus a band
    assert "torch-results/relu-he" in page and "torch-results/sigmoid" in page


def test_partial_and_empty_results_render():
    results = chapter_results()
    del results["training"], results["chain"]["problems"]
    results["depth"]["rows"][0] = {
        "label": "784-30-10",
        "hidden_layers": 1,
        "n_runs": 0,
        "book": 96.48,
    }
    results["neurons"] = {"title": "t", "n_runs": 0, "verdicts": []}
    page = to_html(results)
    assert '<section id="training">' not in page and '<section id="problems">' not in page
    assert '<section id="depth">' in page and "could not be shown" not in page
    assert "no results in this folder" in to_html({})
    # a part that is not what it should be is named, not fatal
    broken = chapter_results()
    broken["initial"]["rows"] = [{"hidden_layers": 2, "median": 5}]
    assert "could not be shown" in to_html(broken)


def test_hostile_strings_are_escaped():
    results = chapter_results()
    results["depth"]["rows"][0]["label"] = HOSTILE
    results["depth"]["verdicts"][0]["evidence"] = HOSTILE
    results["meta"]["argv"] = ["layerspeed", HOSTILE]
    results["meta"][HOSTILE] = HOSTILE
    results["neurons"]["title"] = "</script><script>alert(2)</script>"
    runs = torch_runs()
    runs[0]["path"] = f"{HOSTILE}/seed-0"
    runs[0]["result"]["layer_names"][0] = "</script><b>x</b>"
    page = to_html(results, runs)
    assert "<script>alert" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    # three script blocks: the data, the code, and nothing a string could open
    assert page.count("<script") == 2 and page.count("</script>") == 2
    data = _script_data(page)  # still parses, and holds the string unchanged
    assert data["figures"]["runs-0"]["legend"][0] == "</script><b>x</b>"


def test_no_network_and_small():
    results = chapter_results()
    many = torch_runs(n_epochs=2000) * 5  # thinned to MAX_POINTS per curve
    page = to_html(results, many)
    assert len(page.encode()) < MAX_BYTES
    assert not re.search(r"""(?:src|href|action)\s*=\s*["']?\s*(?:https?:)?//""", page, re.I)
    assert not re.search(r"""url\(\s*["']?\s*(?:https?:)?//|@import""", page, re.I)
    # The only URL is the SVG namespace the script passes to createElementNS.
    assert set(re.findall(r"https?://[^\s\"'<>]*", page)) == {"http://www.w3.org/2000/svg"}
    assert "<link" not in page and "<img" not in page and "<iframe" not in page


def test_json_block_escapes_script_end():
    page = to_html({"neurons": {"title": "a</script>b<!--c", "n_runs": 0}}, torch_runs())
    block = re.search(r'id="report-data">(.*?)</script>', page, re.S).group(1)
    assert "</" not in block and "<!--" not in block


# ---- the folder and the command line -------------------------------------------------------


def _write_torch_runs(root: Path) -> None:
    for run in torch_runs():
        d = RunDir(root / run["path"])
        d.start(run["config"], seed=run["seed"], kind="torch")
        d.finish(run["result"])


def test_collect_skips_the_chapters_runs(tmp_path):
    (tmp_path / "results.json").write_text(_chapter_results_json())
    chapter_run = RunDir(tmp_path / "runs" / "training" / "784-30-30-10" / "seed-0")
    chapter_run.start({"kind": "training"}, seed=0, kind="training")
    _write_torch_runs(tmp_path)
    results, runs = collect(tmp_path)
    assert "depth" in results
    assert sorted(r["path"] for r in runs) == sorted(r["path"] for r in torch_runs())
    _, runs_without = collect(tmp_path / "torch-results")
    assert len(runs_without) == 4


def test_cli_report(tmp_path, capsys):
    _write_torch_runs(tmp_path)
    assert main(["report", str(tmp_path)]) == 0
    assert capsys.readouterr().out.strip() == str(tmp_path / "report.html")
    assert (tmp_path / "report.html").read_text().startswith("<!DOCTYPE html>")
    out = tmp_path / "elsewhere" / "r.html"
    assert main(["report", str(tmp_path), "--out", str(out)]) == 0
    assert out.is_file()
    empty = tmp_path / "empty"
    empty.mkdir()
    capsys.readouterr()
    assert main(["report", str(empty)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no results.json" in err


def test_write_report_refuses_an_empty_folder(tmp_path):
    from layerspeed.errors import BadInput

    with pytest.raises(BadInput, match="no results.json"):
        write_report(tmp_path)


def test_sweep_section_lists_every_grid_point_and_escapes(tmp_path):
    from layerspeed.report import collect, to_html

    point = {
        "label": "activation=<b>relu</b>",
        "params": {"activation": "<b>relu</b>", "init": "he"},
        "n_runs": 2,
        "verdict": "balanced",
        "spread_initial": {"mean": 0.33},
        "spread_training": {"mean": 0.25},
        "accuracy": {"mean": 92.5, "ci_low": 91.0, "ci_high": 94.0},
        "saturated_share": 0.5,
    }
    summary = {
        "name": "remedies",
        "axes": {"activation": ["<b>relu</b>"], "init": ["he"]},
        "config": {"base": {"depth": 4}},
        "points": [
            point,
            {
                **point,
                "params": {"activation": "sigmoid", "init": "default"},
                "verdict": "vanishing",
                "accuracy": {},
            },
        ],
        "findings": ["relu & he balance the layers"],
    }
    page = to_html({"remedies": summary})
    assert 'id="remedies"' in page
    assert "&lt;b&gt;relu&lt;/b&gt;" in page and "<b>relu</b>" not in page
    assert "92.50%" in page and "50.00%" in page and "vanishing" in page
    assert "relu &amp; he balance the layers" in page
    # A sweep's own folder: its summary.json stands for the run folders under runs/.
    (tmp_path / "summary.json").write_text(json.dumps(summary))
    results, runs = collect(tmp_path)
    assert results == {"sweep": summary} and runs == []
