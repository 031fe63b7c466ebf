"""The wheels a kernel brings because Kaggle's image may not meet the command's requirements.

``needed_requirements(module)`` asks a fresh Python which distributions the kit's module imports, keeps the
kit's requirements among them (``setup.cfg``'s ``install_requires``, floors included) and the distributions
those depend on, and drops what Kaggle's image is known to meet (``kaggle_image.md`` in the notes: Kaggle's
``kaggle_requirements.txt`` of Aug 2026 over Colab's runtime of May 2026):

- ``FRAMEWORKS`` (torch, torchvision) are the image's CUDA builds: never packed nor replaced;
- ``IMAGE_NEWEST`` are listed unpinned by Kaggle, so they are the newest release of that day, above the
  kit's floors;
- everything else may be missing (timm, albumentations, the weight packages ... are not listed) or older than
  the kit's floor (scikit-learn and pandas are the base image's; Kaggle has pinned scikit-learn back before).

``pack_wheels`` downloads their wheels at the versions installed here (the ones the kit is tested with) for
the kernel's Python and platform (``pip download --only-binary :all:``) into a dataset folder with the
manifest ``kit-wheels.json`` (distribution -> requirement); the kernel's ``run.py`` installs from it offline
only what the image's Python does not meet.
"""
from __future__ import annotations

import configparser
import importlib.metadata
import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Callable, Sequence

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from kernels.bootstrap import WHEELS_MANIFEST as MANIFEST, installed_version
from kernels.pack_code import KIT_ROOT, PackingError, write_dataset

FRAMEWORKS = frozenset({"torch", "torchvision"})
IMAGE_NEWEST = frozenset({"kornia", "optuna", "catboost", "pytorch-lightning", "torchmetrics"})
KERNEL_PYTHON = "3.12"  # Colab's runtime of May 2026
KERNEL_PLATFORMS = ("manylinux_2_28_x86_64", "manylinux_2_17_x86_64", "manylinux2014_x86_64")


def wheels_dataset_slug(target: str) -> str:
    return f"kit-wheels-{target.replace('_', '-')}"


def kit_requirements(repo: Path = KIT_ROOT) -> dict[str, Requirement]:
    """The kit's ``install_requires`` (``setup.cfg``) by canonical distribution name."""
    parser = configparser.ConfigParser()
    parser.read(repo / "setup.cfg")
    lines = [line.split("#")[0].strip() for line in parser["options"]["install_requires"].splitlines()]
    return {canonicalize_name(r.name): r for r in map(Requirement, filter(None, lines))}


def imported_distributions(module: str) -> set[str]:
    """The distributions whose top-level modules are loaded by importing ``module`` in a fresh Python."""
    probe = subprocess.run([sys.executable, "-c", f"import sys, {module}; print(' '.join(sys.modules))"],
                           cwd=KIT_ROOT, capture_output=True, text=True)
    if probe.returncode != 0:
        raise PackingError(f"{module} does not import here, so its requirements are unknown:\n{probe.stderr}")
    top = {name.split(".")[0] for name in probe.stdout.split()}
    owners = importlib.metadata.packages_distributions()
    return {canonicalize_name(dist) for name in top for dist in owners.get(name, [])}


def _dependencies(dist: str) -> list[Requirement]:
    requires = importlib.metadata.requires(dist) or []
    return [r for r in map(Requirement, requires) if r.marker is None or r.marker.evaluate({"extra": ""})]


def needed_requirements(module: str, repo: Path = KIT_ROOT) -> dict[str, str]:
    """distribution -> requirement (specifier, "" for any version) of what a kernel running ``module`` may
    lack: the kit's requirements ``module`` imports and their dependencies, less what the image meets."""
    known = FRAMEWORKS | IMAGE_NEWEST
    kit = kit_requirements(repo)
    todo = [kit[d] for d in sorted(imported_distributions(module) & set(kit)) if d not in known]
    needed: dict[str, str] = {}
    while todo:
        requirement = todo.pop(0)
        name = canonicalize_name(requirement.name)
        if name in needed or name in known:
            continue
        needed[name] = str(requirement.specifier)
        todo += _dependencies(name)
    return needed


def pip_download(pins: Sequence[str], folder: Path, index_args: Sequence[str] = ()) -> None:
    """Download the wheels ``pins`` (``name==version``) for the kernel's Python and platform into ``folder``."""
    platforms = [arg for p in KERNEL_PLATFORMS for arg in ("--platform", p)]
    command = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary", ":all:", "--python-version",
               KERNEL_PYTHON, "--implementation", "cp", *platforms, "--dest", str(folder), *index_args, *pins]
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        raise PackingError(f"pip download of the kernel's wheels failed:\n{done.stderr.strip()[-2000:]}")


def pack_wheels(owner: str, target: str, requirements: dict[str, str], out: Path,
                download: Callable[[Sequence[str], Path], None] | None = None, repo: Path = KIT_ROOT) -> Path:
    """Write the dataset folder ``out``: the wheels of ``requirements`` at the versions installed here (else the
    newest each allows) and the manifest; replaced like ``pack_code``'s folders."""
    pins = [f"{name}=={version}" if (version := installed_version(name)) else f"{name}{spec}"
            for name, spec in requirements.items()]
    with tempfile.TemporaryDirectory() as tmp:
        (download or pip_download)(pins, Path(tmp))
        files = {path: path.name for path in sorted(Path(tmp).glob("*.whl"))}
        manifest = Path(tmp) / MANIFEST
        manifest.write_text(json.dumps({"requirements": requirements}, indent=1))
        meta = {"title": f"Kit wheels {target}", "id": f"{owner}/{wheels_dataset_slug(target)}",
                "licenses": [{"name": "other"}]}  # each wheel keeps its own license
        return write_dataset(Path(out).absolute(), Path(repo).resolve(), {**files, manifest: MANIFEST}, meta)
