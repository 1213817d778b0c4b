"""The report in a real browser: headless Chromium, driven by Selenium, draws every figure.

Debian's ``chromium`` and ``chromium-driver`` (whose versions match) are driven through
Selenium; the test skips, saying why, where Selenium or the driver is missing (``.ci/run``
installs both). It checks what can break: every figure is drawn with no error in the browser's
log, hovering a neuron bar shows its value, a click on a legend entry hides that layer, and
the page requests nothing but itself. The screenshot goes to pytest's ``tmp_path`` and,
where ``LAYERSPEED_ARTIFACTS`` names a folder, is copied there.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from layerspeed.views.report import to_html
from test_report import chapter_results, torch_runs

webdriver = pytest.importorskip(
    "selenium.webdriver", reason="selenium is not installed (pip install -e '.[dev]')"
)
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.action_chains import ActionChains  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

CHROMEDRIVER = os.environ.get("LAYERSPEED_CHROMEDRIVER", "/usr/bin/chromedriver")
FLAGS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--window-size=1280,1000",
)

# Every figure container: its id, whether vega-embed finished, and what it drew.
FIGURES_DRAWN = """
return Array.from(document.querySelectorAll('[data-figure]')).map(f => {
  const marks = f.querySelectorAll('svg path, svg rect, svg line, canvas').length;
  const box = f.getBoundingClientRect();
  return {id: f.dataset.figure, drawn: f.dataset.drawn === 'true',
          svgs: f.querySelectorAll('svg, canvas').length, marks: marks,
          width: box.width, height: box.height, error: f.querySelector('.error') !== null};
});
"""
# The addresses the page asked for (Resource Timing covers scripts, styles, images, fetches).
REQUESTED = "return performance.getEntriesByType('resource').map(e => e.name);"


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not Path(CHROMEDRIVER).is_file():
        pytest.skip(
            f"no chromedriver at {CHROMEDRIVER}; install Debian's `chromium` and "
            "`chromium-driver` to run the report's browser test"
        )
    options = webdriver.ChromeOptions()
    for flag in FLAGS:
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    with tempfile.TemporaryDirectory(prefix="layerspeed-chromium-") as profile:
        options.add_argument(f"--user-data-dir={profile}")
        driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
        try:
            yield driver
        finally:
            driver.quit()


def _open(driver: Any, page: Path, n_figures: int) -> list[dict[str, Any]]:
    driver.get(page.as_uri())
    WebDriverWait(driver, 30).until(
        lambda d: (
            len(d.find_elements(By.CSS_SELECTOR, "[data-drawn='true'], .figure .error"))
            >= n_figures
        )
    )
    drawn: list[dict[str, Any]] = driver.execute_script(FIGURES_DRAWN)
    return drawn


def _errors(driver: Any) -> list[str]:
    return [e["message"] for e in driver.get_log("browser") if e["level"] == "SEVERE"]


def _save_artifact(path: Path) -> None:
    target = os.environ.get("LAYERSPEED_ARTIFACTS")
    if target:
        Path(target).mkdir(parents=True, exist_ok=True)
        shutil.copy(path, Path(target) / path.name)


def _layer_opacity(driver: Any, fig_id: str, layer: str) -> list[float]:
    """The opacity of every mark of ``layer`` in a figure, read from the Vega view's scene."""
    return driver.execute_script(
        """
        const view = window.layerspeedViews[arguments[0]], layer = arguments[1], out = [];
        (function walk(node) {
          if (node.datum && node.datum.layer === layer && node.opacity !== undefined
              && node.mark && node.mark.marktype !== 'group') out.push(node.opacity);
          (node.items || []).forEach(walk);
        })(view.scenegraph().root);
        return out;
        """,
        fig_id,
        layer,
    )


def test_chapter_report_in_chromium(browser, tmp_path):
    results = chapter_results()
    page = tmp_path / "report.html"
    html = to_html(results, torch_runs())
    page.write_text(html, encoding="utf-8")
    ids = re.findall(r'data-figure="([^"]+)"', html)
    drawn = _open(browser, page, len(ids))
    assert {f["id"] for f in drawn} >= {"neurons", "initial", "training", "sigma-prime", "width"}
    assert any(f["id"].startswith("runs-") for f in drawn)
    for f in drawn:
        assert f["drawn"] and not f["error"], f"figure {f['id']} was not drawn: {f}"
        assert f["svgs"] >= 1 and f["marks"] > 10, f"figure {f['id']} is empty: {f}"
        assert f["width"] > 100 and f["height"] > 100, f"figure {f['id']} has no size: {f}"

    # Hovering the first bar of the first hidden layer shows its value in the tooltip.
    bar = browser.find_element(
        By.CSS_SELECTOR, '[data-figure="neurons"] g.mark-rect path[aria-roledescription="bar"]'
    )
    browser.execute_script("arguments[0].scrollIntoView({block: 'center'})", bar)

    def hovered(d: Any) -> Any:
        # Move onto the bar again each time: the first pointer event can land before the
        # view listens, and a tooltip only shows on a move.
        ActionChains(d).move_by_offset(0, 0).move_to_element(bar).move_by_offset(1, 0).perform()
        tip = d.find_elements(By.ID, "vg-tooltip-element")
        return tip[0] if tip and "visible" in (tip[0].get_attribute("class") or "") else False

    tip = WebDriverWait(browser, 15, poll_frequency=0.5).until(hovered)
    text = tip.text
    assert "hidden layer 1" in text and "neuron" in text, text
    shown = float(re.search(r"∂C/∂b\s*([-+0-9.e]+)", text).group(1))
    assert shown == pytest.approx(results["neurons"]["example"]["layers"][0][0], rel=1e-3)

    # A click on a legend entry shows that layer alone, in every panel: the others are hidden.
    assert set(_layer_opacity(browser, "training", "hidden 1")) == {1, 0.2}
    entry = browser.find_elements(
        By.CSS_SELECTOR, '[data-figure="training"] g.role-legend-label text'
    )[1]
    ActionChains(browser).move_to_element(entry).click().perform()
    WebDriverWait(browser, 5).until(
        lambda d: set(_layer_opacity(d, "training", "hidden 1")) == {0}
    )  # its lines and bands, in all three panels
    assert set(_layer_opacity(browser, "training", "hidden 2")) == {1, 0.2}

    shot = tmp_path / "report-chapter.png"
    browser.set_window_size(1280, 4000)
    browser.save_screenshot(str(shot))
    assert shot.stat().st_size > 10_000
    _save_artifact(shot)
    assert _errors(browser) == []
    assert [u for u in browser.execute_script(REQUESTED) if not u.startswith("file:")] == []


def test_runs_only_report_in_chromium(browser, tmp_path):
    page = tmp_path / "runs.html"
    page.write_text(to_html({}, torch_runs()), encoding="utf-8")
    drawn = _open(browser, page, 2)
    assert [f["id"] for f in drawn] == ["runs-0", "runs-1"]
    assert all(f["drawn"] and f["svgs"] >= 1 and f["marks"] > 10 for f in drawn), drawn
    shot = tmp_path / "report-runs.png"
    browser.save_screenshot(str(shot))
    _save_artifact(shot)
    assert _errors(browser) == []
    assert [u for u in browser.execute_script(REQUESTED) if not u.startswith("file:")] == []
