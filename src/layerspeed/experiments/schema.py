"""The results schema: its version, and the check every view makes before it reads.

``results.json`` (a reproduction) and ``summary.json`` (a sweep) carry ``schema_version``.
Version 1 is what layerspeed 0.1 wrote, without the key; version 2 adds the key and nothing
else, so both read the same.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from layerspeed.errors import BadInput

SCHEMA_VERSION = 2
KNOWN_VERSIONS = (1, 2)  # a file without the key is version 1


def schema_version(results: Mapping[str, Any]) -> int:
    """The version ``results`` was written with; :class:`BadInput` for one we cannot read."""
    version = results.get("schema_version", 1)
    if isinstance(version, bool) or version not in KNOWN_VERSIONS:
        raise BadInput(
            f"results schema version {version!r} is not one this layerspeed reads "
            f"({', '.join(map(str, KNOWN_VERSIONS))}); upgrade layerspeed to read it"
        )
    return int(version)
