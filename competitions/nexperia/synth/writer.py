"""Write a synthetic dataset in the 2020 contest layout, streaming in chunks, resumable.

Each chunk of images is rendered and written, then its defect boxes go to
``_parts/rows_<first>_<count>.csv``; a run killed halfway redoes only the chunks without a part file.
The CSVs and ``_truth.csv`` are written last; ``_synth.json`` records the parameters and whether the
dataset is complete.
"""
from __future__ import annotations

import logging
import multiprocessing
import shutil
from dataclasses import asdict
from pathlib import Path

import cv2
import numpy as np
import pandas as pd

from common.errors import BadInput, InputExists
from common.io import atomic_write_csv, atomic_write_json, read_json
from common.progress import progress_bar
from competitions.nexperia.synth.plan import PlanParams, plan_dataset
from competitions.nexperia.synth.render import acquisition_shift, near_copy, render
from competitions.nexperia.synth.scene import PRODUCTS, date_code

log = logging.getLogger(__name__)

GENERATOR_VERSION = 1
TRAIN_GOOD = Path("train/train_contest/good_all")
TRAIN_DEFECT = Path("train/train_contest/defect")
TEST_DIR = Path("test/test_contest/test")
MANIFEST = "_synth.json"
TRUTH = "_truth.csv"
PARTS = "_parts"
BOX_COLUMNS = ["x_1", "y_1", "x_2", "y_2"]
TRUTH_COLUMNS = ["id", "split", "label_true", "label_given", "defect_type", "flipped", "dup_group", "dup_kind",
                 *BOX_COLUMNS, "subtle", "severity", "product", "in_defect_area", "path"]
_OWNED = ("train/train_contest", "test/test_contest", "defect_area.csv", "submission_sample.csv",
          TRUTH, PARTS, MANIFEST)

SHIFT_NOTE = ("a share `shift` of the test images (column `shifted` of _truth.csv; duplicates of training images "
              "excluded) is shot with a changed acquisition: contrast x 0.7-0.8, brightness +25-35 grey levels "
              "and a linear lighting gradient of 30-45 grey levels across the image at a random angle")
# One image's work: (row index, relative path, product index, date code, defect type, severity,
# render seed, near-copy seed or -1[, acquisition-shift seed or -1]).
Task = tuple  # tuple[int, str, int, str, str, float, int, int] or that plus the shift seed


def image_path(split: str, label_given: int, ident: str) -> Path:
    folder = TEST_DIR if split == "test" else TRAIN_DEFECT if label_given == 1 else TRAIN_GOOD
    return folder / f"{ident}.bmp"


def _tasks(plan: pd.DataFrame, seed: int) -> list[Task]:
    near_seeds = np.where(plan["dup_kind"].eq("near") & (plan["source"] != plan.index),
                          [int(np.random.SeedSequence([seed, 2, i]).generate_state(1)[0]) for i in plan.index], -1)
    columns = [plan.index.tolist(), plan["path"].tolist(), plan["product"].astype(int).tolist(),
               [date_code(lot) for lot in plan["lot"]],
               plan["defect_type"].tolist(), plan["severity"].astype(float).tolist(),
               plan["render_seed"].astype(np.int64).tolist(), near_seeds.tolist()]
    if "shifted" in plan:
        columns.append([int(np.random.SeedSequence([seed, 4, i]).generate_state(1)[0]) if s else -1
                        for i, s in zip(plan.index, plan["shifted"])])
    return list(zip(*columns))


def render_chunk(out: Path, tasks: list[Task]) -> pd.DataFrame:
    """Render and write the chunk's images; returns their defect boxes (NaN for good images)."""
    cv2.setNumThreads(1)
    rows = []
    for index, rel, product, date, defect_type, severity, seed, near_seed, *shift in tasks:
        img, box = render(PRODUCTS[product], date, defect_type, severity, seed)
        if near_seed >= 0:
            img = near_copy(img, near_seed)
        if shift and shift[0] >= 0:
            img = acquisition_shift(img, shift[0])
        path = out / rel
        if not cv2.imwrite(str(path), img):
            raise OSError(f"could not write image {path}")
        rows.append((index, *(box if box is not None else (np.nan,) * 4)))
    return pd.DataFrame(rows, columns=["index", *BOX_COLUMNS]).set_index("index")


def _part_file(out: Path, tasks: list[Task]) -> Path:
    return out / PARTS / f"rows_{tasks[0][0]:06d}_{len(tasks)}.csv"


def _chunk_job(args: tuple[Path, list[Task]]) -> int:
    out, tasks = args
    atomic_write_csv(_part_file(out, tasks), render_chunk(out, tasks), index=True)
    return len(tasks)


def _check_target(out: Path, meta: dict, overwrite: bool) -> bool:
    """Whether ``out`` already holds this exact complete dataset; clears or refuses other content."""
    manifest = out / MANIFEST
    if manifest.exists():
        old = read_json(manifest, "pass overwrite=True / --overwrite to write the dataset again")
        if old.get("params") == meta:
            return bool(old.get("complete"))
        if not overwrite:
            raise InputExists(f"{out} holds a synthetic dataset made with other parameters "
                                  f"({manifest}): pass overwrite=True / --overwrite to replace it")
    elif any((out / p).exists() for p in _OWNED) and not overwrite:
        raise InputExists(f"{out} already holds contest files not made by this generator: "
                              "choose another folder or pass --overwrite")
    for p in _OWNED:
        target = out / p
        if target.is_dir():
            shutil.rmtree(target)
        elif target.exists():
            target.unlink()
    return False


def _run_chunks(jobs: list[tuple[Path, list[Task]]], workers: int, total: int, done: int, progress: bool) -> None:
    bar = progress_bar(enabled=progress, total=total, initial=done, unit="img", desc="nexperia synth")
    if workers > 1:
        with multiprocessing.get_context("fork").Pool(workers) as pool:
            for n in pool.imap_unordered(_chunk_job, jobs):
                bar.update(n)
    else:
        for job in jobs:
            bar.update(_chunk_job(job))
    bar.close()


def generate(out: Path, n_train: int = 3000, n_test: int = 750, seed: int = 0, noise_rate: float = 0.02, *,
             defect_rate: float = 0.2, workers: int = 1, chunk_size: int = 250, overwrite: bool = False,
             progress: bool = True, shift: float = 0.0) -> Path:
    """Write a synthetic Nexperia dataset under ``out`` and return ``out``.

    Same arguments give byte-identical files whatever ``workers`` and ``chunk_size`` are. An
    interrupted run resumes where it stopped; a complete one is left as it is. ``shift`` > 0 shoots that
    share of the test images with a changed acquisition (:func:`render.acquisition_shift`), flagged in the
    ``shifted`` column of ``_truth.csv`` and described in ``_synth.json``; 0 gives exactly the files
    made without the option.
    """
    out = Path(out)
    if not 0 <= shift <= 1:
        raise BadInput(f"shift must be in [0, 1] (the share of shifted test images), got {shift}")
    params = PlanParams(n_train=n_train, n_test=n_test, seed=seed, noise_rate=noise_rate, defect_rate=defect_rate,
                        shift=shift)
    meta = {"version": GENERATOR_VERSION, **asdict(params)}
    if not shift:
        meta.pop("shift")  # the manifest of an unshifted dataset stays as it was
    else:
        meta["shift_note"] = SHIFT_NOTE
    if _check_target(out, meta, overwrite):
        log.info("%s already holds this dataset; nothing to do", out)
        return out
    atomic_write_json(out / MANIFEST, {"params": meta, "complete": False})
    plan = plan_dataset(params)
    plan["path"] = [str(image_path(s, g, i)) for s, g, i in zip(plan["split"], plan["label_given"], plan["id"])]
    for folder in (TRAIN_GOOD, TRAIN_DEFECT, TEST_DIR):
        (out / folder).mkdir(parents=True, exist_ok=True)
    tasks = _tasks(plan, seed)
    chunks = [tasks[i:i + chunk_size] for i in range(0, len(tasks), chunk_size)]
    todo = [(out, t) for t in chunks if not _part_file(out, t).exists()]
    _run_chunks(todo, workers, len(tasks), len(tasks) - sum(len(t) for _, t in todo), progress)
    boxes = pd.concat([pd.read_csv(_part_file(out, t), index_col="index") for t in chunks])
    _write_tables(out, plan.join(boxes))
    atomic_write_json(out / MANIFEST, {"params": meta, "complete": True})
    shutil.rmtree(out / PARTS)
    return out


def _write_tables(out: Path, plan: pd.DataFrame) -> None:
    """``defect_area.csv``, ``submission_sample.csv`` and ``_truth.csv``."""
    for col in BOX_COLUMNS:
        plan[col] = plan[col].astype("Int64")
    truth = plan.assign(product=[PRODUCTS[p].code for p in plan["product"]],
                        label_given=plan["label_given"].astype("Int8").where(plan["split"] == "train"))
    atomic_write_csv(out / TRUTH, truth[TRUTH_COLUMNS + (["shifted"] if "shifted" in truth else [])])
    area = plan.loc[plan["in_defect_area"] == 1, ["id", *BOX_COLUMNS]].sort_values("id")
    atomic_write_csv(out / "defect_area.csv", area)
    test_ids = plan.loc[plan["split"] == "test", "id"].sort_values()
    atomic_write_csv(out / "submission_sample.csv", pd.DataFrame({"id": test_ids, "defect_score": 0.5}))
