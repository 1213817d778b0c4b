"""Matplotlib figures: each function takes data and an ``Axes`` and returns the ``Axes``.

Create figures with :class:`matplotlib.figure.Figure` (no pyplot, no global backend); only the
command line and the experiment runner save them to files.
"""
