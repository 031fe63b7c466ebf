"""Home Credit training on a full disk: one line naming the file, exit 2, earlier runs untouched, and the
rerun after space is freed gives the same predictions (a real tmpfs filled up: tests/full_disk.py)."""
from __future__ import annotations

import pandas as pd
import pytest

from competitions.home_credit import train
from tests.full_disk import fails_for_space, files_in, full_disk
from tests.home_credit.helpers import FAST, kit_roots  # noqa: F401  (fixture)


@pytest.mark.slow
@pytest.mark.usefixtures("kit_roots")
def test_home_credit_training_on_a_full_disk_resumes_to_the_samefiles_in(home_credit_data, tmp_path, capsys):
    args = ["--data", str(home_credit_data), "--tables", "application", *FAST]
    with full_disk(tmp_path / "disk", size=16 << 20) as disk:
        runs = disk.root / "runs"
        train.main([*args, "--name", "roomy", "--runs-dir", str(runs)])
        roomy = files_in(runs / "home_credit" / "roomy")
        for leave in (0, 65536):
            disk.fill(leave)
            fails_for_space(capsys, train.main, [*args, "--name", "cramped", "--runs-dir", str(runs)], disk)
            assert files_in(runs / "home_credit" / "roomy") == roomy
        disk.free_up()
        train.main([*args, "--name", "cramped", "--runs-dir", str(runs)])
        cramped = runs / "home_credit" / "cramped"
        for name in ("oof.csv", "test.csv"):
            pd.testing.assert_frame_equal(pd.read_csv(cramped / name), pd.read_csv(runs / "home_credit" / "roomy" / name))
