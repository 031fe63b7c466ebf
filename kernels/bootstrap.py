"""What a kit kernel runs on Kaggle: find the kit's code dataset, put it on the path, run one kit module.

``kernels.build`` writes a kernel script made of a ``SETTINGS`` dict, this file's source and a call of
``main(SETTINGS)``. The script needs nothing but the standard library until the kit itself runs.

- The code dataset is searched under ``/kaggle/input`` for a folder holding ``common/__init__.py``; if
  Kaggle kept the uploaded folders as archives (``common.zip`` ...), they are extracted into
  ``/kaggle/working/kit_src``. The folder goes on ``PYTHONPATH`` of the child process.
- What the image may lack comes as wheels in a dataset the build attached (``SETTINGS['wheels']``, its
  manifest ``kit-wheels.json``: distribution -> requirement): the requirements the image's Python does not
  meet (missing, or below the kit's floor) are installed offline (``pip install --no-index --find-links``),
  then the versions the module runs with are printed.
- Arguments may hold ``{input:RELATIVE/PATH}``: replaced by the shallowest path under ``/kaggle/input``
  that ends so (a weights file of an attached dataset, a run folder of an attached kernel's output);
  ``{input_dir:RELATIVE/PATH}`` by the folder holding it (the competition's folder from its marker file);
  ``{file:NAME}`` by ``/kaggle/working/kernel_files/NAME``, written from ``SETTINGS['files'][NAME]`` (the
  ``--config`` and ``--params`` files the build read and packed: kernels.script_call).
- Known pretrained weights (``--pretrained efficientnet_lite0``, see ``common.vision.weights``) come in a
  weights dataset the build attached: ``SETTINGS['weights_files']`` names their files, which are looked up
  under ``/kaggle/input`` before the module starts (a missing one is named at once); their folders go to
  the module as ``KIT_WEIGHTS_DIRS``, where ``common.vision.weights`` finds them instead of the package.
- ``SETTINGS['continue_from']`` (``kernels.build --continue-from``) names an attached kernel output whose
  ``runs/`` are copied into ``/kaggle/working/runs`` first: the training continues their unfinished folds.
- A training module (``SETTINGS['torchrun']``) runs under ``torchrun --nproc_per_node N`` when the image's
  torch finds N > 1 GPUs (``$KIT_KERNEL_RANKS`` sets N: how the tests run two gloo processes on a CPU), and
  gets ``--time-limit``: ``SETTINGS['time_limit_minutes']`` less the minutes this script ran before it.
- The module runs with ``/kaggle/working`` as working directory, so its runs land in
  ``/kaggle/working/runs`` (``common.paths`` does the same inside a kernel); caches and the extracted kit
  are deleted at the end so the kernel's output is only the runs.
- What the kernel misses (the code dataset, an input, weights, the continued kernel's runs) ends in one line,
  ``error: ...``, and exit status 2. Until the kit runs, this script needs nothing but the standard library.
"""
from __future__ import annotations

import importlib.metadata
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import time
import zipfile
from pathlib import Path

STARTED = time.monotonic()  # the session's clock, as near its start as the kernel script can read it
KIT_MARKER = Path("common") / "__init__.py"
PLACEHOLDER = re.compile(r"\{(input|input_dir|file):([^}]+)\}")
RANKS_ENV = "KIT_KERNEL_RANKS"
WHEELS_MANIFEST = "kit-wheels.json"
FILES_FOLDER = "kernel_files"


class MissingKernelInput(FileNotFoundError):
    """Something the kernel needs is not attached under ``/kaggle/input`` (the message says what to attach)."""


def find_under(root: Path, relative: str, max_depth: int = 5) -> Path | None:
    """The shallowest path under ``root`` ending with ``relative`` (breadth first, sorted)."""
    frontier = [root]
    for _ in range(max_depth + 1):
        for folder in frontier:
            if (folder / relative).exists():
                return folder / relative
        frontier = sorted(p for f in frontier if f.is_dir() for p in f.iterdir() if p.is_dir())
    return None


def find_kit(input_root: Path, working: Path, dataset_slug: str) -> Path:
    """The folder to put on ``PYTHONPATH``: the code dataset's, or its archives extracted."""
    roots = [p for p in (input_root / dataset_slug, input_root) if p.is_dir()]
    for root in roots:
        found = find_under(root, str(KIT_MARKER))
        if found is not None:
            return found.parent.parent
    for root in roots:
        archive = find_under(root, "common.zip") or find_under(root, "common.tar")
        if archive is not None:
            target = working / "kit_src"
            for path in sorted(archive.parent.iterdir()):
                if path.suffix == ".zip":
                    with zipfile.ZipFile(path) as zf:
                        zf.extractall(target / path.stem)
                elif path.suffix == ".tar":
                    with tarfile.open(path) as tf:
                        tf.extractall(target / path.stem, filter="data")
                elif path.is_file():
                    target.mkdir(parents=True, exist_ok=True)
                    shutil.copy2(path, target / path.name)
            return target
    raise MissingKernelInput(f"the kit's code dataset {dataset_slug!r} is not attached: no "
                            f"{KIT_MARKER} (nor common.zip) under {input_root}")


def resolve_inputs(args: list[str], input_root: Path, files_dir: Path | None = None) -> list[str]:
    """Replace ``{input:REL}`` / ``{input_dir:REL}`` by the path found under ``input_root`` / its folder, and
    ``{file:NAME}`` by ``files_dir / NAME``."""
    def replace(match: re.Match) -> str:
        kind, relative = match.groups()
        if kind == "file":
            return str(files_dir / relative)
        found = find_under(input_root, relative)
        if found is None:
            raise MissingKernelInput(f"{relative} not found under {input_root}: attach the competition, dataset "
                                    "or kernel output that holds it")
        return str(found if kind == "input" else found.parents[len(Path(relative).parts) - 1])
    return [PLACEHOLDER.sub(replace, a) for a in args]


def weights_dirs(file_names: list[str], input_root: Path) -> list[Path]:
    """The folders under ``input_root`` holding the attached weight files, for ``KIT_WEIGHTS_DIRS``."""
    folders = []
    for name in file_names:
        found = find_under(input_root, name)
        if found is None:
            raise MissingKernelInput(f"the weight file {name} is not under {input_root}: attach the weights "
                                    "dataset the kernel build wrote (upload it with python -m kernels push-dataset)")
        folders.append(found.parent)
    return list(dict.fromkeys(folders))


def kit_env(kit: Path, settings: dict, input_root: Path) -> dict[str, str]:
    """The module's environment: the kit on ``PYTHONPATH``, the attached weights' folders in ``KIT_WEIGHTS_DIRS``."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(kit), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep),
               PYTHONUNBUFFERED="1")
    folders = weights_dirs(settings.get("weights_files", []), input_root)
    if folders:
        env["KIT_WEIGHTS_DIRS"] = os.pathsep.join(map(str, folders))
    return env


def installed_version(distribution: str) -> str | None:
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return None


def unmet(requirements: dict[str, str]) -> list[str]:
    """The distributions of ``requirements`` (name -> specifier) this Python lacks or has outside the
    specifier."""
    from pip._vendor.packaging.specifiers import SpecifierSet  # pip's own copy: the image may lack packaging
    return [name for name, spec in requirements.items()
            if (version := installed_version(name)) is None or not SpecifierSet(spec).contains(version, True)]


def install_wheels(input_root: Path) -> dict[str, str | None]:
    """Install offline what the image does not meet from the attached wheels dataset; the versions after."""
    manifest = find_under(input_root, WHEELS_MANIFEST)
    if manifest is None:
        raise MissingKernelInput(f"the kernel's wheels dataset ({WHEELS_MANIFEST}) is not under {input_root}: "
                                "upload the folder kernels.build wrote with python -m kernels push-dataset")
    requirements = json.loads(manifest.read_text())["requirements"]
    todo = unmet(requirements)
    if todo:
        print("installing from the kernel's wheels: " + ", ".join(f"{n}{requirements[n]} (image: "
              f"{installed_version(n) or 'missing'})" for n in todo), flush=True)
        subprocess.run([sys.executable, "-m", "pip", "install", "--no-index", "--find-links", str(manifest.parent),
                        "--no-deps", "--quiet", *[f"{n}{requirements[n]}" for n in todo]], check=True)
    versions = {name: installed_version(name) for name in requirements}
    print("runs with: " + ", ".join(f"{n} {v}" for n, v in versions.items()), flush=True)
    return versions


def continue_runs(kernel_slug: str, input_root: Path, working: Path) -> list[Path]:
    """Copy the ``runs/`` of the attached output of kernel ``kernel_slug`` into ``working``; the run folders."""
    output = find_under(input_root, kernel_slug)
    if output is None:
        raise MissingKernelInput(f"the output of kernel {kernel_slug} is not attached under {input_root}: build "
                                 f"the kernel again with --continue-from OWNER/{kernel_slug}")
    runs = sorted(p for p in (output / "runs").glob("*/*") if p.is_dir())
    if not runs:
        raise MissingKernelInput(f"the output of kernel {kernel_slug} holds no runs/ to continue: did that kernel "
                                 f"train? (its log: python -m kernels output OWNER/{kernel_slug})")
    shutil.copytree(output / "runs", working / "runs", dirs_exist_ok=True)  # /kaggle/input is read-only
    return sorted(p for p in (working / "runs").glob("*/*") if p.is_dir())


def ranks(env: dict[str, str], working: Path) -> int:
    """The processes to start: ``$KIT_KERNEL_RANKS``, else the GPUs the image's torch finds (0 without one)."""
    if os.environ.get(RANKS_ENV):
        return int(os.environ[RANKS_ENV])
    probe = subprocess.run([sys.executable, "-c", "import torch; print(torch.cuda.device_count())"], env=env,
                           cwd=working, capture_output=True, text=True)
    return int(probe.stdout.strip()) if probe.returncode == 0 and probe.stdout.strip().isdigit() else 0


def module_command(settings: dict, args: list[str], n_ranks: int) -> list[str]:
    """``python -m MODULE ARGS``, under ``torchrun`` for a training module on several GPUs, with its time limit."""
    if settings.get("time_limit_minutes") is not None:
        minutes = settings["time_limit_minutes"] - (time.monotonic() - STARTED) / 60
        args = [*args, "--time-limit", f"{max(minutes, 1.0):.1f}"]
    launcher = [sys.executable, "-m"]
    if settings.get("torchrun") and n_ranks > 1:
        launcher = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node",
                    str(n_ranks), "-m"]
    return [*launcher, settings["module"], *args]


def script_arguments(settings: dict, input_root: Path, working: Path) -> list[str]:
    """The module's arguments: ``SETTINGS['files']`` written into ``working``, the placeholders resolved."""
    files_dir = working / FILES_FOLDER
    for name, text in settings.get("files", {}).items():
        files_dir.mkdir(parents=True, exist_ok=True)
        (files_dir / name).write_text(text)
    return resolve_inputs(list(settings["args"]), input_root, files_dir)


def main(settings: dict, input_root: Path = Path("/kaggle/input"),
         working: Path = Path("/kaggle/working")) -> int:
    """Run ``python -m <settings['module']> <settings['args']>`` from the kit's code dataset; what the kernel
    misses ends in one line, exit status 2."""
    try:
        return run_module(settings, input_root, working)
    except MissingKernelInput as err:
        print(f"error: {err}", file=sys.stderr, flush=True)
        return 2


def run_module(settings: dict, input_root: Path, working: Path) -> int:
    kit = find_kit(input_root, working, settings["code_dataset"].split("/")[-1])
    if settings.get("wheels"):
        install_wheels(input_root)
    env = kit_env(kit, settings, input_root)
    probe = subprocess.run([sys.executable, "-c", "import common; print(common.__file__)"], env=env, cwd=working,
                           capture_output=True, text=True)
    if probe.returncode != 0:
        raise RuntimeError(f"the kit in {kit} does not import:\n{probe.stderr}")
    print(f"kit imported from {Path(probe.stdout.strip()).parent.parent}", flush=True)
    if settings.get("continue_from"):
        runs = continue_runs(settings["continue_from"], input_root, working)
        print(f"continuing the runs of {settings['continue_from']}: {', '.join(p.name for p in runs)}", flush=True)
    args = script_arguments(settings, input_root, working)
    command = module_command(settings, args, ranks(env, working) if settings.get("torchrun") else 1)
    print("running: " + " ".join(command), flush=True)
    code = subprocess.call(command, env=env, cwd=working)
    for leftover in ("cache", "kit_src"):
        shutil.rmtree(working / leftover, ignore_errors=True)
    print(f"finished with exit status {code}", flush=True)
    return code
