"""The examples run end to end, small: each writes what it says it writes.

They need the extras they demonstrate (PyTorch; Lightning and TensorBoard), and skip with a
reason without them. The MNIST ones read the cache only (``--offline``).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def _run(script: str, *args: str, cwd: Path) -> str:
    done = subprocess.run(
        [sys.executable, str(EXAMPLES / script), *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def test_torch_resnet_on_random_images_writes_its_run_folder_and_report(tmp_path: Path) -> None:
    pytest.importorskip("torch", reason='PyTorch is an extra ("layerspeed[torch]")')
    out = tmp_path / "resnet"
    text = _run("torch_resnet.py", "--random", "--steps", "12", "--every", "4",
                "--batch", "8", "--out", str(out), cwd=tmp_path)  # fmt: skip
    result = json.loads((out / "resnet18" / "result.json").read_text())
    names = result["layer_names"]
    assert "conv1" in names and "layer1.0.conv1" in names and "fc" in names
    assert [r["step"] for r in result["epochs"]] == [0, 4, 8]
    assert (out / "report.html").stat().st_size > 0
    assert "layers measured" in text


@pytest.mark.mnist
def test_lightning_mnist_logs_the_speeds_to_tensorboard(tmp_path: Path) -> None:
    pytest.importorskip("lightning", reason='Lightning is an extra ("layerspeed[lightning]")')
    pytest.importorskip("tensorboard", reason='TensorBoard is an extra ("layerspeed[tensorboard]")')
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    out = tmp_path / "tb"
    text = _run("lightning_mnist.py", "--epochs", "1", "--n-train", "1000", "--every", "20",
                "--offline", "--out", str(out), cwd=tmp_path)  # fmt: skip
    events = sorted(out.rglob("events.out.tfevents.*"))
    assert events, f"no event file under {out}"
    acc = EventAccumulator(str(events[0].parent))
    acc.Reload()
    tags = acc.Tags()["scalars"]
    speed_tags = [t for t in tags if t.startswith("layerspeed_speed/")]
    assert len(speed_tags) == 4, tags  # the four hidden layers of [784,30,30,30,30,10]
    first = acc.Scalars("layerspeed_speed/net.hidden1")[0].value
    last = acc.Scalars("layerspeed_speed/net.hidden4")[0].value
    assert last > 10 * first  # the chapter's picture at the first record: vanishing
    assert "validation accuracy" in text
