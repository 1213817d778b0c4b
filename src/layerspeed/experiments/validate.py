"""Whether a run folder's ``result.json`` is what :func:`~layerspeed.experiments.run.train_run`
writes for its config, before the driver trusts it and the aggregates read it.

A result file can be wrong without being unreadable: ``{}``, a hand edit, a copy from another
version. :func:`result_problem` checks one against its :class:`RunConfig`: the keys
:meth:`RunResult.to_dict` writes for the config's ``record``, their types, and their lengths
(one entry per hidden layer, one epoch record per epoch unless the run diverged). It says
what is wrong in a few words, or returns None. :func:`layout_problem` checks only the layout
every run folder shares (:mod:`layerspeed.store`), for folders of other origins (the PyTorch
probe's) that the report reads.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from layerspeed.experiments.config import RunConfig

SPEEDS = ("layer_speeds", "mean_example_norms", "weight_grad_norms")
DIAGNOSTICS = ("update_ratio", "saturated_share", "dead_share", "activation_mean",
               "activation_std")  # fmt: skip
INSTABILITY = ("initial", "training", "final")


class Invalid(ValueError):
    """What is wrong with a result, in a few words."""


def _number(v: Any) -> bool:
    """A JSON number, or null (NaN and infinity are written as null)."""
    return v is None or (isinstance(v, int | float) and not isinstance(v, bool))


def _int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _show(v: Any) -> str:
    text = repr(v)
    return text if len(text) <= 40 else text[:37] + "..."


def _need(ok: bool, where: str, value: Any, wanted: str) -> None:
    if not ok:
        raise Invalid(f"{where} is {_show(value)}, not {wanted}")


def _key(d: Mapping[str, Any], key: str, where: str = "") -> Any:
    if key not in d:
        raise Invalid(f"no {where}{key!r}")
    return d[key]


def _numbers(v: Any, where: str, n: int) -> None:
    _need(isinstance(v, list) and len(v) == n and all(_number(x) for x in v),
          where, v, f"a list of {n} numbers")  # fmt: skip


def _reading(r: Any, where: str, config: RunConfig) -> None:
    """One probe reading: the per-layer lists the config records."""
    layers = config.hidden_layers
    keys = SPEEDS + (DIAGNOSTICS if config.records("diagnostics") else ())
    for key in keys:
        _numbers(_key(r, key, f"{where} "), f"{where} {key}", layers)
    if config.records("neurons"):
        grads = _key(r, "neuron_gradients", f"{where} ")
        _need(isinstance(grads, list) and len(grads) == layers, f"{where} neuron_gradients",
              grads, f"a list of {layers} layers")  # fmt: skip
        for l, g in enumerate(grads):
            _numbers(g, f"{where} neuron_gradients[{l}]", config.sizes[l + 1])


def _epoch(e: Any, i: int, config: RunConfig) -> None:
    where = f"epochs[{i}]"
    _need(isinstance(e, dict), where, e, "an object")
    _need(e.get("epoch") == i and _int(e.get("epoch")), f"{where} epoch", e.get("epoch"), str(i))
    if config.epochs:  # a trained epoch: its costs, and with "accuracy" the validation's
        keys = ["training_cost"]
        if config.records("accuracy"):
            keys += ["evaluation_cost", "evaluation_accuracy"]
        for key in keys:
            _need(_number(_key(e, key, f"{where} ")), f"{where} {key}", e[key], "a number")
    if config.records("speeds"):
        _reading(e, where, config)


def _instability(v: Any) -> None:
    _need(isinstance(v, dict), "instability", v, "an object")
    for when in INSTABILITY:
        a = _key(v, when, "instability ")
        if a is None:
            continue
        where = f"instability {when}"
        _need(isinstance(a, dict), where, a, "an object or null")
        for key in ("spread", "ratio", "first", "last"):
            _need(_number(_key(a, key, f"{where} ")), f"{where} {key}", a[key], "a number")
        _need(isinstance(_key(a, "flag", f"{where} "), str), f"{where} flag", a["flag"], "a word")


def _check(result: Any, config: RunConfig, seed: int | None, status: str) -> None:
    _need(isinstance(result, dict), "result.json", result, "an object")
    for key in ("layerspeed_version", "kind"):
        _need(isinstance(_key(result, key), str), key, result[key], "a string")
    _need(_key(result, "seed") == seed, "seed", result["seed"], str(seed))
    _need(_key(result, "config") == config.to_dict(), "config", result["config"],
          "this run's config")  # fmt: skip
    layers = config.hidden_layers
    names = _key(result, "layer_names")
    _need(isinstance(names, list) and len(names) == layers and all(isinstance(n, str)
          for n in names), "layer_names", names, f"a list of {layers} names")  # fmt: skip
    diverged = _key(result, "diverged_epoch")
    epochs = _key(result, "epochs")
    if status == "diverged":
        _need(_int(diverged) and 0 <= diverged <= config.epochs, "diverged_epoch", diverged,
              f"an epoch from 0 to {config.epochs}")  # fmt: skip
        n = diverged
    else:
        _need(diverged is None, "diverged_epoch", diverged, "null for a run that ended")
        n = config.epochs or (1 if config.records("speeds") else 0)
    _need(isinstance(epochs, list) and len(epochs) == n, "epochs", epochs,
          f"a list of {n} epoch records")  # fmt: skip
    for i, e in enumerate(epochs):
        _epoch(e, i, config)
    if config.records("speeds"):
        probe = _key(result, "final_probe")
        if probe is not None:
            _need(isinstance(probe, dict), "final_probe", probe, "an object or null")
            _reading(probe, "final_probe", config)
        _instability(_key(result, "instability"))
        passes = _key(result, "extra_backward_passes")
        _need(passes is None or _int(passes), "extra_backward_passes", passes, "a count")
    floats = []
    if config.records("accuracy"):
        floats += ["final_accuracy", "best_accuracy"]
        best = _key(result, "best_epoch")
        _need(best is None or _int(best), "best_epoch", best, "an epoch")
    if config.records("training_accuracy"):
        floats.append("final_training_accuracy")
    for key in floats:
        _need(_number(_key(result, key)), key, result[key], "a number")
    if "params" in result:
        _need(isinstance(result["params"], dict), "params", result["params"], "an object")
    if "seconds" in result:
        _need(_number(result["seconds"]), "seconds", result["seconds"], "a number")


def result_problem(
    result: Any, config: RunConfig, *, seed: int | None, status: str = "done"
) -> str | None:
    """What is wrong with ``result`` as the ``result.json`` of a run of ``config`` and ``seed``
    that ended with ``status`` ("done" or "diverged"), in a few words; None if nothing.

    ``None`` for ``result`` (a missing or unreadable file) is a problem too.
    """
    if result is None:
        return "result.json is missing or not JSON"
    try:
        _check(result, config, seed, status)
    except Invalid as e:
        return str(e)
    return None


def layout_problem(result: Any) -> str | None:
    """What is wrong with a ``result.json`` in the layout every run folder shares
    (``layer_names``, ``epochs`` with their ``layer_speeds``), config aside; None if nothing."""
    try:
        _need(isinstance(result, dict), "result.json", result, "an object")
        names = result.get("layer_names")
        if names is not None:
            _need(isinstance(names, list) and all(isinstance(n, str) for n in names),
                  "layer_names", names, "a list of names")  # fmt: skip
        epochs = result.get("epochs")
        _need(epochs is None or isinstance(epochs, list), "epochs", epochs, "a list")
        for i, e in enumerate(epochs or []):
            _need(isinstance(e, dict), f"epochs[{i}]", e, "an object")
            speeds = e.get("layer_speeds")
            _need(speeds is None or (isinstance(speeds, list) and all(_number(s) for s in speeds)),
                  f"epochs[{i}] layer_speeds", speeds, "a list of numbers")  # fmt: skip
        probe = result.get("final_probe")
        _need(probe is None or isinstance(probe, dict), "final_probe", probe, "an object")
    except Invalid as e:
        return str(e)
    return None
