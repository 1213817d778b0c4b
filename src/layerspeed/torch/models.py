"""Real architectures to measure: a ResNet-18-shaped network, a Transformer, an LSTM.

Written here, with nothing from torchvision (its registry wheel is a CUDA build, which fails
to import beside the pinned CPU torch), so that the probe's tests, benchmark and examples
run them with random weights and no download. Each takes its randomness from the global
torch generator: call ``torch.manual_seed(seed)`` first.

- :func:`resnet18`: He et al. (2016)'s ResNet-18 shape, four stages of two basic blocks
  (3x3 convolutions *without* bias, each followed by batch norm; the skip connection, a
  1x1 convolution and batch norm where the shape changes). ``width`` scales the channels
  (64 in the paper); ``small_input`` (32x32 images) uses a 3x3 stem without max pooling.
- :class:`TransformerClassifier`: ``nn.TransformerEncoder`` over a sequence of feature
  vectors, learned positions, mean pooling, a linear head.
- :class:`LSTMClassifier`: ``nn.LSTM`` over a sequence, the last hidden state to a linear
  head.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn


class BasicBlock(nn.Module):
    """Two 3x3 convolutions with batch norm, and the skip connection around them."""

    def __init__(self, c_in: int, c_out: int, stride: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(c_out)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, stride=1, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(c_out)
        self.relu = nn.ReLU(inplace=True)
        self.downsample: nn.Module | None = None
        if stride != 1 or c_in != c_out:
            self.downsample = nn.Sequential(
                nn.Conv2d(c_in, c_out, 1, stride=stride, bias=False), nn.BatchNorm2d(c_out)
            )

    def forward(self, x: Tensor) -> Tensor:
        skip = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + skip)


class ResNet(nn.Module):
    """Stem, four stages of basic blocks, global average pooling, a linear classifier."""

    def __init__(
        self,
        blocks: tuple[int, ...] = (2, 2, 2, 2),
        *,
        num_classes: int = 10,
        in_channels: int = 3,
        width: int = 64,
        small_input: bool = True,
    ) -> None:
        super().__init__()
        if small_input:
            self.conv1 = nn.Conv2d(in_channels, width, 3, stride=1, padding=1, bias=False)
            self.maxpool: nn.Module = nn.Identity()
        else:
            self.conv1 = nn.Conv2d(in_channels, width, 7, stride=2, padding=3, bias=False)
            self.maxpool = nn.MaxPool2d(3, stride=2, padding=1)
        self.bn1 = nn.BatchNorm2d(width)
        self.relu = nn.ReLU(inplace=True)
        stages: list[nn.Sequential] = []
        c_in = width
        for i, n in enumerate(blocks):
            c_out = width * 2**i
            stride = 1 if i == 0 else 2
            stages.append(
                nn.Sequential(
                    *(BasicBlock(c_in if b == 0 else c_out, c_out, stride if b == 0 else 1)
                      for b in range(n))
                )
            )  # fmt: skip
            c_in = c_out
        self.layer1, self.layer2, self.layer3, self.layer4 = stages
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(c_in, num_classes)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")

    def forward(self, x: Tensor) -> Tensor:
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(torch.flatten(self.avgpool(x), 1))


def resnet18(
    *, num_classes: int = 10, in_channels: int = 3, width: int = 64, small_input: bool = True
) -> ResNet:
    """ResNet-18's shape: 2 basic blocks in each of 4 stages, 17 convolutions and a linear."""
    return ResNet(
        (2, 2, 2, 2),
        num_classes=num_classes,
        in_channels=in_channels,
        width=width,
        small_input=small_input,
    )


class TransformerClassifier(nn.Module):
    """Inputs (n, seq, features): a linear embedding, learned positions, encoder, mean, head."""

    def __init__(
        self,
        n_features: int,
        num_classes: int,
        *,
        d_model: int = 32,
        n_heads: int = 4,
        n_layers: int = 2,
        max_len: int = 64,
        dropout: float = 0.1,
    ) -> None:
        super().__init__()
        self.embed = nn.Linear(n_features, d_model)
        self.pos = nn.Embedding(max_len, d_model)
        layer = nn.TransformerEncoderLayer(
            d_model, n_heads, dim_feedforward=2 * d_model, dropout=dropout, batch_first=True
        )
        self.encoder = nn.TransformerEncoder(layer, n_layers, enable_nested_tensor=False)
        self.head = nn.Linear(d_model, num_classes)

    def forward(self, x: Tensor) -> Tensor:
        positions = torch.arange(x.shape[1], device=x.device)
        h = self.encoder(self.embed(x) + self.pos(positions))
        return self.head(h.mean(dim=1))


class LSTMClassifier(nn.Module):
    """Inputs (n, seq, features): an LSTM, its last hidden state to a linear head."""

    def __init__(
        self, n_features: int, num_classes: int, *, hidden: int = 32, n_layers: int = 2
    ) -> None:
        super().__init__()
        self.lstm = nn.LSTM(n_features, hidden, num_layers=n_layers, batch_first=True)
        self.head = nn.Linear(hidden, num_classes)

    def forward(self, x: Tensor) -> Tensor:
        _, (h, _) = self.lstm(x)
        return self.head(h[-1])
