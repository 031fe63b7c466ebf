"""``kit <command> [<competition>] [options]``: one front door to every command line of the kit.

    kit --help                                   # every command, by workflow step
    kit play home_credit --budget 15m            # the autopilot: a whole competition within a budget (docs/play.md)
    kit train nexperia --fold 0                  # = python competitions/nexperia/train.py --fold 0
    kit features home_credit                     # = python -m competitions.home_credit.features.build
    kit blend nexperia --runs cnn --post leak-fix  # = python -m submissions.blend --competition nexperia ...
    kit leaderboard sync nexperia                # = python -m submissions.leaderboard sync --competition nexperia
    kit kernel build nexperia-train --fold 0     # = python -m kernels.build nexperia-train --fold 0
    kit report                                   # = python -m submissions.report

A competition's commands are those its registry entry declares (``Competition.commands``), so a new competition
needs no edit here; the shared commands are listed below. ``kit <command> [<competition>] --help`` shows the
command's own options (docs/options.md lists them all). Every command ends through ``common.cli.run_cli``.
"""
from __future__ import annotations

import ast
import difflib
import importlib
import importlib.util
import sys
from dataclasses import dataclass

from common.cli import run_cli
from common.errors import BadInput
from common.registry import get_competition, known_competitions, prepare_environment


@dataclass(frozen=True)
class Shared:
    """A command of no single competition: its module and whether ``kit C NAME`` means ``--competition NAME``."""
    module: str
    takes_competition: bool = False


SHARED = {
    "play": Shared("kit.play.__main__"),
    "blend": Shared("submissions.blend", takes_competition=True),
    "validate": Shared("submissions.validate", takes_competition=True),
    "submit": Shared("submissions.submit", takes_competition=True),
    "leaderboard": Shared("submissions.leaderboard"),
    "report": Shared("submissions.report.__main__"),
    "label-audit": Shared("common.noisy"),
    "kernel": Shared("kernels.__main__"),
    "options-doc": Shared("common.options_doc"),
}
# kit kernel <verb>: the verbs of python -m kernels, and the two packers that are modules of their own
KERNEL_MODULES = {"build": "kernels.build", "pack-code": "kernels.pack_code"}
LEADERBOARD_VERBS = ("sync", "report", "final")

# The workflow, in order; a competition's command missing here is listed under "other".
STEPS = [
    ("play a whole competition within a budget", ["play"]),
    ("make or check the data", ["synth", "dedup", "adversarial"]),
    ("features", ["features", "select-features"]),
    ("train one run per fold", ["train", "vae", "baseline", "pretrain"]),
    ("tune", ["tune"]),
    ("predict again (other TTA, other data)", ["predict"]),
    ("analyse", ["noisy", "label-audit", "cluster", "saliency"]),
    ("blend, validate, submit", ["blend", "validate", "submit"]),
    ("follow the scores", ["leaderboard", "report"]),
    ("run on Kaggle as kernels", ["kernel"]),
    ("develop the kit", ["options-doc"]),
]


def competition_commands() -> dict[str, dict[str, str]]:
    """``command -> {competition: module}`` over every registered competition."""
    found: dict[str, dict[str, str]] = {}
    for name in known_competitions():
        for command, module in get_competition(name).commands.items():
            found.setdefault(command, {})[name] = module
    return found


SUMMARY_WIDTH = 90


def summary_of(module: str) -> str:
    """The first sentence of a module's docstring, read without importing the module (torch and friends are slow),
    cut to ``SUMMARY_WIDTH`` characters."""
    spec = importlib.util.find_spec(module)
    if spec is not None and spec.submodule_search_locations:  # a package: its command is __main__
        spec = importlib.util.find_spec(f"{module}.__main__") or spec
    if spec is None or not spec.origin or not spec.origin.endswith(".py"):
        return ""
    with open(spec.origin, encoding="utf-8") as source:
        doc = ast.get_docstring(ast.parse(source.read())) or ""
    sentence = " ".join(doc.strip().split("\n\n")[0].split()).split(". ")[0].split(": the CLI of")[0].rstrip(".")
    if len(sentence) > SUMMARY_WIDTH:
        sentence = sentence[:SUMMARY_WIDTH - 3].rsplit(" ", 1)[0] + "..."
    return sentence


def usage() -> str:
    per_competition = competition_commands()
    lines = ["usage: kit <command> [<competition>] [options]     (kit <command> [<competition>] --help: its options)",
             "", f"competitions: {', '.join(known_competitions())}"]
    listed = {command for _, commands in STEPS for command in commands}
    steps = STEPS + [("other", sorted(set(per_competition) - listed))]
    for title, commands in steps:
        rows = []
        for command in commands:
            if command in SHARED:
                rows.append(f"  {command:<28}{summary_of(SHARED[command].module)}")
            for competition, module in sorted(per_competition.get(command, {}).items()):
                rows.append(f"  {command + ' ' + competition:<28}{summary_of(module)}")
        if rows:
            lines += ["", f"{title}:", *rows]
    lines += ["", "kernel verbs: build, pack-code, push, status, output, push-dataset; "
                  f"leaderboard verbs: {', '.join(LEADERBOARD_VERBS)}",
              "--debug anywhere shows the traceback of an error instead of its one line"]
    return "\n".join(lines)


def resolve(argv: list[str]) -> tuple[str, list[str], str | None, str]:
    """``(module, its argv, competition or None, what to call it in its usage line)`` of a kit command line."""
    command, rest = argv[0], argv[1:]
    per_competition = competition_commands()
    if command in per_competition:
        offered = per_competition[command]
        if not rest or rest[0].startswith("-"):
            raise BadInput(f"kit {command} needs a competition: kit {command} <competition> [options], "
                           f"<competition> one of {sorted(offered)}")
        competition = rest[0]
        if competition not in offered:
            get_competition(competition)  # an unknown name: the registry's one-line error lists the known ones
            raise BadInput(f"competition {competition} has no command {command!r}; it is offered for "
                           f"{sorted(offered)}")
        return offered[competition], rest[1:], competition, f"kit {command} {competition}"
    if command not in SHARED:
        known = sorted(set(SHARED) | set(per_competition))
        close = difflib.get_close_matches(command, known, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise BadInput(f"unknown command {command!r}{hint} (kit --help lists them: {', '.join(known)})")
    shared, prog = SHARED[command], f"kit {command}"
    if command == "kernel" and rest and rest[0] in KERNEL_MODULES:
        return KERNEL_MODULES[rest[0]], rest[1:], None, f"kit kernel {rest[0]}"
    if command == "leaderboard" and len(rest) > 1 and rest[0] in LEADERBOARD_VERBS and not rest[1].startswith("-"):
        return shared.module, [rest[0], "--competition", rest[1], *rest[2:]], rest[1], prog
    if shared.takes_competition and rest and rest[0] in known_competitions():
        return shared.module, ["--competition", rest[0], *rest[1:]], rest[0], prog
    return shared.module, rest, None, prog


def dispatch(argv: list[str]) -> int:
    if not argv or argv[0] in ("-h", "--help", "help"):
        print(usage())
        return 0
    module, args, competition, prog = resolve(argv)
    if competition is not None:
        prepare_environment(competition)  # before the command's module imports its libraries
    sys.argv[0] = prog  # argparse names the command in its usage and error lines as the user typed it
    result = importlib.import_module(module).main(args)
    return result if isinstance(result, int) else 0


def main(argv: list[str] | None = None) -> int:
    return run_cli(dispatch, argv)
