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


SCRIPTS = sorted(p for p in ROOT.glob("competitions/*/*.py") if '__name__ == "__main__"' in p.read_text())
KIT = sorted(p for folder in ("common", "competitions", "submissions", "kernels") for p in (ROOT / folder).rglob("*.py"))


def test_no_kit_module_imports_a_competition_script():
    """The command-line scripts (``competitions/<name>/<script>.py``) are leaves: what two of them share lives in
    a module of its own, so a script never imports another (nor does any other module import one)."""
    scripts = {".".join(p.relative_to(ROOT).with_suffix("").parts): p for p in SCRIPTS}
    assert "competitions.nexperia.train" in scripts and "competitions.home_credit.train" in scripts
    bad = []
    for path in KIT:
        tree = ast.parse(path.read_text(), str(path))
        for node in ast.walk(tree):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else (
                [node.module, *(f"{node.module}.{a.name}" for a in node.names)]
                if isinstance(node, ast.ImportFrom) and node.module else [])
            bad += [f"{path.relative_to(ROOT)} line {node.lineno}: {name}" for name in names
                    if name in scripts and scripts[name] != path]
    assert not bad, bad


def test_competitions_register_themselves_and_common_names_none():
    """common.registry starts empty; asking for a competition imports its package, which registers it."""
    import subprocess
    import sys
    code = ("import common.registry as r\n"
            "assert r.COMPETITIONS == {}, r.COMPETITIONS\n"
            "assert r.get_competition('nexperia').slug == 'semi-conductor-image-classification-second-stage'\n"
            "assert r.known_competitions() == ['home_credit', 'nexperia']\n"
            "try:\n    r.get_competition('titanic')\nexcept ValueError as e:\n    print(e)\n")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "unknown competition 'titanic'; known: ['home_credit', 'nexperia']"
