"""Write ``docs/options.md``: every option of every command line of the kit, from its option dataclass.

    python -m common.options_doc            # rewrite docs/options.md
    python -m common.options_doc --check    # exit 1 if docs/options.md is stale (the test suite does this)

A command is any module under ``competitions/``, ``common/``, ``submissions/`` or ``kernels/`` whose ``main`` calls
``parse_config(Config, ...)`` or ``parse_with_space(Config, ...)``, or ``parse_subcommand(COMMANDS, ...)`` with a
mapping of sub-command names to dataclasses (found by reading the source, so a new CLI appears without being listed
anywhere); a module that picks its config at run time names them in ``OPTION_DATACLASSES`` (``{"--family cnn":
Config, ...}``). A command is named as it is started: ``python competitions/<competition>/<cli>.py`` for a
competition's script, ``python -m <package.module>`` otherwise (``python -m <package>`` for a ``__main__.py``).
Each option's row holds its flag, default, allowed values or range, whether it may change between invocations of
one run, and its help.
"""
from __future__ import annotations

import ast
import dataclasses
import importlib
import sys
import typing
from dataclasses import dataclass
from pathlib import Path

from common.cli import run_cli
from common.config import flag_of, option, parse_config
from common.io import atomic_write_text
from common.registry import get_competition, known_competitions

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "options.md"
SEARCHED = ("competitions", "common", "submissions", "kernels", "kit")
PARSERS = ("parse_config", "parse_with_space", "parse_subcommand")


def command_name(rel: Path) -> str:
    """How the module at ``rel`` (relative to the kit) is started as a command."""
    if len(rel.parts) == 3 and rel.parts[0] == "competitions":  # competitions/<name>/<cli>.py
        return f"python {rel.as_posix()}"
    parts = rel.with_suffix("").parts
    return "python -m " + ".".join(parts[:-1] if parts[-1] == "__main__" else parts)


def commands(root: Path = ROOT) -> list[tuple[str, type]]:
    """``(command, config dataclass)`` of every CLI whose ``main`` parses an option dataclass (one per
    sub-command of a CLI that has them)."""
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
            command = command_name(rel)
            if names:
                found += [(f"{command} {variant}", cls) for variant, cls in module.OPTION_DATACLASSES.items()]
                continue
            for name in dict.fromkeys(parsed):
                value = getattr(module, name, None)
                if isinstance(value, dict):  # parse_subcommand's sub-command -> dataclass
                    found += [(f"{command} {sub}", cls) for sub, cls in value.items()]
                elif dataclasses.is_dataclass(value):
                    found.append((command, value))
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


def _flag(field: dataclasses.Field, tp: type) -> str:
    """The flag cell: ``-m, --message``, ``--amp / --no-amp``, ``FILE (positional)``, ``--post (repeatable)``."""
    flag = flag_of(field)
    if field.metadata.get("short"):
        flag = f"{field.metadata['short']}, {flag}"
    if tp is bool:
        flag += f" / --no-{field.name.replace('_', '-')}"
    text = f"`{flag}`"
    if field.metadata.get("positional"):
        text += " (positional)"
    if field.metadata.get("append"):
        text += " (repeatable)"
    return text


def kit_commands() -> dict[str, str]:
    """``module -> kit <step> <competition>``: how the ``kit`` front door starts each competition's command."""
    return {module: f"kit {step} {name}" for name in known_competitions()
            for step, module in get_competition(name).commands.items()}


def _module_of(command: str) -> tuple[str, list[str]]:
    """The module a command line of :func:`command_name` starts and the words after it (``python -m a.b x`` ->
    ``("a.b", ["x"])``)."""
    words = command.split()
    if words[1] == "-m":
        return words[2], words[3:]
    return ".".join(Path(words[1]).with_suffix("").parts), words[2:]


def render(root: Path = ROOT) -> str:
    kit_names = kit_commands()
    lines = ["# Options of every command", "",
             "Generated from the option dataclasses by `python -m common.options_doc` (a test fails when this page",
             "is stale). Every option is also a key of the `--config` YAML (underscores for dashes); *volatile*",
             "options may change between invocations of one run, the others must match the run's `config.yaml`.",
             "Every command also takes `--config FILE` and `--debug` (the traceback of an error instead of its one",
             "line). Each competition's command is also `kit <step> <competition>` (named beside it), the others",
             "`kit <command>` (`kit --help` lists them all).", ""]
    for command, cls in commands(root):
        hints = typing.get_type_hints(cls)
        doc = (cls.__doc__ or "").strip().splitlines()[0] if cls.__doc__ else ""
        module, variant = _module_of(command)
        kit_name = kit_names.get(module) or kit_names.get(f"{module}.__main__")
        heading = f"## `{command}`" + (f" (`{' '.join([kit_name, *variant])}`)" if kit_name else "")
        lines += [heading, "", doc, "", "| option | default | allowed | volatile | help |",
                  "| --- | --- | --- | --- | --- |"]
        for field in sorted(dataclasses.fields(cls), key=lambda f: not f.metadata.get("positional")):
            help_text = field.metadata.get("help", "") + (" (required)" if field.metadata.get("required") else "")
            lines.append(f"| {_flag(field, hints[field.name])} | {_cell(_default(field))} | {_cell(_allowed(field))} | "
                         f"{'yes' if field.metadata.get('volatile') else ''} | {_cell(help_text)} |")
        lines.append("")
    return "\n".join(lines)


@dataclass
class OptionsDocOptions:
    """Write docs/options.md from the option dataclasses of every command line."""
    check: bool = option(False, help="only check: exit 1 if docs/options.md differs from the code")


def main(argv: list[str] | None = None) -> int:
    opts = parse_config(OptionsDocOptions, argv)
    text = render()
    if opts.check:
        if not DOC.is_file() or DOC.read_text() != text:
            print(f"{DOC} is stale: run python -m common.options_doc", file=sys.stderr)
            return 1
        return 0
    atomic_write_text(DOC, text)
    print(f"wrote {DOC} ({len(commands())} commands)")
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main))
