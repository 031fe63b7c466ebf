"""bench/blend_methods.py: every blend method over a play's kept runs, their nested CV beside the test AUC."""
import json

import numpy as np
import pandas as pd
import pytest

from bench.blend_methods import main
from common.ensemble.methods import BLENDERS
from common.metrics import roc_auc


def test_each_kept_run_and_each_method_gets_its_cv_and_test_auc(tmp_path, capsys):
    rng = np.random.default_rng(0)
    n, m = 600, 300
    y, truth = rng.integers(0, 2, n), rng.integers(0, 2, m)
    play = tmp_path / "play"
    records = [{"event": "play", "competition": "toy"}]
    for run, noise in (("good", 0.5), ("weak", 2.0), ("dropped", 1.0)):
        folder = play / "runs" / "toy" / run
        folder.mkdir(parents=True)
        pd.DataFrame({"id": np.arange(n).astype(str), "fold": np.arange(n) % 3, "target": y,
                      "pred": y + rng.normal(0, noise, n)}).to_csv(folder / "oof.csv", index=False)
        pd.DataFrame({"id": (1000 + np.arange(m)).astype(str),
                      "pred": truth + rng.normal(0, noise, m)}).to_csv(folder / "test.csv", index=False)
        records.append({"event": "finish", "step": run, "status": "done",
                        "candidates": [{"run": run, "kept": run != "dropped"}]})
    (play / "decisions.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    pd.DataFrame({"SK_ID_CURR": 1000 + np.arange(m), "TARGET": truth}).to_csv(tmp_path / "truth.csv", index=False)

    main(["--play", str(play), "--truth", str(tmp_path / "truth.csv"), "--id-column", "SK_ID_CURR"])
    table = [line.split(" | ") for line in capsys.readouterr().out.splitlines() if line.startswith("| ")][2:]
    rows = {cells[0].strip("| "): [float(c.strip("| ")) for c in cells[2:]] for cells in table}
    assert set(rows) == {"good", "weak", *BLENDERS}  # the run the play did not keep is left out
    oof = pd.read_csv(play / "runs" / "toy" / "good" / "oof.csv")
    assert rows["good"][0] == pytest.approx(roc_auc(oof["target"], oof["pred"]), abs=1e-5)
    assert rows["good"][1] > 0.8 > rows["weak"][1]
    assert all(0.5 < cv <= 1 for cv, _ in rows.values())


def test_a_folder_that_is_not_a_play_is_one_line(tmp_path):
    with pytest.raises(SystemExit, match="no decisions.jsonl"):
        main(["--play", str(tmp_path), "--truth", str(tmp_path / "truth.csv")])
