"""The PyTorch probe: parity with the NumPy engine, hooks that leave no trace, the run folder."""

from __future__ import annotations

import copy
import math
import subprocess
import sys

import numpy as np
import pytest

torch = pytest.importorskip(
    "torch", reason='PyTorch is an optional extra (pip install "layerspeed[torch]")'
)

from torch import nn  # noqa: E402
from torch.optim.optimizer import (  # noqa: E402
    _global_optimizer_post_hooks,
    _global_optimizer_pre_hooks,
)

import layerspeed.torch as lst  # noqa: E402
from layerspeed.errors import BadInput  # noqa: E402
from layerspeed.nn.network import Network, backprop  # noqa: E402
from layerspeed.probes import diagnostics, layer_speeds  # noqa: E402
from layerspeed.store import RunDir  # noqa: E402


def torch_copy(net: Network) -> nn.Sequential:
    """The same network in PyTorch, float64: Linear, Sigmoid, ..., Linear (logits out)."""
    modules: list[nn.Module] = []
    for l, (w, b) in enumerate(zip(net.weights, net.biases, strict=True)):
        linear = nn.Linear(w.shape[1], w.shape[0]).double()
        with torch.no_grad():
            linear.weight.copy_(torch.from_numpy(w))  # both (n_out, n_in)
            linear.bias.copy_(torch.from_numpy(b))
        modules.append(linear)
        if l < len(net.weights) - 1:
            modules.append(nn.Sigmoid())
    return nn.Sequential(*modules)


def probe_data(seed: int, n: int, n_in: int, n_out: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.random((n, n_in))  # (n, n_in), like pixels in [0, 1]
    y = np.eye(n_out)[rng.integers(0, n_out, n)]  # (n, n_out), one-hot
    return x, y


def small_model(seed: int = 0, bias: bool = True) -> nn.Sequential:
    torch.manual_seed(seed)
    return nn.Sequential(
        nn.Linear(6, 5, bias=bias), nn.Tanh(), nn.Linear(5, 4), nn.Sigmoid(), nn.Linear(4, 3)
    )


def batches(seed: int, steps: int, n: int = 8) -> list[tuple[torch.Tensor, torch.Tensor]]:
    g = torch.Generator().manual_seed(seed)
    return [
        (torch.randn(n, 6, generator=g), torch.randint(0, 3, (n,), generator=g))
        for _ in range(steps)
    ]


def hook_counts(model: nn.Module) -> tuple[int, ...]:
    forward = sum(len(m._forward_hooks) + len(m._forward_pre_hooks) for m in model.modules())
    backward = sum(len(m._backward_hooks) for m in model.modules())
    return forward, backward, len(_global_optimizer_pre_hooks), len(_global_optimizer_post_hooks)


# ---- parity with the NumPy engine ----------------------------------------------------------


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
@pytest.mark.parametrize("sizes", [(20, 8, 8, 8, 3), (784, 30, 30, 10)])
def test_speeds_match_numpy_engine(seed: int, sizes: tuple[int, ...]) -> None:
    net = Network.create(sizes, rng=seed)
    x, y = probe_data(seed, 64, sizes[0], sizes[-1])
    want = layer_speeds(net, x, y)  # hidden layers only
    got = lst.watch(torch_copy(net), probe=(x, y)).measure()
    hidden = len(sizes) - 2
    assert got["speed_source"] == ["bias"] * (hidden + 1)
    np.testing.assert_allclose(got["layer_speeds"][:hidden], want.layer_speeds, rtol=0, atol=1e-10)
    np.testing.assert_allclose(
        got["weight_grad_norms"][:hidden], want.weight_grad_norms, rtol=0, atol=1e-10
    )
    np.testing.assert_allclose(
        got["mean_example_norms"][:hidden], want.mean_example_norms, rtol=0, atol=1e-10
    )


@pytest.mark.parametrize("seed", [0, 1])
def test_saturation_matches_numpy_engine(seed: int) -> None:
    net = Network.create((20, 8, 8, 3), rng=seed)
    net.weights = [8.0 * w for w in net.weights]  # big weights: many saturated units
    x, y = probe_data(seed, 100, 20, 3)
    want = diagnostics(net, backprop(net, x, y), eta=1.0)["saturated_share"]
    got = lst.watch(torch_copy(net), probe=(x, y)).measure()["saturated_share"]
    assert 0 < want[0] < 1 and 0 < want[1] < 1
    assert got[:2] == pytest.approx(want, abs=1e-12)
    assert math.isnan(got[2])  # the output layer: no sigmoid module follows it


# ---- the probe pass leaves training alone ----------------------------------------------------


def test_probe_pass_touches_neither_grad_nor_optimizer_state() -> None:
    model = small_model()
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    loss_fn = nn.CrossEntropyLoss()
    (x, y), *_ = batches(0, 1)
    for _ in range(3):  # some optimizer state
        opt.zero_grad()
        loss_fn(model(x), y).backward()
        opt.step()
    opt.zero_grad()
    loss_fn(model(x), y).backward()
    grads = [p.grad.clone() for p in model.parameters()]
    weights = [p.detach().clone() for p in model.parameters()]
    state = copy.deepcopy(opt.state_dict())
    probe = lst.watch(model, probe=batches(1, 1, n=50)[0])
    with probe:
        probe.epoch_end()
    assert probe.probe_passes == 2  # on entering, and at epoch_end
    for p, g, w in zip(model.parameters(), grads, weights, strict=True):
        assert torch.equal(p.grad, g)
        assert torch.equal(p.detach(), w)
    after = opt.state_dict()
    assert after["param_groups"] == state["param_groups"]
    for k, s in state["state"].items():
        for name, value in s.items():
            assert torch.equal(after["state"][k][name], value)


def train(model: nn.Module, data, *, watch: dict | None) -> lst.Probe | None:
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    loss_fn = nn.CrossEntropyLoss()
    probe = lst.watch(model, **watch) if watch is not None else None

    def loop() -> None:
        for x, y in data:
            loss = loss_fn(model(x), y)
            opt.zero_grad()
            loss.backward()
            opt.step()

    if probe is None:
        loop()
    else:
        with probe:
            loop()
    return probe


def test_training_is_the_same_with_and_without_the_probe() -> None:
    """Dropout draws and batch-norm statistics are put back after each probe pass."""

    def model() -> nn.Module:
        torch.manual_seed(3)
        return nn.Sequential(
            nn.Linear(6, 5), nn.BatchNorm1d(5), nn.Sigmoid(), nn.Dropout(0.3), nn.Linear(5, 3)
        )

    data = batches(2, 12)
    bare, watched = model(), model()
    torch.manual_seed(9)
    train(bare, data, watch=None)
    torch.manual_seed(9)
    probe = train(watched, data, watch={"every": 2, "probe": batches(5, 1, n=40)[0]})
    assert probe is not None and probe.probe_passes == 6
    for a, b in zip(bare.state_dict().values(), watched.state_dict().values(), strict=True):
        assert torch.equal(a, b)


# ---- hooks -----------------------------------------------------------------------------------


@pytest.mark.parametrize("probe_set", [True, False])
@pytest.mark.parametrize("every", [None, 1, 3])
def test_hooks_are_removed_on_exit_also_when_the_loop_raises(probe_set: bool, every) -> None:
    model = small_model()
    before = hook_counts(model)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    probe_arg = batches(7, 1)[0] if probe_set else None
    with pytest.raises(RuntimeError, match="boom"):
        with lst.watch(model, every=every, probe=probe_arg) as probe:
            for i, (x, y) in enumerate(batches(0, 5)):
                loss = nn.functional.cross_entropy(model(x), y)
                opt.zero_grad()
                loss.backward()
                opt.step()
                if i == 3:
                    raise RuntimeError("boom")
    assert hook_counts(model) == before
    assert not probe.attached
    assert probe.error == "RuntimeError: boom"
    with lst.watch(model, every=every, probe=probe_arg, optimizer=opt):
        pass
    assert hook_counts(model) == before
    assert len(opt._optimizer_step_pre_hooks) == len(opt._optimizer_step_post_hooks) == 0


def test_failed_loop_saves_a_failed_run(tmp_path) -> None:
    model = small_model()
    with pytest.raises(KeyError):
        with lst.watch(model, probe=batches(0, 1)[0]) as probe:
            raise KeyError("x")
    run = probe.save(tmp_path / "run")
    assert run.status == "failed" and not run.is_ended()
    assert len(run.result["epochs"]) == 1


# ---- layers without a bias -------------------------------------------------------------------


def test_layer_without_bias_falls_back_to_weight_norm_and_says_so() -> None:
    model = small_model(bias=False)
    record = lst.watch(model, probe=batches(0, 1, n=20)[0]).measure()
    assert record["speed_source"] == ["weight", "bias", "bias"]
    assert record["layer_speeds"][0] == record["weight_grad_norms"][0]
    assert math.isnan(record["mean_example_norms"][0])
    assert record["layer_speeds"][1] != record["weight_grad_norms"][1]


def test_layers_by_name_and_unknown_names() -> None:
    model = small_model()
    probe = lst.watch(model, layers=["2", "0"])
    assert probe.layer_names == ["2", "0"]
    with pytest.raises(BadInput, match="no layer named '1'.*0, 2, 4"):
        lst.watch(model, layers=["1"])


# ---- without a probe set: the training step's own gradients ----------------------------------


def test_without_probe_set_speeds_are_the_training_gradients() -> None:
    model = small_model()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    linears = [m for m in model if isinstance(m, nn.Linear)]
    seen = []
    with lst.watch(model, every=2) as probe:
        for x, y in batches(0, 5):
            loss = nn.functional.cross_entropy(model(x), y)
            opt.zero_grad()
            loss.backward()
            seen.append(
                (
                    [float(m.bias.grad.norm()) for m in linears],
                    [float(m.weight.grad.norm()) for m in linears],
                    [m.weight.detach().clone() for m in linears],
                )
            )
            opt.step()
    assert [r["step"] for r in probe.history] == [0, 2, 4]
    for record, step in zip(probe.history, [0, 2, 4], strict=True):
        speeds, w_norms, w_before = seen[step]
        assert record["source"] == "training"
        assert record["layer_speeds"] == pytest.approx(speeds, rel=1e-6)
        assert record["weight_grad_norms"] == pytest.approx(w_norms, rel=1e-6)
        # plain SGD: the step is lr * dC/dW
        want = [0.1 * g / float(w.norm()) for g, w in zip(w_norms, w_before, strict=True)]
        assert record["update_ratio"] == pytest.approx(want, rel=1e-5)
        # tanh after layer 0, sigmoid after layer 1, measured on that step's mini-batch
        assert 0 <= record["saturated_share"][0] <= 1 and 0 <= record["saturated_share"][1] <= 1
        assert math.isnan(record["saturated_share"][2])
    assert probe.steps == 5


def test_epoch_records_with_a_probe_set() -> None:
    model = small_model()
    opt = torch.optim.SGD(model.parameters(), lr=0.5)
    probe_set = batches(9, 1, n=100)[0]
    with lst.watch(model, probe=probe_set) as probe:
        for _ in range(3):
            for x, y in batches(0, 4):
                loss = nn.functional.cross_entropy(model(x), y)
                opt.zero_grad()
                loss.backward()
                opt.step()
            probe.epoch_end(evaluation_accuracy=0.5)
    assert [(r["epoch"], r["step"]) for r in probe.history] == [(0, 0), (1, 4), (2, 8), (3, 12)]
    assert [r.get("evaluation_accuracy") for r in probe.history] == [None, 0.5, 0.5, 0.5]
    assert probe.series("layer_speeds").shape == (4, 3)
    ratios = probe.series("update_ratio")
    assert np.all(ratios[:3] > 0)  # the step taken after each of the first three records
    assert np.all(np.isnan(ratios[3]))  # no step after the last


def test_probe_with_integer_labels_uses_softmax_cross_entropy() -> None:
    model = small_model().double()
    x, labels = batches(0, 1, n=30)[0]
    got = lst.watch(model, probe=(x, labels)).measure()
    model.zero_grad()
    nn.functional.cross_entropy(model(x.double()), labels).backward()
    assert got["layer_speeds"][2] == pytest.approx(float(model[4].bias.grad.norm()), rel=1e-12)


def test_bad_arguments() -> None:
    model = small_model()
    with pytest.raises(BadInput, match="every must be at least 1, got 0"):
        lst.watch(model, every=0)
    with pytest.raises(BadInput, match="as many targets as inputs"):
        lst.watch(model, probe=(torch.zeros(4, 6), torch.zeros(3)))
    with pytest.raises(BadInput, match="no trainable parameters"):
        lst.watch(nn.Sigmoid())


# ---- the run folder ------------------------------------------------------------------------


def test_save_writes_a_run_folder(tmp_path) -> None:
    model = small_model()
    probe = train(model, batches(0, 6), watch={"every": 3, "probe": batches(1, 1, n=20)[0]})
    assert probe is not None
    run = probe.save(tmp_path / "run", config={"note": "test"}, seed=4)
    assert isinstance(run, RunDir)
    again = RunDir(tmp_path / "run")
    assert again.is_ended() and again.status == "done"
    assert again.config["kind"] == "torch" and again.config["seed"] == 4
    assert again.config["config"]["note"] == "test"
    result = again.result
    assert result["layer_names"] == ["0", "2", "4"]
    assert result["speed_source"] == ["bias", "bias", "bias"]
    assert result["saturating"] == ["tanh", "sigmoid", None]
    assert [r["step"] for r in result["epochs"]] == [0, 3]
    for record in result["epochs"]:
        assert len(record["layer_speeds"]) == 3
        for key in ("weight_grad_norms", "update_ratio", "saturated_share"):
            assert len(record[key]) == 3


def test_public_names() -> None:
    assert sorted(lst.__all__) == [
        "Alert",
        "Layer",
        "LayerSpeedAlert",
        "Probe",
        "SATURATING",
        "book_cross_entropy",
        "default_loss",
        "find_layers",
        "models",
        "watch",
    ]
    assert all(hasattr(lst, name) for name in lst.__all__)
    assert callable(lst.models.resnet18)  # no import of its own needed
    assert lst.watch is lst.Probe  # `with watch(model) as probe:` reads well; one class


# ---- without torch ---------------------------------------------------------------------------


def test_import_without_torch_says_how_to_install() -> None:
    code = (
        "import sys; sys.modules['torch'] = None\n"
        "import layerspeed, layerspeed.probes, layerspeed.store\n"
        "try:\n"
        "    import layerspeed.torch\n"
        "except ImportError as e:\n"
        "    print(e)\n"
        "else:\n"
        "    print('imported')\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert 'pip install "layerspeed[torch]"' in out.stdout


def test_manual_records_when_due_read_the_step_just_taken() -> None:
    """auto_record=False: the hooks count steps; record() reads .grad when the caller says."""
    model = small_model()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    with lst.watch(model, every=2, auto_record=False, alert_ratio=None) as probe:
        due = []
        for x, y in batches(0, 5):
            opt.zero_grad()
            nn.functional.cross_entropy(model(x), y).backward()
            due.append(probe.due)
            if probe.due:
                record = probe.record(note="manual")
                assert record["layer_speeds"][2] == pytest.approx(float(model[4].bias.grad.norm()))
            opt.step()
    assert due == [True, False, True, False, True]
    assert [(r["step"], r["note"]) for r in probe.history] == [
        (0, "manual"),
        (2, "manual"),
        (4, "manual"),
    ]
    assert all(r["update_ratio"][0] > 0 for r in probe.history)  # the step after each record
