"""A fixed, generated 10-class data set of MNIST's shape, for tests and smoke runs.

Noisy copies of 10 random binary prototypes on 784 "pixels", stored as grey levels 0..255 like
MNIST, so every run that reads MNIST can read it instead, with no download.
"""

from __future__ import annotations

import numpy as np

SYNTHETIC_SEED = 20_151_105  # the synthetic set is the same everywhere, always
N_INPUTS, N_CLASSES = 784, 10
_BLOCK = 1000


def synthetic_split(n: int, split: int) -> tuple[np.ndarray, np.ndarray]:
    """``n`` examples: (n, 784) uint8 grey levels and (n,) int64 labels.

    Made in blocks of 1000 with their own streams, so the first ``k`` examples are the same
    whatever ``n`` is (``split`` 0: training, 1: evaluation).
    """
    protos = np.random.default_rng([SYNTHETIC_SEED]).random((N_CLASSES, N_INPUTS)) < 0.2
    xs, ys = [], []
    for b in range(-(-n // _BLOCK)):
        rng = np.random.default_rng([SYNTHETIC_SEED, split, b])
        labels = rng.integers(0, N_CLASSES, _BLOCK)
        noise = rng.random((_BLOCK, N_INPUTS))  # (block, 784)
        x = 0.7 * protos[labels] + 0.3 * noise  # (block, 784) in [0, 1]
        flip = rng.random((_BLOCK, N_INPUTS)) < 0.1  # hide a tenth of the pixels
        x[flip] = noise[flip]
        xs.append(np.rint(255 * x).astype(np.uint8))
        ys.append(labels.astype(np.int64))
    return np.concatenate(xs)[:n], np.concatenate(ys)[:n]
