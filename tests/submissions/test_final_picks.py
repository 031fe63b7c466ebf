"""``leaderboard final``: the two final picks on CV, and after the deadline private scores synced and the
shake-up shown, through the real client against the loopback Kaggle."""
import json

import numpy as np
import pandas as pd
import pytest

from submissions import leaderboard
from submissions.ledger import Ledger
from submissions.submit import submit_file
from tests import fake_kaggle
from tests.submissions.synthetic import submission_ids, write_sample

# runs, method, CV AUC, public, private, Kaggle status
SUBMISSIONS = [
    (["a"], "rank", 0.910, "0.900", "0.905", "COMPLETE"),
    (["a", "b"], "rank", 0.950, "0.930", "0.946", "COMPLETE"),   # best CV: pick 1
    (["b", "a"], "rank", 0.948, "0.945", "0.931", "COMPLETE"),   # built like pick 1: no hedge
    (["a", "b"], "mean", 0.940, "0.920", "0.950", "COMPLETE"),   # another method: the hedge
    (["c"], "rank", 0.990, None, None, "ERROR"),                 # Kaggle could not score it: no pick
]


@pytest.fixture
def finals(tmp_path, fake_kaggle_server):
    data, ledger = tmp_path / "data", tmp_path / "ledger.sqlite"
    write_sample(data, "nexperia")
    ids = submission_ids("nexperia")
    for i, (runs, method, cv, *_rest) in enumerate(SUBMISSIONS):
        path = tmp_path / f"nexperia-final{i}.csv"
        pd.DataFrame({"id": ids, "defect_score": np.random.default_rng(i).uniform(size=len(ids))}).to_csv(
            path, index=False)
        path.with_suffix(".json").write_text(json.dumps({
            "competition": "nexperia", "method": method, "runs": [{"name": r} for r in runs],
            "cv": {"auc": cv, "ci_low": cv - 0.01, "ci_high": cv + 0.01}}))
        submit_file(path, f"final {i}", data_dir=data, ledger_path=ledger)
    for sub, (*_head, public, _private, status) in zip(fake_kaggle_server.submissions, SUBMISSIONS):
        sub.update(status=status, **({"publicScore": public} if public else {}))
    fake_kaggle_server.competition = {"maxDailySubmissions": 5, "deadline": "2026-12-31T23:59:00Z"}
    fake_kaggle_server.leaderboard = [{"teamId": 1, "teamName": fake_kaggle.USERNAME, "score": "0.945"}]
    assert leaderboard.main(["sync", "--competition", "nexperia", "--ledger", str(ledger),
                             "--files-root", str(tmp_path / "files")]) == 0
    return ledger


@pytest.mark.slow
def test_final_picks_best_cv_and_a_hedge_built_another_way(finals, capsys):
    capsys.readouterr()
    assert leaderboard.main(["final", "--competition", "nexperia", "--ledger", str(finals)]) == 0
    out = capsys.readouterr().out
    assert "final submissions to select on Kaggle before the deadline 2026-12-31T23:59:00Z" in out
    assert "pick 1: ledger id 2, Kaggle submission 1001, nexperia-final1.csv (public 0.93000)" in out
    assert ("best CV: CV AUC 0.95000 [0.94000, 0.96000] (a+b, rank), the highest of 4 submission(s) Kaggle "
            "accepted with a CV") in out
    assert "pick 2: ledger id 4, Kaggle submission 1003, nexperia-final3.csv (public 0.92000)" in out
    assert ("hedge: best CV among submissions built another way than pick 1 (a+b, mean): CV AUC 0.94000 "
            "[0.93000, 0.95000]; its CI overlaps pick 1's") in out
    assert "private" not in out  # no private score before the deadline
    for secret in fake_kaggle.SECRETS:
        assert secret not in out


@pytest.mark.slow
def test_private_scores_sync_after_the_deadline_and_show_the_shake_up(finals, fake_kaggle_server, tmp_path, capsys):
    for sub, (*_head, private, _status) in zip(fake_kaggle_server.submissions, SUBMISSIONS):
        if private:
            sub["privateScore"] = private
    capsys.readouterr()
    assert leaderboard.main(["sync", "--competition", "nexperia", "--ledger", str(finals),
                             "--files-root", str(tmp_path / "files")]) == 0
    assert "4 ledger records updated, 0 new ones tracked" in capsys.readouterr().out
    with Ledger(finals) as ledger:
        table = ledger.table("nexperia")
    assert table["private_score"].tolist()[:4] == [0.905, 0.946, 0.931, 0.950]
    assert leaderboard.main(["final", "--competition", "nexperia", "--ledger", str(finals)]) == 0
    out = capsys.readouterr().out
    shake_up = {int(line.split()[0]): line.split() for line in out.splitlines() if line.split()[:1] in
                (["1"], ["2"], ["3"], ["4"])}
    # columns: id ref file source cv public private public_rank private_rank [pick]
    assert [shake_up[i][7:9] for i in (1, 2, 3, 4)] == [["4", "4"], ["2", "2"], ["1", "3"], ["3", "1"]]
    assert shake_up[2][9:] == ["1"] and shake_up[4][9:] == ["2"] and shake_up[3][9:] == []
    assert "the CV picks would score 0.95000 private (the better of the two counts)" in out
    assert "picking the two best public scores would score 0.94600 private" in out
    assert "the best submission on private was ledger id 4 (0.95000, public rank 3)" in out
    assert leaderboard.main(["report", "--ledger", str(finals), "--plots-dir", str(tmp_path)]) == 0
    report = capsys.readouterr().out
    assert "picking the two best public scores would score 0.94600 private" in report
    assert (tmp_path / "scores_nexperia.png").is_file()
