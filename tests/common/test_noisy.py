"""Noisy-label audit: confident-learning thresholds and joint, suspects ranking, apply_audit, the generic CLI."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from common.noisy import (SUSPECT_COLUMNS, apply_audit, as_probability, class_thresholds, confident_joint,
                          find_suspects, main, top_k_precision)


def test_thresholds_and_joint_by_hand():
    labels = np.array([0, 0, 0, 1, 1])
    prob = np.array([0.1, 0.3, 0.8, 0.9, 0.5])
    # t_0 = mean(0.9, 0.7, 0.2) = 0.6; t_1 = mean(0.9, 0.5) = 0.7
    np.testing.assert_allclose(class_thresholds(labels, prob), [0.6, 0.7])
    # rows: P0 = .9 .7 .2 .1 .5 ; P1 = .1 .3 .8 .9 .5
    # confident: 0, 0, 1 (0.8>=0.7), 1, none (0.5<0.6 and 0.5<0.7)
    np.testing.assert_array_equal(confident_joint(labels, prob), [[2, 1], [0, 1]])
    # calibrated counts: labelled 0: 1 * 3 / 3 = 1 suspect; labelled 1: 0 * 2 / 1 = 0 suspects
    suspects = find_suspects(np.array(list("abcde")), labels, prob)
    assert list(suspects.columns) == SUSPECT_COLUMNS
    assert suspects["id"].tolist() == ["c"]
    row = suspects.iloc[0]
    assert (row.given_label, row.suggested_label, row["rank"]) == (0, 1, 1)
    assert row.margin == pytest.approx(0.8 - 0.2)
    assert row.score == pytest.approx(0.8 - 0.7)  # P1 - t_1


def test_calibrated_count_flags_rows_without_a_confident_class():
    labels = np.array([0, 0, 0, 0, 1, 1, 1])
    prob = np.array([0.05, 0.97, 0.9, 0.88, 0.9, 0.96, 0.99])
    # t_0 = mean(.95, .03, .1, .12) = .3; t_1 = mean(.9, .96, .99) = .95
    np.testing.assert_allclose(class_thresholds(labels, prob), [0.3, 0.95])
    # labelled 0: class 0, class 1, none, none; labelled 1: none, 1, 1
    np.testing.assert_array_equal(confident_joint(labels, prob), [[1, 1], [0, 2]])
    # calibrated: labelled 0 -> 1 * 4 / 2 = 2 suspects, the two largest margins P1 - P0 (.94, .8),
    # so row 2 is flagged although no class is confident for it; labelled 1 -> 0 * 3 / 2 = 0.
    suspects = find_suspects(np.arange(7), labels, prob)
    assert suspects["id"].tolist() == [1, 2]
    np.testing.assert_allclose(suspects["margin"], [0.94, 0.8])
    np.testing.assert_allclose(suspects["score"], [0.97 - 0.95, 0.9 - 0.95])


def test_classes_are_ranked_by_evidence_over_their_own_threshold():
    # The model is surer of goods (t_0 = .878) than of defects (t_1 = .644). Row "n" (labelled 1,
    # P1 = .02) has the larger raw margin (.96 vs .8) but is only .10 above what goods usually get;
    # row "i" (labelled 0, P1 = .9) is .26 above what defects usually get.
    labels = np.array([0] * 9 + [1] * 5)
    prob = np.array([0.0, 0.0, 0.02, 0.02, 0.03, 0.03, 0.05, 0.05, 0.9,
                     0.7, 0.8, 0.8, 0.9, 0.02])
    t0, t1 = class_thresholds(labels, prob)
    assert (t0, t1) == pytest.approx((1 - 0.9 / 9 - 0.2 / 9, (0.7 + 0.8 + 0.8 + 0.9 + 0.02) / 5))
    suspects = find_suspects(np.array(list("abcdefghijklmn")), labels, prob)
    assert suspects["id"].tolist() == ["i", "n"]  # by score, although "n" has the larger margin
    np.testing.assert_allclose(suspects["margin"], [0.8, 0.96])
    np.testing.assert_allclose(suspects["score"], [0.9 - t1, 0.98 - t0])


def test_audit_finds_planted_flips():
    rng = np.random.default_rng(0)
    n = 2000
    truth = (rng.random(n) < 0.2).astype(int)
    # A decent model: OOF logits separate the true classes with overlap.
    prob = 1 / (1 + np.exp(-(3.0 * (2 * truth - 1) + rng.normal(0, 1.5, n))))
    given = truth.copy()
    flipped = rng.choice(np.flatnonzero(truth == 1), size=15, replace=False)
    given[flipped] = 0
    ids = np.array([f"img{i}" for i in range(n)])
    suspects = find_suspects(ids, given, prob)
    precision = top_k_precision(suspects["id"], set(ids[flipped]), k=len(flipped))
    assert precision >= 0.8
    # Ranked by score: scores fall with rank.
    assert (np.diff(suspects["score"].to_numpy()) <= 0).all()


@pytest.fixture()
def suspects_csv(tmp_path):
    path = tmp_path / "suspects.csv"
    pd.DataFrame({"id": ["b", "d", "zz"], "given_label": [0, 1, 0], "suggested_label": [1, 0, 1],
                  "score": [0.9, 0.5, 0.4], "rank": [1, 2, 3]}).to_csv(path, index=False)
    return path


@pytest.mark.parametrize("action", ["drop", "relabel", "downweight"])
def test_apply_audit(suspects_csv, action):
    ids = np.array(["a", "b", "c", "d"])
    labels = np.array([0, 0, 1, 1], dtype=np.int8)
    new, weights, keep = apply_audit(ids, labels, suspects_csv, action, weight=0.25)
    assert new.dtype == np.int8
    if action == "drop":
        np.testing.assert_array_equal(keep, [True, False, True, False])
        np.testing.assert_array_equal(new, labels)
    elif action == "relabel":
        np.testing.assert_array_equal(new, [0, 1, 1, 0])
        assert keep.all()
    else:
        np.testing.assert_allclose(weights, [1, 0.25, 1, 0.25])
        np.testing.assert_array_equal(new, labels)
    assert (weights == 1).all() or action == "downweight"
    np.testing.assert_array_equal(labels, [0, 0, 1, 1])  # the input is not modified


def test_apply_audit_errors(suspects_csv, tmp_path):
    ids, labels = np.array(["a", "b"]), np.array([0, 1])
    with pytest.raises(ValueError, match="unknown audit action"):
        apply_audit(ids, labels, suspects_csv, "ignore", 0.5)
    with pytest.raises(ValueError, match="weight"):
        apply_audit(ids, labels, suspects_csv, "downweight", 2.0)
    with pytest.raises(FileNotFoundError, match="missing.csv"):
        apply_audit(ids, labels, tmp_path / "missing.csv", "drop", 0.5)
    bad = tmp_path / "bad.csv"
    pd.DataFrame({"id": ["a"]}).to_csv(bad, index=False)
    with pytest.raises(ValueError, match="suggested_label"):
        apply_audit(ids, labels, bad, "relabel", 0.5)


def test_scores_outside_unit_range_are_platt_scaled_and_the_audit_still_finds_flips():
    rng = np.random.default_rng(1)
    n = 3000
    truth = (rng.random(n) < 0.2).astype(int)
    # heavy-tailed anomaly score, like a VAE's; a fifth of the defects are subtle and score like goods
    shift = np.where(rng.random(n) < 0.2, 0.3, 3.0) * truth
    score = np.exp(rng.normal(shift, 0.7))
    given = truth.copy()
    flipped = rng.choice(np.flatnonzero(shift > 1), size=15, replace=False)  # visible defects labelled good
    given[flipped] = 0
    prob = as_probability(score, given)
    assert prob.min() >= 0 and prob.max() <= 1
    assert (np.diff(prob[np.argsort(score)]) >= -1e-12).all()  # the ranking is kept
    assert prob.mean() == pytest.approx(given.mean(), abs=1e-3)  # calibrated to the class balance
    assert prob[given == 0].mean() < 0.15  # percentile ranks would give the goods about 0.4
    np.testing.assert_array_equal(as_probability(prob, given), prob)  # probabilities pass through
    ranks_as_prob = pd.Series(score).rank(pct=True).to_numpy()  # in [0, 1] but no probability: ask for Platt
    np.testing.assert_allclose(as_probability(ranks_as_prob, given, "platt"), prob, atol=1e-6)
    with pytest.raises(ValueError, match="calibrate must be one of"):
        as_probability(score, given, "isotonic")
    ids = np.arange(n)
    k = len(flipped)
    platt = top_k_precision(find_suspects(ids, given, prob)["id"], set(flipped), k)
    ranks = top_k_precision(find_suspects(ids, given, pd.Series(score).rank(pct=True).to_numpy())["id"],
                            set(flipped), k)
    # Percentile ranks make goods look like defects (t_0 ~ .6): the subtle defects labelled 1 outrank every flip.
    assert platt >= 0.5 and ranks <= 0.1


def test_generic_command_audits_a_home_credit_like_run_without_images(tmp_path):
    """Integer client ids, a LightGBM-like OOF with a few known flipped labels: no images, no data folder."""
    rng = np.random.default_rng(2)
    n = 3000
    ids = np.arange(100001, 100001 + n)
    truth = (rng.random(n) < 0.08).astype(int)
    given = truth.copy()
    flipped = rng.choice(np.flatnonzero(truth == 1), size=10, replace=False)
    given[flipped] = 0
    pred = 1 / (1 + np.exp(-(5.0 * (2 * truth - 1) + rng.normal(0, 1.0, n))))
    run_dir = tmp_path / "home_credit" / "lgb"
    run_dir.mkdir(parents=True)
    pd.DataFrame({"id": ids, "fold": np.arange(n) % 5, "target": given, "pred": pred}).to_csv(
        run_dir / "oof.csv", index=False)
    known = tmp_path / "flipped.csv"
    pd.DataFrame({"id": ids[flipped]}).to_csv(known, index=False)
    report = main(["--oof", str(run_dir), "--flipped", str(known)])
    assert report["n_planted_flips"] == 10 and report["precision_at_k"] >= 0.8
    suspects = pd.read_csv(run_dir / "audit" / "suspects.csv")
    assert list(suspects.columns) == SUSPECT_COLUMNS and suspects["id"].isin(ids).all()
    assert set(pd.read_json(run_dir / "audit" / "audit.json", typ="series").index) >= {"thresholds", "confident_joint"}
    out = tmp_path / "elsewhere"
    plain = main(["--oof", str(run_dir / "oof.csv"), "--out", str(out)])
    assert "precision_at_k" not in plain and (out / "suspects.csv").is_file()


@pytest.mark.slow
def test_generic_command_errors_are_one_line(tmp_path):
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-m", "common.noisy", "--oof", str(tmp_path / "nowhere")],
                          capture_output=True, text=True)
    assert done.returncode == 2 and done.stderr.strip().startswith("error: no OOF predictions at")
    done = subprocess.run([sys.executable, "-m", "common.noisy"], capture_output=True, text=True)
    assert done.returncode == 2 and "--oof is required" in done.stderr


def test_a_damaged_suspects_file_names_itself_in_one_line(tmp_path):
    from common.io import DamagedFile
    from common.noisy import read_suspects

    path = tmp_path / "suspects.csv"
    path.write_text('id,suggested_label\n"a,1\n')  # cut inside a quoted field
    with pytest.raises(DamagedFile, match=f"^{path} is damaged \\(not a readable CSV: .*pass the suspects.csv"):
        read_suspects(path)
