"""Blend the prediction files of runs into a submission file, with each run's CV and the blend's.

``python -m submissions.blend --competition nexperia --runs RUN [RUN ...] --method rank``

Reads each run's ``oof.csv`` and ``test.csv`` (a RUN is a run folder, or a run name under
``runs/<competition>/``), refuses runs whose ids, folds or targets differ, and reports every run's OOF
AUC with its DeLong 95% CI, the blend's, and a paired DeLong test of the blend against the best single
run. The blend's CV is honest: blenders that fit weights ('weighted', 'hill') are scored by nested OOF
(fitted on the other folds); 'stack' does the same by itself; 'mean' and 'rank' fit nothing. Rank
features of the nested OOF are ranks over all OOF rows, not within each held-out fold, so the blend's CV,
the runs' OOF AUCs and the DeLong test all score the same pooled rows alike (a blend of a run with a copy
of itself scores exactly that run). One run gives a one-model submission (no blending).

A run that is partial is refused, naming it and its missing folds: its ``metrics.json`` says it is not
``complete``, its ``oof.csv`` folds differ from its ``completed_folds``, or it lacks folds of the shared
``folds.csv``. ``--allow-partial`` blends it anyway, with a warning, and the JSON lists it under
``partial_runs``.

A blend significantly worse than its best run (paired DeLong, p < 0.05), whatever the method, is not the result:
it is written first, as ``rejected-blend-<name>`` for reference, and the best run alone after it as the result (its
JSON's ``rejected_blend`` says why). ``--pool-ranks`` ranks each run's OOF within each fold (test scores over the
test rows) before blending, for runs whose folds score on scales of their own.

The submission takes its ids and order from the competition's sample submission (``--data``), is
validated, and is written to ``files/<competition>/<competition>-<time>-<hash>.csv`` under the submissions root
(``$KIT_SUBMISSIONS_ROOT``; else ``submissions/`` beside the runs folder when ``--runs-dir`` or ``$KIT_RUNS_ROOT``
is given; else ``submissions/``; its absolute path printed) with a
JSON beside it (runs, weights, CV, post-processing, the file's SHA-256, the data folder and sample submission it
was made for) and a PNG of the ROC curves. ``--post NAME``
(repeatable) applies a post-processing hook of the competition's registry entry to the blend's test
scores before validation, e.g. Nexperia's ``leak-fix`` (test images byte-identical to a train image get
its label).

``--method lgb_stack`` stacks with a small LightGBM meta-model (nested over the shared folds like
``stack``); ``--meta-features FILE`` adds features to it: a CSV keyed by ``id`` with a row for every train
and test id (duplicate flags, image statistics, an adversarial score...), every other column a numeric
feature. Missing ids or columns are named; the JSON records the file, its columns and their importance.
"""
from __future__ import annotations

import contextlib
import hashlib
import io
import logging
import os
import shutil
import sys
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np
import pandas as pd

from common.cli import run_cli
from common.config import option, parse_config
from common.errors import BadInput, MissingInput
from common.ensemble import (BLENDERS, META_AWARE, Aligned, BlendEvaluation, align, attach_meta, evaluate_blend,
                             one_run, rank_within_folds)
from common.io import atomic_write_bytes, atomic_write_json, clean_leftovers
from common.paths import default_data_dir, resolve_run
from common.plots import plot_roc
from common.registry import get_competition, postprocess_hook
from common.run import FAILED, RunFolder
from submissions.store import data_record, default_files_root, read_sidecar, sidecar_path, submission_name
from submissions.validate import check_submission, read_sample


logger = logging.getLogger(__name__)


def check_complete(run_dirs: Sequence[Path], allow_partial: bool) -> list[dict]:
    """Refuse runs that are not complete (``RunFolder.status``: the run and its missing folds named) unless
    ``allow_partial``; then warn and return what is partial (for the JSON). A run that cannot be read is
    refused always."""
    partial = []
    for run_dir in run_dirs:
        status = RunFolder(run_dir).status()
        if status.complete:
            continue
        message = f"run {run_dir} is {status.state}: " + "; ".join(status.problems)
        if status.state == FAILED:
            raise BadInput(message)
        if not allow_partial:
            raise BadInput(message + " (finish its folds, or pass --allow-partial to blend it anyway)")
        logger.warning("%s: blended anyway (--allow-partial)", message)
        partial.append({"run": str(run_dir), "folds": list(status.oof_folds),
                        "completed_folds": list(status.completed_folds), "missing_folds": list(status.missing_folds),
                        "problems": list(status.problems)})
    return partial


def load_runs(run_dirs: Sequence[Path]) -> tuple[dict[str, pd.DataFrame], dict[str, pd.DataFrame]]:
    """OOF and test frames per run name (``RunFolder.read_oof``/``read_test``: ids as text, so every run and the
    sample compare alike)."""
    oofs, tests = {}, {}
    names = [d.name for d in run_dirs]
    for run_dir, name in zip(run_dirs, names):
        if names.count(name) > 1:
            name = str(run_dir)
        run = RunFolder(run_dir)
        oof, test = run.read_oof(), run.read_test()
        if test is None:
            raise MissingInput(f"run {run_dir} has no test predictions ({run.test_path})")
        oofs[name], tests[name] = oof, test
    return oofs, tests


def check_test_ids(tests: dict[str, pd.DataFrame], sample_ids: pd.Series, sample_file: str) -> None:
    """Every run's test ids must be exactly the sample submission's."""
    want = pd.Index(sample_ids)
    for name, test in tests.items():
        have = pd.Index(test["id"])
        missing, extra = want.difference(have), have.difference(want)
        if len(missing) or len(extra) or len(have) != len(want):
            raise BadInput(
                f"run {name!r} test.csv does not predict the ids of the sample submission {sample_file}: "
                f"{len(missing)} missing (e.g. {missing[:5].tolist()}), {len(extra)} not in it "
                f"(e.g. {extra[:5].tolist()}), {len(have)} rows for {len(want)}")


def into_range(scores: np.ndarray, low: float, high: float) -> tuple[np.ndarray, str]:
    """Scores moved into ``[low, high]`` by min-max scaling if they leave it (order, hence AUC, kept)."""
    if scores.min() >= low and scores.max() <= high:
        return scores, "none"
    span = scores.max() - scores.min()
    if span == 0:
        return np.full_like(scores, (low + high) / 2), "constant"
    return low + (scores - scores.min()) / span * (high - low), "min-max"


def postprocess(competition: str, names: Sequence[str], test: pd.DataFrame,
                data_dir: Path) -> tuple[pd.DataFrame, list[dict]]:
    """Apply the competition's post-processing hooks ``names`` in turn to ``test`` (``id,pred``)."""
    applied = []
    for name in names:
        test, info = postprocess_hook(competition, name)(test, data_dir)
        applied.append({"name": name, **info})
    return test, applied


def read_meta_features(path: str | Path) -> pd.DataFrame:
    """The meta-features CSV (``id`` + numeric feature columns), ids read as text like the runs' ids."""
    path = Path(path)
    if not path.is_file():
        raise MissingInput(f"meta-features file {path} not found")
    meta = pd.read_csv(path, dtype={"id": str})
    if "id" not in meta.columns:
        raise BadInput(f"meta-features file {path} lacks the column 'id'; has {list(meta.columns)}")
    return meta


def make_submission(competition: str, runs: Sequence[str | Path], method: str = "rank",
                    data_dir: str | Path | None = None, runs_dir: str | Path | None = None,
                    files_root: str | Path | None = None, post: Sequence[str] = (),
                    allow_partial: bool = False, meta_features: str | Path | None = None,
                    pool_ranks: bool = False) -> tuple[Path, dict]:
    """Blend ``runs``, apply the post-processing ``post``, write the submission file and its JSON;
    return the file's path and the JSON. A partial run (folds missing) is refused unless ``allow_partial``
    (then the JSON lists it under ``partial_runs``). ``meta_features``: a CSV of meta-features keyed by id
    for the 'lgb_stack' meta-model. ``pool_ranks``: each run's OOF scores ranked within each fold (test scores
    over the test rows) before blending. A blend significantly worse than its best run is not the result: it is
    kept for reference (``rejected-blend-...``) and the best run alone is written after it, as the result."""
    if method not in BLENDERS:
        raise BadInput(f"unknown blend method {method!r}; choose one of {sorted(BLENDERS)}")
    if meta_features is not None and method not in META_AWARE:
        raise BadInput(f"--meta-features needs a method that uses them ({', '.join(META_AWARE)}), "
                       f"not {method!r}")
    meta_frame = read_meta_features(meta_features) if meta_features is not None else None
    spec = get_competition(competition)
    for name in post:
        postprocess_hook(competition, name)  # an unknown name fails before any work
    run_dirs = [resolve_run(r, competition, runs_dir) for r in runs]
    oofs, tests = load_runs(run_dirs)
    partial = check_complete(run_dirs, allow_partial)
    sample = read_sample(competition, data_dir)
    check_test_ids(tests, sample[spec.id_column], spec.sample_submission)
    aligned = align(oofs, tests)
    if pool_ranks:
        aligned = rank_within_folds(aligned)
    if meta_frame is not None:
        aligned = attach_meta(aligned, meta_frame, f"meta-features file {meta_features}")
    data = Path(data_dir) if data_dir else default_data_dir(competition)
    blend = build_submission(competition, aligned, evaluate_blend(aligned, method), run_dirs, sample, post, data)
    blend.meta.update({"data": data_record(competition, data_dir), **({"partial_runs": partial} if partial else {}),
                       **({"pooling": POOLED_RANKS} if pool_ranks else {})})
    if meta_frame is not None:
        blend.meta["meta_features"] = {**blend.meta.get("meta_features", {}), "file": str(meta_features)}
    folder = Path(files_root or default_files_root(runs_dir)).absolute() / competition
    now = datetime.now(timezone.utc)
    if not significantly_worse(blend.meta):
        return write_submission(folder, competition, blend, now), blend.meta
    best_name = blend.meta["vs_best_run"]["best_run"]
    best = aligned.names.index(best_name)
    result = build_submission(competition, one_run(aligned, best_name), evaluate_blend(one_run(aligned, best_name)),
                              [run_dirs[best]], sample, post, data)
    result.curves[f"rejected blend ({method})"] = blend.curves[f"blend ({method})"]
    reference = folder / submission_name(competition, blend.content, now, rejected=True)
    result.meta.update({key: blend.meta[key] for key in ("data", "partial_runs", "pooling") if key in blend.meta})
    result.meta["rejected_blend"] = {"file": reference.name, "method": method, "cv": blend.meta["cv"],
                                     "vs_best_run": blend.meta["vs_best_run"],
                                     "why": f"significantly worse than its best run {best_name!r} (paired DeLong "
                                            f"p < {ALPHA}): the best run alone is the result"}
    path = folder / submission_name(competition, result.content, now)
    blend.meta["rejected"] = {"why": result.meta["rejected_blend"]["why"], "result": path.name}
    write_submission(folder, competition, blend, now, rejected=True)
    return write_submission(folder, competition, result, now), result.meta


POOLED_RANKS = "each run's OOF ranked within each fold, its test scores over the test rows (--pool-ranks)"


@dataclass
class Built:
    """A submission ready to write: the CSV's bytes, its JSON (less the file's name and time) and its ROC curves."""

    content: bytes
    meta: dict
    y: np.ndarray
    curves: dict[str, np.ndarray]


def build_submission(competition: str, aligned: Aligned, result: BlendEvaluation, run_dirs: Sequence[Path],
                     sample: pd.DataFrame, post: Sequence[str], data_dir: Path) -> Built:
    """The submission of the blend ``result`` of ``aligned``: its test scores in the score range, post-processed,
    in the sample's order, validated; with its JSON and the OOF curves of its runs and of the blend."""
    spec = get_competition(competition)
    sample_ids = sample[spec.id_column]
    scores, transform = into_range(result.test, *spec.score_range)
    test, applied = postprocess(competition, post, pd.DataFrame({"id": aligned.test_ids, "pred": scores}), data_dir)
    by_id = pd.Series(test["pred"].to_numpy(), index=pd.Index(test["id"]))
    sub = pd.DataFrame({spec.id_column: sample_ids.to_numpy(),
                        spec.target_column: by_id.loc[sample_ids.to_numpy()].to_numpy()})
    check_submission(sub, sample, spec, f"the blend of {aligned.names}")
    buffer = io.StringIO()
    sub.to_csv(buffer, index=False)
    content = buffer.getvalue().encode("utf-8")  # no byte order mark
    report = result.report
    per_run = [{**r, "path": str(run_dir)} for r, run_dir in zip(report["runs"], run_dirs)]
    meta = {"competition": competition, "sha256": hashlib.sha256(content).hexdigest(), **report, "runs": per_run,
            "score_transform": transform, "postprocess": applied, "n_test": len(sub)}
    curves = {r["name"]: aligned.oof[:, j] for j, r in enumerate(per_run)}
    if len(per_run) > 1:
        curves[f"blend ({result.method})"] = result.oof
    return Built(content, meta, aligned.y, curves)


def write_submission(folder: Path, competition: str, built: Built, now: datetime, rejected: bool = False) -> Path:
    """Write ``built``'s CSV, JSON and ROC plot into ``folder`` together (the CSV, which --latest picks, last)."""
    path = folder / submission_name(competition, built.content, now, rejected)
    built.meta = {"competition": competition, "file": path.name, "sha256": built.meta["sha256"],
                  "created": now.strftime("%Y-%m-%dT%H:%M:%SZ"), "data": built.meta["data"], **built.meta}
    with staging_folder(path.parent, path.stem) as staging:
        plot_roc(built.y, built.curves, staging / f"{path.stem}.roc.png", band_boot=0,
                 title=f"{competition} OOF ROC")
        atomic_write_json(staging / sidecar_path(path).name, built.meta)
        atomic_write_bytes(staging / path.name, built.content)
        for name in (f"{path.stem}.roc.png", sidecar_path(path).name, path.name):  # the CSV, which --latest picks, last
            os.replace(staging / name, path.parent / name)
    return path


ALPHA = 0.05  # a blend whose CV is below its best run's by a paired DeLong test at this level is not the result


def significantly_worse(meta: dict, alpha: float = ALPHA) -> bool:
    """Whether the blend's CV AUC is below its best run's by a paired DeLong test at level ``alpha``."""
    vs = meta.get("vs_best_run")
    return bool(len(meta["runs"]) > 1 and vs and vs["auc_blend"] < vs["auc_best"] and vs["p"] < alpha)


@contextlib.contextmanager
def staging_folder(parent: Path, stem: str) -> Iterator[Path]:
    """A fresh hidden folder in ``parent`` where a submission's files are written before they move in together;
    removed afterwards with whatever a failed write left in it (it is always this process's own folder)."""
    parent.mkdir(parents=True, exist_ok=True)
    clean_leftovers(parent, depth=0)  # staging folders of killed blends
    folder = parent / f".{stem}.tmp-{os.getpid()}"
    folder.mkdir()
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def format_report(path: Path, meta: dict) -> str:
    """The blend's table of CVs, the DeLong test and where the files are, for the console."""
    rows = [(r["name"], r["auc"], r["ci_low"], r["ci_high"], r["weight"]) for r in meta["runs"]]
    cv = meta["cv"]
    if len(rows) > 1:
        rows.append((f"BLEND ({meta['method']})", cv["auc"], cv["ci_low"], cv["ci_high"], float("nan")))
    table = pd.DataFrame(rows, columns=["run", "oof_auc", "ci95_low", "ci95_high", "weight"])
    lines = [table.to_string(index=False, float_format=lambda v: f"{v:.5f}")]
    if len(meta["runs"]) > 1:
        vs = meta["vs_best_run"]
        lines.append(f"blend CV: {cv['kind']}")
        lines.append(f"blend vs best run {vs['best_run']!r}: AUC {vs['auc_blend']:.5f} vs {vs['auc_best']:.5f}, "
                     f"paired DeLong z = {vs['z']:.2f}, p = {vs['p']:.3g}")
        if "cv_in_sample" in meta:
            lines.append(f"(in-sample blend AUC, optimistic: {meta['cv_in_sample']['auc']:.5f})")
    if meta["score_transform"] != "none":
        lines.append(f"test scores rescaled into the score range ({meta['score_transform']}; AUC unchanged)")
    for step in meta["postprocess"]:
        details = ", ".join(f"{k} {v}" for k, v in step.items() if k != "name")
        lines.append(f"post-processing {step['name']}: {details}")
    if "meta_features" in meta:
        importance = meta["meta_features"].get("importance", {})
        lines.append(f"meta-features ({meta['meta_features']['file']}), share of the meta-model's gain: "
                     + ", ".join(f"{k} {v:.3f}" for k, v in importance.items()))
    for p in meta.get("partial_runs", []):
        lines.append(f"WARNING: partial run {p['run']} blended (--allow-partial): " + "; ".join(p["problems"]))
    lines.append(f"submission: {path}")
    lines.append(f"record:     {sidecar_path(path)}")
    lines.append(f"ROC plot:   {path.with_suffix('.roc.png')}")
    return "\n".join(lines)


@dataclass
class BlendOptions:
    """Blend the prediction files of runs into a submission file, with each run's CV and the blend's."""
    competition: str = option(required=True, help="the kit's competition name, e.g. nexperia")
    runs: list[str] = option(required=True, help="run folders or run names")
    method: str = option("rank", choices=sorted(BLENDERS), help="blend method")
    data: str | None = option(None, help="folder with the sample submission (default: the competition's data "
                                         "folder)")
    runs_dir: str | None = option(None, help="where run names are looked up (default: runs/ or $KIT_RUNS_ROOT)")
    files_root: str | None = option(None, help="where submissions go (default: files/ under $KIT_SUBMISSIONS_ROOT; "
                                               "else submissions/files beside --runs-dir or $KIT_RUNS_ROOT when "
                                               "given; else submissions/files)")
    post: list[str] = option(default_factory=list, append=True, metavar="NAME",
                             help="post-processing of the test scores, from the competition's registry entry "
                                  "(nexperia: leak-fix); repeatable, applied in order")
    allow_partial: bool = option(False, help="blend runs with missing folds anyway (a warning, recorded in the "
                                             "JSON)")
    meta_features: str | None = option(None, metavar="FILE",
                                       help="CSV keyed by id (every train and test id) whose other columns are "
                                            "extra features of the lgb_stack meta-model (duplicate flags, image "
                                            "statistics...)")
    pool_ranks: bool = option(False, help="rank each run's OOF scores within each fold (its test scores over the "
                                          "test rows) before blending: for runs whose folds score on scales of "
                                          "their own (pooled OOF AUC below the fold AUCs)")


def main(argv: Sequence[str] | None = None) -> int:
    opts = parse_config(BlendOptions, argv)
    path, meta = make_submission(opts.competition, opts.runs, opts.method, opts.data, opts.runs_dir,
                                 opts.files_root, opts.post, opts.allow_partial, opts.meta_features, opts.pool_ranks)
    rejected = meta.get("rejected_blend")
    if rejected:
        reference = path.parent / rejected["file"]
        print(format_report(reference, read_sidecar(reference)))
        vs = rejected["vs_best_run"]
        print(f"WARNING: this {rejected['method']} blend is worse than its best run {vs['best_run']!r} (CV AUC "
              f"{vs['auc_blend']:.5f} vs {vs['auc_best']:.5f}, paired DeLong p = {vs['p']:.2g}): it is kept for "
              f"reference only ({reference}); the result is the best run alone:")
    print(format_report(path, meta))
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main))
