"""The fault tables' harness holds its promise: a row that breaks it fails."""

from __future__ import annotations

from pathlib import Path

import pytest

from faults import Fault, check, leftovers


def test_a_bad_flag_is_one_line_and_exit_2(tmp_path: Path) -> None:
    check(Fault("bad flag", ["train", "--sizes", "784,0,10"], 2, "give at least two"), tmp_path)


def test_the_harness_fails_on_a_wrong_exit_code(tmp_path: Path) -> None:
    with pytest.raises(AssertionError):
        check(Fault("wrong code", ["train", "--sizes", "784,0,10"], 1, "give"), tmp_path)


def test_the_harness_sees_a_half_written_file(tmp_path: Path) -> None:
    (tmp_path / ".results.json.x1.tmp").write_text("{")
    (tmp_path / "broken.json").write_text("{")
    assert {p.name for p in leftovers(tmp_path)} == {".results.json.x1.tmp", "broken.json"}
