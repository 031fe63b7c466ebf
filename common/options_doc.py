"""Write ``docs/options.md``: every option of every command line built on an option dataclass, from the code.

    python -m common.options_doc            # rewrite docs/options.md
    python -m common.options_doc --check    # exit 1 if docs/options.md is stale (the test suite does this)

A command is any module under ``competitions/`` or ``common/`` whose ``main`` calls ``parse_config(Config, ...)``
or ``parse_with_space(Config, ...)`` (found by reading the source, so a new CLI appears without being listed
anywhere); a module that picks its config at run time names them in ``OPTION_DATACLASSES`` (``{"--family cnn":
Config, ...}``). Each option's row holds its flag, default, allowed values or range, whether it may change between
invocations of one run, and its help.
"""
from __future__ import annotations

import argparse
import ast
import dataclasses
import importlib
import sys
import typing
from pathlib import Path

from common.io import atomic_write_text

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "options.md"
SEARCHED = ("competitions", "common")
PARSERS = ("parse_config", "parse_with_space")


def commands(root: Path = ROOT) -> list[tuple[str, type]]:
    """``(command, config dataclass)`` of every CLI whose ``main`` parses an option dataclass."""
    found = []
    for folder in SEARCHED:
        for path in sorted((root / folder).rglob("*.py")):
            tree = ast.parse(path.read_text(), str(path))
            names = [n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and n.id == "OPTION_DATACLASSES"]
            mains = [n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "main"]
            parsed = [c.args[0].id for m in mains for c in ast.walk(m) if isinstance(c, ast.Call)
                      and getattr(c.func, "id", None) in PARSERS and c.args and isinstance(c.args[0], ast.Name)]
            if not names and not parsed:
                continue
            rel = path.relative_to(root)
            module = importlib.import_module(".".join(rel.with_suffix("").parts))
            script = len(rel.parts) == 3 and rel.parts[0] == "competitions"  # competitions/<name>/<cli>.py
            command = f"python {rel.as_posix()}" if script else f"python -m {module.__name__}"
            if names:
                found += [(f"{command} {variant}", cls) for variant, cls in module.OPTION_DATACLASSES.items()]
            else:
                found += [(command, getattr(module, name)) for name in dict.fromkeys(parsed)
                          if dataclasses.is_dataclass(getattr(module, name, None))]
    return found


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


def _default(field: dataclasses.Field) -> str:
    if field.default is not dataclasses.MISSING:
        value = field.default
    elif field.default_factory is not dataclasses.MISSING:
        value = field.default_factory()
    else:
        return ""
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        return " ".join(map(str, value)) or "(empty)"
    return str(value)


def _allowed(field: dataclasses.Field) -> str:
    if "choices" in field.metadata:
        return ", ".join(map(str, field.metadata["choices"]))
    if "range" in field.metadata:
        low, high, low_open, high_open = field.metadata["range"]
        parts = ([f"{'>' if low_open else '>='} {_number(low)}"] if low is not None else []) + (
            [f"{'<' if high_open else '<='} {_number(high)}"] if high is not None else [])
        return " and ".join(parts)
    return ""


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def render(root: Path = ROOT) -> str:
    lines = ["# Options of every command", "",
             "Generated from the option dataclasses by `python -m common.options_doc` (a test fails when this page",
             "is stale). Every option is also a key of the `--config` YAML (underscores for dashes); *volatile*",
             "options may change between invocations of one run, the others must match the run's `config.yaml`.", ""]
    for command, cls in commands(root):
        hints = typing.get_type_hints(cls)
        doc = (cls.__doc__ or "").strip().splitlines()[0] if cls.__doc__ else ""
        lines += [f"## `{command}`", "", doc, "", "| option | default | allowed | volatile | help |",
                  "| --- | --- | --- | --- | --- |"]
        for field in dataclasses.fields(cls):
            flag = "--" + field.name.replace("_", "-")
            if hints[field.name] is bool:
                flag += f" / --no-{field.name.replace('_', '-')}"
            help_text = field.metadata.get("help", "") + (" (required)" if field.metadata.get("required") else "")
            lines.append(f"| `{flag}` | {_cell(_default(field))} | {_cell(_allowed(field))} | "
                         f"{'yes' if field.metadata.get('volatile') else ''} | {_cell(help_text)} |")
        lines.append("")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true", help="exit 1 if docs/options.md differs from the code")
    args = ap.parse_args(argv)
    text = render()
    if args.check:
        if not DOC.is_file() or DOC.read_text() != text:
            print(f"{DOC} is stale: run python -m common.options_doc", file=sys.stderr)
            return 1
        return 0
    atomic_write_text(DOC, text)
    print(f"wrote {DOC} ({len(commands())} commands)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
