"""The HTML report as a pure function: sections, schema checks, escaping, size, no network.

The chapter's results are a ``results.json`` written by layerspeed 0.1 (``tests/data``, a
``--quick`` reproduction, without a ``schema_version``): the page must still open what older
versions wrote. The run folders are synthetic (drawn numbers, no training).
"""

from __future__ import annotations

import functools
import json
import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from markupsafe import escape

from layerspeed.cli import main
from layerspeed.errors import BadInput
from layerspeed.store import RunDir, result_record
from layerspeed.views.figures import javascript
from layerspeed.views.report import MAX_BYTES, read_report_inputs, to_html, write_report

HOSTILE = "<script>alert(1)</script>"
RESULTS_0_1 = Path(__file__).parent / "data" / "results_0.1.json"


@functools.cache
def _chapter_results_json() -> str:
    results = json.loads(RESULTS_0_1.read_text())
    results["meta"] = {
        "layerspeed_version": "0.1.0",
        "python": "3.11.7",
        "numpy": np.__version__,
        "scipy": "1.x",
        "matplotlib": "3.x",
        "date": "2024-01-02T03:04:05+00:00",
        "argv": ["layerspeed", "reproduce", "--quick", "--out", "out dir"],
        "quick": True,
        "seeds": {"depth": 2, "neurons": 8, "initial": 8, "training": 2},
        "workers": 2,
        "elapsed_s": 12.5,
    }
    return json.dumps(results)


def chapter_results() -> dict[str, Any]:
    """A results.json of the chapter's shape, fresh for every caller to change."""
    return json.loads(_chapter_results_json())


def values(spec: Any) -> list[dict[str, Any]]:
    """Every inline data record of a Vega-Lite spec, in order."""
    out: list[dict[str, Any]] = []
    if isinstance(spec, dict):
        data = spec.get("data")
        if isinstance(data, dict) and isinstance(data.get("values"), list):
            out += data["values"]
        for k, v in spec.items():
            if k != "data":
                out += values(v)
    elif isinstance(spec, list):
        for v in spec:
            out += values(v)
    return out


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
    assert '<section id="remedies">' in page
    figures = _script_data(page)["figures"]
    assert {"depth", "neurons", "initial", "training", "sigma-prime", "width", "remedies"} <= set(
        figures
    )
    assert {k for k in figures if k.startswith("runs-")} == {"runs-0", "runs-1"}
    for fig_id in figures:
        assert f'data-figure="{fig_id}"' in page
    # book beside measured, and the verdicts' words
    assert "96.48" in page and "96.90" in page
    assert "0.285" in page  # the book's initial speed of the last of four hidden layers
    for name in ("depth", "neurons", "initial", "training"):
        for v in results[name]["verdicts"]:
            assert escape(v["claim"]) in page and escape(v["evidence"]) in page
    assert "Welch" in page
    assert "width bound" in page
    # metadata: versions, seeds, date and command line
    assert "2024-01-02T03:04:05+00:00" in page
    assert "layerspeed reproduce --quick --out &#39;out dir&#39;" in page
    assert "quick" in page and "numpy" in page.lower()
    assert "14 hold" in page and "2 do not" in page  # the tally of the 16 claims


def test_figure_data_matches_results():
    results = chapter_results()
    figures = _script_data(to_html(results))["figures"]
    bars = [r for r in values(figures["neurons"]) if "value" in r]
    layers = results["neurons"]["example"]["layers"]
    assert len(bars) == sum(len(v) for v in layers)
    for l, layer in enumerate(layers):
        got = [r["value"] for r in bars if r["layer"] == f"hidden layer {l + 1}"]
        assert got == pytest.approx(layer, rel=1e-3)
    panels = figures["training"]["hconcat"]
    rows = results["training"]["rows"]
    assert [p["title"] for p in panels] == [f"[{r['label'].replace('-', ',')}]" for r in rows]
    for panel, row in zip(panels, rows, strict=True):
        records = values(panel)
        assert len(records) == len(row["epochs"]) * len(row["layers"])
        for l, band in enumerate(row["layers"]):
            got = [r["median"] for r in records if r["layer"] == f"hidden {l + 1}"]
            assert got == pytest.approx(band["median"], rel=1e-3)
    spec = json.dumps(figures["training"])
    assert '"type": "log"' in spec and '"bind": "legend"' in spec and '"bind": "scales"' in spec
    sigma = values(figures["sigma-prime"])
    assert max(r["prime"] for r in sigma if "prime" in r) == pytest.approx(0.25)


def test_runs_only_folder_has_no_chapter_sections():
    page = to_html({}, torch_runs())
    assert "<h1>Speed of learning per layer</h1>" in page
    assert '<section id="runs">' in page
    for section in ("depth", "neurons", "initial", "training", "chain", "problems", "meta"):
        assert f'<section id="{section}">' not in page
    figures = _script_data(page)["figures"]
    assert set(figures) == {"runs-0", "runs-1"}
    records = values(figures["runs-0"])
    assert [r["layer"] for r in records[:5]] == ["0", "2", "4", "6", "8"]
    assert all("r0" in r and "r1" in r for r in records)  # two seeds drawn as lines
    assert records[0]["median"] is None  # the speed that was not measured is a gap
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
    assert '<section id="depth">' in page and "no runs" in page
    assert "no results in this folder" in to_html({})


def test_schema_drift_fails_loudly():
    broken = chapter_results()
    broken["initial"]["rows"] = [{"hidden_layers": 2, "median": 5}]
    with pytest.raises(KeyError):
        to_html(broken)
    newer = chapter_results() | {"schema_version": 99}
    with pytest.raises(BadInput, match="schema version 99"):
        to_html(newer)
    assert "<section" in to_html(chapter_results() | {"schema_version": 2})


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
    page = to_html(results, runs).replace(javascript(), "")
    assert "<script>alert" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    # three script blocks: the data, Vega, the code that draws; nothing a string could open
    assert page.count("<script") == 3 and page.count("</script>") == 3
    data = _script_data(page)  # still parses, and holds the string unchanged
    layers = {r["layer"] for f in data["figures"].values() for r in values(f) if "layer" in r}
    assert "</script><b>x</b>" in layers


def test_no_network_and_small():
    results = chapter_results()
    many = torch_runs(n_epochs=2000) * 5  # thinned per curve
    page = to_html(results, many)
    assert len(page.encode()) < MAX_BYTES
    assert not re.search(r"""(?:src|href|action)\s*=\s*["']?\s*(?:https?:)?//""", page, re.I)
    assert not re.search(r"""url\(\s*["']?\s*(?:https?:)?//|@import""", page, re.I)
    # Outside the Vega code, the only address is the schema each spec names (not fetched).
    ours = page.replace(javascript(), "")
    assert "<link" not in ours and "<img" not in ours and "<iframe" not in ours
    urls = set(re.findall(r"https?://[^\s\"'<>]*", ours))
    assert {re.sub(r"/v[0-9.]+\.json$", "", u) for u in urls} == {
        "https://vega.github.io/schema/vega-lite"
    }
    assert '"url"' not in ours  # no chart loads its data


def test_json_block_escapes_script_end():
    page = to_html({"neurons": {"title": "a</script>b<!--c", "n_runs": 0, "verdicts": []}})
    block = re.search(r'id="report-data">(.*?)</script>', page, re.S).group(1)
    assert "</" not in block and "<!--" not in block


# ---- the folder and the command line -------------------------------------------------------


def _write_torch_runs(root: Path) -> None:
    for run in torch_runs():
        d = RunDir(root / run["path"])
        d.start(run["config"], seed=run["seed"], kind="torch")
        d.finish(run["result"])


def test_read_report_inputs_skips_the_chapters_runs(tmp_path):
    (tmp_path / "results.json").write_text(_chapter_results_json())
    chapter_run = RunDir(tmp_path / "runs" / "training" / "784-30-30-10" / "seed-0")
    chapter_run.start({"kind": "training"}, seed=0, kind="training")
    _write_torch_runs(tmp_path)
    results, runs = read_report_inputs(tmp_path)
    assert "depth" in results
    assert sorted(r["path"] for r in runs) == sorted(r["path"] for r in torch_runs())
    _, runs_without = read_report_inputs(tmp_path / "torch-results")
    assert len(runs_without) == 4


def test_cli_report_of_an_old_folder_and_a_newer_schema(tmp_path, capsys):
    (tmp_path / "results.json").write_text(RESULTS_0_1.read_text())
    assert main(["report", str(tmp_path)]) == 0
    assert '<section id="training">' in (tmp_path / "report.html").read_text()
    capsys.readouterr()
    (tmp_path / "results.json").write_text(json.dumps({"schema_version": 7}))
    assert main(["report", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "schema version 7" in err


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
    point = {
        "label": "activation=<b>relu</b>",
        "params": {"activation": "<b>relu</b>", "init": "he"},
        "n_runs": 2,
        "verdict": "balanced",
        "spread_initial": {"mean": 0.33},
        "spread_training": {"mean": 0.25},
        "accuracy": {"mean": 92.5, "ci_low": 91.0, "ci_high": 94.0},
        "saturated_share": 0.5,
        "status": {"done": 2, "diverged": 0, "failed": 0},
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
    results, runs = read_report_inputs(tmp_path)
    assert results == {"sweep": summary} and runs == []


# ---- a results file that cannot be used is said so, not read as none ------------------------


@pytest.mark.parametrize(
    ("name", "text", "says"),
    [
        ("results.json", '{"schema_version": 2, "depth": {', "results.json: not valid JSON"),
        ("results.json", '[{"depth": {}}]', "results.json: a JSON list, not an object"),
        ("results.json", '"done"', "a JSON string, not an object"),
        ("results.json", "\udcff", "not valid JSON"),
        ("summary.json", "{", "summary.json: not valid JSON"),
        ("summary.json", "[]", "summary.json: a JSON list"),
    ],
)
def test_an_unusable_results_file_is_one_line_and_exit_2(tmp_path, capsys, name, text, says):
    run = RunDir(tmp_path / "runs" / "depth" / "784-30-10" / "seed-0")
    run.start({"sizes": [784, 30, 10]}, seed=0, kind="depth")
    (tmp_path / name).write_bytes(text.encode("utf-8", "surrogateescape"))
    with pytest.raises(BadInput, match=re.escape(says)):
        read_report_inputs(tmp_path)
    assert main(["report", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and says in err and "run " in err
    assert not (tmp_path / "report.html").exists()


def test_the_chapters_runs_without_their_results_json_are_not_passed_off(tmp_path, capsys):
    run = RunDir(tmp_path / "runs" / "training" / "784-30-30-10" / "seed-0")
    run.start({"sizes": [784, 30, 30, 10]}, seed=0, kind="training")
    assert main(["report", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "results.json: missing" in err and "reproduce" in err
    # A folder of other runs needs none.
    _write_torch_runs(tmp_path / "elsewhere")
    assert main(["report", str(tmp_path / "elsewhere")]) == 0


@pytest.mark.parametrize(
    ("change", "says"),
    [
        ({"layer_names": 5}, "layer_names is 5"),
        ({"epochs": [{"epoch": 0, "layer_speeds": "fast"}]}, "layer_speeds is 'fast'"),
        ({"epochs": [3]}, "epochs[0] is 3"),
    ],
)
def test_a_run_result_of_the_wrong_shape_is_named(tmp_path, capsys, change, says):
    _write_torch_runs(tmp_path)
    result = next(tmp_path.rglob("result.json"))
    result.write_text(json.dumps(json.loads(result.read_text()) | change))
    assert main(["report", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and says in err and str(result) in err
