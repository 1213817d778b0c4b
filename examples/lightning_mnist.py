"""The chapter's vanishing gradient in a Lightning run, logged to TensorBoard.

The book's [784, 30, 30, 30, 30, 10] sigmoid network (its N(0, 1/n_in) weights and N(0, 1)
biases, cross-entropy, mini-batch 10, eta = 0.1) as a ``LightningModule``, trained on MNIST
with the :class:`layerspeed.lightning.LayerSpeed` callback: every ``--every`` optimizer steps
it measures each layer's speed of learning on the first 1000 training images, as the
chapter does, and logs it with the update ratio and the saturated share through the
Trainer's ``TensorBoardLogger``; the run folder is kept beside the logs. Then::

    tensorboard --logdir lightning-results

shows ``layerspeed_speed/net.hidden1`` ... ``net.hidden4``: the first hidden layer learns far slower
than the last.

    python examples/lightning_mnist.py [--epochs 5] [--n-train 10000] [--out lightning-results]
"""

from __future__ import annotations

import argparse
import math
from collections import OrderedDict
from pathlib import Path

import numpy as np
import torch
from lightning.pytorch import LightningModule, Trainer
from lightning.pytorch.loggers import TensorBoardLogger
from torch import nn

import layerspeed.torch as lst
from layerspeed.data import load_mnist, one_hot
from layerspeed.lightning import LayerSpeed
from layerspeed.store import check_writable

SIZES = (784, 30, 30, 30, 30, 10)


class BookNetwork(LightningModule):
    """network2.py's sigmoid network, logits out, the book's cross-entropy, plain SGD."""

    def __init__(self, eta: float) -> None:
        super().__init__()
        self.eta = eta
        modules: OrderedDict[str, nn.Module] = OrderedDict()
        for l, (n_in, n_out) in enumerate(zip(SIZES[:-1], SIZES[1:], strict=True), start=1):
            linear = nn.Linear(n_in, n_out)
            with torch.no_grad():
                linear.weight.normal_(0.0, 1.0 / math.sqrt(n_in))
                linear.bias.normal_(0.0, 1.0)
            last = l == len(SIZES) - 1
            modules["output" if last else f"hidden{l}"] = linear
            if not last:
                modules[f"sigmoid{l}"] = nn.Sigmoid()
        self.net = nn.Sequential(modules)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)

    def training_step(self, batch: tuple[torch.Tensor, torch.Tensor], _idx: int) -> torch.Tensor:
        x, y = batch
        loss = lst.book_cross_entropy(self(x), y)
        self.log("train_loss", loss)
        return loss

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.SGD(self.parameters(), lr=self.eta)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--n-train", type=int, default=10000, help="training images used")
    parser.add_argument("--batch", type=int, default=10, help="mini-batch size")
    parser.add_argument("--eta", type=float, default=0.1, help="learning rate")
    parser.add_argument("--every", type=int, default=100, help="record every N steps")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1, help="torch threads")
    parser.add_argument("--offline", action="store_true", help="never download MNIST")
    parser.add_argument("--out", default="lightning-results", help="TensorBoard log folder")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    check_writable(args.out, folder=True)

    mnist = load_mnist(offline=args.offline)
    train = mnist.training
    x = torch.from_numpy(train.x[: args.n_train].astype(np.float32))  # (n, 784)
    y = torch.from_numpy(one_hot(train.labels[: args.n_train]).astype(np.float32))  # (n, 10)
    g = torch.Generator().manual_seed(args.seed)
    loader = torch.utils.data.DataLoader(
        torch.utils.data.TensorDataset(x, y), batch_size=args.batch, shuffle=True, generator=g
    )

    torch.manual_seed(args.seed)
    module = BookNetwork(args.eta)
    alerts: list[lst.Alert] = []
    callback = LayerSpeed(
        every_n_steps=args.every,
        probe=(x[:1000], y[:1000]),  # the chapter's probe: the first 1000 training images
        layers=[f"net.hidden{l}" for l in range(1, len(SIZES) - 1)],
        on_alert=alerts.append,
        seed=args.seed,
    )
    logger = TensorBoardLogger(args.out, name="book-sigmoid")
    trainer = Trainer(
        max_epochs=args.epochs,
        logger=logger,
        callbacks=[callback],
        accelerator="cpu",
        devices=1,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        log_every_n_steps=100,
    )
    trainer.fit(module, loader)

    x_val = torch.from_numpy(mnist.validation.x.astype(np.float32))
    with torch.no_grad():
        acc = float((module(x_val).argmax(dim=1).numpy() == mnist.validation.labels).mean())
    probe = callback.probe
    assert probe is not None
    speeds = probe.series("layer_speeds")
    names = [n.removeprefix("net.") for n in probe.layer_names]
    print(f"validation accuracy after {args.epochs} epochs: {acc:.3f}")
    print("speed of learning ||mean dC/db|| over the 1000 probe images:")
    print(f"{'step':>6}  " + "  ".join(f"{n:>9}" for n in names) + "   last/first")
    for record, row in zip(probe.history, speeds, strict=True):
        if record is probe.history[-1] or record["step"] % (5 * args.every) == 0:
            cells = "  ".join(f"{s:9.2e}" for s in row)
            print(f"{record['step']:>6}  {cells}   {row[-1] / row[0]:9.1f}")
    for alert in alerts[:4]:
        print(alert.message)
    if len(alerts) > 4:
        print(f"... {len(alerts)} alerts in all")
    print(f"\nrun folder: {Path(logger.log_dir) / 'layerspeed'}")
    print(f"see it in TensorBoard: tensorboard --logdir {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
