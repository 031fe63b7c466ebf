"""Each competition the kit knows: its Kaggle facts and its hooks (the only competition-specific code that
the shared stages call).

A hook is named ``"module:function"`` and imported only when used, so ``common/`` imports nothing from
``competitions/``:
- ``postprocess[name]``: ``fn(test: DataFrame[id, pred], data_dir: Path) -> (DataFrame[id, pred], dict)``,
  applied to a blend's test scores by ``submissions.blend --post NAME`` (e.g. Nexperia's train-test leak
  fix); the dict (what changed) is recorded with the submission;
- ``truth``: ``fn(data_dir: Path) -> (ids -> true labels) | None``: planted true labels of synthetic data.

A competition also declares its command lines, ``commands[step] = "package.module"`` (a module with a ``main``),
which the ``kit`` front door reaches as ``kit <step> <competition>``, and the scripts that run as Kaggle kernels,
``kernels[target] = KernelTarget(...)``, which ``kernels.build`` offers as ``<competition>-<target>``, and the plan
``kit play`` follows, ``play = "module:function"`` (docs/play.md).

Each competition registers itself: its package (``competitions/<name>/__init__.py``) calls :func:`register`, and
:func:`get_competition` imports ``competitions.<name>`` by name the first time the name is asked for, so
``common/`` names no competition (docs/adding_a_competition.md).
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import Any, Callable

from common.errors import BadInput


@dataclass(frozen=True)
class KernelTarget:
    """A competition script that runs as a Kaggle kernel (``kernels.build``)."""
    script: str                         # module under competitions/<competition>/
    gpu: bool                           # runs on a GPU session by default
    weights: bool = False               # attaches a dataset of pretrained weights
    config: str | None = None           # "module:Class": the script's option dataclass (kernels.build parses with it)
    epochs: bool = False                # trains epoch by epoch: runs under torchrun on several GPUs, takes --time-limit


@dataclass(frozen=True)
class Competition:
    name: str               # the kit's short name: folder under competitions/, data/ and runs/
    slug: str               # Kaggle's competition slug
    marker_file: str        # a file that identifies the competition's data folder
    sample_submission: str  # file name of the sample submission inside the data folder
    id_column: str          # id column of the submission
    target_column: str      # score column of the submission
    score_range: tuple[float, float] = (0.0, 1.0)
    higher_is_better: bool = True  # the leaderboard's metric: a higher score ranks better (ROC-AUC)
    postprocess: dict[str, str] = field(default_factory=dict)  # name -> "module:function"
    truth: str | None = None                                    # "module:function"
    commands: dict[str, str] = field(default_factory=dict)      # workflow step -> "package.module" with a main
    kernels: dict[str, KernelTarget] = field(default_factory=dict)  # kernel target -> what it runs
    environment: dict[str, str] = field(default_factory=dict)   # process settings its commands start with
    play: str | None = None  # "module:function": the autopilot's plan, fn(data, device) -> common.play.plan.Plan


COMPETITIONS: dict[str, Competition] = {}


def register(spec: Competition) -> Competition:
    """Make ``spec`` known to every shared stage (blend, validate, submit, ledger, kernels)."""
    COMPETITIONS[spec.name] = spec
    return spec


PACKAGE = "competitions"  # where competitions live; each package registers itself when imported


def get_competition(name: str) -> Competition:
    if name not in COMPETITIONS and name.isidentifier():
        try:
            importlib.import_module(f"{PACKAGE}.{name}")
        except ModuleNotFoundError as err:
            if err.name not in (PACKAGE, f"{PACKAGE}.{name}"):
                raise
    try:
        return COMPETITIONS[name]
    except KeyError:
        raise BadInput(f"unknown competition {name!r}; known: {known_competitions()}") from None


def known_competitions() -> list[str]:
    """Names of the registered competitions and of the packages under ``competitions/`` (imported to list them)."""
    import pkgutil
    try:
        package = importlib.import_module(PACKAGE)
    except ModuleNotFoundError:
        return sorted(COMPETITIONS)
    for module in pkgutil.iter_modules(package.__path__):
        if module.ispkg:
            importlib.import_module(f"{PACKAGE}.{module.name}")
    return sorted(COMPETITIONS)


def prepare_environment(competition: str) -> None:
    """Set the competition's process environment (``Competition.environment``) where a command of it starts, before
    the libraries that read it are imported; a value the user set wins."""
    import os

    for name, value in get_competition(competition).environment.items():
        os.environ.setdefault(name, value)


def load_hook(reference: str) -> Callable[..., Any]:
    """The function named ``"package.module:function"``."""
    module, _, name = reference.partition(":")
    try:
        return getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError) as err:
        raise BadInput(f"hook {reference!r} cannot be loaded: {err}") from err


def postprocess_hook(competition: str, name: str) -> Callable[..., Any]:
    spec = get_competition(competition)
    if name not in spec.postprocess:
        raise BadInput(f"competition {competition} has no post-processing {name!r}; "
                       f"it has {sorted(spec.postprocess) or 'none'}")
    return load_hook(spec.postprocess[name])


def truth_of(competition: str, data_dir) -> Callable | None:
    """The competition's planted-truth lookup for ``data_dir`` (None for real data or no truth hook)."""
    spec = get_competition(competition)
    return load_hook(spec.truth)(data_dir) if spec.truth else None
