"""The figures: one definition each, drawn as PNG and SVG files and in the report page.

Each figure is one pure function from data (a part of ``results.json``, a sweep's summary,
run records) to an Altair (Vega-Lite) chart; :func:`render` draws a chart as PNG or SVG,
:func:`save_figures` writes them through the store, and the page embeds the same chart's spec.

- :mod:`.chapter`: the chapter's experiments (neurons, depth, initial and training speeds);
- :mod:`.chain`: sigma', the width bound (123), the identity neuron;
- :mod:`.sweep`: a sweep's heatmaps or bars;
- :mod:`.runs`: speeds per layer of a group of run folders.
"""

from layerspeed.views.figures.chain import identity_error, sigma_prime, width_bound
from layerspeed.views.figures.chapter import (
    chapter_figures,
    depth_accuracy,
    initial_speeds,
    neuron_bars,
    training_speeds,
)
from layerspeed.views.figures.render import javascript, render, save_figures, spec
from layerspeed.views.figures.runs import run_speeds
from layerspeed.views.figures.sweep import sweep_figure

__all__ = [
    "chapter_figures",
    "depth_accuracy",
    "identity_error",
    "initial_speeds",
    "javascript",
    "neuron_bars",
    "render",
    "run_speeds",
    "save_figures",
    "sigma_prime",
    "spec",
    "sweep_figure",
    "training_speeds",
    "width_bound",
]
