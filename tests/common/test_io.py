"""common.io: atomic writes and the clean-up of what killed writers leave behind."""
from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from common import io
from common.errors import KitError
from common.io import DamagedFile, atomic_path, atomic_write_parquet, atomic_write_text, clean_leftovers, read_json


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def _age(path: Path, seconds: float) -> None:
    past = time.time() - seconds
    os.utime(path, (past, past))


def _killed_atomic_write(target: Path) -> Path:
    """A real atomic writer killed halfway: its temporary file stays, the target is untouched."""
    code = ("import os, sys\nfrom common.io import atomic_path\n"
            "with atomic_path(sys.argv[1]) as tmp:\n    tmp.write_text('half')\n    os._exit(9)\n")
    proc = subprocess.run([sys.executable, "-c", code, str(target)], cwd=Path(__file__).resolve().parents[2])
    assert proc.returncode == 9
    (leftover,) = target.parent.glob(f".{target.name}.*.tmp")
    return leftover


def test_killed_writes_are_cleaned_and_written_files_kept(tmp_path):
    target = tmp_path / "metrics.json"
    atomic_write_text(target, "kept")
    stale = _killed_atomic_write(target)
    assert target.read_text() == "kept"
    fresh = tmp_path / ".oof.csv.abc123xy.tmp"  # a writer that may still be at work
    fresh.write_text("x")
    _age(stale, 7200)
    dead_dir = tmp_path / f"images.tmp-{_dead_pid()}"  # a cache folder of a killed writer
    (dead_dir / "sub").mkdir(parents=True)
    (dead_dir / "sub" / "train_images.npy").write_bytes(b"\0" * 10)
    dead_file = tmp_path / f"table.parquet.tmp-{_dead_pid()}"
    dead_file.write_bytes(b"x")
    live = tmp_path / f"images2.tmp-{os.getpid()}"  # this process runs: not a leftover
    live.mkdir()
    deep = tmp_path / "fold0" / ".oof.csv.zz99aa11.tmp"
    deep.parent.mkdir()
    deep.write_text("x")
    _age(deep, 7200)
    others = [tmp_path / ".hidden", tmp_path / "notes.tmp", tmp_path / "x.tmp-abc", tmp_path / "fold0" / "oof.csv"]
    for path in others:
        path.write_text("y")
        _age(path, 7200)

    removed = clean_leftovers(tmp_path, older_than_s=3600)
    assert sorted(removed) == sorted([stale, dead_dir, dead_file, deep])
    assert not stale.exists() and not dead_dir.exists() and not dead_file.exists() and not deep.exists()
    assert fresh.exists() and live.exists() and target.read_text() == "kept"
    assert all(p.exists() for p in others)
    assert clean_leftovers(tmp_path, older_than_s=3600) == []
    assert clean_leftovers(tmp_path / "missing") == []


def test_depth_limits_the_walk(tmp_path):
    deep = tmp_path / "a" / "b" / f"x.tmp-{_dead_pid()}"
    deep.parent.mkdir(parents=True)
    deep.write_text("x")
    assert clean_leftovers(tmp_path, depth=1) == [] and deep.exists()
    assert clean_leftovers(tmp_path, depth=2) == [deep]


def test_temporary_names_match_the_pattern(tmp_path):
    target = tmp_path / "frame.parquet"
    with atomic_path(target) as tmp:
        assert io.ATOMIC_TMP.match(tmp.name), tmp.name
    atomic_write_parquet(target, pd.DataFrame({"a": [1]}))
    assert not list(tmp_path.glob(".*.tmp"))


def test_home_credit_caches_are_cleaned(tmp_path):
    """The table cache and the features cache drop leftovers when they are used."""
    from competitions.home_credit import data
    from competitions.home_credit.synth import generate

    source = generate(tmp_path / "data", n_clients=300, n_test=50, seed=3)
    cache = tmp_path / "tables"
    cache.mkdir()
    leftover = cache / ".bureau.arrow.q1w2e3r4.tmp"
    leftover.write_bytes(b"partial")
    _age(leftover, 7200)
    data.load_table(source, "bureau", cache_dir=cache)
    assert not leftover.exists() and (cache / "bureau.json").is_file()

    from competitions.home_credit.features import build
    features = tmp_path / "features"
    features.mkdir()
    dead = features / f"application-x.arrow.tmp-{_dead_pid()}"
    dead.write_bytes(b"partial")
    build.cached_group(build.GROUPS["application"], source, cache_dir=features)
    assert not dead.exists() and list(features.glob("application-*.arrow"))


def test_a_write_on_a_full_disk_names_the_file_and_keeps_the_earlier_one(tmp_path):
    from common.io import DiskFullError, atomic_write_bytes
    from tests.full_disk import full_disk
    with full_disk(tmp_path / "disk", size=1 << 20) as disk:
        target = disk.root / "model.txt"
        atomic_write_bytes(target, b"earlier")
        disk.fill(0)
        with pytest.raises(DiskFullError) as error:
            atomic_write_bytes(target, b"x" * 100_000)
        assert str(error.value) == f"no space left on device writing {target}"
        assert target.read_bytes() == b"earlier" and sorted(p.name for p in disk.root.iterdir()) == [
            ".filler", "model.txt"]


@pytest.mark.parametrize("text", ['{"complete": tr', "", "\u00ff\u00fe not json"])
def test_a_damaged_json_file_names_itself_in_one_line(tmp_path, text):
    path = tmp_path / "metrics.json"
    path.write_text(text, encoding="latin-1")
    with pytest.raises(DamagedFile) as error:
        read_json(path)
    assert str(error.value).startswith(f"{path} is damaged (not valid JSON: ") and "\n" not in str(error.value)
    assert isinstance(error.value, KitError)
    with pytest.raises(DamagedFile, match="pass --overwrite"):
        read_json(path, "pass --overwrite")
