"""A data set's raw files from a Debian package, for machines that reach only package registries.

Debian packages some data sets as plain files (``dataset-fashion-mnist`` puts the four
``.gz`` files of Fashion-MNIST under ``/usr/share/datasets/fashion-mnist/``). Nothing is
installed and no root is needed: :func:`from_debian` runs ``apt-get download PACKAGE`` in a
temporary folder, unpacks the ``.deb`` there with ``dpkg-deb -x`` and installs the files it
holds through :func:`layerspeed.data.sources.from_folder`, each checked against its sha256.
Where apt's package lists are missing or stale (a fresh machine), the download is tried once
more with lists of its own, fetched by ``apt-get update`` into the same temporary folder.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from collections.abc import Mapping
from pathlib import Path

from layerspeed.data.sources import SourceResult, from_folder
from layerspeed.errors import DataError

APT_TIMEOUT_S = 300.0  # the download itself is about 30 MB
UNPACK_TIMEOUT_S = 120.0


def _run(argv: list[str], folder: Path, timeout: float) -> subprocess.CompletedProcess[str]:
    """Run a fixed command in ``folder``; DataError when it cannot run or times out."""
    try:
        return subprocess.run(  # noqa: S603 - fixed arguments, no shell
            argv, cwd=folder, capture_output=True, text=True, timeout=timeout, check=False
        )
    except subprocess.TimeoutExpired:
        raise DataError(f"`{' '.join(argv[:2])}` timed out after {timeout:.0f} s") from None
    except OSError as e:
        raise DataError(f"cannot run {argv[0]}: {e}") from None


def _last_line(result: subprocess.CompletedProcess[str]) -> str:
    lines = [ln for ln in (result.stderr or result.stdout).strip().splitlines() if ln]
    errors = [ln for ln in lines if ln.startswith("E:")]
    return (errors or lines or [f"exit code {result.returncode}"])[-1]


def _apt_download(package: str, folder: Path) -> Path:
    """``apt-get download PACKAGE`` into ``folder``; the ``.deb`` (tests replace this).

    When it fails (no package lists yet, or stale ones), one more try with lists of its own:
    ``apt-get update`` into ``folder/lists``, which needs no root and leaves the system's
    lists alone.
    """
    apt = shutil.which("apt-get")
    if apt is None:
        raise DataError("apt-get not found on PATH (not a Debian or Ubuntu machine)")
    first = _run([apt, "download", package], folder, APT_TIMEOUT_S)
    if first.returncode != 0:
        lists = folder / "lists"
        (lists / "partial").mkdir(parents=True, exist_ok=True)
        own = [f"-oDir::State::Lists={lists}", "-oDebug::NoLocking=true"]
        update = _run([apt, "update", "-qq", *own], folder, APT_TIMEOUT_S)
        second = _run([apt, "download", *own, package], folder, APT_TIMEOUT_S)
        if second.returncode != 0:
            why = _last_line(second) if update.returncode == 0 else _last_line(update)
            raise DataError(f"apt-get download {package} failed: {why}")
    debs = sorted(folder.glob("*.deb"))
    if not debs:
        raise DataError(f"apt-get download {package} left no .deb")
    return debs[0]


def _unpack(deb: Path, into: Path) -> None:
    """``dpkg-deb -x DEB INTO``: the package's files under ``into``, nothing installed."""
    dpkg_deb = shutil.which("dpkg-deb")
    if dpkg_deb is None:
        raise DataError("dpkg-deb not found on PATH")
    result = _run([dpkg_deb, "-x", str(deb), str(into)], deb.parent, UNPACK_TIMEOUT_S)
    if result.returncode != 0:
        raise DataError(f"dpkg-deb -x {deb.name} failed: {_last_line(result)}")


def from_debian(
    package: str,
    member_dir: str,
    names: list[str],
    cache: Path,
    *,
    sha256: Mapping[str, str],
    progress: bool,
    title: str,
) -> SourceResult:
    """Install the files that Debian's ``package`` holds in ``member_dir``.

    Parameters
    ----------
    package : str
        The Debian package, e.g. ``"dataset-fashion-mnist"``.
    member_dir : str
        Where the package keeps the files, e.g. ``"usr/share/datasets/fashion-mnist"``.
    names, cache, sha256
        The files still missing, the cache folder, and each file's raw sha256.
    progress : bool
        Say on stderr that apt is running.
    title : str
        The data set's name in that line.
    """
    if progress:
        print(f"fetching {title} with `apt-get download {package}` ...", file=sys.stderr)
    with tempfile.TemporaryDirectory(prefix="layerspeed-deb-") as tmp:
        try:
            deb = _apt_download(package, Path(tmp))
            root = Path(tmp) / "root"
            _unpack(deb, root)
        except DataError as e:
            return {}, [str(e)]
        folder = root / member_dir.strip("/")
        if not folder.is_dir():
            return {}, [f"the package {package} has no folder /{member_dir.strip('/')}"]
        got, problems = from_folder(folder, names, cache, sha256=sha256)
        # Name the package, not the temporary folder that is gone when this returns.
        return got, [
            p.replace(str(folder), f"{package}:/{member_dir.strip('/')}") for p in problems
        ]
