"""The probe's cost: the book's cross-entropy on logits, and the default for other targets.

The probe needs a cost that is the *mean over examples* of a per-example cost, so that the
gradient of every bias is the mean of the per-example gradients, as in the chapter.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor

from layerspeed.errors import BadInput

LossFn = Callable[[Tensor, Tensor], Tensor]


def book_cross_entropy(output: Tensor, y: Tensor) -> Tensor:
    """network2's ``CrossEntropyCost`` on logits, averaged over the examples.

    ``output`` (n, n_out) are the output layer's weighted inputs z^L (the sigmoid is applied
    here, stably); ``y`` (n, n_out) the desired outputs. Per example the cost is
    ``sum_j [-y_j ln a_j - (1 - y_j) ln(1 - a_j)]``; its gradient with respect to z^L is
    ``a - y``, the book's delta^L. The mean over the examples makes the gradient of every
    bias the mean of the per-example gradients, which is what the book's speed needs.
    """
    return F.binary_cross_entropy_with_logits(output, y, reduction="sum") / output.shape[0]


def default_loss(output: Tensor, y: Tensor) -> Tensor:
    """The probe's cost when none is given: a mean over the probe set of per-example costs.

    Integer labels of shape (n,): softmax cross-entropy (``F.cross_entropy``, mean).
    Float targets shaped like the output: :func:`book_cross_entropy`.
    """
    if not torch.is_floating_point(y) and y.ndim == 1:
        return F.cross_entropy(output, y)
    if y.shape == output.shape:
        return book_cross_entropy(output, y)
    raise BadInput(
        f"no default probe cost for targets of shape {tuple(y.shape)} and dtype {y.dtype} "
        f"with outputs of shape {tuple(output.shape)}; pass loss_fn= (a mean over examples)"
    )
