"""The compiled kernels of the fast path (:mod:`layerspeed.nn.fast`): one SGD epoch as a loop.

Weights and biases are flat buffers with offsets. Where a layer's width is the contiguous
dimension it is padded to a multiple of 8 (:data:`LANES`), so that its loops run in whole
vector registers; padding weights and activations are zero and stay zero, so they change no
sum.

Layout, with ``P[l]`` layer ``l``'s width rounded up to 8:

- weights ``wv``: layer 0 as ``(n_in, P[1])``, a pixel's weights one contiguous row; layer
  ``l >= 1`` as ``(sizes[l+1], P[l])``, the book's ``(n_out, n_in)``.
- biases ``bv``: every layer's, unpadded.
- activations and errors of one example: a row of ``uo[-1]`` entries, layer ``l + 1``'s
  neurons at ``uo[l]:uo[l] + P[l+1]``; one row per example of the mini-batch.
"""

from __future__ import annotations

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.core import cgutils
from numba.extending import intrinsic

LANES = 8  # 8 float64 fill an AVX-512 register, 8 float32 an AVX one
LEAKY_SLOPE = 0.01  # nn/activations.py's
FOLD_BELOW = 0.5  # fold the decay scale s into the weights before it falls below this
QUADRATIC, LOG_LIKELIHOOD = 1, 2  # the cost codes the kernel needs by name
AHEAD = 2  # how many examples ahead in the epoch's order the inputs are fetched early
# Sums may be reordered and products fused into FMAs, as BLAS does: that changes only the
# rounding. No flag that assumes finite numbers: a diverging run must still come out NaN
# or infinite.
_REORDER = {"reassoc", "contract"}


@njit(cache=True)
def count_nonzero(x):  # type: ignore[no-untyped-def]
    """The number of nonzero entries in each row of ``x`` (n, n_in)."""
    counts = np.zeros(x.shape[0], dtype=np.int64)
    for r in range(x.shape[0]):
        c = 0
        for i in range(x.shape[1]):
            if x[r, i] != 0:
                c += 1
        counts[r] = c
    return counts


@njit(cache=True)
def fill_nonzero(x, indptr, indices, values, divisor):  # type: ignore[no-untyped-def]
    """Write row ``r``'s nonzero columns and values ``x / divisor`` at ``indptr[r]:indptr[r+1]``.

    The division is in float64 and correctly rounded (no fastmath here), so uint8 grey levels
    over 255.0 are bit for bit NumPy's ``np.divide(x, 255.0, dtype=np.float64)``; a divisor of
    1.0 copies float values exactly.
    """
    for r in range(x.shape[0]):
        p = indptr[r]
        for i in range(x.shape[1]):
            if x[r, i] != 0:
                indices[p] = i
                values[p] = np.float64(x[r, i]) / divisor
                p += 1


@intrinsic
def _prefetch(typingctx, arr, i):  # type: ignore[no-untyped-def]
    """Ask the processor to bring ``arr[i]``'s cache line in, for reading; it never faults."""
    sig = types.void(arr, i)

    def codegen(context, builder, signature, args):  # type: ignore[no-untyped-def]
        aryty = signature.args[0]
        ary = context.make_array(aryty)(context, builder, args[0])
        ptr = cgutils.get_item_pointer(context, builder, aryty, ary, [args[1]], wraparound=False)
        byte, i32 = ir.IntType(8).as_pointer(), ir.IntType(32)
        fnty = ir.FunctionType(ir.VoidType(), [byte, i32, i32, i32])
        fn = cgutils.get_or_insert_function(builder.module, fnty, "llvm.prefetch.p0i8")
        # a read, kept in every cache level, of data
        builder.call(fn, [builder.bitcast(ptr, byte), i32(0), i32(3), i32(1)])
        return context.get_dummy_value()

    return sig, codegen


@njit(cache=True)
def _prefetch_entries(indices, values, lo, hi):  # type: ignore[no-untyped-def]
    """Fetch early the cache lines of one example's nonzero entries ``[lo, hi)``.

    The examples come in a random order, so each one's entries lie somewhere in a listing of
    tens of MB, in no cache; fetched while earlier examples compute, they are there when
    their turn comes (about a tenth of an MNIST epoch's time).
    """
    if hi > lo:
        for q in range(lo, hi, max(1, 64 // values.itemsize)):  # 64-byte lines
            _prefetch(values, q)
        for q in range(lo, hi, 64 // indices.itemsize):
            _prefetch(indices, q)
        _prefetch(values, hi - 1)
        _prefetch(indices, hi - 1)


@njit(cache=True)
def _expit(z):  # type: ignore[no-untyped-def]
    return 1.0 / (1.0 + np.exp(-z))


@njit(cache=True)
def _activate(z, out, o, n, act):  # type: ignore[no-untyped-def]
    """``out[o:o+n] = fn(z[:n])`` for the hidden activation ``act`` (nn/activations.py)."""
    if act == 0:  # sigmoid
        for j in range(n):
            out[o + j] = _expit(z[j])
    elif act == 1:  # tanh
        for j in range(n):
            out[o + j] = np.tanh(z[j])
    elif act == 2:  # relu; NaN stays NaN, as np.maximum keeps it
        for j in range(n):
            out[o + j] = 0.0 if z[j] <= 0 else z[j]
    elif act == 3:  # leaky_relu
        for j in range(n):
            out[o + j] = z[j] if z[j] > 0 else LEAKY_SLOPE * z[j]
    elif act == 4:  # softplus, np.logaddexp(0, z): never overflows
        for j in range(n):
            v = z[j]
            out[o + j] = v + np.log1p(np.exp(-v)) if v > 0 else np.log1p(np.exp(v))
    elif act == 5:  # scaled_sigmoid, 4 sigma - 2
        for j in range(n):
            out[o + j] = 4.0 * _expit(z[j]) - 2.0
    else:  # identity
        for j in range(n):
            out[o + j] = z[j]


@njit(cache=True)
def _times_prime(back, a, o, n, act):  # type: ignore[no-untyped-def]
    """``back[o:o+n] *= fn'(z)``, through the activation ``a = fn(z)`` as the NumPy path's
    ``prime_of_output`` is."""
    if act == 0:  # sigmoid: a (1 - a)
        for i in range(o, o + n):
            back[i] *= a[i] * (1.0 - a[i])
    elif act == 1:  # tanh: 1 - a^2
        for i in range(o, o + n):
            back[i] *= 1.0 - a[i] * a[i]
    elif act == 2:  # relu: a > 0 exactly where z > 0
        for i in range(o, o + n):
            if not a[i] > 0:
                back[i] = 0.0
    elif act == 3:  # leaky_relu
        for i in range(o, o + n):
            if not a[i] > 0:
                back[i] *= LEAKY_SLOPE
    elif act == 4:  # softplus: sigma(z) = 1 - e^(-a)
        for i in range(o, o + n):
            back[i] *= -np.expm1(-a[i])
    elif act == 5:  # scaled_sigmoid: 4 sigma (1 - sigma) = 1 - a^2/4
        for i in range(o, o + n):
            back[i] *= 1.0 - 0.25 * a[i] * a[i]
    # identity: fn' = 1


@njit(cache=True)
def _output(z, out, o, n, cost):  # type: ignore[no-untyped-def]
    """The output layer's activation: softmax for log-likelihood, else the sigmoid."""
    if cost == LOG_LIKELIHOOD:
        top = z[0]
        for j in range(1, n):
            top = max(top, z[j])
        total = 0.0
        for j in range(n):
            out[o + j] = np.exp(z[j] - top)
            total += out[o + j]
        for j in range(n):
            out[o + j] /= total
    else:
        for j in range(n):
            out[o + j] = _expit(z[j])


@njit(cache=True, fastmath=_REORDER)
def epoch(  # type: ignore[no-untyped-def]
    wv, woff, bv, boff, sizes, pads, uo, indptr, indices, values, grey, levels, y, order,
    m, eta, decay, act, cost,
):  # fmt: skip
    """One epoch of mini-batch SGD over ``order``; ``wv`` and ``bv`` are updated in place.

    The inputs' nonzero entries are ``values[p]``, or, when ``grey`` is not empty, the grey
    level ``grey[p]``'s value ``levels[grey[p]]``.

    Per mini-batch: each example's forward pass and errors with the weights as they were
    at the start of the batch, then the batch's step, as the NumPy path does it. The
    weights are ``s * wv``; see :mod:`layerspeed.nn.fast` for why and when ``s`` is folded.
    """
    n_layers = sizes.shape[0] - 1
    last = n_layers - 1
    p1 = pads[1]
    width = uo[n_layers]  # one example's row of activations or errors
    acts = np.zeros((m, width), dtype=wv.dtype)  # the batch's activations
    deltas = np.zeros((m, width), dtype=wv.dtype)  # the batch's errors dC_x/dz
    z = np.zeros(pads.max(), dtype=wv.dtype)  # scratch: one layer's weighted inputs
    w0 = wv[: woff[1]].reshape((sizes[0], p1))  # the first layer, a row per input
    s = 1.0
    n = order.shape[0]
    by_level = grey.shape[0] > 0
    for k in range(0, n, m):
        mb = min(m, n - k)
        for t in range(mb):
            ex = order[k + t]
            if k + t + AHEAD < n:
                ahead = order[k + t + AHEAD]
                lo, hi = indptr[ahead], indptr[ahead + 1]
                if by_level:
                    _prefetch_entries(indices, grey, lo, hi)
                else:
                    _prefetch_entries(indices, values, lo, hi)
            a_t, d_t = acts[t], deltas[t]
            # The first layer from the nonzero inputs only: z = s (v @ x) + b.
            z[:] = 0.0
            for p in range(indptr[ex], indptr[ex + 1]):
                xv = levels[grey[p]] if by_level else values[p]
                row = w0[indices[p]]
                for j in range(p1):
                    z[j] += xv * row[j]
            for l in range(n_layers):
                n_out, p_in = sizes[l + 1], pads[l]
                if l > 0:
                    w = wv[woff[l] : woff[l + 1]].reshape((n_out, p_in))
                    a_in = a_t[uo[l - 1] : uo[l]]
                    for j in range(n_out):
                        w_j = w[j]
                        acc = 0.0
                        for i in range(p_in):
                            acc += w_j[i] * a_in[i]
                        z[j] = acc
                b = bv[boff[l] : boff[l + 1]]
                for j in range(n_out):
                    z[j] = s * z[j] + b[j]
                if l == last:
                    _output(z, a_t, uo[l], n_out, cost)
                else:
                    _activate(z, a_t, uo[l], n_out, act)
            # The output error (nn/costs.py): a - y; the quadratic cost keeps sigma'(z).
            o, y_ex = uo[last], y[ex]
            for j in range(sizes[n_layers]):
                a = a_t[o + j]
                d = a - y_ex[j]
                d_t[o + j] = d * (a * (1.0 - a)) if cost == QUADRATIC else d
            # Back through the weights as they were: delta^{l-1} = s (delta^l @ v^l) * fn'.
            for l in range(last, 0, -1):
                n_in, n_out, p_in = sizes[l], sizes[l + 1], pads[l]
                w = wv[woff[l] : woff[l + 1]].reshape((n_out, p_in))
                d = d_t[uo[l] : uo[l + 1]]
                back = d_t[uo[l - 1] : uo[l]]
                back[:] = 0.0
                for j in range(n_out):
                    w_j, d_j = w[j], d[j]
                    for i in range(p_in):
                        back[i] += d_j * w_j[i]
                for i in range(n_in):
                    back[i] *= s
                _times_prime(d_t, a_t, uo[l - 1], n_in, act)

        # The step w -> decay w - scale nabla_w, with w = s v: s -> decay s and
        # v -> v - (scale / s) nabla_w; fold s into v first if it would get small.
        scale = eta / mb
        if s * decay < FOLD_BELOW:
            wv *= s * decay
            s = 1.0
        else:
            s *= decay
        c = scale / s
        for t in range(mb):
            a_t, d_t = acts[t], deltas[t]
            for l in range(1, n_layers):
                n_out, p_in = sizes[l + 1], pads[l]
                w = wv[woff[l] : woff[l + 1]].reshape((n_out, p_in))
                a_in = a_t[uo[l - 1] : uo[l]]
                for j in range(n_out):
                    w_j, f = w[j], c * d_t[uo[l] + j]
                    for i in range(p_in):
                        w_j[i] -= f * a_in[i]
            ex = order[k + t]
            d = d_t[:p1]
            for p in range(indptr[ex], indptr[ex + 1]):
                f = c * (levels[grey[p]] if by_level else values[p])
                row = w0[indices[p]]
                for j in range(p1):
                    row[j] -= f * d[j]
        for l in range(n_layers):  # biases are not decayed
            for j in range(sizes[l + 1]):
                total = 0.0
                for t in range(mb):
                    total += deltas[t, uo[l] + j]
                bv[boff[l] + j] -= scale * total
    if s != 1.0:
        wv *= s
