"""Benchmark: one training epoch of the fast path and the NumPy engine against network2's loop.

All run in the same process on the same data, for [784,30,10] and [784,30,30,30,30,10],
mini-batch 10, eta 0.1, lmbda 5.0, float64. The fast path (``nn.fast``, compiled) is timed
warm, best of ``--repeat`` epochs; its first call, which compiles or loads the compiled code
from the cache, is printed apart, and so is the peak resident memory of a [784,30,10] run on
the fast path, measured in a fresh process. PyTorch eager (1 thread) and JAX jit (the epoch
as one ``lax.scan``, ``jax_enable_x64``) run beside them when they are installed, in float64
over the same example order, and their weights are checked against the NumPy path's. Two
per-example loops run beside them: ``book_epoch`` is network2.py's own structure (a
backprop per example that returns fresh gradient arrays, summed and applied with list
comprehensions), the baseline of the target; ``tuned_epoch`` keeps the per-example semantics
but sums in place, to show how much of the gap is loop overhead. Prints seconds and the
speed-ups over network2's loop.

    python benchmarks/train_speed.py            # the 50,000 MNIST training images
    python benchmarks/train_speed.py --n 5000   # a quicker look
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from layerspeed import __version__
from layerspeed.nn import Network, fast
from layerspeed.nn.activations import sigmoid, sigmoid_prime
from layerspeed.nn.train import minibatch_epoch

ETA, LMBDA, M = 0.1, 5.0, 10


def _book_sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def _book_backprop(weights, biases, x, y):
    """One example, column vectors, fresh gradient arrays: network2's ``backprop``."""
    nabla_b = [np.zeros(b.shape) for b in biases]
    nabla_w = [np.zeros(w.shape) for w in weights]
    activation = x
    activations = [x]
    zs = []
    for b, w in zip(biases, weights, strict=True):
        z = np.dot(w, activation) + b
        zs.append(z)
        activation = _book_sigmoid(z)
        activations.append(activation)
    delta = activations[-1] - y  # CrossEntropyCost.delta
    nabla_b[-1] = delta
    nabla_w[-1] = np.dot(delta, activations[-2].transpose())
    for l in range(2, len(weights) + 1):
        sp = _book_sigmoid(zs[-l]) * (1 - _book_sigmoid(zs[-l]))
        delta = np.dot(weights[-l + 1].transpose(), delta) * sp
        nabla_b[-l] = delta
        nabla_w[-l] = np.dot(delta, activations[-l - 1].transpose())
    return nabla_b, nabla_w


def book_epoch(weights, biases, xs, ys, *, m: int, eta: float, lmbda: float, rng):
    """One epoch as network2.SGD runs it: shuffle, then update_mini_batch per mini-batch."""
    n = len(xs)
    order = rng.permutation(n)
    for k in range(0, n, m):
        batch = order[k : k + m]
        nabla_b = [np.zeros(b.shape) for b in biases]
        nabla_w = [np.zeros(w.shape) for w in weights]
        for i in batch:
            dnb, dnw = _book_backprop(weights, biases, xs[i], ys[i])
            nabla_b = [nb + d for nb, d in zip(nabla_b, dnb, strict=True)]
            nabla_w = [nw + d for nw, d in zip(nabla_w, dnw, strict=True)]
        weights = [
            (1 - eta * (lmbda / n)) * w - (eta / len(batch)) * nw
            for w, nw in zip(weights, nabla_w, strict=True)
        ]
        biases = [b - (eta / len(batch)) * nb for b, nb in zip(biases, nabla_b, strict=True)]
    return weights, biases


def tuned_epoch(net: Network, x, y, *, m: int, eta: float, lmbda: float, rng) -> None:
    """The same per-example loop written for speed: in-place sums, no fresh arrays."""
    n = len(x)
    weights = net.weights
    biases = [b.reshape(-1, 1) for b in net.biases]  # views: updates land in net
    order = rng.permutation(n)
    for k in range(0, n, m):
        nabla_b = [np.zeros(b.shape) for b in biases]
        nabla_w = [np.zeros(w.shape) for w in weights]
        for i in order[k : k + m]:
            a = x[i].reshape(-1, 1)
            activations, zs = [a], []
            for w, b in zip(weights, biases, strict=True):
                z = np.dot(w, a) + b
                zs.append(z)
                a = sigmoid(z)
                activations.append(a)
            delta = activations[-1] - y[i].reshape(-1, 1)  # cross-entropy
            nabla_b[-1] += delta
            nabla_w[-1] += np.dot(delta, activations[-2].T)
            for l in range(2, len(net.sizes)):
                delta = np.dot(weights[-l + 1].T, delta) * sigmoid_prime(zs[-l])
                nabla_b[-l] += delta
                nabla_w[-l] += np.dot(delta, activations[-l - 1].T)
        size = len(order[k : k + m])
        for w, nw in zip(weights, nabla_w, strict=True):
            w *= 1 - eta * lmbda / n
            w -= (eta / size) * nw
        for b, nb in zip(biases, nabla_b, strict=True):
            b -= (eta / size) * nb


Weights = list[np.ndarray]


def torch_epoch(sizes, x, y, order, *, m: int, eta: float, lmbda: float):
    """Seconds for one epoch in PyTorch eager, 1 thread, float64, the book's step by hand, and
    the weights and biases it ends with; None when PyTorch is not installed."""
    try:
        import torch
    except ImportError:
        return None
    torch.set_num_threads(1)
    net = Network.create(sizes, rng=0)
    ws = [torch.tensor(w, requires_grad=True) for w in net.weights]
    bs = [torch.tensor(b, requires_grad=True) for b in net.biases]
    xt, yt, n = torch.tensor(x), torch.tensor(y), len(x)
    t0 = time.perf_counter()
    for k in range(0, n, m):
        idx = torch.from_numpy(order[k : k + m])
        a = xt[idx]
        for l, (w, b) in enumerate(zip(ws, bs, strict=True)):
            z = a @ w.T + b
            a = torch.sigmoid(z) if l < len(ws) - 1 else z
        cost = torch.nn.functional.binary_cross_entropy_with_logits(a, yt[idx], reduction="sum")
        grads = torch.autograd.grad(cost, ws + bs)
        with torch.no_grad():
            for w, g in zip(ws, grads[: len(ws)], strict=True):
                w.mul_(1 - eta * lmbda / n).sub_(g, alpha=eta / len(idx))
            for b, g in zip(bs, grads[len(ws) :], strict=True):
                b.sub_(g, alpha=eta / len(idx))
    seconds = time.perf_counter() - t0
    return seconds, [p.detach().numpy() for p in ws + bs]


def jax_epoch(sizes, x, y, order, *, m: int, eta: float, lmbda: float):
    """Seconds for one warm epoch in JAX, float64, the epoch as one jitted ``lax.scan``, and
    the weights and biases it ends with; None when JAX is not installed."""
    try:
        import jax
        import jax.numpy as jnp
    except ImportError:
        return None
    jax.config.update("jax_enable_x64", True)
    net = Network.create(sizes, rng=0)
    params = ([jnp.asarray(w) for w in net.weights], [jnp.asarray(b) for b in net.biases])
    n = len(x)
    if n % m:
        raise SystemExit(f"the JAX epoch needs whole mini-batches: {n} images, mini-batch {m}")
    steps = n // m  # scan needs one shape

    def cost(p, xb, yb):
        a = xb
        for l, (w, b) in enumerate(zip(*p, strict=True)):
            z = a @ w.T + b
            a = jax.nn.sigmoid(z) if l < len(p[0]) - 1 else z
        return jnp.sum(jnp.logaddexp(0, -a) * yb + jnp.logaddexp(0, a) * (1 - yb))

    def step(p, batch):
        g = jax.grad(cost)(p, *batch)
        ws = [(1 - eta * lmbda / n) * w - (eta / m) * gw for w, gw in zip(p[0], g[0], strict=True)]
        bs = [b - (eta / m) * gb for b, gb in zip(p[1], g[1], strict=True)]
        return (ws, bs), None

    idx = order[: steps * m].reshape(steps, m)
    xb, yb = jnp.asarray(x[idx]), jnp.asarray(y[idx])  # (steps, m, 784), (steps, m, 10)
    epoch = jax.jit(lambda p, xs, ys: jax.lax.scan(step, p, (xs, ys))[0])
    jax.block_until_ready(epoch(params, xb, yb))  # compile
    t0 = time.perf_counter()
    ws, bs = jax.block_until_ready(epoch(params, xb, yb))
    seconds = time.perf_counter() - t0
    return seconds, [np.asarray(p) for p in ws + bs]


def disagreement(ref: Network, got: Weights) -> float:
    """The largest difference of a weight or bias from the reference's, relative to its
    layer's largest: the check that an alternative ran the same epoch."""
    pairs = zip(ref.weights + ref.biases, got, strict=True)
    return max(float(np.max(np.abs(r - g)) / np.max(np.abs(r))) for r, g in pairs)


def peak_memory_mb(n: int) -> float:
    """Peak resident memory of a fresh process that trains [784,30,10] one epoch on the fast
    path: MNIST loaded (its grey levels, one byte a pixel), the nonzero pixels of the first
    ``n`` training images listed as float64 ``k / 255``, the network trained."""
    code = (
        "import numpy as np\n"
        "from layerspeed.data import load_mnist\n"
        "from layerspeed.nn import Network, fast\n"
        f"tr = load_mnist().training; pixels, lab = tr.pixels[:{n}], tr.labels[:{n}]\n"
        "rows = fast.sparse_rows(pixels, divisor=255.0); y = np.eye(10)[lab]\n"
        "net = Network.create((784, 30, 10), rng=0)\n"
        "fast.train_epoch(net, rows, y, np.random.default_rng(1).permutation(len(y)),"
        f" m={M}, eta={ETA}, lmbda={LMBDA})\n"
        # VmHWM, the peak of this program's own memory: ru_maxrss would carry over the size
        # of the forking parent (it survives exec), here a benchmark holding 1-2 GB.
        "hwm = [l for l in open('/proc/self/status') if l.startswith('VmHWM:')][0]\n"
        "print(int(hwm.split()[1]) / 1024)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return float(out.stdout.split()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=50000, help="training images (default 50000)")
    parser.add_argument("--synthetic", action="store_true", help="random data instead of MNIST")
    parser.add_argument("--repeat", type=int, default=5, help="warm fast-path epochs timed")
    args = parser.parse_args()

    if args.synthetic:
        rng = np.random.default_rng(0)
        x = rng.random((args.n, 784))
        labels = rng.integers(0, 10, args.n)
    else:
        from layerspeed.data import load_mnist

        mnist = load_mnist()
        x, labels = mnist.training.x[: args.n], mnist.training.labels[: args.n]
    y = np.eye(10)[labels]
    n = len(x)
    order = np.random.default_rng(1).permutation(n)
    print(f"layerspeed {__version__}, numpy {np.__version__}, Python {platform.python_version()}")
    print(f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs")
    for module in ("numba", "torch", "jax"):
        try:
            print(f"{module} {__import__(module).__version__}")
        except ImportError:
            print(f"{module}: not installed")
    print(f"one epoch, {n} images, mini-batch {M}, float64; seconds (x network2's time)\n")

    t0 = time.perf_counter()
    rows = fast.sparse_rows(x)
    listing = time.perf_counter() - t0
    first = []
    rows_out = []
    for sizes in [(784, 30, 10), (784, 30, 30, 30, 30, 10)]:
        times: dict[str, float | None] = {}
        net = Network.create(sizes, rng=0)
        t0 = time.perf_counter()
        fast.train_epoch(net, rows, y, order, m=M, eta=ETA, lmbda=LMBDA)
        first.append(time.perf_counter() - t0)
        warm = []
        for _ in range(args.repeat):
            net = Network.create(sizes, rng=0)
            t0 = time.perf_counter()
            fast.train_epoch(net, rows, y, order, m=M, eta=ETA, lmbda=LMBDA)
            warm.append(time.perf_counter() - t0)
        times["fast path"] = min(warm)

        ref = Network.create(sizes, rng=0)
        t0 = time.perf_counter()
        minibatch_epoch(ref, x, y, order, m=M, eta=ETA, lmbda=LMBDA)
        times["NumPy path"] = time.perf_counter() - t0

        net = Network.create(sizes, rng=0)
        xs = [xi.reshape(-1, 1) for xi in x]  # network2's data: a list of column vectors
        ys = [yi.reshape(-1, 1) for yi in y]
        t0 = time.perf_counter()
        book_epoch(
            net.weights,
            [b.reshape(-1, 1) for b in net.biases],
            xs,
            ys,
            m=M,
            eta=ETA,
            lmbda=LMBDA,
            rng=np.random.default_rng(1),
        )
        times["network2 loop"] = time.perf_counter() - t0

        net = Network.create(sizes, rng=0)
        t0 = time.perf_counter()
        tuned_epoch(net, x, y, m=M, eta=ETA, lmbda=LMBDA, rng=np.random.default_rng(1))
        times["tuned loop"] = time.perf_counter() - t0
        for name, run in (("PyTorch eager", torch_epoch), ("JAX jit", jax_epoch)):
            got = run(sizes, x, y, order, m=M, eta=ETA, lmbda=LMBDA)
            times[name] = None if got is None else got[0]
            if got is not None:
                # Same epoch, same example order: the weights must agree to rounding.
                off = disagreement(ref, got[1])
                print(f"{name} on {list(sizes)}: weights within {off:.1e} of the NumPy path's")
                if not off < 1e-8:
                    raise SystemExit(f"{name} did not run the book's epoch ({off:.1e} off)")
        rows_out.append((sizes, times, warm))

    book = {str(s): t["network2 loop"] for s, t, _ in rows_out}
    print(f"{'system':<16}" + "".join(f"{str(list(s)):>30}" for s, _, _ in rows_out))
    for name in rows_out[0][1]:
        cells = []
        for sizes, times, _ in rows_out:
            t = times[name]
            cells.append(
                "not installed" if t is None else f"{t:.3f} s ({book[str(sizes)] / t:.1f}x)"
            )
        print(f"{name:<16}" + "".join(f"{c:>30}" for c in cells))
    for sizes, times, warm in rows_out:
        ratios = [f"{name} {t / times['fast path']:.1f}x" for name, t in times.items()
                  if t is not None and name != "fast path"]  # fmt: skip
        print(f"\n{list(sizes)}: fast path {min(warm):.3f}-{max(warm):.3f} s over {len(warm)} "
              f"warm epochs; it is ahead of " + ", ".join(ratios))  # fmt: skip
    where = " (set for MNIST: --synthetic data are dense)" if args.synthetic else ""
    print(f"\nissue 12's targets{where}, from the ratios above:")
    for sizes, times, _ in rows_out:
        fast_t = times["fast path"]
        for name, want in (("network2 loop", 15.0), ("JAX jit", 2.0)):
            t = times[name]
            if t is None:
                print(f"  {list(sizes)}: {want:g}x {name}: {name} not installed")
                continue
            got = t / fast_t
            verdict = "met" if got >= want else "not met"
            print(f"  {list(sizes)}: at least {want:g}x {name}: {got:.1f}x, {verdict}")
    print(
        f"\nfirst fast-path call (compiles, or loads from the cache): {first[0]:.2f} s and "
        f"{first[1]:.2f} s; listing the nonzero pixels: {listing:.3f} s"
    )
    print(
        f"Numba cache: NUMBA_CACHE_DIR={os.environ.get('NUMBA_CACHE_DIR', '(unset)')}; "
        f"default {Path(fast.__file__).parent / '__pycache__'}, else the user cache dir"
    )
    if not args.synthetic:
        peak = peak_memory_mb(n)
        print(
            f"peak resident memory, a [784,30,10] epoch on the fast path, data included: "
            f"{peak:.0f} MB (target under 300 MB: {'met' if peak < 300 else 'not met'})"
        )


if __name__ == "__main__":
    main()
