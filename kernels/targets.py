"""The kernel targets the registered competitions declare, and the option dataclasses of their scripts."""
from __future__ import annotations

from common.config import RunConfig, volatile_options
from common.errors import BadInput
from common.registry import KernelTarget, get_competition, known_competitions, load_hook

CODE_DATASET = "code-dataset"  # the target that packs the kit's code instead of a kernel


def kernel_targets() -> dict[str, tuple[str, KernelTarget]]:
    """Every kernel target the registered competitions declare, ``<competition>-<target>`` -> (competition,
    what it runs): a new competition's targets appear here without an edit in ``kernels/``."""
    return {f"{name}-{target}": (name, spec) for name in known_competitions()
            for target, spec in get_competition(name).kernels.items()}


def kernel_target(target: str) -> tuple[str, KernelTarget]:
    """``(competition, KernelTarget)`` of a target name; an unknown name lists the known ones."""
    targets = kernel_targets()
    if target not in targets:
        raise BadInput(f"unknown kernel target {target!r}; known: {sorted(targets)} and {CODE_DATASET}")
    return targets[target]


def script_config_class(competition: str, spec: KernelTarget) -> type:
    """The option dataclass the target's script parses its command line with (``KernelTarget.config``)."""
    if not spec.config:
        raise TypeError(f"competition {competition}'s kernel target {spec.script!r} declares no config "
                        "(KernelTarget(config='module:Class')): kernels.build parses the script's arguments with it")
    return load_hook(spec.config)


def volatile_of(competition: str) -> frozenset[str]:
    """The options that may differ between invocations writing one run, for any kernel script of
    ``competition`` (``common.config.volatile_options``): a kernel's run and a local one are the same recipe
    when they agree on every other option."""
    volatile = volatile_options(RunConfig)
    for spec in get_competition(competition).kernels.values():
        volatile |= volatile_options(script_config_class(competition, spec))
    return volatile
