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

Where the time goes, and what the loops are shaped for (measured on a 2-core AMD EPYC with
AVX-512; the savings are rough, on the book's deep net's MNIST epoch of about 0.16 s, each
change timed against the loop before it in one process):

- A sum into an array element (``z[j] += ...``) waits for the last iteration's store every
  time round; the first layer's forward pass and every backward pass therefore add four
  inputs' terms per pass over their array, not one (about 10 ms).
- The examples come in a random order, so each one's inputs, desired outputs and row
  offsets are fetched from memory a couple of examples early (the outputs and offsets:
  about 8 ms).
- The sigmoid runs over a layer's padded width, as whole vectors: :func:`_exp` is written for
  the vectorizer, where a call to the C library's ``exp`` would take one number at a time
  (about 11 ms).
- The hidden layers' weights are read and written once per *pair* of examples in the step
  (about 13 ms).
"""

from __future__ import annotations

import math

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


@intrinsic
def _as_float(typingctx, bits):  # type: ignore[no-untyped-def]
    """The float64 whose IEEE 754 bits are the int64 ``bits`` (a bitcast, which vectorizes)."""
    sig = types.float64(types.int64)

    def codegen(context, builder, signature, args):  # type: ignore[no-untyped-def]
        return builder.bitcast(args[0], ir.DoubleType())

    return sig, codegen


# exp(x) = 2^k exp(r), x = k ln 2 + r, |r| <= ln(2)/2; ln 2 in two parts (Cody and Waite) so
# that k ln 2 is exact in the first, and exp(r) by its Taylor series to r^13/13!, whose
# remainder is under 5e-18 of it.
_LOG2E = 1.4426950408889634
_LN2_HI = 6.93147180369123816490e-01  # ln 2 to 32 bits: k * _LN2_HI is exact for |k| < 2^21
_LN2_LO = 1.90821492927058770002e-10  # the rest of ln 2
_HORNER = tuple(1.0 / math.factorial(k) for k in range(13, -1, -1))  # 1/13!, ..., 1/1!, 1/0!


@njit(cache=True, fastmath=_REORDER, error_model="numpy", inline="always")
def _exp(x):  # type: ignore[no-untyped-def]
    """``exp(x)`` in float64 within 1 ulp of the C library's (``tests/test_fast.py`` checks it
    over the whole range), in arithmetic and a bitcast only, so that a loop of them runs as
    vectors. Beyond ln of the largest float64 (709.7827...) it gives inf, under -745.14 it
    gives 0, and NaN gives NaN, as the C library's does.

    No math library on PyPI gives Numba a vector ``exp`` (Intel's SVML needs a patched LLVM
    that the llvmlite wheels lack), and the C library's costs 3.8 ns a number here against
    1.1 ns for this one: a seventh of an epoch of the book's deep network.
    """
    # Clamp to where exp over- or underflows (so k fits the exponent); NaN goes through 0.
    xc = 0.0 if x != x else min(max(x, -746.0), 710.0)
    kf = np.floor(xc * _LOG2E + 0.5)
    r = (xc - kf * _LN2_HI) - kf * _LN2_LO
    p = _HORNER[0]
    for c in _HORNER[1:]:
        p = p * r + c
    # 2^k as two halves, each a normal float64 for every k in [-1077, 1025]: the product
    # then rounds into the subnormals or overflows to inf exactly where exp(x) does.
    k = np.int64(kf)
    half = k >> 1
    e = p * _as_float((half + 1023) << 52) * _as_float((k - half + 1023) << 52)
    return x if x != x else e


@njit(cache=True, fastmath=_REORDER, error_model="numpy", inline="always")
def _expit(z):  # type: ignore[no-untyped-def]
    return 1.0 / (1.0 + _exp(-z))


@njit(cache=True, fastmath=_REORDER, error_model="numpy")
def _activate(z, out, o, n, pad, act):  # type: ignore[no-untyped-def]
    """``out[o:o+n] = fn(z[:n])`` for the hidden activation ``act`` (nn/activations.py).

    The sigmoids run over the padded width ``pad``, in whole vectors, and the padding is
    set back to zero after."""
    if act == 0:  # sigmoid
        for j in range(pad):
            out[o + j] = _expit(z[j])
        out[o + n : o + pad] = 0.0
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
        for j in range(pad):
            out[o + j] = 4.0 * _expit(z[j]) - 2.0
        out[o + n : o + pad] = 0.0
    else:  # identity
        for j in range(n):
            out[o + j] = z[j]


@njit(cache=True, error_model="numpy")
def _times_prime(back, a, o, n, act):  # type: ignore[no-untyped-def]
    """``back[o:o+n] *= fn'(z)``, through the activation ``a = fn(z)`` as the NumPy path's
    ``prime_of_output`` is."""
    if act == 0:  # sigmoid: a (1 - a)
        for i in range(o, o + n):
            back[i] *= a[i] * (1.0 - a[i])
    elif act == 1:  # tanh: 1 - a^2
        for i in range(o, o + n):
            back[i] *= 1.0 - a[i] * a[i]
    elif act == 2:  # relu: a > 0 exactly where z > 0; times 0, so inf * 0 is NaN as in NumPy
        for i in range(o, o + n):
            if not a[i] > 0:
                back[i] *= 0.0
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


@njit(cache=True, fastmath=_REORDER, error_model="numpy")
def _output(z, out, o, n, pad, cost):  # type: ignore[no-untyped-def]
    """The output layer's activation: softmax for log-likelihood, else the sigmoid (over the
    padded width ``pad``, as :func:`_activate`'s)."""
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
        for j in range(pad):
            out[o + j] = _expit(z[j])
        out[o + n : o + pad] = 0.0


@njit(cache=True, fastmath=_REORDER, error_model="numpy")
def epoch(  # type: ignore[no-untyped-def]
    wv, woff, bv, boff, sizes, pads, uo, indptr, indices, values, grey, levels, y, order,
    m, eta, decay, act, cost, acts, deltas, z,
):  # fmt: skip
    """One epoch of mini-batch SGD over ``order``; ``wv`` and ``bv`` are updated in place.

    ``acts`` and ``deltas`` (min(m, n), uo[-1]) and ``z`` (max(pads[1:]),) are zeroed
    scratch that the caller allocates on a cache line (:func:`layerspeed.nn.fast.train_epoch`):
    the batch's activations, its errors dC_x/dz and one layer's weighted inputs.

    The inputs' nonzero entries are ``values[p]``, or, when ``grey`` is not empty, the grey
    level ``grey[p]``'s value ``levels[grey[p]]``.

    Per mini-batch: each example's forward pass and errors with the weights as they were
    at the start of the batch, then the batch's step, as the NumPy path does it. The
    weights are ``s * wv``; see :mod:`layerspeed.nn.fast` for why and when ``s`` is folded.
    """
    n_layers = sizes.shape[0] - 1
    last = n_layers - 1
    p1 = pads[1]
    w0 = wv[: woff[1]].reshape((sizes[0], p1))  # the first layer, a row per input
    s = 1.0
    n = order.shape[0]
    by_level = grey.shape[0] > 0
    n_y = y.shape[1]
    y_flat = y.reshape(y.size)
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
                _prefetch(y_flat, ahead * n_y)
                _prefetch(y_flat, ahead * n_y + n_y - 1)
                if k + t + 2 * AHEAD < n:  # its row offsets, for the fetch above
                    _prefetch(indptr, order[k + t + 2 * AHEAD])
            a_t, d_t = acts[t], deltas[t]
            # The first layer from the nonzero inputs only: z = s (v @ x) + b.
            # Four inputs a pass over z (see the module's notes), then the rest one by one.
            # The entry's value is picked in place (grey level or float): an inlined helper
            # for it made the epoch 3.5 times slower.
            z[:p1] = 0.0
            p, p_end = indptr[ex], indptr[ex + 1]
            while p + 4 <= p_end:
                if by_level:
                    x0, x1 = levels[grey[p]], levels[grey[p + 1]]
                    x2, x3 = levels[grey[p + 2]], levels[grey[p + 3]]
                else:
                    x0, x1, x2, x3 = values[p], values[p + 1], values[p + 2], values[p + 3]
                r0, r1 = w0[indices[p]], w0[indices[p + 1]]
                r2, r3 = w0[indices[p + 2]], w0[indices[p + 3]]
                for j in range(p1):
                    z[j] += (x0 * r0[j] + x1 * r1[j]) + (x2 * r2[j] + x3 * r3[j])
                p += 4
            for q in range(p, p_end):
                xv = levels[grey[q]] if by_level else values[q]
                row = w0[indices[q]]
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
                    _output(z, a_t, uo[l], n_out, pads[l + 1], cost)
                else:
                    _activate(z, a_t, uo[l], n_out, pads[l + 1], act)
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
                j = 0
                while j + 4 <= n_out:  # four rows a pass over back
                    w_0, w_1, w_2, w_3 = w[j], w[j + 1], w[j + 2], w[j + 3]
                    d_0, d_1, d_2, d_3 = d[j], d[j + 1], d[j + 2], d[j + 3]
                    for i in range(p_in):
                        back[i] += (d_0 * w_0[i] + d_1 * w_1[i]) + (d_2 * w_2[i] + d_3 * w_3[i])
                    j += 4
                for q in range(j, n_out):
                    w_q, d_q = w[q], d[q]
                    for i in range(p_in):
                        back[i] += d_q * w_q[i]
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
        for l in range(1, n_layers):  # two examples' terms a pass over the weights
            n_out, p_in = sizes[l + 1], pads[l]
            w = wv[woff[l] : woff[l + 1]].reshape((n_out, p_in))
            below, here = slice(uo[l - 1], uo[l]), slice(uo[l], uo[l + 1])
            for t in range(0, mb - 1, 2):
                a_0, a_1 = acts[t, below], acts[t + 1, below]
                d_0, d_1 = deltas[t, here], deltas[t + 1, here]
                for j in range(n_out):
                    w_j, f_0, f_1 = w[j], c * d_0[j], c * d_1[j]
                    for i in range(p_in):
                        w_j[i] -= f_0 * a_0[i] + f_1 * a_1[i]
            if mb % 2:
                a_0, d_0 = acts[mb - 1, below], deltas[mb - 1, here]
                for j in range(n_out):
                    w_j, f_0 = w[j], c * d_0[j]
                    for i in range(p_in):
                        w_j[i] -= f_0 * a_0[i]
        for t in range(mb):
            ex = order[k + t]
            d = deltas[t, :p1]
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
