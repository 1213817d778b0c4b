"""The layers of docs/ARCHITECTURE.md: no module imports from a layer above its own."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "layerspeed"
# Lowest first; a module may import from its own layer and from any lower one.
LAYERS: list[set[str]] = [
    {"errors", "console", "store", "stats", "__init__"},
    {"data"},
    {"nn"},
    {"probes", "readings", "board"},
    {"chain", "torch", "theory", "lightning"},
    {"experiments"},
    {"views"},
    {"pipeline", "export", "beyond"},
    {"cli", "__main__"},
]
RANK = {name: i for i, layer in enumerate(LAYERS) for name in layer}


def _top(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if parts[0] == "layerspeed" and len(parts) > 1 else None


def _imports(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.append((node.lineno, node.module))
        elif isinstance(node, ast.Import):
            out += [(node.lineno, alias.name) for alias in node.names]
    return out


MODULES = sorted(p for p in SRC.rglob("*.py"))


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(SRC)))
def test_no_module_imports_from_a_layer_above_its_own(path: Path) -> None:
    own = path.relative_to(SRC).parts[0].removesuffix(".py")
    assert own in RANK, f"{own} is in no layer of docs/ARCHITECTURE.md"
    for line, module in _imports(path):
        top = _top(module)
        if top is None:
            continue
        assert top in RANK, f"{path.name}:{line} imports {module}, which is in no layer"
        assert RANK[top] <= RANK[own], (
            f"{path.relative_to(SRC)}:{line} imports {module}: {top} is above {own}"
        )


def test_no_module_is_over_about_400_lines() -> None:
    long = {
        str(p.relative_to(SRC)): n for p in MODULES if (n := len(p.read_text().splitlines())) > 420
    }
    assert not long, f"modules over about 400 lines: {long}"
