"""The chain's options and overflow report by value: what ``build_chain`` passes on to the chain
it makes, and which keys an overflow names, with its note word for word."""

from __future__ import annotations

import numpy as np

from layerspeed import chain as ch
from layerspeed.chain.model import exploding_chain, random_chain


def test_random_chain_keeps_its_inputs_and_draws_weights_then_biases() -> None:
    c = random_chain(3, np.random.default_rng(2), x=0.5, y=0.25, activation="tanh",
                     cost="cross-entropy")  # fmt: skip
    ref = np.random.default_rng(2)
    assert c.weights == tuple(ref.standard_normal(3)) and c.biases == tuple(ref.standard_normal(3))
    assert (c.x, c.y, c.activation, c.cost) == (0.5, 0.25, "tanh", "cross-entropy")


def test_build_chain_passes_every_option_on() -> None:
    boom = ch.build_chain(exploding=True, x=0.5, y=0.25, activation="tanh", cost="cross-entropy")
    assert boom == exploding_chain(4, x=0.5, y=0.25, activation="tanh", cost="cross-entropy")
    assert boom.length == 4  # the default length
    assert ch.build_chain(exploding=True, length=6).length == 6
    drawn = ch.build_chain(seed=3, length=3, x=0.5, y=0.25)
    ref = random_chain(3, np.random.default_rng(3), x=0.5, y=0.25)
    assert drawn == ref and (drawn.x, drawn.y) == (0.5, 0.25)
    # A seed with biases given: the weights are drawn, the biases kept.
    mixed = ch.build_chain(seed=3, biases=(0.1, 0.2, 0.3))
    assert mixed.biases == (0.1, 0.2, 0.3) and mixed.weights == ref.weights
    mixed = ch.build_chain(seed=3, weights=(1.0, 2.0, 3.0))
    assert mixed.weights == (1.0, 2.0, 3.0) and mixed.biases == ref.biases


def test_the_overflow_note_and_the_lists_it_names() -> None:
    r = ch.analyse(ch.build_chain(exploding=True, length=250))
    out = r.to_json_dict()
    assert out["note"] == (
        "these values overflowed the float64 range (inf, or NaN from inf); they are null here"
    )
    # Lists count too: the terms' running products overflow in dC_db.formula's entries.
    bad = r.overflowed()
    assert "dC_db.formula" in bad and "dC_db1.formula" in bad
    assert set(bad) <= set(out["overflowed"]) and out["overflowed"] == bad
    assert "terms" not in bad  # each term is 25: finite
