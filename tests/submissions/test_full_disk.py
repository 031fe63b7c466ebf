"""blend and submit on a full disk: one line naming the file, exit 2, no part of a submission, nothing lost;
a rerun after space is freed completes (a real tmpfs filled up: tests/full_disk.py)."""
from __future__ import annotations

import pytest

from submissions import blend, submit
from submissions.store import latest_submission
from tests.full_disk import fails_for_space, files_in, full_disk
from tests.submissions.synthetic import write_run, write_sample


@pytest.mark.slow
def test_blend_on_a_full_disk_writes_no_part_of_a_submission(tmp_path, capsys):
    for i, noise in enumerate([1.0, 1.3]):
        write_run(tmp_path / "runs", "nexperia", f"model{i}", noise, seed=i)
    write_sample(tmp_path / "data", "nexperia")
    args = ["--competition", "nexperia", "--runs", "model0", "model1", "--data", str(tmp_path / "data"),
            "--runs-dir", str(tmp_path / "runs")]
    with full_disk(tmp_path / "disk") as disk:
        files = disk.root / "files"
        assert blend.main([*args, "--files-root", str(files)]) == 0
        before = files_in(files)
        assert len(before) == 3  # CSV, JSON and ROC plot
        for leave in (0, 8192, 24576):  # out of space at once, or after some of the files
            disk.fill(leave)
            fails_for_space(capsys, blend.main, [*args, "--files-root", str(files)], disk)
            assert files_in(files) == before  # nothing new, nothing lost, no staging folder left
            assert [p.name for p in (files / "nexperia").iterdir()] == sorted(before_names(before))
        disk.free_up()
        assert blend.main([*args, "--files-root", str(files)]) == 0
        newest, _ = latest_submission("nexperia", files, tmp_path / "data")
        assert {newest.name, newest.with_suffix(".json").name, newest.with_suffix(".roc.png").name} <= {
            p.name for p in (files / "nexperia").iterdir()}
        assert newest.read_bytes() == next(v for k, v in before.items() if k.endswith(".csv"))  # the same blend


def before_names(files: dict) -> list[str]:
    return [name.split("/")[-1] for name in files]


def test_submit_dry_run_with_its_ledger_on_a_full_disk(tmp_path, capsys):
    for i, noise in enumerate([1.0, 1.3]):
        write_run(tmp_path / "runs", "nexperia", f"model{i}", noise, seed=i)
    write_sample(tmp_path / "data", "nexperia")
    path, _ = blend.make_submission("nexperia", ["model0", "model1"], "rank", tmp_path / "data", tmp_path / "runs",
                                    tmp_path / "files")
    with full_disk(tmp_path / "disk") as disk:
        ledger = disk.root / "ledger.sqlite"
        args = [str(path), "-m", "rehearsal", "--dry-run", "--data", str(tmp_path / "data"), "--ledger", str(ledger)]
        assert submit.main(args) == 0
        before = ledger.read_bytes()
        disk.fill(0)
        line = fails_for_space(capsys, submit.main, args, disk)
        assert line == f"error: no space left on device writing {ledger}"
        disk.free_up()
        assert submit.main(args) == 0
        assert len(ledger.read_bytes()) >= len(before)
