"""The report in a real browser: headless Chromium (Debian's ``chromium``) draws every figure.

Chromium is driven through its DevTools protocol over a pipe (``--remote-debugging-pipe``:
commands on fd 3, replies on fd 4, each message JSON ending in a NUL byte), so the test needs
nothing but the standard library and the browser. It skips, saying why, only where no
Chromium is installed (``.ci/run`` installs it). The screenshot goes to pytest's ``tmp_path``
and, where ``LAYERSPEED_ARTIFACTS`` names a folder, is copied there.
"""

from __future__ import annotations

import fcntl
import json
import os
import queue
import re
import shutil
import subprocess
import tempfile
import threading
import time
from base64 import b64decode
from pathlib import Path
from typing import Any

import pytest

from layerspeed.report import to_html
from test_report import chapter_results, torch_runs

CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--hide-scrollbars",
    "--remote-debugging-pipe",
]


def find_chromium() -> str | None:
    for name in (os.environ.get("LAYERSPEED_CHROMIUM"), *CANDIDATES):
        if name and (path := shutil.which(name)):
            return path
    return None


class Chromium:
    """A headless Chromium and one page, spoken to over the DevTools pipe."""

    def __init__(self, executable: str, profile: Path) -> None:
        to_chrome_r, self._to_chrome = os.pipe()  # we write commands, Chromium reads fd 3
        self._from_chrome, from_chrome_w = os.pipe()  # Chromium writes fd 4, we read

        def fds() -> None:  # in the child, before exec: the pipe ends at fds 3 and 4
            # Moved above 10 first: either end may itself be fd 3 or 4.
            high = [fcntl.fcntl(fd, fcntl.F_DUPFD, 10) for fd in (to_chrome_r, from_chrome_w)]
            for target, fd in zip((3, 4), high, strict=True):
                os.dup2(fd, target)
                os.set_inheritable(target, True)

        self.proc = subprocess.Popen(
            [executable, *FLAGS, f"--user-data-dir={profile}", "about:blank"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            preexec_fn=fds,
            close_fds=False,
        )
        os.close(to_chrome_r)
        os.close(from_chrome_w)
        self._next_id = 0
        self._replies: dict[int, dict[str, Any]] = {}
        self.events: list[dict[str, Any]] = []
        self._inbox: queue.Queue[dict[str, Any] | None] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()
        self.session: str | None = None

    def _read(self) -> None:
        buf = b""
        while True:
            try:
                chunk = os.read(self._from_chrome, 1 << 16)
            except OSError:
                chunk = b""
            if not chunk:
                self._inbox.put(None)
                return
            buf += chunk
            *messages, buf = buf.split(b"\0")
            for m in messages:
                self._inbox.put(json.loads(m))

    def send(self, method: str, params: dict[str, Any] | None = None, *, timeout=20.0) -> Any:
        self._next_id += 1
        msg: dict[str, Any] = {"id": self._next_id, "method": method, "params": params or {}}
        if self.session is not None and not method.startswith("Target."):
            msg["sessionId"] = self.session
        os.write(self._to_chrome, json.dumps(msg).encode() + b"\0")
        want = self._next_id
        deadline = time.monotonic() + timeout
        while want not in self._replies:
            self._pump(deadline)
        reply = self._replies.pop(want)
        if "error" in reply:
            raise RuntimeError(f"{method}: {reply['error']}")
        return reply.get("result", {})

    def _pump(self, deadline: float) -> None:
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError("Chromium did not answer in time")
        try:
            m = self._inbox.get(timeout=left)
        except queue.Empty:
            raise TimeoutError("Chromium did not answer in time") from None
        if m is None:
            raise RuntimeError("Chromium closed the DevTools pipe")
        if "id" in m:
            self._replies[m["id"]] = m
        else:
            self.events.append(m)

    def wait_for(self, method: str, timeout: float = 20.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            for e in self.events:
                if e.get("method") == method:
                    return e
            self._pump(deadline)

    def open(self, url: str, width: int = 1200, height: int = 900) -> None:
        target = self.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        self.session = self.send("Target.attachToTarget", {"targetId": target, "flatten": True})[
            "sessionId"
        ]
        for domain in ("Page", "Runtime", "Log", "Network"):
            self.send(f"{domain}.enable")
        self.send(
            "Emulation.setDeviceMetricsOverride",
            {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False},
        )
        self.events.clear()
        self.send("Page.navigate", {"url": url})
        self.wait_for("Page.loadEventFired")

    def evaluate(self, expression: str) -> Any:
        r = self.send("Runtime.evaluate", {"expression": expression, "returnByValue": True})
        if "exceptionDetails" in r:
            raise RuntimeError(f"{expression!r} raised: {r['exceptionDetails']}")
        return r["result"].get("value")

    def hover(self, x: float, y: float) -> None:
        self.send("Input.dispatchMouseEvent", {"type": "mouseMoved", "x": x, "y": y})

    def errors(self) -> list[str]:
        out = []
        for e in self.events:
            p = e.get("params", {})
            if e.get("method") == "Runtime.exceptionThrown":
                out.append(json.dumps(p.get("exceptionDetails"))[:500])
            elif e.get("method") == "Runtime.consoleAPICalled" and p.get("type") == "error":
                out.append(json.dumps(p.get("args"))[:500])
            elif e.get("method") == "Log.entryAdded" and p.get("entry", {}).get("level") == "error":
                out.append(json.dumps(p["entry"])[:500])
        return out

    def requested(self) -> list[str]:
        """Every URL the page asked for since it was opened."""
        return [
            e["params"]["request"]["url"]
            for e in self.events
            if e.get("method") == "Network.requestWillBeSent"
        ]

    def screenshot(self, path: Path) -> None:
        size = self.send("Page.getLayoutMetrics")["cssContentSize"]
        shot = self.send(
            "Page.captureScreenshot",
            {
                "format": "png",
                "captureBeyondViewport": True,
                "clip": {
                    "x": 0,
                    "y": 0,
                    "width": size["width"],
                    "height": size["height"],
                    "scale": 1,
                },
            },
        )
        path.write_bytes(b64decode(shot["data"]))

    def close(self) -> None:
        try:
            self.send("Browser.close", timeout=5)
        except (RuntimeError, TimeoutError, OSError):
            pass
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        for fd in (self._to_chrome, self._from_chrome):
            try:
                os.close(fd)
            except OSError:
                pass


@pytest.fixture(scope="module")
def browser():
    exe = find_chromium()
    if exe is None:
        pytest.skip(
            "no Chromium found (looked for "
            + ", ".join(CANDIDATES)
            + "); install Debian's `chromium` package to run the report's browser test"
        )
    with tempfile.TemporaryDirectory(prefix="layerspeed-chromium-") as profile:
        b = Chromium(exe, Path(profile))
        try:
            yield b
        finally:
            b.close()


def _save_artifact(path: Path) -> None:
    target = os.environ.get("LAYERSPEED_ARTIFACTS")
    if target:
        Path(target).mkdir(parents=True, exist_ok=True)
        shutil.copy(path, Path(target) / path.name)


FIGURES_DRAWN = """
Array.from(document.querySelectorAll('[data-figure]')).map(f => {
  const svgs = Array.from(f.querySelectorAll('svg'));
  const canvases = Array.from(f.querySelectorAll('canvas'));
  const marks = svgs.reduce((n, s) => n + s.querySelectorAll('path,rect,circle,line').length, 0);
  const box = f.getBoundingClientRect();
  return {id: f.dataset.figure, svgs: svgs.length + canvases.length, marks: marks,
          width: box.width, height: box.height};
})
"""

FIRST_BAR = """
(() => {
  const bar = document.querySelector('[data-figure="neurons"] rect.bar');
  bar.scrollIntoView({block: 'center', behavior: 'instant'});
  const r = bar.getBoundingClientRect();
  return {x: r.left + r.width / 2, y: r.top + r.height / 2, value: Number(bar.dataset.value)};
})()
"""

TOOLTIP = """
(() => { const t = document.getElementById('tooltip');
         return {hidden: t.hidden, text: t.textContent}; })()
"""


def test_chapter_report_in_chromium(browser, tmp_path):
    results = chapter_results()
    page = tmp_path / "report.html"
    page.write_text(to_html(results, torch_runs()), encoding="utf-8")
    browser.open(page.as_uri())

    drawn = browser.evaluate(FIGURES_DRAWN)
    ids = {f["id"] for f in drawn}
    assert {"neurons", "initial", "training", "sigma-prime", "width"} <= ids
    assert any(i.startswith("runs-") for i in ids)
    for f in drawn:
        assert f["svgs"] >= 1 and f["marks"] > 0, f"figure {f['id']} is empty: {f}"
        assert f["width"] > 100 and f["height"] > 100, f"figure {f['id']} has no size: {f}"

    assert browser.evaluate(TOOLTIP)["hidden"] is True
    bar = browser.evaluate(FIRST_BAR)
    browser.hover(bar["x"], bar["y"])
    tip = browser.evaluate(TOOLTIP)
    assert tip["hidden"] is False
    assert "hidden layer 1" in tip["text"] and "neuron 1" in tip["text"]
    shown = float(re.search(r"=\s*(\S+)$", tip["text"]).group(1))
    expected = results["neurons"]["example"]["layers"][0][0]
    assert bar["value"] == pytest.approx(expected, rel=1e-3)
    assert shown == pytest.approx(expected, rel=1e-2)

    # The layer toggle hides a layer's curves in every panel of the figure, and shows them again.
    hidden = browser.evaluate(
        """(() => { const b = document.querySelector('[data-figure="training"] .legend button');
                    b.click();
                    return Array.from(document.querySelectorAll(
                      '[data-figure="training"] svg [data-layer="0"]'))
                      .map(g => g.style.display); })()"""
    )
    assert hidden and all(d == "none" for d in hidden)
    browser.evaluate("document.querySelector('[data-figure=\"training\"] .legend button').click()")

    browser.hover(5, 5)
    shot = tmp_path / "report-chapter.png"
    browser.screenshot(shot)
    assert shot.stat().st_size > 10_000
    _save_artifact(shot)
    assert browser.errors() == []
    assert [u for u in browser.requested() if not u.startswith("file:")] == []


def test_runs_only_report_in_chromium(browser, tmp_path):
    page = tmp_path / "runs.html"
    page.write_text(to_html({}, torch_runs()), encoding="utf-8")
    browser.open(page.as_uri())
    drawn = browser.evaluate(FIGURES_DRAWN)
    assert [f["id"] for f in drawn] == ["runs-0", "runs-1"]
    assert all(f["svgs"] == 1 and f["marks"] > 0 for f in drawn), drawn
    shot = tmp_path / "report-runs.png"
    browser.screenshot(shot)
    _save_artifact(shot)
    assert browser.errors() == []
    assert [u for u in browser.requested() if not u.startswith("file:")] == []
