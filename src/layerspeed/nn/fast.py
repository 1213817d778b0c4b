"""The compiled fast path of mini-batch SGD: one epoch of network2's ``SGD`` as one loop.

The arithmetic is :func:`layerspeed.nn.train.minibatch_epoch`'s, the book's step
``w -> (1 - eta*lmbda/n) w - (eta/m) sum_x dC_x/dw``, ``b -> b - (eta/m) sum_x dC_x/db``, over
the examples in the order the caller drew; only the rounding differs. At mini-batch 10 the
NumPy path spends its time on per-call overhead; here the time goes to arithmetic, of which
there is less (the kernels are in :mod:`layerspeed.nn.fast_kernel`):

- **A compiled loop over the whole epoch** (Numba, compiled once and cached on disk): no
  per-call overhead, one example at a time with every array in cache.
- **Sparse inputs.** MNIST pixels are about 81% zeros. Each example's nonzero inputs are
  listed once per data set (:func:`sparse_rows`), and the first layer's forward product and
  its weight update visit only those.
- **Memory in time.** The examples come in a random order, so each one's nonzero entries
  are fetched from memory a couple of examples early (a prefetch); the weights and the
  scratch start on a cache line, so the first layer's row for one pixel fills whole lines.
- **Loops shaped for the processor:** vector sigmoids, four terms per pass of a sum held in
  memory, the hidden weights updated once per pair of examples
  (:mod:`layerspeed.nn.fast_kernel`'s notes).
- **Lazy weight decay.** ``w *= 1 - eta*lmbda/n`` would touch every weight at every step.
  The weights are kept as ``w = s * v``: a step multiplies the scalar ``s`` by the decay and
  adds ``-(eta/m)/s * nabla_w`` to ``v``. ``s`` is folded back into ``v`` before it falls
  below one half (every ~70,000 steps for MNIST's decay, every step for a decay near 0) and
  at the end of the epoch, so ``v`` never loses precision: exact to rounding.

The weights come back into ``net`` after each epoch, so epoch-level callbacks see the network
as the NumPy path leaves it. Compiled code is cached beside this file's ``__pycache__``, or,
where that is read-only, in Numba's user cache directory; ``NUMBA_CACHE_DIR`` overrides both.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from layerspeed.errors import BadInput
from layerspeed.nn import fast_kernel
from layerspeed.nn.network import Network

Array = np.ndarray

# Codes the kernel branches on. Keys are the names of nn/activations.py's and nn/costs.py's
# tables; a name missing here keeps its network on the NumPy path.
ACTIVATION_CODES: dict[str, int] = {
    "sigmoid": 0,
    "tanh": 1,
    "relu": 2,
    "leaky_relu": 3,
    "softplus": 4,
    "scaled_sigmoid": 5,
    "identity": 6,
}
COST_CODES: dict[str, int] = {
    "cross-entropy": 0,
    "quadratic": fast_kernel.QUADRATIC,
    "log-likelihood": fast_kernel.LOG_LIKELIHOOD,
}


class SparseRows(NamedTuple):
    """The nonzero entries of an ``(n, n_in)`` input matrix, row by row (CSR).

    Row ``r``'s nonzero entries are ``values[indptr[r]:indptr[r+1]]`` at the columns
    ``indices[indptr[r]:indptr[r+1]]``, in increasing column order. Grey levels are listed as
    they are, one byte each, and ``levels`` holds what each of the 256 stands for: the entry
    is then ``levels[values[p]]``, the same number as the float listing would hold.
    """

    indptr: Array  # (n + 1,) int64
    indices: Array  # (nnz,) int32
    values: Array  # (nnz,) the network's dtype, or uint8 grey levels when levels is given
    n_in: int
    levels: Array | None = None  # (256,) the network's dtype: grey level k's value

    @property
    def n(self) -> int:
        return len(self.indptr) - 1

    @property
    def dtype(self) -> np.dtype:
        """The dtype of the entries as the network reads them."""
        return self.values.dtype if self.levels is None else self.levels.dtype


def supports(net: Network) -> bool:
    """Whether the fast path has ``net``'s activation, cost and dtype, and ``net`` is the book's
    kind (no batch norm, no skips: :attr:`Network.plain`)."""
    return (
        net.plain
        and net.activation in ACTIVATION_CODES
        and net.cost in COST_CODES
        and net.dtype in (np.float32, np.float64)
    )


def sparse_rows(
    x: Array, dtype: str | np.dtype | type = np.float64, *, divisor: float = 1.0
) -> SparseRows:
    """List the nonzero entries of ``x`` (n, n_in), once per data set, as ``dtype`` values.

    Each entry stands for ``x[r, i] / divisor`` computed in float64, then cast to ``dtype``.
    uint8 grey levels are kept as bytes beside a table of the 256 values (``levels``): with
    ``divisor=255.0`` MNIST's grey levels give exactly the pixels of ``Split.x`` (both are
    ``np.float64(k) / 255.0``), without the dense float64 matrix, in a listing 8x smaller.

    Two compiled passes (count, then fill) with no index of every entry on the side: for
    MNIST's 50,000 images the listing is about 38 MB from grey levels and 90 MB from float64
    pixels; the dense float64 matrix is 314 MB.
    """
    x = np.ascontiguousarray(x)
    if x.ndim != 2:
        raise BadInput(f"inputs must be a 2-D (n, n_in) array, got shape {x.shape}")
    if not divisor > 0:
        raise BadInput(f"divisor must be > 0, got {divisor!r}")
    dtype = np.dtype(dtype)
    counts = fast_kernel.count_nonzero(x)  # (n,)
    indptr = np.zeros(len(x) + 1, dtype=np.int64)
    np.cumsum(counts, out=indptr[1:])
    indices = np.empty(indptr[-1], dtype=np.int32)
    grey = x.dtype == np.uint8
    values = np.empty(indptr[-1], dtype=np.uint8 if grey else dtype)
    fast_kernel.fill_nonzero(x, indptr, indices, values, 1.0 if grey else float(divisor))
    levels = None
    if grey:  # correctly rounded float64 division, then the cast: as NumPy's x / 255
        levels = (np.arange(256, dtype=np.float64) / float(divisor)).astype(dtype)
    return SparseRows(indptr, indices, values, x.shape[1], levels)


def _aligned_zeros(n: int, dtype: np.dtype) -> Array:
    """Zeros starting on a 64-byte cache line (NumPy's large arrays start 16 bytes into one),
    so that each of the first layer's padded rows of 32 float64 fills 4 lines, not 5."""
    itemsize = np.dtype(dtype).itemsize
    buf = np.zeros(int(n) + 64 // itemsize, dtype=dtype)
    skip = (-buf.ctypes.data % 64) // itemsize
    return buf[skip : skip + int(n)]


def train_epoch(
    net: Network, rows: SparseRows, y: Array, order: Array, *, m: int, eta: float, lmbda: float
) -> None:
    """One epoch of mini-batch SGD over the examples ``order``, updating ``net`` in place.

    Parameters
    ----------
    rows : the training inputs, from :func:`sparse_rows` in ``net.dtype``.
    y : (n, n_out) desired outputs.
    order : (n,) the examples' order, e.g. ``rng.permutation(n)``; mini-batches are
        ``order[k:k+m]``, the last one shorter when ``m`` does not divide ``n``.

    The weight decay uses ``n = rows.n``, the training-set size. Nothing is checked for
    finiteness: a diverging run leaves NaN or infinite weights for the caller to find.
    """
    if not supports(net):
        raise BadInput(
            f"the fast path has no {net.activation!r} activation, {net.cost!r} cost or "
            f"{net.dtype} weights; use the NumPy engine"
        )
    dtype, n = net.dtype, rows.n
    if rows.dtype != dtype or rows.n_in != net.sizes[0]:
        raise BadInput(
            f"sparse rows of {rows.n_in} {rows.dtype} inputs do not fit a "
            f"{dtype} network of sizes {list(net.sizes)}"
        )
    y = np.ascontiguousarray(y, dtype=dtype)
    if y.shape != (n, net.sizes[-1]):
        raise BadInput(f"desired outputs of shape {y.shape}, expected {(n, net.sizes[-1])}")
    order = np.ascontiguousarray(order, dtype=np.int64)
    if len(order) and (order.min() < 0 or order.max() >= n):
        raise BadInput(f"the example order indexes outside the {n} training examples")
    if m < 1:
        raise BadInput(f"mini-batch size must be >= 1, got {m}")

    for l, w in enumerate(net.weights):
        # As the NumPy path does: C-ordered weights of the network's dtype, updated in place.
        if not w.flags.c_contiguous or w.dtype != dtype:
            net.weights[l] = np.ascontiguousarray(w, dtype=dtype)
    sizes = np.array(net.sizes, dtype=np.int64)
    lanes = fast_kernel.LANES
    pads = -(-sizes // lanes) * lanes  # each width rounded up to 8
    pads[0] = sizes[0]  # the inputs are read sparse, never as a padded row
    shapes = [(sizes[0], pads[1])] + [(sizes[l + 1], pads[l]) for l in range(1, len(sizes) - 1)]
    woff = np.zeros(len(sizes), dtype=np.int64)  # layer l's weights: wv[woff[l]:woff[l+1]]
    np.cumsum([a * b for a, b in shapes], out=woff[1:])
    boff = np.zeros(len(sizes), dtype=np.int64)  # layer l's biases: bv[boff[l]:boff[l+1]]
    np.cumsum(sizes[1:], out=boff[1:])
    uo = np.zeros(len(sizes), dtype=np.int64)  # layer l+1's neurons in an example's row
    np.cumsum(pads[1:], out=uo[1:])

    wv = _aligned_zeros(woff[-1], dtype)  # padding weights are zero and stay zero
    views = [wv[woff[l] : woff[l + 1]].reshape(shape) for l, shape in enumerate(shapes)]
    views[0][:, : sizes[1]] = net.weights[0].T  # the first layer as (n_in, n_out)
    for l in range(1, len(views)):
        views[l][:, : sizes[l]] = net.weights[l]
    bv = np.concatenate(net.biases).astype(dtype, copy=False)

    decay = 1.0 - eta * lmbda / n  # as the NumPy path computes it
    # The kernel reads either float entries or grey levels through their table.
    none = np.zeros(0, dtype=dtype)
    if rows.levels is None:
        values, grey, levels = rows.values, np.zeros(0, dtype=np.uint8), none
    else:
        values, grey, levels = none, rows.values, rows.levels
    # The kernel's scratch, starting on a cache line (in float64 every row does): the batch's
    # activations and errors, one layer's weighted inputs.
    width, rows_m = int(uo[-1]), max(1, min(m, n))
    acts = _aligned_zeros(rows_m * width, dtype).reshape(rows_m, width)
    deltas = _aligned_zeros(rows_m * width, dtype).reshape(rows_m, width)
    z = _aligned_zeros(int(pads[1:].max()), dtype)
    fast_kernel.epoch(
        wv, woff, bv, boff, sizes, pads, uo, rows.indptr, rows.indices, values, grey, levels,
        y, order, m, eta, decay, ACTIVATION_CODES[net.activation], COST_CODES[net.cost],
        acts, deltas, z,
    )  # fmt: skip

    net.weights[0][...] = views[0][:, : sizes[1]].T
    for l in range(1, len(views)):
        net.weights[l][...] = views[l][:, : sizes[l]]
    for l, b in enumerate(net.biases):
        b[...] = bv[boff[l] : boff[l + 1]]
