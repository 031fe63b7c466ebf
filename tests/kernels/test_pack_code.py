import shutil
import subprocess
from pathlib import Path

import pytest

from kernels.pack_code import PackingError, pack_code
from tests import fake_kaggle

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
    assert _packed(out) == set(KEPT) | {"dataset-metadata.json"}
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
