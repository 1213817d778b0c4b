"""The probe on real architectures (ResNet-18 shape, Transformer, LSTM), random weights.

Each architecture: every layer named by its module path and recorded, the speeds equal to a
plain backward pass, and ``.grad``, the optimizer state, the weights and the torch, NumPy and
Python random states left as they were. Also: saturation of sigmoid and tanh called as
functions inside ``forward``.
"""

from __future__ import annotations

import copy
import math
import random
from collections.abc import Callable

import numpy as np
import pytest

torch = pytest.importorskip(
    "torch", reason='PyTorch is an optional extra (pip install "layerspeed[torch]")'
)

import torch.nn.functional as F  # noqa: E402
from torch import nn  # noqa: E402

import layerspeed.torch as lst  # noqa: E402
from layerspeed.torch.hooks import SATURATION_LEVEL  # noqa: E402
from layerspeed.torch.measure import measure_probe  # noqa: E402
from layerspeed.torch.models import LSTMClassifier, TransformerClassifier, resnet18  # noqa: E402

N_CLASSES = 3


def resnet_names() -> list[str]:
    """ResNet-18's layers by module path, written out from the paper's table."""
    names = ["conv1", "bn1"]
    for stage in range(1, 5):
        for block in range(2):
            names += [f"layer{stage}.{block}.{m}" for m in ("conv1", "bn1", "conv2", "bn2")]
            if stage > 1 and block == 0:
                names += [f"layer{stage}.0.downsample.0", f"layer{stage}.0.downsample.1"]
    return [*names, "fc"]


def transformer_names(n_layers: int) -> list[str]:
    per_layer = ["self_attn", "self_attn.out_proj", "linear1", "linear2", "norm1", "norm2"]
    inner = [f"encoder.layers.{i}.{m}" for i in range(n_layers) for m in per_layer]
    return ["embed", "pos", *inner, "head"]


def resnet() -> tuple[nn.Module, tuple[int, ...]]:
    return resnet18(num_classes=N_CLASSES, width=4), (3, 16, 16)


def transformer() -> tuple[nn.Module, tuple[int, ...]]:
    return TransformerClassifier(5, N_CLASSES, d_model=16, n_heads=2, n_layers=2), (7, 5)


def lstm() -> tuple[nn.Module, tuple[int, ...]]:
    return LSTMClassifier(5, N_CLASSES, hidden=8), (7, 5)


ARCHITECTURES: dict[str, tuple[Callable[[], tuple[nn.Module, tuple[int, ...]]], list[str]]] = {
    "resnet18": (resnet, resnet_names()),
    "transformer": (transformer, transformer_names(2)),
    "lstm": (lstm, ["lstm", "head"]),
}


def build(name: str, seed: int = 0) -> tuple[nn.Module, tuple[int, ...]]:
    torch.manual_seed(seed)
    return ARCHITECTURES[name][0]()


def data(shape: tuple[int, ...], n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, *shape, generator=g), torch.randint(0, N_CLASSES, (n,), generator=g)


@pytest.mark.parametrize("arch", list(ARCHITECTURES))
def test_every_layer_is_named_by_its_path_and_recorded(arch: str) -> None:
    model, shape = build(arch)
    probe = lst.watch(model, probe=data(shape, 12, 1), alert_ratio=None)
    assert probe.layer_names == ARCHITECTURES[arch][1]
    # every trainable parameter belongs to exactly one measured layer
    owned = [id(p) for layer in probe.layers for p in layer.params]
    assert sorted(owned) == sorted(id(p) for p in model.parameters())
    record = probe.measure()
    for key in ("layer_speeds", "weight_grad_norms", "speed_source", "saturated_share"):
        assert len(record[key]) == len(probe.layer_names)
    speeds = np.asarray(record["layer_speeds"])
    assert np.all(np.isfinite(speeds)) and np.all(speeds > 0)
    if arch == "resnet18":  # convolutions without bias fall back to ||dC/dW||; batch norm has one
        sources = dict(zip(probe.layer_names, record["speed_source"], strict=True))
        assert {sources[n] for n in probe.layer_names if "conv" in n} == {"weight"}
        assert {sources[n] for n in probe.layer_names if "bn" in n} == {"bias"}
        assert sources["layer2.0.downsample.0"] == "weight" and sources["fc"] == "bias"


@pytest.mark.parametrize("arch", list(ARCHITECTURES))
def test_speeds_are_those_of_a_plain_backward_pass(arch: str) -> None:
    model, shape = build(arch)
    x, y = data(shape, 12, 2)
    torch.manual_seed(5)  # the same dropout draws in the probe's pass and in ours
    record = lst.watch(model, probe=(x, y), alert_ratio=None).measure()
    plain = copy.deepcopy(model)
    torch.manual_seed(5)
    F.cross_entropy(plain(x), y).backward()
    params = dict(plain.named_parameters())
    for name, speed, source in zip(
        ARCHITECTURES[arch][1], record["layer_speeds"], record["speed_source"], strict=True
    ):
        own = {k: p for k, p in params.items() if k.rpartition(".")[0] == name}
        assert own, name
        if source == "bias":
            want = float(own[f"{name}.bias"].grad.norm())
        else:
            want = math.sqrt(sum(float(p.grad.norm()) ** 2 for p in own.values()))
        assert speed == pytest.approx(want, rel=1e-4, abs=1e-7), name


def random_states() -> tuple[torch.Tensor, tuple, tuple]:
    return torch.get_rng_state(), np.random.get_state(), random.getstate()  # noqa: NPY002


@pytest.mark.parametrize("arch", list(ARCHITECTURES))
def test_probe_leaves_grad_optimizer_and_random_state_untouched(arch: str) -> None:
    model, shape = build(arch)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    x, y = data(shape, 8, 3)
    for _ in range(2):  # some optimizer state
        opt.zero_grad()
        F.cross_entropy(model(x), y).backward()
        opt.step()
    opt.zero_grad()
    F.cross_entropy(model(x), y).backward()
    grads = {n: p.grad.clone() for n, p in model.named_parameters()}
    state = copy.deepcopy(model.state_dict())  # weights and batch-norm statistics
    opt_state = copy.deepcopy(opt.state_dict())
    np.random.seed(11)  # noqa: NPY002  (the global state the probe must not touch)
    random.seed(12)
    torch.manual_seed(13)
    before = random_states()
    with lst.watch(model, probe=data(shape, 10, 4), alert_ratio=None) as probe:
        probe.epoch_end()
    assert probe.probe_passes == 2
    after = random_states()
    assert torch.equal(before[0], after[0])
    assert before[1][0] == after[1][0] and np.array_equal(before[1][1], after[1][1])
    assert before[1][2:] == after[1][2:]
    assert before[2] == after[2]
    for n, p in model.named_parameters():
        assert torch.equal(p.grad, grads[n]), n
    for k, v in model.state_dict().items():
        assert torch.equal(v, state[k]), k
    got = opt.state_dict()
    assert got["param_groups"] == opt_state["param_groups"]
    for k, s in opt_state["state"].items():
        for name, value in s.items():
            assert torch.equal(got["state"][k][name], value)


@pytest.mark.parametrize("arch", list(ARCHITECTURES))
def test_training_is_the_same_watched_or_not(arch: str) -> None:
    """Recording every 2 steps with a probe set changes nothing the training does."""
    shape = build(arch)[1]
    batches = [data(shape, 6, 10 + k) for k in range(5)]

    def run(watch: bool) -> tuple[nn.Module, lst.Probe | None]:
        model, _ = build(arch, seed=1)
        opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
        torch.manual_seed(7)
        probe = lst.watch(model, every=2, probe=data(shape, 8, 9), alert_ratio=None)
        if watch:
            probe.__enter__()
        for x, y in batches:
            opt.zero_grad()
            F.cross_entropy(model(x), y).backward()
            opt.step()
        probe.close()
        return model, probe if watch else None

    bare, _ = run(False)
    watched, probe = run(True)
    assert probe is not None and [r["step"] for r in probe.history] == [0, 2, 4]
    for (k, a), b in zip(bare.state_dict().items(), watched.state_dict().values(), strict=True):
        assert torch.equal(a, b), k


# ---- saturation of activations called as functions ------------------------------------------


class Functional(nn.Module):
    """Sigmoid and tanh called inside forward, in the ways PyTorch code writes them."""

    def __init__(self, style: str) -> None:
        super().__init__()
        self.style = style
        self.fc1, self.fc2, self.fc3 = nn.Linear(6, 5), nn.Linear(5, 4), nn.Linear(4, 3)
        with torch.no_grad():  # big weights: a share of the units saturates
            self.fc1.weight.mul_(12.0)
            self.fc2.weight.mul_(12.0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.style == "torch":
            return self.fc3(torch.tanh(self.fc2(torch.sigmoid(self.fc1(x)))))
        if self.style == "F":
            return self.fc3(F.tanh(self.fc2(F.sigmoid(self.fc1(x)))))
        if self.style == "method":
            return self.fc3(self.fc2(self.fc1(x).sigmoid()).tanh())
        # in place, on a fresh tensor
        h = self.fc1(x).clone().sigmoid_()
        return self.fc3(self.fc2(h).clone().tanh_())


def saturated(a: torch.Tensor, prime: torch.Tensor, max_prime: float) -> float:
    return float((prime < SATURATION_LEVEL * max_prime).double().mean())


def expected_shares(model: Functional, x: torch.Tensor) -> tuple[float, float]:
    with torch.no_grad():
        a1 = torch.sigmoid(model.fc1(x))
        a2 = torch.tanh(model.fc2(a1))
    return saturated(a1, a1 * (1 - a1), 0.25), saturated(a2, 1 - a2 * a2, 1.0)


@pytest.mark.parametrize("style", ["torch", "F", "method", "inplace"])
def test_saturation_of_functional_activations(style: str) -> None:
    torch.manual_seed(0)
    model = Functional(style)
    x, y = data((6,), 200, 1)
    s1, s2 = expected_shares(model, x)
    assert 0 < s1 < 1 and 0 < s2 < 1  # the test means something
    probe = lst.watch(model, probe=(x, y), alert_ratio=None, alert_saturation=None)
    got = probe.measure()["saturated_share"]
    assert got[:2] == pytest.approx([s1, s2], abs=1e-12)
    assert math.isnan(got[2])
    with probe:
        pass
    assert probe._saturating == ["sigmoid", "tanh", None]  # what save() writes as "saturating"


def test_functional_saturation_from_the_training_step_too() -> None:
    torch.manual_seed(0)
    model = Functional("torch")
    opt = torch.optim.SGD(model.parameters(), lr=0.0)  # lr 0: the weights stay put
    x, y = data((6,), 50, 2)
    with lst.watch(model, every=1, alert_ratio=None, alert_saturation=None) as probe:
        for _ in range(2):
            opt.zero_grad()
            F.cross_entropy(model(x), y).backward()
            opt.step()
    s1, s2 = expected_shares(model, x)
    for record in probe.history:
        assert record["saturated_share"][:2] == pytest.approx([s1, s2], abs=1e-12)


def test_module_activations_are_counted_once_and_the_loss_is_not_counted() -> None:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(6, 5), nn.Sigmoid(), nn.Linear(5, 3))
    with torch.no_grad():
        model[0].weight.mul_(12.0)
    x, y = data((6,), 100, 3)
    with torch.no_grad():
        a = torch.sigmoid(model[0](x))
    # a loss that takes a sigmoid of the output: outside forward, not the last layer's
    probe = lst.watch(
        model,
        probe=(x, F.one_hot(y, 3).float()),
        loss_fn=lambda out, t: F.binary_cross_entropy(torch.sigmoid(out), t),
        alert_saturation=None,
    )
    record, capture = measure_probe(
        model, probe.layers, probe._watched, probe.probe_set, probe.loss_fn, []
    )
    assert capture.total == [a.numel(), 0]  # 100 examples x 5 units, once; none for the output
    share = record["saturated_share"]
    assert share[0] == pytest.approx(saturated(a, a * (1 - a), 0.25), abs=1e-12)
    assert 0 < share[0] < 1
    assert math.isnan(share[1])


def test_the_function_mode_is_gone_after_a_forward_that_raises() -> None:
    from torch.overrides import _get_current_function_mode_stack

    class Boom(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.fc = nn.Linear(3, 2)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            torch.sigmoid(self.fc(x))
            raise RuntimeError("boom")

    model = Boom()
    with pytest.raises(RuntimeError, match="boom"):
        lst.watch(model, probe=(torch.zeros(2, 3), torch.zeros(2, dtype=torch.long))).measure()
    assert _get_current_function_mode_stack() == []
    assert not any(m._forward_hooks or m._forward_pre_hooks for m in model.modules())
