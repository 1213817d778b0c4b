"""``reproduce --beyond``: the modern, depth and chaos presets summed up, drawn and put into words.

The aggregator (:mod:`layerspeed.experiments.beyond`) is checked on hand-made sweep summaries
whose numbers are worked out here by hand; the views on the same; and one end to end run of
``layerspeed reproduce --beyond --quick`` on the real MNIST (marked ``mnist``).
"""

from __future__ import annotations

import json
import math

import pytest

from layerspeed.experiments.beyond import (
    beyond_part,
    chaos_part,
    depth_part,
    fitted_factor,
    modern_part,
    seed_ratios,
)
from layerspeed.experiments.driver import RunRecord, Task
from layerspeed.experiments.grid import load_preset
from layerspeed.nn.remedies import LARS_TRUST
from layerspeed.readings import SPEED_FLOOR
from layerspeed.theory import mean_field


def _desc(values):
    """A summary's Description with a made-up but well-formed CI around the mean."""
    mean = sum(values) / len(values)
    return {"n": len(values), "mean": mean, "sd": None, "ci_low": mean - 1, "ci_high": mean + 1}|{
        "pi_low": None, "pi_high": None, "min": min(values), "max": max(values), "values": values
    }  # fmt: skip


def _point(label, params, **rest):
    return {"label": label, "params": params} | rest


# ---- depth ----------------------------------------------------------------------------------

DEPTH_SUMMARY = {
    "name": "depth",
    "config": {
        "base": {"width": 30, "epochs": 1, "eta": 0.1},
        "grid": {"variant": ["sigmoid", "relu_he", "bn"], "depth": [1, 2, 4]},
        "variants": {
            "sigmoid": {},
            "relu_he": {"activation": "relu", "init": "he"},
            "bn": {"norm": "batch"},
        },
    },  # fmt: skip
    "points": [
        _point(f"variant={v},depth={d}", {"variant": v, "depth": d})
        for v in ("sigmoid", "relu_he", "bn")
        for d in (4, 1, 2)  # out of order: the rows come sorted by depth
    ],
}


def _ratios():
    # sigmoid: ratios 10 and 1000 at depth 4 (geometric mean 100), 3 and 3 at depth 2.
    r = {f"variant={v},depth=1": {"initial": [1.0, 1.0], "after": [1.0, 1.0]}
         for v in ("sigmoid", "relu_he", "bn")}  # fmt: skip
    r["variant=sigmoid,depth=4"] = {"initial": [10.0, 1000.0], "after": [27.0, 27.0]}
    r["variant=sigmoid,depth=2"] = {"initial": [3.0, 3.0], "after": [3.0, 3.0]}
    r["variant=relu_he,depth=2"] = {"initial": [2.0, 0.5], "after": []}
    r["variant=bn,depth=2"] = {"initial": [5.0], "after": [5.0], "floored_after": [1.0]}
    return r


def test_depth_part_by_hand():
    d = depth_part(DEPTH_SUMMARY, _ratios())
    rows = {r["variant"]: r for r in d["rows"]}
    assert list(rows) == ["sigmoid", "relu_he", "bn"]
    sig = rows["sigmoid"]
    assert [p["depth"] for p in sig["points"]] == [1, 2, 4]
    four = sig["points"][2]
    assert four["initial"]["geomean"] == pytest.approx(100.0)
    # 10-90% band of two values, on a log scale: 10 * 100^0.1 and 10 * 100^0.9
    assert four["initial"]["low"] == pytest.approx(10 * 100**0.1)
    assert four["initial"]["high"] == pytest.approx(10 * 100**0.9)
    assert four["initial"]["n"] == 2 and four["after"]["geomean"] == pytest.approx(27.0)
    # the theory's straight line: factor^(depth - 1), factor = 1/sqrt(chi) of the book's init
    factor = 1 / math.sqrt(mean_field("sigmoid", "default").chi)
    assert sig["theory"]["applies"] and sig["theory"]["factor"] == pytest.approx(factor)
    assert [p["theory"] for p in sig["points"]] == pytest.approx([1.0, factor, factor**3])
    # the fitted factor: exp(sum x log r / sum x^2), x = 1 (ratio 3) and 3 (ratio 100)
    want = math.exp((1 * math.log(3) + 3 * math.log(100)) / (1 + 9))
    assert sig["fitted"]["initial"] == pytest.approx(want)
    assert sig["fitted"]["after"] == pytest.approx(3.0)  # 3 = 3^1, 27 = 3^3
    # ReLU + He: sigma_w^2 = 2, E[relu'(z)^2] = 1/2, so chi = 1 and the line is flat at 1
    relu = rows["relu_he"]
    assert relu["theory"]["chi"] == pytest.approx(1.0)
    assert [p["theory"] for p in relu["points"]] == pytest.approx([1.0, 1.0, 1.0])
    assert relu["points"][1]["initial"]["geomean"] == pytest.approx(1.0)  # sqrt(2 * 0.5)
    assert relu["points"][1]["after"] is None and relu["points"][2]["initial"] is None
    # batch norm: no mean-field line, and the reason given
    bn = rows["bn"]
    assert bn["theory"]["applies"] is False and "batch" in bn["theory"]["why"]
    assert all(p["theory"] is None for p in bn["points"])
    assert bn["points"][1]["floored"] == {"initial": 0, "after": 1}
    assert bn["fitted"]["after"] is None and bn["fitted"]["initial"] == pytest.approx(5.0)
    # the chapter's point: four hidden layers of the book's sigmoid, the book's 100
    c = d["chapter"]
    assert (c["depth"], c["book"], c["variant"]) == (4, 100.0, "sigmoid")
    assert c["initial"]["geomean"] == pytest.approx(100.0)
    assert c["theory"] == pytest.approx(factor**3)


def test_fitted_factor_leaves_out_floored_points_and_depth_one():
    points = [
        {"depth": 1, "initial": {"geomean": 7.0}},
        {"depth": 3, "initial": {"geomean": 16.0}},  # 4^2
        {"depth": 5, "initial": {"geomean": 1e12}, "floored": {"initial": 1}},
    ]
    assert fitted_factor(points, "initial") == pytest.approx(4.0)
    assert fitted_factor(points[:1], "initial") is None


def _record(label, initial, final):
    task = Task("depth", label, {}, None, 0, "/nowhere")  # type: ignore[arg-type]
    inst = {"initial": initial, "training": final, "final": final}
    return RunRecord(task, "done", None, {"instability": inst})


def test_seed_ratios_reads_each_runs_initial_and_final_ratio_and_the_floor():
    a = {"ratio": 50.0, "first": 0.01, "last": 0.5, "spread": 1.7, "flag": "vanishing"}
    b = {"ratio": 4.0, "first": SPEED_FLOOR, "last": 4e-12, "spread": 0.6, "flag": "balanced"}
    got = seed_ratios([_record("x", a, b), _record("x", b, None), _record("y", None, None)])
    assert got["x"] == {
        "initial": [50.0, 4.0], "floored_initial": [1.0], "after": [4.0], "floored_after": [1.0]
    }  # fmt: skip
    assert got["y"]["initial"] == [] and got["y"]["after"] == []


# ---- modern ---------------------------------------------------------------------------------

MODERN_SUMMARY = {
    "name": "modern",
    "config": {
        "base": {"width": 30, "eta": 0.1, "epochs": 30},
        "grid": {"variant": ["book", "batch_norm", "lars"], "depth": [4]},
        "variants": {"book": {}, "batch_norm": {"norm": "batch"}, "lars": {"layer_lr": "lars"}},
    },
    "points": [
        _point(
            f"variant={v},depth=4",
            {"variant": v, "depth": 4},
            n_runs=3,
            status={"done": 3, "diverged": 0, "failed": 0, "missing": 0},
            spread_initial=_desc(si),
            spread_training=_desc(st),
            flags_initial={"vanishing": 3, "balanced": 0, "exploding": 0},
            flags_training=ft,
            verdict=verdict,
            accuracy=_desc(acc),
        )
        for v, si, st, ft, verdict, acc in (
            (
                "book",
                [2.0, 1.0, 4.0],
                [2.5, 2.0, 3.5],
                {"vanishing": 3},
                "vanishing",
                [96.0, 96.5, 97.0],
            ),
            (
                "batch_norm",
                [1.5, 1.5, 1.5],
                [0.2, 0.5, 0.3],
                {"balanced": 3},
                "balanced",
                [97.0, 97.5, 98.0],
            ),
            (
                "lars",
                [2.0, 1.0, 4.0],
                [1.8, 2.2, 3.0],
                {"vanishing": 2, "balanced": 1},
                "vanishing",
                [95.0, 95.5, 96.0],
            ),
        )  # fmt: skip
    ],
}


def test_modern_part_by_hand():
    m = modern_part(MODERN_SUMMARY)
    rows = {r["variant"]: r for r in m["rows"]}
    book, bn, lars = rows["book"], rows["batch_norm"], rows["lars"]
    assert book["depth"] == 4 and book["n_runs"] == 3
    assert book["spread_initial"]["median"] == 2.0  # median of 2, 1, 4
    assert book["spread_initial"]["mean"] == pytest.approx(7 / 3)
    assert book["spread_training"]["median"] == 2.5
    assert bn["spread_training"]["median"] == 0.3
    assert book["accuracy"]["mean"] == pytest.approx(96.5)
    assert book["accuracy"]["ci_low"] == pytest.approx(95.5)
    assert lars["lars_step"] == pytest.approx(0.1 * LARS_TRUST) and book["lars_step"] is None
    assert lars["verdict"] == "vanishing" and lars["flags_training"]["balanced"] == 1


# ---- chaos ----------------------------------------------------------------------------------

CHAOS_SUMMARY = {
    "name": "chaos",
    "config": {"base": {"depth": 10, "width": 30, "init": "default"}},
    "points": [
        _point(f"{a},{g}", {"activation": a, "gain": g, "bias_gain": 0.0}, spread_initial=_desc(v))
        for a, g, v in (
            ("sigmoid", 1.0, [5.0, 6.0, 7.0]),
            ("sigmoid", 4.0, [2.0, 2.5, 1.0]),
            ("tanh", 1.0, [0.4, 0.2, 0.3]),
            ("tanh", 3.0, [1.0, 1.2, 1.1]),
        )
    ],  # fmt: skip
}


def test_chaos_part_finds_the_smallest_spread_overall_and_per_activation():
    c = chaos_part(CHAOS_SUMMARY)
    assert len(c["rows"]) == 4
    assert c["smallest"]["label"] == "tanh,1.0" and c["smallest"]["median"] == pytest.approx(0.3)
    assert c["by_activation"]["sigmoid"]["label"] == "sigmoid,4.0"
    assert c["by_activation"]["sigmoid"]["median"] == pytest.approx(2.0)
    # tanh at sigma_w = 1 without biases sits on the critical line
    assert c["by_activation"]["tanh"]["chi"] == pytest.approx(1.0, abs=1e-6)


def _beyond():
    return beyond_part(
        modern=MODERN_SUMMARY, depth=DEPTH_SUMMARY, depth_ratios=_ratios(), chaos=CHAOS_SUMMARY
    )


def test_beyond_part_holds_the_parts_that_ran():
    assert set(_beyond()) == {"title", "modern", "depth", "chaos"}
    assert set(beyond_part(chaos=CHAOS_SUMMARY)) == {"title", "chaos"}
    json.dumps(_beyond(), allow_nan=False)  # plain JSON for results.json


# ---- views ----------------------------------------------------------------------------------


def test_figures_build_with_the_theory_line_and_the_books_point():
    from layerspeed.views.figures.beyond import beyond_figures

    figs = beyond_figures(_beyond())
    assert set(figs) == {"beyond_modern", "beyond_depth", "beyond_chaos"}
    depth = json.dumps(figs["beyond_depth"].to_dict())
    assert '"theory": 1.0' in depth  # the relu + He line
    assert '"book": 100.0' in depth
    modern = figs["beyond_modern"].to_dict()
    assert "during training" in json.dumps(modern)
    assert set(beyond_figures(beyond_part(chaos=CHAOS_SUMMARY))) == {"beyond_chaos"}


def test_text_names_the_numbers_and_says_what_lars_evens():
    from layerspeed.views.text.beyond import beyond_markdown, chaos_findings, modern_findings

    b = _beyond()
    modern = " ".join(modern_findings(b["modern"]))
    assert "2.67 during training" in modern  # the book's mean training spread: (2.5+2+3.5)/3
    assert "batch_norm (spread 0.33" in modern and "+1.00 points" in modern  # 97.5 - 96.5
    assert "Still over tenfold: lars (2.33, vanishing)" in modern
    assert f"{100 * 0.1 * LARS_TRUST:.3g}% of their norm" in modern
    assert "yet the speed spread of dC/db during training stays 2.33" in modern
    # LARS whose dC/db spread is under tenfold is not said to stay vanishing
    evened = json.loads(json.dumps(b["modern"]))
    evened["rows"][2]["spread_training"]["mean"] = 0.4
    assert "under tenfold" in " ".join(modern_findings(evened))
    assert "yet" not in " ".join(modern_findings(evened))
    md = beyond_markdown(b)
    assert "| sigmoid | 4 | 100 [15.8, 631] | 27 [27, 27] |" in md
    assert "no mean-field line applies" in md and "roughly 100" in md
    assert "tanh at gain 1, bias gain 0" in " ".join(chaos_findings(b["chaos"]))
    assert "the point nearest the critical line" in md


def test_report_and_summary_have_the_section():
    from layerspeed.views.report import to_html
    from layerspeed.views.text.chapter import to_markdown

    results = {"schema_version": 2, "beyond": _beyond()}
    page = to_html(results)
    assert 'id="beyond"' in page and "Beyond the book" in page
    for fig_id in ("beyond-modern", "beyond-depth", "beyond-chaos"):
        assert f'data-figure="{fig_id}"' in page
    assert "yet the speed spread of dC/db during training stays 2.33" in page
    assert "## Beyond the book" in to_markdown(results)


def test_the_presets_plan_quick_and_on_the_data_set_asked_for(tmp_path):
    from layerspeed.beyond import PRESETS, beyond_grids, plan_beyond

    grids = beyond_grids(quick=True, dataset="synthetic")
    assert set(grids) == set(PRESETS)
    for name, g in grids.items():
        quick = load_preset(name).with_quick().studies[0]
        assert g.studies[0].seeds == quick.seeds
        assert all(p.config.dataset == "synthetic" for p in g.studies[0].points())
    later = plan_beyond(tmp_path, quick=True, dataset="mnist")
    assert {t.run_dir.split("/runs/")[0] for t in later.tasks} == {
        str((tmp_path / name).resolve()) for name in PRESETS
    }
    assert plan_beyond(tmp_path, quick=True, dataset="mnist", run=False).tasks == []


def test_a_preset_folder_that_is_a_file_is_refused_before_any_run(tmp_path):
    from layerspeed import pipeline
    from layerspeed.errors import BadInput

    (tmp_path / "chaos").write_text("not a folder")
    with pytest.raises(BadInput, match=r"chaos.* is a file, not a folder"):
        pipeline.reproduce(tmp_path, quick=True, beyond=True, dataset="synthetic", workers=1)
    assert not (tmp_path / "runs").exists()  # no chapter run started
    assert (tmp_path / "chaos").read_text() == "not a folder"


def test_reproduce_beyond_quick_end_to_end(tmp_path):
    """The whole job on the synthetic set (no download): the three presets in the same pool
    as the chapter's runs, their sweep folders, results["beyond"], summary.md and the page."""
    from layerspeed.pipeline import reproduce

    out = tmp_path / "res"
    plans = []
    finished = reproduce(out, quick=True, remedies=False, beyond=True, workers=2,
                         dataset="synthetic", on_plan=lambda n, done: plans.append(n))  # fmt: skip
    assert finished.unfinished == []
    results = json.loads((out / "results.json").read_text())
    beyond = results["beyond"]
    assert set(beyond) == {"title", "modern", "depth", "chaos"}
    total = 0
    for name in ("modern", "depth", "chaos"):
        summary = json.loads((out / name / "summary.json").read_text())
        runs = summary["runs"]
        assert runs["done"] + runs["diverged"] == runs["total"] > 0 and runs["done"] > 0
        total += runs["total"]
        assert (out / name / "figures" / "sweep.png").exists()
        assert (out / "figures" / f"beyond_{name}.png").stat().st_size > 1000
    assert plans == [results["runs"]["total"] + total]  # one pool for all of them
    assert len(beyond["modern"]["rows"]) == 12  # six variants at depth 4 and 10
    depth = {r["variant"]: r for r in beyond["depth"]["rows"]}
    assert len(depth["sigmoid"]["points"]) == 10
    # the book's network at four hidden layers: its last layer far faster than its first
    assert beyond["depth"]["chapter"]["initial"]["geomean"] > 10
    assert "## Beyond the book" in (out / "summary.md").read_text()
    page = (out / "report.html").read_text()
    assert 'id="beyond"' in page and "modern/runs" not in page


def test_the_flags_are_on_the_command_line(capsys):
    from layerspeed.cli import main

    assert main(["reproduce", "--help"]) == 0
    assert "--beyond" in capsys.readouterr().out
    assert main(["sweep", "--help"]) == 0
    text = capsys.readouterr().out
    assert all(name in text for name in ("modern", "depth", "chaos"))


def test_a_spread_interval_is_cut_at_zero():
    from layerspeed.views.text.verdicts import spread_ci

    def _ci(d):  # as the beyond table calls it
        return spread_ci(d, "–")

    assert _ci({"mean": 0.3, "median": 0.1, "ci_low": -0.7, "ci_high": 1.3}) == "0.30 [0.00, 1.30]"
    assert _ci({"mean": 2.0, "ci_low": 1.5, "ci_high": 2.5}) == "2.00 [1.50, 2.50]"
    assert _ci(None) == "–"
