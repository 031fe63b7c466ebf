"""Pack the kit's source code as a Kaggle dataset folder, and create or version the dataset.

``python -m kernels.pack_code --owner USER [--push] [--notes TEXT]`` writes
``kernels/build/kaggle-kit-code/`` with ``dataset-metadata.json`` and a copy of the kit's source files:
the files git knows (tracked, or new and not ignored) inside the kit's packages, plus setup.cfg,
pyproject.toml and README.md. Never packed: tests, benchmarks, data and prediction files, runs,
caches, virtual environments, and anything that looks like credentials; packing stops if a file holds
the value of ``KAGGLE_KEY`` or ``KAGGLE_API_TOKEN``. ``--push`` uploads the folder with the official
client (sub-folders as zip archives; the kernel script finds them either way): a new private dataset
the first time, a new version after.
"""
from __future__ import annotations

import argparse
import fnmatch
import os
import shutil
import subprocess
import sys
from pathlib import Path, PurePosixPath
from typing import Iterable, Sequence

from common.io import atomic_write_json

PACKAGES = ("common", "competitions", "kernels", "submissions")
TOP_FILES = ("setup.cfg", "pyproject.toml", "README.md")
SOURCE_SUFFIXES = (".py", ".yaml", ".yml", ".json", ".md", ".cfg", ".toml", ".txt")
NEVER = ("*/build/*", "*__pycache__*", "*.egg-info*", "kaggle.json", "*access_token*", "credentials*",
         "*.env", ".env*", "*.netrc", "*.pem", "*.key", "*secret*")
SECRET_VARIABLES = ("KAGGLE_KEY", "KAGGLE_API_TOKEN")
KIT_ROOT = Path(__file__).resolve().parents[1]  # the folder holding the kit's packages


class PackingError(RuntimeError):
    pass


def candidate_files(repo: Path) -> list[str]:
    """Files git knows in ``repo`` (tracked, or untracked and not ignored); a walk if it is no git checkout."""
    try:
        out = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
                             cwd=repo, capture_output=True, check=True).stdout
        return sorted({f for f in out.decode().split("\0") if f})
    except (OSError, subprocess.CalledProcessError):
        return sorted(str(p.relative_to(repo).as_posix()) for p in repo.rglob("*") if p.is_file())


def is_packed(relative: str) -> bool:
    """Whether a repository file belongs in the code dataset."""
    path = PurePosixPath(relative)
    if any(fnmatch.fnmatch(relative, pattern) or fnmatch.fnmatch(path.name, pattern) for pattern in NEVER):
        return False
    if len(path.parts) == 1:
        return relative in TOP_FILES
    return path.parts[0] in PACKAGES and path.suffix in SOURCE_SUFFIXES


def check_no_secrets(files: Iterable[Path]) -> None:
    """Refuse to pack a file holding the value of a credential variable (the value is never shown)."""
    secrets = [os.environ[v].encode() for v in SECRET_VARIABLES if len(os.environ.get(v, "")) >= 8]
    for path in files:
        data = path.read_bytes()
        for secret in secrets:
            if secret in data:
                raise PackingError(f"{path} holds a Kaggle credential: remove it before packing")


def dataset_metadata(owner: str, slug: str) -> dict:
    return {"title": "Kaggle kit code", "id": f"{owner}/{slug}", "licenses": [{"name": "CC0-1.0"}]}


def pack_code(owner: str, out: str | Path, slug: str = "kaggle-kit-code", repo: str | Path = KIT_ROOT) -> Path:
    """Write the code dataset folder ``out`` (replacing an older one); return it."""
    repo, out = Path(repo).resolve(), Path(out)
    files = [f for f in candidate_files(repo) if is_packed(f) and (repo / f).is_file()]
    if not any(f.startswith("common/") for f in files):
        raise PackingError(f"no kit sources found in {repo}: pass the repository root as --repo")
    check_no_secrets(repo / f for f in files)
    if out.exists():
        shutil.rmtree(out)
    for relative in files:
        target = out / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(repo / relative, target)
    atomic_write_json(out / "dataset-metadata.json", dataset_metadata(owner, slug))
    return out


def push_code(folder: str | Path, notes: str) -> str:
    """Create the dataset, or add a version if it exists; return its ref."""
    import json

    from submissions import kaggle_client

    folder = Path(folder)
    ref = json.loads((folder / "dataset-metadata.json").read_text())["id"]
    api = kaggle_client.connect()
    if kaggle_client.dataset_exists(api, ref):
        return kaggle_client.version_dataset(api, folder, notes)
    return kaggle_client.create_dataset(api, folder)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--owner", default=os.environ.get("KAGGLE_USERNAME"),
                        help="Kaggle user name (default $KAGGLE_USERNAME)")
    parser.add_argument("--slug", default="kaggle-kit-code", help="dataset slug")
    parser.add_argument("--out", type=Path, default=None, help="folder to write (default kernels/build/<slug>)")
    parser.add_argument("--repo", type=Path, default=KIT_ROOT, help="repository root (default: the kit's)")
    parser.add_argument("--push", action="store_true", help="create or version the dataset on Kaggle")
    parser.add_argument("--notes", default="kit code update", help="version notes when versioning")
    args = parser.parse_args(argv)
    if not args.owner:
        parser.error("pass --owner (your Kaggle user name) or set KAGGLE_USERNAME")
    from submissions.kaggle_client import KaggleError

    try:
        folder = pack_code(args.owner, args.out or Path("kernels") / "build" / args.slug, args.slug, args.repo)
        n_files = sum(1 for p in folder.rglob("*") if p.is_file())
        print(f"code dataset folder: {folder} ({n_files} files)")
        if args.push:
            print(f"dataset {push_code(folder, args.notes)} is up to date on Kaggle")
    except (PackingError, KaggleError) as error:
        print(f"PACKING FAILED: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
