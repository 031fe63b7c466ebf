"""A kernel's output runs brought into the local runs folder, never over a local run made by another recipe.

- A run that is not here comes in whole, under its name or the one ``--name RUN=NEW`` gives it (its
  ``config.yaml`` then says NEW, so the run trains on under that name).
- A run that is here is the same recipe when both ``config.yaml`` agree on every option but the volatile ones
  (``common.run.changed_options``; ``kernels.targets.volatile_of``) and their finished folds were made from the
  same data (``common.provenance``): then the kernel's folds that the local run lacks are added, and the run's
  ``oof.csv``, ``test.csv`` and ``metrics.json`` rebuilt from its folds. A fold the local run holds is kept; the
  local ``config.yaml``, ``log.txt`` and other files are never replaced: the kernel's own go to
  ``kernel_outputs/<kernel>/runs/...``.
- Otherwise the command stops before anything is written, naming both runs and how to bring the kernel's in under
  another name.
"""
from __future__ import annotations

import re
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import yaml

from common.cv import summarize_run
from common.errors import BadInput
from common.io import atomic_write_json, atomic_write_text
from common.provenance import describe, mixed_folds
from common.run import Run, RunFolder, changed_options
from kernels.targets import volatile_of

FOLD = re.compile(r"fold(\d+)")
RUN_NAME = re.compile(r"[A-Za-z0-9._+-]+")  # what common.run.Run.open takes


@dataclass
class Incoming:
    """One run of a kernel's output, downloaded to ``source``, and where it goes."""
    competition: str
    name: str      # its name in the kernel's output
    source: Path
    target: Path   # the local run folder
    add: list[int] = field(default_factory=list)   # the kernel's folds the local run gets
    kept: list[int] = field(default_factory=list)  # the kernel's folds left out: the local run holds them

    @property
    def is_new(self) -> bool:
        return not occupied(self.target)


def occupied(folder: Path) -> bool:
    """Whether ``folder`` exists and holds anything."""
    return folder.exists() and (not folder.is_dir() or any(folder.iterdir()))


def output_runs(runs_root: Path) -> list[tuple[str, str]]:
    """``(competition, run)`` of every run folder in a kernel's ``runs/``."""
    return sorted((p.parent.name, p.name) for p in runs_root.glob("*/*") if p.is_dir())


def renames(names: Sequence[str], runs: list[tuple[str, str]]) -> dict[str, str]:
    """``--name RUN=NEW`` (or ``--name NEW`` when the output holds one run) as run -> new name, checked."""
    mapping = {}
    for item in names:
        old, _, new = item.rpartition("=")
        if not old:
            if len(runs) != 1:
                raise BadInput(f"--name {item}: the kernel's output holds {len(runs)} runs "
                               f"({', '.join(r for _, r in runs) or 'none'}); give --name RUN=NEW")
            old = runs[0][1]
        if old not in {r for _, r in runs}:
            raise BadInput(f"--name {item}: the kernel's output holds no run {old!r} "
                           f"(it holds {', '.join(r for _, r in runs) or 'none'})")
        if not RUN_NAME.fullmatch(new):
            raise BadInput(f"--name {item}: a run name may only hold letters, digits and . _ + -")
        mapping[old] = new
    return mapping


def plan(download: Path, runs_dir: Path, names: Sequence[str], ref: str) -> list[Incoming]:
    """What comes in where, every run checked against the local one of its name before anything is written."""
    runs = output_runs(download / "runs")
    new_names = renames(names, runs)
    incoming = [Incoming(competition, name, download / "runs" / competition / name,
                         runs_dir / competition / new_names.get(name, name)) for competition, name in runs]
    for run in incoming:
        if run.name in new_names:
            rename_config(run.source, new_names[run.name])
        if not run.is_new:
            check_same_recipe(run, ref)
    return incoming


def rename_config(source: Path, name: str) -> None:
    config = source / "config.yaml"
    if config.is_file():
        values = yaml.safe_load(config.read_text()) or {}
        atomic_write_text(config, yaml.safe_dump({**values, "name": name}, sort_keys=False))


def check_same_recipe(run: Incoming, ref: str) -> None:
    """Refuse, naming both runs, a kernel's run made by another recipe or from other data than the local run of
    its name; else note which of its folds come in (``run.add``) and which the local run holds (``run.kept``)."""
    local, kernel = RunFolder(run.target), RunFolder(run.source)
    how = f"bring it in under another name with python -m kernels output {ref} --name {run.name}=NEW"
    what = f"kernel {ref}'s run {run.competition}/{run.name} and the local run {run.target}"
    if not (local.config_path.is_file() and kernel.config_path.is_file()):
        raise BadInput(f"{what} cannot be told the same recipe (a config.yaml is missing); nothing was brought "
                       f"in: {how}")
    changed = changed_options(local.config(), kernel.config(), volatile_of(run.competition))
    if changed:
        raise BadInput(f"{what} were made by other recipes (they differ in {changed}); nothing was brought in: "
                       f"{how}")
    for path in sorted(run.source.glob("fold*"), key=lambda p: p.name):
        if path.is_dir() and (match := FOLD.fullmatch(path.name)):
            fold = int(match.group(1))
            (run.kept if occupied(local.fold_path(fold)) else run.add).append(fold)
    records = {k: local.fold_made_from(k) for k in local.completed_folds()}
    records.update({k: kernel.fold_made_from(k) for k in run.add if kernel.is_finished(k)})
    if (mixed := mixed_folds(records)) is not None:
        raise BadInput(f"{what}: folds {mixed[1]} were made from other data than folds {mixed[0]} "
                       f"({describe(mixed[2])} differ); nothing was brought in: {how}")


def bring_in(run: Incoming, beside: Path, report: Callable[[str], None] = print) -> None:
    """Move ``run`` into place (whole when new, else its new folds); the kernel's other files go to ``beside``."""
    if run.is_new:
        move_into_place(run.source, run.target)
        return
    for fold in run.add:
        move_into_place(run.source / f"fold{fold}", run.target / f"fold{fold}")
    for path in sorted(p for p in run.source.rglob("*") if p.is_file() and not FOLD.fullmatch(
            p.relative_to(run.source).parts[0])):
        copy = beside / path.relative_to(run.source)
        copy.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, copy)
    if run.kept:
        report(f"{run.target}: kept the local fold {', '.join(map(str, run.kept))}, which the kernel made as well "
               "(its copy stays in its output on Kaggle)")
    if run.add:
        rebuild(Run(run.target))


def move_into_place(source: Path, target: Path) -> None:
    """Copy ``source`` beside ``target`` under a temporary name, then rename it to ``target`` (absent)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.incoming-", dir=target.parent))
    shutil.copytree(source, staging, dirs_exist_ok=True)
    if target.is_dir():
        target.rmdir()  # empty (not occupied): nothing is lost
    staging.rename(target)


def rebuild(run: Run) -> None:
    """The run's ``oof.csv``/``test.csv`` and ``metrics.json`` from all its finished folds."""
    with run.lock():
        run.merge_folds()
        n_splits = run.config().get("n_splits") or run.metrics().get("n_splits")
        if n_splits:
            metrics = run.metrics()
            metrics.pop("oof", None)  # made from the local folds alone: summarize_run writes it anew
            atomic_write_json(run.metrics_path, metrics)
            summarize_run(run, int(n_splits))
