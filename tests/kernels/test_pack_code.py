import json
import shutil
import subprocess
from pathlib import Path

import pytest

from common.cli import run_cli
from kernels.pack_code import MARKER, PackingError, main, pack_code
from tests import fake_kaggle


def _exit_status(argv):
    """The command line's exit status: 0, or 2 with the error on one line (common.cli.run_cli)."""
    try:
        return run_cli(main, argv)
    except SystemExit as exit_info:
        return exit_info.code

REPO_ROOT = Path(__file__).resolve().parents[2]

KEPT = ["setup.cfg", "common/__init__.py", "common/run.py", "competitions/x/configs/a.yaml",
        "competitions/x/train.py"]
DROPPED = ["tests/test_a.py", "bench/b.py", "competitions/x/table.csv", "common/kaggle.json",
           "common/__pycache__/run.cpython-311.pyc", "secret.env", "notes.txt", "common/access_token"]
IGNORED = ["runs/r/oof.csv", "data/x/train.csv", ".venv/lib/a.py", "kernels/build/k/run.py"]


@pytest.fixture
def repo(tmp_path):
    root = tmp_path / "repo"
    for relative in KEPT + DROPPED + IGNORED:
        (root / relative).parent.mkdir(parents=True, exist_ok=True)
        (root / relative).write_text(f"# {relative}\n")
    (root / ".gitignore").write_text(".venv/\nruns/\ndata/\nkernels/build/\n")
    if shutil.which("git"):
        subprocess.run(["git", "init", "-q"], cwd=root, check=True)
    return root


def _packed(folder: Path) -> set[str]:
    return {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()}


def test_packs_kit_sources_only(repo, tmp_path):
    out = pack_code("someone", tmp_path / "out", repo=repo)
    assert _packed(out) == set(KEPT) | {"dataset-metadata.json", MARKER}  # the marker: see the overwrite tests
    assert (out / "common" / "run.py").read_text() == "# common/run.py\n"
    meta = (out / "dataset-metadata.json").read_text()
    assert '"id": "someone/kaggle-kit-code"' in meta and "CC0-1.0" in meta


def test_refuses_a_file_holding_a_credential(repo, tmp_path, monkeypatch):
    monkeypatch.setenv("KAGGLE_KEY", fake_kaggle.KEY)
    (repo / "common" / "settings.py").write_text(f'KEY = "{fake_kaggle.KEY}"\n')
    with pytest.raises(PackingError, match="common/settings.py holds a Kaggle credential") as error:
        pack_code("someone", tmp_path / "out", repo=repo)
    assert fake_kaggle.KEY not in str(error.value)
    assert not (tmp_path / "out").exists()


def test_packs_the_real_kit(tmp_path):
    out = pack_code("someone", tmp_path / "out", repo=REPO_ROOT)
    files = _packed(out)
    assert {"common/run.py", "kernels/bootstrap.py", "submissions/blend.py"} <= files
    assert not any(f.startswith(("tests/", "runs/", "data/", ".venv/")) or f.endswith((".csv", ".pyc"))
                   for f in files)


# -- never delete a folder pack_code did not make -------------------------------------------------
def _snapshot(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def test_refuses_to_replace_a_folder_it_did_not_make(repo, tmp_path, capsys):
    mine = tmp_path / "my-folder"
    (mine / "notes").mkdir(parents=True)
    (mine / "thesis.tex").write_text("two years of work\n")
    (mine / "notes" / "a.txt").write_text("a\n")
    before = _snapshot(mine)
    with pytest.raises(PackingError, match=f"{mine}.*pack_code did not make"):
        pack_code("someone", mine, repo=repo)
    assert _exit_status(["--owner", "someone", "--out", str(mine), "--repo", str(repo)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith(f"error: --out {mine} is an existing folder that pack_code did")
    assert _snapshot(mine) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["my-folder", "repo"]  # no temporary folder left
    (tmp_path / "a-file").write_text("x")
    with pytest.raises(PackingError, match="a-file exists and is not a folder pack_code made"):
        pack_code("someone", tmp_path / "a-file", repo=repo)
    assert (tmp_path / "a-file").read_text() == "x"


def test_refuses_the_repository_root(repo, monkeypatch, capsys):
    before = _snapshot(repo)
    monkeypatch.chdir(repo)
    assert _exit_status(["--owner", "someone", "--out", ".", "--repo", str(repo)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: --out {repo} holds the repository {repo}: choose a folder of its own")
    with pytest.raises(PackingError, match="holds the repository"):
        pack_code("someone", repo, repo=repo)
    with pytest.raises(PackingError, match="holds the repository"):
        pack_code("someone", repo.parent, repo=repo)
    (repo / MARKER).write_text("{}")  # even a marker does not make the repository replaceable
    with pytest.raises(PackingError, match="holds the repository"):
        pack_code("someone", ".", repo=repo)
    (repo / MARKER).unlink()
    assert _snapshot(repo) == before


def test_replaces_a_folder_it_made(repo, tmp_path):
    out = pack_code("someone", tmp_path / "out", repo=repo)
    assert (out / MARKER).is_file()
    (out / "stale.py").write_text("left from an older pack\n")
    (repo / "common" / "new.py").write_text("# new\n")
    again = pack_code("someone", tmp_path / "out", repo=repo)
    assert again == out and not (out / "stale.py").exists() and (out / "common" / "new.py").is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out", "repo"]


def test_a_failed_pack_leaves_the_old_folder_and_no_temporary_one(repo, tmp_path, monkeypatch):
    out = pack_code("someone", tmp_path / "out", repo=repo)
    before = _snapshot(out)
    monkeypatch.setenv("KAGGLE_KEY", fake_kaggle.KEY)
    (repo / "common" / "settings.py").write_text(f'KEY = "{fake_kaggle.KEY}"\n')
    with pytest.raises(PackingError):
        pack_code("someone", out, repo=repo)
    assert _snapshot(out) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out", "repo"]


# -- credentials from every source the kaggle client reads -----------------------------------------
SECRET = "0123456789abcdef0123456789abcdef"


@pytest.fixture
def clean_env(monkeypatch, tmp_path):
    """No credential in the environment; HOME and the config folders point into tmp_path."""
    for name in ("KAGGLE_KEY", "KAGGLE_API_TOKEN", "KAGGLE_CONFIG_DIR", "KAGGLE_API_V1_TOKEN_PATH",
                 "XDG_CONFIG_HOME", "KAGGLE_USERNAME"):
        monkeypatch.delenv(name, raising=False)
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    return home


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


CREDENTIAL_SOURCES = {
    "kaggle_config_dir": lambda home, tmp, mp: (
        _write(tmp / "cfg" / "kaggle.json", json.dumps({"username": "someone", "key": SECRET})),
        mp.setenv("KAGGLE_CONFIG_DIR", str(tmp / "cfg"))),
    "home_kaggle_json": lambda home, tmp, mp: _write(home / ".kaggle" / "kaggle.json",
                                                     json.dumps({"username": "someone", "key": SECRET})),
    "xdg_kaggle_json": lambda home, tmp, mp: _write(home / ".config" / "kaggle" / "kaggle.json",
                                                    json.dumps({"username": "someone", "key": SECRET})),
    "access_token_file": lambda home, tmp, mp: _write(home / ".kaggle" / "access_token", SECRET + "\n"),
    "api_token_names_a_file": lambda home, tmp, mp: (
        _write(tmp / "token.txt", SECRET), mp.setenv("KAGGLE_API_TOKEN", str(tmp / "token.txt"))),
    "api_token_value": lambda home, tmp, mp: mp.setenv("KAGGLE_API_TOKEN", SECRET),
    "oauth_credentials": lambda home, tmp, mp: _write(home / ".kaggle" / "credentials.json",
                                                      json.dumps({"refresh_token": SECRET, "username": "x"})),
}


@pytest.mark.parametrize("source", sorted(CREDENTIAL_SOURCES))
def test_refuses_a_key_from_any_credential_source(source, repo, tmp_path, clean_env, monkeypatch, capsys):
    CREDENTIAL_SOURCES[source](clean_env, tmp_path, monkeypatch)
    (repo / "common" / "settings.py").write_text(f'TOKEN = "{SECRET}"\n')
    with pytest.raises(PackingError, match="common/settings.py holds a Kaggle credential") as error:
        pack_code("someone", tmp_path / "out", repo=repo)
    assert SECRET not in str(error.value)
    assert _exit_status(["--owner", "someone", "--out", str(tmp_path / "out"), "--repo", str(repo)]) == 2
    captured = capsys.readouterr()
    assert SECRET not in captured.err + captured.out
    assert not (tmp_path / "out").exists()


def test_packs_when_no_file_holds_a_key(repo, tmp_path, clean_env):
    _write(clean_env / ".kaggle" / "kaggle.json", json.dumps({"username": "someone", "key": SECRET}))
    out = pack_code("someone", tmp_path / "out", repo=repo)
    assert (out / "common" / "run.py").is_file()


def test_a_source_file_named_like_a_credential_is_left_out_aloud(repo, tmp_path, capsys):
    (repo / "competitions" / "x" / "secret_sauce.py").write_text("def sauce():\n    return 1\n")
    out = pack_code("someone", tmp_path / "out", repo=repo)
    assert "competitions/x/secret_sauce.py" not in _packed(out)
    err = capsys.readouterr().err
    assert "left out 2 file(s) whose names look like credentials: common/kaggle.json, " \
           "competitions/x/secret_sauce.py (rename any that is code" in err
