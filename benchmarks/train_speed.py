"""Benchmark: one training epoch of the vectorized engine against network2's per-example loop.

Both run in the same process on the same data, for [784,30,10] and [784,30,30,30,30,10],
mini-batch 10, eta 0.1, lmbda 5.0, float64. Two per-example loops run beside it: ``book_epoch``
is network2.py's own structure (a backprop per example that returns fresh gradient arrays,
summed and applied with list comprehensions), the baseline of the target; ``tuned_epoch``
keeps the per-example semantics but sums in place, to show how much of the gap is loop
overhead. Prints images per second and the engine's speed-ups.

    python benchmarks/train_speed.py            # the 50,000 MNIST training images
    python benchmarks/train_speed.py --n 5000   # a quicker look
"""

from __future__ import annotations

import argparse
import platform
import time

import numpy as np

from layerspeed import __version__
from layerspeed.nn import Network, SGDConfig, sgd
from layerspeed.nn.activations import sigmoid, sigmoid_prime


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=50000, help="training images (default 50000)")
    parser.add_argument("--synthetic", action="store_true", help="random data instead of MNIST")
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
    cfg = SGDConfig(epochs=1, mini_batch_size=10, eta=0.1, lmbda=5.0)
    print(f"layerspeed {__version__}, numpy {np.__version__}, Python {platform.python_version()}")
    print(f"one epoch, {len(x)} images, mini-batch 10, float64\n")
    print(
        f"{'network':<26}{'engine':>10}{'network2 loop':>15}{'tuned loop':>12}"
        f"{'vs network2':>13}{'vs tuned':>10}"
    )
    print(f"{'':<26}{'img/s':>10}{'img/s':>15}{'img/s':>12}")
    for sizes in [(784, 30, 10), (784, 30, 30, 30, 30, 10)]:
        net = Network.create(sizes, rng=0)
        t0 = time.perf_counter()
        sgd(net, x, y, cfg, rng=1)
        engine = time.perf_counter() - t0

        net = Network.create(sizes, rng=0)
        xs = [xi.reshape(-1, 1) for xi in x]  # network2's data: a list of column vectors
        ys = [yi.reshape(-1, 1) for yi in y]
        t0 = time.perf_counter()
        book_epoch(
            net.weights,
            [b.reshape(-1, 1) for b in net.biases],
            xs,
            ys,
            m=10,
            eta=0.1,
            lmbda=5.0,
            rng=np.random.default_rng(1),
        )
        book = time.perf_counter() - t0

        net = Network.create(sizes, rng=0)
        t0 = time.perf_counter()
        tuned_epoch(net, x, y, m=10, eta=0.1, lmbda=5.0, rng=np.random.default_rng(1))
        tuned = time.perf_counter() - t0
        name = "[" + ",".join(map(str, sizes)) + "]"
        print(
            f"{name:<26}{len(x) / engine:>10,.0f}{len(x) / book:>15,.0f}{len(x) / tuned:>12,.0f}"
            f"{book / engine:>12.1f}x{tuned / engine:>9.1f}x"
        )


if __name__ == "__main__":
    main()
