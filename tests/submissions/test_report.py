"""The HTML report: content parsed without a browser, then rendered by a real headless Chromium."""
from __future__ import annotations

import base64
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from common.metrics import auc_summary
from common.plots import plot_image_grid, plot_importance
from common.run import Run
from submissions.blend import make_submission
from submissions.ledger import Ledger
from submissions.report import build_report, write_report
from submissions.report.__main__ import main
from tests.submissions.synthetic import N_FOLDS, write_run, write_sample


def _add_metrics(run_dir: Path, truth_flip: float = 0.05, complete: bool = True) -> dict:
    """metrics.json as the fold driver writes it: per fold and OOF, given and true labels."""
    oof = pd.read_csv(run_dir / "oof.csv", dtype={"id": str})
    rng = np.random.default_rng(len(run_dir.name))
    true = np.where(rng.random(len(oof)) < truth_flip, 1 - oof["target"], oof["target"])

    def summary(y, p):
        return {k: float(v) for k, v in auc_summary(y, p).items()}

    folds = {}
    for k in sorted(oof["fold"].unique()):
        rows = (oof["fold"] == k).to_numpy()
        folds[str(k)] = {"auc_given": summary(oof["target"][rows], oof["pred"][rows]),
                         "auc_true": summary(true[rows], oof["pred"][rows]),
                         "variants": {"tta-none": {"auc_given": summary(oof["target"][rows], oof["pred"][rows] ** 2),
                                                   "auc_true": summary(true[rows], oof["pred"][rows] ** 2)}}}
    metrics = {"folds": folds, "oof": {"auc_given": summary(oof["target"], oof["pred"]),
                                       "auc_true": summary(true, oof["pred"])},
               "completed_folds": sorted(int(k) for k in folds), "n_splits": N_FOLDS, "complete": complete}
    Run(run_dir).update_metrics(metrics)
    return metrics


def build_site(tmp_path: Path) -> dict:
    """Runs of two competitions (complete, partial, without test.csv, with PNGs), a blend, a ledger."""
    runs_dir, files, ledger = tmp_path / "runs", tmp_path / "files", tmp_path / "ledger.sqlite"
    data = tmp_path / "data" / "nexperia"
    write_sample(data, "nexperia")
    runs = {}
    for i, noise in enumerate([1.0, 1.3, 1.6]):
        runs[f"cnn{i}"] = write_run(runs_dir, "nexperia", f"cnn{i}", noise, seed=i)
        _add_metrics(runs[f"cnn{i}"])
    rng = np.random.default_rng(0)
    # PNGs where the models put them
    plot_image_grid([rng.integers(0, 255, (32, 32)) for _ in range(4)], list("abcd"),
                    runs["cnn0"] / "fold0" / "gradcam.png")
    plot_image_grid([rng.integers(0, 255, (32, 32)) for _ in range(2)], None, runs["cnn1"] / "audit" / "suspects.png")
    plot_importance(pd.DataFrame({"feature": list("xyz"), "importance": [3, 2, 1]}), runs["cnn2"] / "importance.png")
    # a partial run: fold 2 missing
    partial = Run.open("nexperia", "vae-partial", runs_dir)
    full = pd.read_csv(runs["cnn0"] / "oof.csv", dtype={"id": str})
    for k in range(2):
        part = full[full["fold"] == k]
        partial.save_fold_predictions(k, part[["id", "target"]].assign(pred=rng.random(len(part))), None)
    _add_metrics(partial.root, complete=False)
    # a run with OOF only (no test.csv, no metrics.json) and a folder that is no run
    (runs_dir / "nexperia" / "oof-only").mkdir()
    noisy = full.assign(pred=full["target"] + rng.normal(0, 2, len(full)))
    noisy.to_csv(runs_dir / "nexperia" / "oof-only" / "oof.csv", index=False)
    (runs_dir / "nexperia" / "tune").mkdir()
    (runs_dir / "nexperia" / "tune" / "best_params.yaml").write_text("lr: 0.1\n")
    # a Home Credit run, a blend of nexperia runs, a ledger with scores
    write_run(runs_dir, "home_credit", "lgb", 1.1, seed=7)
    path, meta = make_submission("nexperia", ["cnn0", "cnn1", "cnn2"], "weighted", data_dir=data,
                                 runs_dir=runs_dir, files_root=files)
    with Ledger(ledger) as book:
        for i, (cv, public) in enumerate([(0.80, 0.78), (0.83, 0.81), (0.85, None)]):
            rid = book.add(file_hash=f"h{i}", file_name=f"nexperia-{i}.csv", competition="nexperia",
                           message=f"try {i}", runs=["cnn0", "cnn1"], status="complete",
                           cv={"auc": cv, "ci_low": cv - 0.02, "ci_high": cv + 0.02}, kaggle_ref=100 + i)
            book.update_from_kaggle("nexperia", [{"ref": 100 + i, "status": "complete", "public_score": public,
                                                  "private_score": public and public - 0.01}])
            book._db.execute("UPDATE submissions SET created = ? WHERE id = ?", (f"2026-11-2{i}T10:00:00Z", rid))
            book._db.commit()
    return {"runs_dir": runs_dir, "files": files, "ledger": ledger, "blend": meta, "runs": runs}


class _Parsed(HTMLParser):
    def __init__(self):
        super().__init__()
        self.imgs, self.refs, self.details, self.text = [], [], 0, []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "img":
            self.imgs.append(attrs.get("src", ""))
        if tag == "details":
            self.details += 1
        for key in ("src", "href"):
            if key in attrs:
                self.refs.append(attrs[key])

    def handle_data(self, data):
        self.text.append(data)


def _parse(page: str) -> _Parsed:
    parser = _Parsed()
    parser.feed(page)
    return parser


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    return build_site(tmp_path_factory.mktemp("site"))


@pytest.fixture(scope="module")
def page(site):
    return build_report(runs_dir=site["runs_dir"], ledger=site["ledger"], files_root=site["files"])


@pytest.mark.slow
def test_report_lists_every_run_with_its_aucs_and_cis(site, page):
    parsed = _parse(page)
    text = " ".join(parsed.text)
    for name in ["cnn0", "cnn1", "cnn2", "vae-partial", "oof-only", "lgb"]:
        assert name in text
    assert ">tune<" not in page  # not a run
    metrics = Run(site["runs"]["cnn0"]).metrics()
    for kind in ("auc_given", "auc_true"):
        for key in ("auc", "ci_low", "ci_high"):
            assert f"{metrics['oof'][kind][key]:.4f}" in text
    fold = metrics["folds"]["1"]["auc_true"]
    assert f"{fold['auc']:.4f}" in text and f"{fold['ci_low']:.4f}" in text
    assert "partial (2/3 folds)" in text and "no test.csv" in text
    assert f"tta-none {metrics['folds']['1']['auc_given']['auc']:.4f} / true {fold['auc']:.4f}" in text
    # the AUC of a run without metrics.json comes from its oof.csv
    oof = pd.read_csv(site["runs_dir"] / "nexperia" / "oof-only" / "oof.csv")
    assert f"{auc_summary(oof['target'], oof['pred'])['auc']:.4f}" in text


@pytest.mark.slow
def test_report_has_blend_weights_ledger_and_sections(site, page):
    text = " ".join(_parse(page).text)
    blend = site["blend"]
    assert blend["file"] in text
    assert f"{blend['cv']['auc']:.4f}" in text
    for weight in blend["weights"].values():
        assert f"{weight:.4f}" in text
    assert "0.8100" in text and "0.8000" in text and "try 2" in text  # ledger: public score, private, message
    assert "best public LB <b>0.8100</b> (CV 0.8300)" in page and "latest blend (weighted) CV" in text
    for heading in ("Runs", "ROC curves", "Correlation of the OOF predictions", "Blends (submission files)",
                    "Ledger: CV vs leaderboard", "Run plots"):
        assert heading in text
    assert 'id="c-nexperia"' in page and 'id="c-home_credit"' in page


def test_report_is_self_contained(page):
    parsed = _parse(page)
    # ROC, correlation, ledger plot + 3 run PNGs (gradcam, suspects, importance) + the nexperia runs' own
    # plots; home_credit's ROC
    assert len(parsed.imgs) >= 7
    for src in parsed.imgs:
        assert src.startswith("data:image/png;base64,")
        assert base64.b64decode(src.split(",", 1)[1])[:8] == b"\x89PNG\r\n\x1a\n"
    assert not re.search(r"https?://", page)
    assert all(ref.startswith(("data:", "#")) for ref in parsed.refs)
    assert "<link" not in page and "<script src" not in page and "@import" not in page
    assert parsed.details >= 4  # per-fold table, run PNG galleries


def test_report_survives_broken_runs_and_sidecars(tmp_path):
    runs_dir, files = tmp_path / "runs", tmp_path / "files"
    good = write_run(runs_dir, "nexperia", "good", 1.0, seed=0)
    broken = runs_dir / "nexperia" / "broken"
    broken.mkdir()
    (broken / "metrics.json").write_text("{not json")
    (broken / "oof.csv").write_text("id,score\n1,0.5\n")
    (files / "nexperia").mkdir(parents=True)
    (files / "nexperia" / "x.json").write_text('{"weights": {"good": "n/a"}, "cv": {}, "created": "2026"}')
    (files / "nexperia" / "y.json").write_text("garbage")
    (good / "metrics.json").write_text('{"oof": [], "folds": {"0": {"variants": {"v": [1]}}}}')
    page = build_report(runs_dir=runs_dir, ledger=tmp_path / "none.sqlite", files_root=files)
    text = " ".join(_parse(page).text)
    assert "broken" in text and "metrics.json unreadable" in text and "oof.csv lacks column(s)" in text
    assert "good" in text


def test_report_of_nothing_says_so(tmp_path, capsys):
    out = tmp_path / "report.html"
    assert main(["--runs-dir", str(tmp_path / "runs"), "--ledger", str(tmp_path / "none.sqlite"),
                 "--files-root", str(tmp_path / "files"), "--out", str(out)]) == 0
    assert f"report: {out.resolve()}" in capsys.readouterr().out
    page = out.read_text()
    assert "No runs, blends or submissions found" in page
    assert not (tmp_path / "none.sqlite").exists()  # reading a missing ledger does not create one


def test_report_of_one_competition_with_an_empty_ledger(tmp_path):
    runs_dir = tmp_path / "runs"
    write_run(runs_dir, "nexperia", "only", 1.0, seed=0)
    Ledger(tmp_path / "ledger.sqlite").close()
    out = write_report(tmp_path / "r.html", competitions=["nexperia"], runs_dir=runs_dir,
                       ledger=tmp_path / "ledger.sqlite", files_root=tmp_path / "files")
    text = " ".join(_parse(out.read_text()).text)
    assert "only" in text
    assert "No submissions recorded in the ledger" in text
    assert "No submission files written by submissions.blend yet" in text
    assert "Fewer than two runs" in text


# -- a real browser --------------------------------------------------------------------------------
def _browser() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome"):
        if path := shutil.which(name):
            return path
    return None


def _headless(browser: str, tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                           "--no-first-run", "--disable-extensions", f"--user-data-dir={tmp_path / 'profile'}",
                           "--virtual-time-budget=10000", *args],
                          capture_output=True, text=True, timeout=180)


@pytest.mark.skipif(_browser() is None, reason="no Chromium/Chrome found (.ci/run installs the Debian "
                                                "chromium package when it can)")
def test_report_renders_in_a_headless_browser(site, tmp_path):
    out = write_report(tmp_path / "report.html", runs_dir=site["runs_dir"], ledger=site["ledger"],
                       files_root=site["files"])
    n_imgs = len(_parse(out.read_text()).imgs)
    browser = _browser()
    dom = _headless(browser, tmp_path, "--dump-dom", out.resolve().as_uri())
    assert dom.returncode == 0, dom.stderr[-2000:]
    for name in ["cnn0", "cnn1", "cnn2", "vae-partial", "oof-only", "lgb"]:
        assert name in dom.stdout
    match = re.search(r'data-images-decoded="(\d+)"', dom.stdout)
    assert match, "the page's inline script did not run"
    assert int(match.group(1)) == n_imgs > 0
    assert f'data-images-total="{n_imgs}"' in dom.stdout

    shot = tmp_path / "report.png"
    result = _headless(browser, tmp_path, f"--screenshot={shot}", "--window-size=1280,2400",
                       "--hide-scrollbars", out.resolve().as_uri())
    assert result.returncode == 0, result.stderr[-2000:]
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert shot.stat().st_size > 50_000  # a rendered page, not a blank one


def test_runs_with_nan_or_inf_predictions_are_marked_and_never_the_best(tmp_path):
    runs_dir = tmp_path / "runs"
    write_run(runs_dir, "nexperia", "fine", 1.6, seed=0)
    nan = write_run(runs_dir, "nexperia", "nan-run", 0.5, seed=1)  # the better AUC on its finite rows
    oof = pd.read_csv(nan / "oof.csv", dtype={"id": str})
    oof.loc[:9, "pred"] = np.nan
    oof.to_csv(nan / "oof.csv", index=False)
    test = pd.read_csv(nan / "test.csv", dtype={"id": str})
    test.loc[:2, "pred"] = np.inf
    test.to_csv(nan / "test.csv", index=False)
    page = build_report(runs_dir=runs_dir, ledger=tmp_path / "none.sqlite", files_root=tmp_path / "files")
    text = " ".join(_parse(page).text)
    # the run reader (common.run.RunFolder) refuses both files; the report says why, in the run's row
    assert f"oof.csv has 10 NaN/inf prediction(s), e.g. ids {oof['id'][:5].tolist()}" in text
    assert f"test.csv has 3 NaN/inf prediction(s), e.g. ids {test['id'][:3].tolist()}" in text
    assert "invalid predictions: not a valid score" in text
    headline = re.search(r'<p class="headline">(.*?)</p>', page).group(1)
    assert "fine" in headline and "nan-run" not in headline
    runs_table = page[page.index("<h3>Runs</h3>"):]
    assert runs_table.index(">nan-run<") > runs_table.index(">fine<")  # listed after the healthy runs


def _runs_row(page: str, run: str) -> str:
    """The text of the runs table's row of ``run``."""
    runs_table = page.split('<table class="runs">', 1)[1].split("</table>", 1)[0]
    row = next(r for r in runs_table.split("<tr>") if f'<span class="run">{run}</span>' in r)
    return " ".join(_parse(row).text)


def test_report_shows_pooled_and_mean_fold_auc_and_flags_scales_that_differ_per_fold(tmp_path):
    # issue 41: XGBoost folds at 0.730-0.772 pooled to 0.734; here each fold's scores sit on their own offset
    runs_dir = tmp_path / "runs"
    rng = np.random.default_rng(0)
    y = (np.arange(300) % 10 < 3).astype(int)
    for name, offsets in (("per-fold-scales", [0.0, 2.0, 4.0]), ("one-scale", [0.0, 0.0, 0.0])):
        run = Run.open("nexperia", name, runs_dir)
        for k, offset in enumerate(offsets):
            rows = np.arange(len(y)) % 3 == k
            pred = y[rows] + rng.normal(0, 0.8, rows.sum()) + offset
            run.save_fold_predictions(k, pd.DataFrame({"id": [f"i{i}" for i in np.flatnonzero(rows)],
                                                       "target": y[rows], "pred": pred}), None)
        _add_metrics(run.root)
    page = build_report(runs_dir=runs_dir, ledger=tmp_path / "none.sqlite", files_root=tmp_path / "files")
    assert "<th>mean fold AUC</th>" in page
    for name in ("per-fold-scales", "one-scale"):
        metrics = Run(runs_dir / "nexperia" / name).metrics()
        fold_aucs = [f["auc_given"]["auc"] for f in metrics["folds"].values()]
        row = _runs_row(page, name)
        assert f"{metrics['oof']['auc_given']['auc']:.4f}" in row and f"{np.mean(fold_aucs):.4f}" in row
        flagged = metrics["oof"]["auc_given"]["auc"] < min(fold_aucs)
        assert flagged == (name == "per-fold-scales")
        assert ("pooled below every fold's AUC" in row) == flagged
    # metrics.json's own mean_fold_auc is the one shown
    run = Run(runs_dir / "nexperia" / "one-scale")
    run.update_metrics({"mean_fold_auc": 0.99})
    page = build_report(runs_dir=runs_dir, ledger=tmp_path / "none.sqlite", files_root=tmp_path / "files")
    assert "0.9900" in _runs_row(page, "one-scale") and "below the mean fold AUC" in _runs_row(page, "one-scale")
