"""Charts to files and to the page: PNG and SVG through vl-convert, specs for vega-embed.

One chart object serves all three: :func:`render` draws it as PNG or SVG bytes,
:func:`spec` gives the Vega-Lite spec the page embeds, and :func:`javascript` the Vega,
Vega-Lite and vega-embed code (from vl-convert-python, so the page needs no network) that
draws it there. :func:`save_figures` is the edge that writes files, through the store's
atomic writer.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import altair as alt
import vl_convert as vlc

from layerspeed.store import atomic_writer
from layerspeed.views.figures._base import Chart

Format = Literal["png", "svg"]
FORMATS: tuple[Format, ...] = ("png", "svg")
PNG_SCALE = 2.0  # pixels per chart unit: sharp on high-density screens and in print
# The Vega-Lite version Altair writes, as vl-convert names it ("6.4").
VL_VERSION = ".".join(alt.VEGALITE_VERSION.split(".")[:2])


def spec(chart: Chart) -> dict[str, Any]:
    """The chart's Vega-Lite spec, as plain JSON-ready data."""
    out: dict[str, Any] = chart.to_dict()
    return out


def render(chart: Chart, fmt: Format) -> bytes:
    """The chart drawn as ``"png"`` or ``"svg"`` bytes."""
    s = spec(chart)
    if fmt == "png":
        return bytes(vlc.vegalite_to_png(s, vl_version=VL_VERSION, scale=PNG_SCALE))
    if fmt == "svg":
        return vlc.vegalite_to_svg(s, vl_version=VL_VERSION).encode("utf-8")
    raise ValueError(f"unknown figure format {fmt!r}; expected one of {FORMATS}")


def save_figures(
    charts: Mapping[str, Chart],
    folder: str | os.PathLike[str],
    *,
    formats: tuple[Format, ...] = FORMATS,
) -> list[Path]:
    """Write ``folder/stem.png`` and ``folder/stem.svg`` for each ``stem: chart``; the paths."""
    paths = []
    for stem, chart in charts.items():
        for fmt in formats:
            path = Path(folder) / f"{stem}.{fmt}"
            with atomic_writer(path, binary=True) as f:
                f.write(render(chart, fmt))
            paths.append(path)
    return paths


@functools.cache
def javascript() -> str:
    """Vega, Vega-Lite and vega-embed as one script that sets ``window.vegaEmbed``.

    Checked to hold no ``</script``, so it can be inlined in a page as it is.
    """
    code: str = vlc.javascript_bundle(None, vl_version=VL_VERSION)  # type: ignore[arg-type]
    if "</script" in code.lower():
        raise RuntimeError("the Vega bundle contains '</script' and cannot be inlined")
    return code
