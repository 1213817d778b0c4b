"""The speed of learning of a ResNet-18 shape, measured through ``layerspeed.torch``.

Trains the ResNet-18 shape of :mod:`layerspeed.torch.models` (4 stages of 2 basic blocks:
3x3 convolutions without bias, batch norm, skip connections; ``--width`` channels in the
first stage) on MNIST padded to 32x32, or on random images with ``--random``, with SGD and
momentum, recording every ``--every`` steps on a probe set of 256 training images. Its 41
layers are named by their module paths (``layer1.0.conv1``, ``layer2.0.downsample.0``, ...);
a convolution has no bias, so its speed is ||dC/dW|| (``speed_source`` "weight"), a batch
norm's is ||dC/dbeta||. Live alerts print as they fire (a layer more than 10x slower or
faster than the last layer, or over 90% saturated). The run is written as a run folder and,
where ``layerspeed report`` exists, a report.

    python examples/torch_resnet.py [--steps 250] [--width 8] [--random] [--out resnet-results]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

import layerspeed.torch as lst
from layerspeed.store import check_writable
from layerspeed.torch.models import resnet18


def images(
    args: argparse.Namespace,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Training and validation images (n, 1, 32, 32) and labels (n,)."""
    n_train, n_val = args.steps * args.batch, 1000
    if args.random:
        g = torch.Generator().manual_seed(args.seed)
        x = torch.rand(n_train + n_val, 1, 32, 32, generator=g)
        y = torch.randint(0, 10, (n_train + n_val,), generator=g)
        return x[:n_train], y[:n_train], x[n_train:], y[n_train:]
    from layerspeed.data import load_mnist

    mnist = load_mnist(offline=args.offline)

    def padded(x: np.ndarray) -> torch.Tensor:  # (n, 784) in [0, 1] -> (n, 1, 32, 32)
        return F.pad(torch.from_numpy(x.astype(np.float32)).reshape(-1, 1, 28, 28), (2, 2, 2, 2))

    train, val = mnist.training, mnist.validation
    return (
        padded(train.x[:n_train]),
        torch.from_numpy(train.labels[:n_train]).long(),
        padded(val.x[:n_val]),
        torch.from_numpy(val.labels[:n_val]).long(),
    )


def accuracy(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    model.eval()
    with torch.no_grad():
        acc = float((model(x).argmax(dim=1) == y).float().mean())
    model.train()
    return acc


def stage_table(probe: lst.Probe) -> str:
    """Each stage's median speed at the first and last record: its convolutions' ||dC/dW||,
    the linear classifier's ||dC/db||."""
    speeds = probe.series("layer_speeds")
    stages = ["conv1", "layer1", "layer2", "layer3", "layer4", "fc"]
    lines = [f"{'record':>10}  " + "  ".join(f"{s:>9}" for s in stages)]
    for row, rec in ((speeds[0], probe.history[0]), (speeds[-1], probe.history[-1])):
        cells = []
        for stage in stages:
            picked = [
                s
                for name, s in zip(probe.layer_names, row, strict=True)
                if name.split(".")[0] == stage and ("conv" in name or stage == "fc")
            ]
            cells.append(f"{float(np.median(picked)):9.2e}")
        lines.append(f"{'step ' + str(rec['step']):>10}  " + "  ".join(cells))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=250, help="optimizer steps")
    parser.add_argument("--batch", type=int, default=32, help="mini-batch size")
    parser.add_argument("--lr", type=float, default=0.05, help="learning rate (momentum 0.9)")
    parser.add_argument("--width", type=int, default=8, help="channels of the first stage")
    parser.add_argument("--every", type=int, default=50, help="record every N steps")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=2, help="torch threads")
    parser.add_argument("--random", action="store_true", help="random images, no MNIST")
    parser.add_argument("--offline", action="store_true", help="never download MNIST")
    parser.add_argument("--out", default="resnet-results", help="output folder")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    out = Path(args.out)
    check_writable(out / "resnet18", folder=True)

    x, y, x_val, y_val = images(args)
    torch.manual_seed(args.seed)
    model = resnet18(num_classes=10, in_channels=1, width=args.width)
    opt = torch.optim.SGD(model.parameters(), lr=args.lr, momentum=0.9)
    g = torch.Generator().manual_seed(args.seed)
    order = torch.randperm(len(x), generator=g)

    def on_alert(alert: lst.Alert) -> None:
        print(alert.message)

    probe_set = (x[:256], y[:256])
    with lst.watch(model, every=args.every, probe=probe_set, on_alert=on_alert) as probe:
        for k in range(0, len(x), args.batch):
            idx = order[k : k + args.batch]
            loss = F.cross_entropy(model(x[idx]), y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
    acc = accuracy(model, x_val, y_val)
    config = {
        "example": "torch_resnet",
        "data": "random" if args.random else "mnist padded to 32x32",
        "width": args.width,
        "steps": args.steps,
        "mini_batch_size": args.batch,
        "lr": args.lr,
        "momentum": 0.9,
        "validation_accuracy": acc,
    }
    probe.save(out / "resnet18", config=config, seed=args.seed)
    print(f"\n{len(probe.layer_names)} layers measured: {', '.join(probe.layer_names[:6])}, ...")
    print(f"validation accuracy after {probe.steps} steps: {acc:.3f}")
    print("\nmedian speed of learning of each stage's convolutions (||dC/dW||; fc: ||dC/db||):")
    print(stage_table(probe))
    print(f"\nalerts raised: {len(probe.alerts)}; run folder: {out / 'resnet18'}")

    from layerspeed import cli

    if "report" in cli.cli.commands:
        return cli.main(["report", str(out)])
    print(f"the report command is not there yet; later run: layerspeed report {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
