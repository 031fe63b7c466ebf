"""What a kit kernel runs on Kaggle: find the kit's code dataset, put it on the path, run one kit module.

``kernels.build`` writes a kernel script made of a ``SETTINGS`` dict, this file's source and a call of
``main(SETTINGS)``. The script needs nothing but the standard library until the kit itself runs.

- The code dataset is searched under ``/kaggle/input`` for a folder holding ``common/__init__.py``; if
  Kaggle kept the uploaded folders as archives (``common.zip`` ...), they are extracted into
  ``/kaggle/working/kit_src``. The folder goes on ``PYTHONPATH`` of the child process (no pip install:
  kernels have no internet, and the image already has the kit's dependencies).
- Arguments may hold ``{input:RELATIVE/PATH}``: replaced by the shallowest path under ``/kaggle/input``
  that ends so (a weights file of an attached dataset, a run folder of an attached kernel's output);
  ``{input_dir:RELATIVE/PATH}`` by the folder holding it (the competition's folder from its marker file).
- Known pretrained weights (``--pretrained efficientnet_lite0``, see ``common.vision.weights``) come in a
  weights dataset the build attached: ``SETTINGS['weights_files']`` names their files, which are looked up
  under ``/kaggle/input`` before the module starts (a missing one is named at once); their folders go to
  the module as ``KIT_WEIGHTS_DIRS``, where ``common.vision.weights`` finds them instead of the package.
- The module runs with ``/kaggle/working`` as working directory, so its runs land in
  ``/kaggle/working/runs`` (``common.paths`` does the same inside a kernel); caches and the extracted kit
  are deleted at the end so the kernel's output is only the runs.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

KIT_MARKER = Path("common") / "__init__.py"
PLACEHOLDER = re.compile(r"\{(input|input_dir):([^}]+)\}")


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
    raise FileNotFoundError(f"the kit's code dataset {dataset_slug!r} is not attached: no "
                            f"{KIT_MARKER} (nor common.zip) under {input_root}")


def resolve_inputs(args: list[str], input_root: Path) -> list[str]:
    """Replace ``{input:REL}`` / ``{input_dir:REL}`` by the path found under ``input_root`` / its folder."""
    def replace(match: re.Match) -> str:
        kind, relative = match.groups()
        found = find_under(input_root, relative)
        if found is None:
            raise FileNotFoundError(f"{relative} not found under {input_root}: attach the competition, dataset "
                                    "or kernel output that holds it")
        return str(found if kind == "input" else found.parents[len(Path(relative).parts) - 1])
    return [PLACEHOLDER.sub(replace, a) for a in args]


def weights_dirs(file_names: list[str], input_root: Path) -> list[Path]:
    """The folders under ``input_root`` holding the attached weight files, for ``KIT_WEIGHTS_DIRS``."""
    folders = []
    for name in file_names:
        found = find_under(input_root, name)
        if found is None:
            raise FileNotFoundError(f"the weight file {name} is not under {input_root}: attach the weights "
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


def main(settings: dict, input_root: Path = Path("/kaggle/input"),
         working: Path = Path("/kaggle/working")) -> int:
    """Run ``python -m <settings['module']> <settings['args']>`` from the kit's code dataset."""
    kit = find_kit(input_root, working, settings["code_dataset"].split("/")[-1])
    env = kit_env(kit, settings, input_root)
    probe = subprocess.run([sys.executable, "-c", "import common; print(common.__file__)"], env=env, cwd=working,
                           capture_output=True, text=True)
    if probe.returncode != 0:
        raise RuntimeError(f"the kit in {kit} does not import:\n{probe.stderr}")
    print(f"kit imported from {Path(probe.stdout.strip()).parent.parent}", flush=True)
    command = [sys.executable, "-m", settings["module"], *resolve_inputs(list(settings["args"]), input_root)]
    print("running: " + " ".join(command), flush=True)
    code = subprocess.call(command, env=env, cwd=working)
    for leftover in ("cache", "kit_src"):
        shutil.rmtree(working / leftover, ignore_errors=True)
    print(f"finished with exit status {code}", flush=True)
    return code
