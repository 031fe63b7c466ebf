"""``common/`` is the kit's bottom layer: none of its modules imports competitions, submissions or kernels
(competition code is reached through the registry's hooks, imported by name only when used)."""
import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
UPPER = ("competitions", "submissions", "kernels")


def imported_modules(path: Path) -> list[tuple[int, str]]:
    """(line, module) of every import statement of a file, at any depth (lazy imports too)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append((node.lineno, node.module))
    return found


COMMON = sorted((ROOT / "common").rglob("*.py"))


def test_there_are_common_modules():
    assert len(COMMON) > 10


@pytest.mark.parametrize("path", COMMON, ids=lambda p: str(p.relative_to(ROOT)))
def test_common_imports_no_upper_layer(path):
    bad = [f"line {line}: {module}" for line, module in imported_modules(path) if module.split(".")[0] in UPPER]
    assert not bad, f"{path.relative_to(ROOT)} imports {bad}"


def test_the_check_sees_lazy_imports(tmp_path):
    module = tmp_path / "m.py"
    module.write_text("def f():\n    from competitions.nexperia import data\n    import kernels.build\n")
    assert imported_modules(module) == [(2, "competitions.nexperia"), (3, "kernels.build")]
