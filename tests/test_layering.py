"""The kit's layers: ``common/`` at the bottom imports none of competitions, submissions, kernels or kit
(competition code is reached through the registry's hooks, imported by name only when used); ``kit/``, the front
door, is the top and nothing imports it; no module of the kit is part of an import circle."""
import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
UPPER = ("competitions", "submissions", "kernels", "kit")
PACKAGES = ("common", "competitions", "submissions", "kernels", "kit")


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


@pytest.mark.slow
@pytest.mark.parametrize("path", COMMON, ids=lambda p: str(p.relative_to(ROOT)))
def test_common_imports_no_upper_layer(path):
    bad = [f"line {line}: {module}" for line, module in imported_modules(path) if module.split(".")[0] in UPPER]
    assert not bad, f"{path.relative_to(ROOT)} imports {bad}"


def test_the_check_sees_lazy_imports(tmp_path):
    module = tmp_path / "m.py"
    module.write_text("def f():\n    from competitions.nexperia import data\n    import kernels.build\n")
    assert imported_modules(module) == [(2, "competitions.nexperia"), (3, "kernels.build")]


SCRIPTS = sorted(p for p in ROOT.glob("competitions/*/*.py") if '__name__ == "__main__"' in p.read_text())
KIT = sorted(p for folder in PACKAGES for p in (ROOT / folder).rglob("*.py"))


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_graph(paths: list[Path]) -> dict[str, set[str]]:
    """``module -> the kit modules it imports`` (at any depth; ``from pkg import mod`` is an edge to ``pkg.mod``)."""
    modules = {module_name(p): p for p in paths}
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        targets = set()
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                targets |= {alias.name for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                targets |= {f"{node.module}.{alias.name}" if f"{node.module}.{alias.name}" in modules
                            else node.module for alias in node.names}
        graph[name] = {t for t in targets if t in modules and t != name}
    return graph


def import_circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan's algorithm, iterative)."""
    index, low, on_stack, stack, circles, counter = {}, {}, set(), [], [], [0]
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = counter[0]
        counter[0] += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter[0]
                    counter[0] += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    circles.append(sorted(component))
    return circles


def test_no_import_circle_anywhere_in_the_kit():
    graph = import_graph(KIT)
    assert {"common.tabular.lgbm", "submissions.blend", "kit.cli"} <= set(graph)
    assert not import_circles(graph), import_circles(graph)


def test_nothing_imports_the_front_door():
    importers = [name for name, targets in import_graph(KIT).items()
                 if not name.startswith("kit") and any(t.split(".")[0] == "kit" for t in targets)]
    assert not importers, importers


def test_the_circle_check_finds_circles(tmp_path):
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}, "e": {"e2"}, "e2": set()}
    assert import_circles(graph) == [["a", "b", "c"]]


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
