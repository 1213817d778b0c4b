"""The Lightning callback: the probe's numbers through the Trainer's logger, and the run folder."""

from __future__ import annotations

import csv
import math
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip(
    "torch", reason='PyTorch is an optional extra (pip install "layerspeed[torch]")'
)
pl = pytest.importorskip(
    "lightning.pytorch",
    reason='Lightning is an optional extra (pip install "layerspeed[lightning]")',
)

import torch  # noqa: E402
from lightning.pytorch.loggers import CSVLogger  # noqa: E402
from torch import nn  # noqa: E402

from layerspeed.errors import BadInput  # noqa: E402
from layerspeed.lightning import LayerSpeed  # noqa: E402
from layerspeed.store import RunDir  # noqa: E402

LAYERS = ["net.0", "net.2", "net.4"]


class Tiny(pl.LightningModule):
    def __init__(self) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(6, 5), nn.Sigmoid(), nn.Linear(5, 4), nn.Tanh(), nn.Linear(4, 3)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)

    def training_step(self, batch: tuple[torch.Tensor, torch.Tensor], _idx: int) -> torch.Tensor:
        x, y = batch
        loss = nn.functional.cross_entropy(self.net(x), y)  # not through forward
        self.log("train_loss", loss)
        return loss

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.SGD(self.parameters(), lr=0.1)


def data(n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, 6, generator=g), torch.randint(0, 3, (n,), generator=g)


def fit(tmp_path: Path, callback: LayerSpeed, steps: int = 7) -> tuple[Path, Tiny]:
    torch.manual_seed(0)
    module = Tiny()
    x, y = data(8 * steps, 1)
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, y), batch_size=8)
    logger = CSVLogger(tmp_path, name="tiny")
    trainer = pl.Trainer(
        max_steps=steps,
        logger=logger,
        callbacks=[callback],
        accelerator="cpu",
        devices=1,
        enable_progress_bar=False,
        enable_model_summary=False,
        enable_checkpointing=False,
        log_every_n_steps=50,  # Lightning's own logging sparser than ours: ours still logs
    )
    trainer.fit(module, loader)
    return Path(logger.log_dir), module


def rows(log_dir: Path) -> list[dict[str, str]]:
    with open(log_dir / "metrics.csv", newline="") as f:
        return [r for r in csv.DictReader(f) if r.get("layerspeed_speed/net.0")]


@pytest.mark.parametrize("with_probe_set", [True, False])
def test_logs_the_per_layer_quantities_through_the_csv_logger(
    tmp_path: Path, with_probe_set: bool
) -> None:
    callback = LayerSpeed(
        every_n_steps=3, probe=data(30, 2) if with_probe_set else None, alert_ratio=None, seed=0
    )
    log_dir, _ = fit(tmp_path, callback)
    got = rows(log_dir)
    probe = callback.probe
    assert probe is not None and not probe.attached
    assert [r["step"] for r in probe.history] == [0, 3, 6]
    assert [int(r["step"]) for r in got] == [0, 3, 6]
    for row, record in zip(got, probe.history, strict=True):
        assert record["source"] == ("probe" if with_probe_set else "training")
        for l, name in enumerate(LAYERS):
            assert float(row[f"layerspeed_speed/{name}"]) == pytest.approx(
                record["layer_speeds"][l], rel=1e-6
            )
            assert float(row[f"layerspeed_weight_grad_norm/{name}"]) == pytest.approx(
                record["weight_grad_norms"][l], rel=1e-6
            )
            ratio = float(row[f"layerspeed_update_ratio/{name}"])  # the step taken after it
            assert ratio > 0 and ratio == pytest.approx(record["update_ratio"][l], rel=1e-6)
            assert math.isfinite(record["layer_speeds"][l]) and record["layer_speeds"][l] > 0
        # a sigmoid after net.0, a tanh after net.2, nothing after the output layer
        assert 0 <= float(row["layerspeed_saturated_share/net.0"]) <= 1
        assert 0 <= float(row["layerspeed_saturated_share/net.2"]) <= 1
        assert row.get("layerspeed_saturated_share/net.4", "") == ""
    example = "layerspeed_mean_example_norm/net.0"
    assert (example in got[0] and got[0][example] != "") == with_probe_set
    # the run folder beside the logs
    run = RunDir(log_dir / "layerspeed")
    assert run.is_ended() and run.status == "done"
    assert run.result["layer_names"] == LAYERS
    assert run.config["seed"] == 0 and run.config["config"]["trainer"] == "lightning"
    assert [r["step"] for r in run.result["epochs"]] == [0, 3, 6]


def test_training_gradients_are_those_of_the_step(tmp_path: Path) -> None:
    """Without a probe set the record reads .grad after the closure's backward pass."""
    seen: dict[int, float] = {}

    class Spy(pl.Callback):
        def on_before_optimizer_step(self, trainer, pl_module, optimizer) -> None:
            seen[trainer.global_step] = float(pl_module.net[0].bias.grad.norm())

    callback = LayerSpeed(every_n_steps=2, alert_ratio=None, run_dir=False)
    torch.manual_seed(0)
    module = Tiny()
    x, y = data(40, 1)
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, y), batch_size=8)
    trainer = pl.Trainer(
        max_steps=5,
        logger=False,
        callbacks=[callback, Spy()],
        enable_progress_bar=False,
        enable_model_summary=False,
        enable_checkpointing=False,
    )
    trainer.fit(module, loader)
    probe = callback.probe
    assert probe is not None and [r["step"] for r in probe.history] == [0, 2, 4]
    for record in probe.history:
        assert record["layer_speeds"][0] == pytest.approx(seen[record["step"]], rel=1e-6)


def test_bad_arguments_and_unwritable_run_folder(tmp_path: Path) -> None:
    with pytest.raises(BadInput, match="every_n_steps must be at least 1"):
        LayerSpeed(every_n_steps=0)
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(BadInput, match="not a folder"):
        fit(tmp_path, LayerSpeed(every_n_steps=2, run_dir=blocker), steps=2)


def test_import_without_lightning_names_the_extra() -> None:
    code = (
        "import sys; sys.modules['lightning'] = None; sys.modules['lightning.pytorch'] = None\n"
        "try:\n"
        "    import layerspeed.lightning\n"
        "except ImportError as e:\n"
        "    print(e)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert 'pip install "layerspeed[lightning]"' in out.stdout
