"""Grids of runs in TOML: one study or several ``[studies.NAME]``, every mistake one line, the
grid's points and labels, ``[quick]`` and ``--seeds``, and the two presets."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from layerspeed.errors import BadInput
from layerspeed.experiments.config import RunConfig
from layerspeed.experiments.grid import (
    QUICK,
    SWEEP_DEFAULTS,
    Grid,
    Study,
    load_grid,
    load_preset,
    parse_grid,
)
from layerspeed.nn.activations import ACTIVATIONS

BOOK_SIZES = [
    (784, 30, 10),
    (784, 30, 30, 10),
    (784, 30, 30, 30, 10),
    (784, 30, 30, 30, 30, 10),
]
TINY_BASE = {
    "depth": 3,
    "width": 8,
    "epochs": 2,
    "n_train": 300,
    "n_probe": 100,
    "n_eval": 200,
    "dataset": "synthetic",
}


def tiny(**grid: Any) -> dict[str, Any]:
    base = {k: v for k, v in TINY_BASE.items() if k not in grid}
    return {"name": "tiny", "seeds": 2, "base": base, "grid": grid}


def one(data: dict[str, Any]) -> Study:
    grid = parse_grid(data)
    assert not grid.nested and len(grid.studies) == 1
    return grid.studies[0]


def bad(data: dict[str, Any]) -> str:
    with pytest.raises(BadInput) as e:
        parse_grid(data)
    text = str(e.value)
    assert "\n" not in text
    return text


# ---- one study ------------------------------------------------------------------------------


def test_one_study_file(tmp_path: Path) -> None:
    p = tmp_path / "mine.toml"
    p.write_text(
        'seeds = [0, 7]\n[base]\ndepth = 2\nwidth = 5\ndataset = "synthetic"\n'
        '[grid]\nactivation = ["sigmoid", "relu"]\neta = [0.1, 1]\n'
    )
    grid = load_grid(p)
    assert isinstance(grid, Grid) and grid.name == "mine" and not grid.nested  # named by file
    (study,) = grid.studies
    assert study.name == "mine" and study.seeds == (0, 7)
    points = study.points()
    assert [p.label for p in points] == [
        "activation=sigmoid,eta=0.1",
        "activation=sigmoid,eta=1.0",  # the last axis varies fastest; 1 is the float 1.0
        "activation=relu,eta=0.1",
        "activation=relu,eta=1.0",
    ]
    assert points[3].params == {"activation": "relu", "eta": 1.0}
    c = points[3].config
    assert c.sizes == (784, 5, 5, 10) and c.activation == "relu" and c.eta == 1.0
    # What the file does not give takes a sweep's defaults, then RunConfig's.
    assert c.epochs == SWEEP_DEFAULTS["epochs"] and c.n_train == SWEEP_DEFAULTS["n_train"]
    assert c.record == SWEEP_DEFAULTS["record"] and c.lmbda == RunConfig((784, 1, 10)).lmbda


def test_grid_counts_and_distinct_labels() -> None:
    data = tiny(activation=["sigmoid", "tanh", "relu"], init=["default", "he"], eta=[0.1, 1])
    data["seeds"] = [0, 5, 7]
    study = one(data)
    points = study.points()
    assert len(points) == 3 * 2 * 2 and len({p.label for p in points}) == 12
    assert points[0].label == "activation=sigmoid,init=default,eta=0.1"
    assert points[-1].config.activation == "relu" and points[-1].config.init == "he"
    assert study.seeds == (0, 5, 7)


def test_a_sizes_axis_is_labelled_by_the_sizes_alone() -> None:
    study = one(
        {"grid": {"sizes": [list(s) for s in BOOK_SIZES[:2]]}, "base": {"dataset": "synthetic"}}
    )
    assert [p.label for p in study.points()] == ["784-30-10", "784-30-30-10"]
    assert [p.config.sizes for p in study.points()] == BOOK_SIZES[:2]
    # The default depth and width give way to the sizes.
    assert study.points()[0].params == {"sizes": (784, 30, 10)}


def test_depth_and_width_make_the_sizes() -> None:
    study = one(tiny(depth=[1, 4], width=[5]))
    assert [p.config.sizes for p in study.points()] == [(784, 5, 10), (784, 5, 5, 5, 5, 10)]
    assert [p.label for p in study.points()] == ["depth=1,width=5", "depth=4,width=5"]


def test_sizes_with_depth_or_width_is_refused() -> None:
    assert "either sizes or depth and width" in bad(tiny(sizes=[[784, 30, 10]]))
    data = tiny(eta=[0.1])
    data["base"]["sizes"] = [784, 30, 10]
    assert "either sizes or depth and width" in bad(data)


def test_the_old_data_key_is_an_alias_of_dataset() -> None:
    data = tiny(activation=["relu"])
    data["base"]["data"] = data["base"].pop("dataset")
    assert one(data).points()[0].config.dataset == "synthetic"
    study = one({"grid": {"data": ["synthetic", "mnist"]}})
    assert [p.config.dataset for p in study.points()] == ["synthetic", "mnist"]
    assert list(study.axes) == ["dataset"]
    assert "base.dataset" in bad({**tiny(eta=[0.1]), "base": {"data": "cifar"}})


def test_seeds_a_count_or_a_list() -> None:
    assert one({**tiny(eta=[0.1]), "seeds": 3}).seeds == (0, 1, 2)
    assert one({**tiny(eta=[0.1]), "seeds": [4, 2]}).seeds == (4, 2)
    no_seeds = tiny(eta=[0.1])
    del no_seeds["seeds"]
    assert one(no_seeds).seeds == (0,)


def test_study_to_dict_is_plain() -> None:
    d = one({"name": "tiny", "seeds": 2, "grid": {"sizes": [[784, 8, 10]]}}).to_dict()
    assert d == {"name": "tiny", "base": {}, "grid": {"sizes": [[784, 8, 10]]}, "seeds": [0, 1]}


# ---- every mistake, one line ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "key"),
    [
        ({**tiny(activation=["relu"]), "grdi": {}}, "'grdi'"),
        ({**tiny(activation=["relu"]), "base": {"etaa": 0.1}}, "'base.etaa'"),
        (tiny(activation=["relu"], learning_rate=[0.1]), "'grid.learning_rate'"),
        ({**tiny(eta=[0.1]), "quick": {"epoch": 1}}, "'quick.epoch'"),
        ({"name": "x", "seeds": 1, "studies": {"a": tiny(eta=[0.1])}}, "'seeds'"),
    ],
)
def test_unknown_key(data: dict[str, Any], key: str) -> None:
    text = bad(data)
    assert "unknown key" in text and key in text
    assert "allowed keys" in text or "only name and studies" in text


def test_unknown_key_lists_the_allowed_ones() -> None:
    text = bad({**tiny(activation=["relu"]), "base": {"etaa": 0.1}})
    for allowed in ("eta", "depth", "width", "dataset", "record"):
        assert allowed in text


def test_unknown_value_names_the_key_and_the_allowed_values() -> None:
    text = bad(tiny(activation=["sigmoid", "swish"]))
    assert "grid.activation" in text and "'swish'" in text
    for name in ACTIVATIONS:
        assert name in text
    data = tiny(eta=[0.1])
    data["base"]["init"] = "glorot"
    text = bad(data)
    assert "base.init" in text and "xavier_normal" in text and "he" in text


@pytest.mark.parametrize(
    "data",
    [
        {"name": "x", "grid": {}},  # a table with no axes
        {"name": "x", "base": {"eta": 0.1}},  # no [grid] at all
        tiny(activation=[]),  # an empty axis
    ],
)
def test_empty_grid(data: dict[str, Any]) -> None:
    assert "empty" in bad(data)


def test_an_empty_axis_says_which() -> None:
    assert bad(tiny(eta=[0.1], activation=[])).startswith("grid.activation: the axis is empty")


def test_bad_numbers() -> None:
    text = bad(tiny(eta=[0.1, -0.5]))
    assert "grid.eta" in text and "-0.5" in text and "positive" in text
    data = tiny(activation=["relu"])
    data["base"]["eta"] = -1
    assert "base.eta" in bad(data)
    assert "grid.depth" in bad(tiny(depth=[2, 1.5]))
    assert "grid.depth" in bad(tiny(depth=[True]))
    assert "grid.width" in bad(tiny(width=[0]))
    assert "must be a list" in bad(tiny(eta=0.1))


def test_a_repeated_value() -> None:
    assert "repeats" in bad(tiny(eta=[0.1, 0.1]))
    assert "grid.gain" in bad(tiny(gain=[1, 1.0]))  # one run: 1 and 1.0 are the same gain
    assert "grid.activation" in bad(tiny(activation=["relu", "tanh", "relu"]))


def test_a_key_both_fixed_and_an_axis() -> None:
    data = tiny(eta=[0.1])
    data["base"]["eta"] = 0.5
    text = bad(data)
    assert "base.eta" in text and "grid axis" in text


@pytest.mark.parametrize(
    ("seeds", "words"),
    [
        (0, ">= 1"),
        (-2, ">= 1"),
        ([], "empty"),
        ([1, 1], "repeats"),
        ([-1], ">= 0"),
        ([0, 1.5], ">= 0"),
        ([True], ">= 0"),
        ("3", "count or a list"),
        (True, "count or a list"),
    ],
)
def test_bad_seeds(seeds: Any, words: str) -> None:
    text = bad({**tiny(eta=[0.1]), "seeds": seeds})
    assert text.startswith("seeds:") and words in text


def test_a_grid_point_that_is_no_valid_run_names_the_point() -> None:
    text = bad(tiny(n_train=[50, 300]))  # n_probe 100 > n_train 50
    assert "grid point n_train=50" in text and "n_probe" in text


def test_data_and_dataset_together_is_refused() -> None:
    data = tiny(eta=[0.1])
    data["base"] |= {"data": "synthetic", "dataset": "mnist"}
    assert "dataset" in bad(data)


def test_a_mistake_in_one_of_several_studies_names_the_study() -> None:
    text = bad({"studies": {"a": {"grid": {"eta": [0.1, 0.1]}}}})
    assert text.startswith("studies.a.grid.eta")


def test_bad_names_and_tables() -> None:
    assert "name" in bad({**tiny(eta=[0.1]), "name": "a/b"})
    assert "name" in bad({**tiny(eta=[0.1]), "name": ".hidden"})
    assert "name" in bad({**tiny(eta=[0.1]), "name": ""})
    assert "seed_factor" in bad({**tiny(eta=[0.1]), "seed_factor": 0})
    assert "[base]" in bad({**tiny(eta=[0.1]), "base": 3})


def test_load_grid_reports_bad_toml_and_a_missing_file(tmp_path: Path) -> None:
    p = tmp_path / "broken.toml"
    p.write_text("[grid\nactivation = 1\n")
    with pytest.raises(BadInput, match="not valid TOML"):
        load_grid(p)
    with pytest.raises(BadInput, match="cannot read"):
        load_grid(tmp_path / "absent.toml")


# ---- [quick] and --seeds ----------------------------------------------------------------------


def test_quick_overrides_fixed_values_and_seeds() -> None:
    data = tiny(activation=["sigmoid", "relu"])
    data["quick"] = {"seeds": 1, "epochs": 1, "n_train": 200}
    study = one(data)
    quick = study.with_quick()
    assert quick.seeds == (0,) and quick.base["epochs"] == 1 and quick.quick == {}
    assert {p.config.epochs for p in quick.points()} == {1}
    assert {p.config.n_train for p in quick.points()} == {200}
    assert {p.config.epochs for p in study.points()} == {2}  # the study itself is unchanged
    assert [p.label for p in quick.points()] == [p.label for p in study.points()]


def test_quick_without_a_table_takes_the_default_quick() -> None:
    quick = one(tiny(activation=["relu"]) | {"base": {"dataset": "synthetic"}}).with_quick()
    c = quick.points()[0].config
    assert len(quick.seeds) == QUICK["seeds"]
    assert (c.epochs, c.n_train, c.n_eval) == (QUICK["epochs"], QUICK["n_train"], QUICK["n_eval"])


def test_quick_mistakes() -> None:
    assert "quick.eta" in bad({**tiny(eta=[0.1]), "quick": {"eta": 0.2}})  # an axis
    assert "seeds" in bad({**tiny(eta=[0.1]), "quick": {"seeds": 0}})
    assert "quick.epochs" in bad({**tiny(eta=[0.1]), "quick": {"epochs": -1}})
    # The quick variant must make valid runs too: n_probe 100 > n_train 50.
    assert "n_probe" in bad({**tiny(eta=[0.1]), "quick": {"n_train": 50}})


def test_with_seeds() -> None:
    study = one({**tiny(eta=[0.1]), "seeds": 5, "seed_factor": 4})
    assert study.with_seeds(3, quick=True).seeds == tuple(range(12))
    assert study.with_seeds(1, quick=True).seeds == (0, 1, 2, 3)
    assert study.with_seeds(3).seeds == tuple(range(12))
    assert study.with_seeds(1).seeds == tuple(range(5))  # never fewer than the file's own


# ---- several studies ----------------------------------------------------------------------------


def two_studies() -> dict[str, Any]:
    return {
        "name": "pair",
        "studies": {
            "deep": {
                "title": "{epochs} epochs on {n_train} images",
                "seeds": 2,
                "base": {"epochs": 4, "n_train": 500, "dataset": "synthetic"},
                "grid": {"sizes": [[784, 8, 8, 10], [784, 8, 8, 8, 10]]},
                "quick": {"seeds": 1, "epochs": 1},
            },
            "fresh": {
                "seeds": 3,
                "seed_factor": 4,
                "base": {"epochs": 0, "n_train": 50, "n_probe": 50, "record": ["speeds"]},
                "grid": {"sizes": [[784, 8, 10]]},
            },
        },
    }


def test_a_file_of_several_studies() -> None:
    grid = parse_grid(two_studies())
    assert grid.nested and grid.name == "pair"
    assert [s.name for s in grid.studies] == ["deep", "fresh"]
    deep, fresh = grid.studies
    assert deep.display_title() == "4 epochs on 500 images"
    assert fresh.seed_factor == 4 and fresh.seeds == (0, 1, 2)
    # A study of several has no sweep defaults: RunConfig's own.
    c = fresh.points()[0].config
    assert c.epochs == 0 and c.record == ("speeds",) and c.dataset == "mnist"
    quick = grid.with_quick()
    assert [len(s.seeds) for s in quick.studies] == [1, QUICK["seeds"]]
    assert quick.studies[0].points()[0].config.epochs == 1
    seeded = grid.with_seeds(2, quick=True)
    assert [len(s.seeds) for s in seeded.studies] == [2, 8]


def test_mistakes_in_a_file_of_several_studies() -> None:
    data = two_studies()
    data["studies"]["deep"]["base"]["etaa"] = 0.1
    assert "'studies.deep.base.etaa'" in bad(data)
    data = two_studies()
    data["studies"]["deep"]["colour"] = "red"
    assert "'studies.deep.colour'" in bad(data)
    data = two_studies()
    del data["studies"]["deep"]["grid"]
    assert "studies.deep.grid" in bad(data)
    data = two_studies()
    data["studies"]["deep"]["name"] = "other"
    assert "studies.deep.name" in bad(data)
    data = two_studies()
    data["studies"]["deep"]["quick"]["sizes"] = [784, 8, 10]
    assert "studies.deep.quick.sizes" in bad(data)
    assert "studies" in bad({"studies": {}})
    assert "studies.a" in bad({"studies": {"a": 3}})
    assert "name" in bad({**two_studies(), "name": "a/b"})


# ---- the presets ---------------------------------------------------------------------------------


def test_the_chapter_preset_is_the_books_four_studies() -> None:
    grid = load_preset("chapter")
    assert grid.name == "chapter" and grid.nested
    assert [s.name for s in grid.studies] == ["depth", "neurons", "initial", "training"]
    depth, neurons, initial, training = grid.studies
    assert [p.config.sizes for p in depth.points()] == BOOK_SIZES
    assert [p.label for p in depth.points()] == [
        "784-30-10",
        "784-30-30-10",
        "784-30-30-30-10",
        "784-30-30-30-30-10",
    ]
    assert [p.config.sizes for p in neurons.points()] == [BOOK_SIZES[1]]
    assert [p.config.sizes for p in initial.points()] == BOOK_SIZES[1:]
    assert [p.config.sizes for p in training.points()] == BOOK_SIZES[1:]
    assert [len(s.seeds) for s in grid.studies] == [5, 20, 20, 5]
    assert [len(s.seeds) for s in grid.with_quick().studies] == [2, 8, 8, 2]
    assert [s.seed_factor for s in grid.studies] == [1, 4, 4, 1]
    # The book's hyper-parameters.
    d = depth.points()[0].config
    assert (d.epochs, d.mini_batch_size, d.eta, d.lmbda, d.n_train, d.n_eval) == (
        30, 10, 0.1, 5.0, 50_000, 10_000,
    )  # fmt: skip
    assert d.dataset == "mnist" and d.record == ("accuracy",)
    for s in (neurons, initial):
        c = s.points()[0].config
        assert c.epochs == 0 and c.n_probe == 1000 and c.records("neurons")
    t = training.points()[0].config
    assert t.epochs == 500 and t.full_batch and t.n_probe == t.n_train == 1000
    assert t.records("speeds") and t.records("training_accuracy")
    assert "500 epochs" in training.display_title() and "30 epochs" in depth.display_title()


def test_the_chapter_preset_quick() -> None:
    depth, _, _, training = load_preset("chapter").with_quick().studies
    assert {p.config.epochs for p in depth.points()} == {2}
    assert {p.config.n_train for p in depth.points()} == {5000}
    assert {p.config.epochs for p in training.points()} == {50}
    assert "2 epochs on 5000 images" in depth.display_title()


def test_reproduce_seeds_scale_the_cheap_studies_by_four() -> None:
    grid = load_preset("chapter")
    assert [len(s.seeds) for s in grid.with_seeds(10).studies] == [10, 40, 40, 10]
    quick = grid.with_quick().with_seeds(1, quick=True)
    assert [len(s.seeds) for s in quick.studies] == [1, 4, 4, 1]


def test_reproduce_seeds_below_the_files_count() -> None:
    # `reproduce --seeds 1`: 1 depth and 1 training seed, and at least 20 of the cheap ones.
    grid = load_preset("chapter")
    assert [len(s.seeds) for s in grid.with_seeds(1).studies] == [1, 20, 20, 1]


def test_the_remedies_preset() -> None:
    grid = load_preset("remedies")
    assert grid.name == "remedies" and not grid.nested
    (study,) = grid.studies
    assert list(study.axes) == ["activation", "init"]
    assert len(study.axes["activation"]) == len(study.axes["init"]) == 6
    assert "scaled_sigmoid" in study.axes["activation"] and "he" in study.axes["init"]
    points = study.points()
    assert len(points) == 36 and len(study.seeds) == 3
    assert {p.config.sizes for p in points} == {BOOK_SIZES[3]}
    assert points[0].label == "activation=sigmoid,init=default"
    c = points[0].config
    assert (c.epochs, c.n_train, c.n_probe, c.n_eval) == (3, 10_000, 1000, 10_000)
    assert c.records("accuracy") and c.records("diagnostics")
    quick = study.with_quick()
    assert len(quick.seeds) == 2 and {p.config.epochs for p in quick.points()} == {1}
    assert {p.config.n_train for p in quick.points()} == {2000}


def test_an_unknown_preset() -> None:
    with pytest.raises(BadInput, match="unknown preset 'nope'.*chapter, remedies"):
        load_preset("nope")


def test_the_example_grid_is_valid() -> None:
    grid = load_grid(Path(__file__).parents[1] / "examples" / "sweep.toml")
    (study,) = grid.studies
    assert grid.name == "depth-activation-init" and len(study.points()) == 36
    assert len(study.with_quick().seeds) == 2


# ------------------------------------------------------------- runs counted before planned


def test_a_billion_seeds_is_refused_before_any_list_is_made() -> None:
    import time

    from layerspeed.experiments.grid import MAX_RUNS

    start = time.perf_counter()
    with pytest.raises(BadInput, match=r"1,000,000,000 seeds is more than"):
        parse_grid({"seeds": 1_000_000_000, "grid": {"activation": ["sigmoid"]}})
    assert time.perf_counter() - start < 1.0
    with pytest.raises(BadInput, match=f"more than {MAX_RUNS:,}"):
        parse_grid({"seeds": 600_000, "grid": {"activation": ["sigmoid", "relu"]}})


def test_a_huge_grid_asks_for_yes_and_says_how_to_split() -> None:
    from layerspeed.experiments.grid import CONFIRM_RUNS

    data = {"seeds": 3, "grid": {"eta": [0.1 * (i + 1) for i in range(50)], "gain": [1.0] * 1}}
    data["grid"]["lmbda"] = [float(i) for i in range(100)]
    with pytest.raises(BadInput) as info:
        parse_grid(data, max_runs=CONFIRM_RUNS)
    message = str(info.value)
    assert "15,000 runs (5,000 grid points x 3 seeds)" in message
    assert "grid.lmbda" in message and "--yes" in message
    assert len(parse_grid({"seeds": 1, "grid": {"activation": ["sigmoid"]}}).studies) == 1
    # over the hard limit --yes cannot help, so the message does not offer it
    data["grid"]["eta"] = [0.001 * (i + 1) for i in range(5000)]
    with pytest.raises(BadInput) as info:
        parse_grid(data, max_runs=CONFIRM_RUNS)
    assert "more than 1,000,000" in str(info.value) and "--yes" not in str(info.value)


def test_with_seeds_counts_before_it_builds() -> None:
    grid = parse_grid({"seeds": 1, "grid": {"activation": ["sigmoid", "relu"]}})
    with pytest.raises(BadInput, match="give fewer seeds"):
        grid.with_seeds(1_000_000_000)


def test_a_one_epoch_title_is_singular() -> None:
    table = {"title": "{epochs} epochs on {n_train} images", "seeds": 1}
    table |= {"base": {"epochs": 1, "n_train": 1, "sizes": [784, 10, 10]}}
    table["grid"] = {"activation": ["sigmoid"]}
    grid = parse_grid({"studies": {"one": table}})
    assert grid.studies[0].display_title() == "1 epoch on 1 image"
