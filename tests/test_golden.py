"""The refactor into one run model changed no number: tiny runs of every kind, compared bit
for bit with what layerspeed 0.1 computed for them (``golden/runs.json``).

The golden file was made with layerspeed 0.1's own run functions (``run_depth``,
``run_initial``, ``run_training`` and the sweep's ``train_run``) on the synthetic data set,
before those functions were replaced by :func:`layerspeed.experiments.run.train_run`. Each
entry holds the old config, the seed, the status and the result body; here the same run is
described as a :class:`RunConfig` and every number must come out equal, not close.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from layerspeed.experiments.config import RunConfig, hidden_sizes
from layerspeed.experiments.datasets import DataSet
from layerspeed.experiments.run import train_run
from layerspeed.store import finite

GOLDEN = json.loads((Path(__file__).parent / "golden" / "runs.json").read_text())
DATA = {"synthetic": DataSet.synthetic(300, 200)}

# What layerspeed 0.1's kinds of run recorded, in the one run model's words.
RECORD = {
    "depth": ("accuracy",),
    "initial": ("speeds", "neurons"),
    "training": ("speeds", "training_accuracy"),
    "sweep": ("accuracy", "speeds", "diagnostics"),
}


def as_run_config(old: dict[str, Any]) -> RunConfig:
    kind = old["kind"]
    fields = {k: v for k, v in old.items() if k not in ("kind", "depth", "width", "data")}
    fields["sizes"] = tuple(old["sizes"])
    fields["dataset"] = "synthetic"
    fields["record"] = RECORD[kind]
    fields["engine"] = "numpy"  # 0.1's engine; the compiled one agrees to rounding
    if kind == "initial":
        fields |= {"epochs": 0, "n_train": old["n_probe"]}
    if kind == "training":
        fields |= {"mini_batch_size": old["n_train"], "n_probe": old["n_train"]}
    if kind == "depth":
        fields["n_eval"] = 200  # the old depth run scored every evaluation image it was given
    if kind == "sweep":
        assert fields["sizes"] == hidden_sizes(old["depth"], old["width"])
    return RunConfig(**fields)


def same(new: Any, old: Any, where: str) -> None:
    """Equal, bit for bit: floats compared with ==, after both went through JSON."""
    assert json.dumps(new, allow_nan=True) == json.dumps(old, allow_nan=True), where


@pytest.mark.parametrize("name", sorted(GOLDEN))
def test_the_one_run_model_reproduces_layerspeed_0_1_bit_for_bit(name: str) -> None:
    entry = GOLDEN[name]
    old_config = entry["config"]
    config = as_run_config(old_config)
    result = train_run(config, entry["seed"], DATA)
    # As result.json is written: NaN and inf as null (layerspeed.store.finite).
    body = json.loads(json.dumps(finite(result.to_dict(config, entry["seed"], "golden"))))
    old = entry["result"]
    assert result.status == entry["status"]
    for key, value in old.items():
        if entry["config"]["kind"] == "initial" and key not in ("seed", "layer_names", "epochs"):
            # 0.1 also kept the reading of the initialized network at the top level.
            same(body["epochs"][0][key], value, f"{name}: epochs[0].{key}")
        else:
            same(body[key], value, f"{name}: {key}")


def test_the_golden_runs_cover_every_kind_and_a_divergence() -> None:
    kinds = {e["config"]["kind"] for e in GOLDEN.values()}
    assert kinds == set(RECORD)
    assert any(e["status"] == "diverged" for e in GOLDEN.values())
