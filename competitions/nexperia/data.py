"""Nexperia data: read the contest layout once, decode every image into a memory-mapped uint8 cache.

Two layouts are understood:
- 2020 contest: ``train/train_contest/good_all/<id>.bmp``, ``train/train_contest/defect/<id>.bmp``,
  ``test/test_contest/test/<id>.bmp``, ``defect_area.csv``, ``submission_sample.csv`` (``id,defect_score``);
- 2018/2019 contests: ``train/good_0/*.jpg``, ``train/bad_1/*.jpg``, a test folder under ``test/``,
  ``sample_submission.csv`` (``id,label``).

The cache lives in ``<cache_root>/nexperia/<key>/`` where the key hashes the file listing (names, sizes,
modification times), so changed data gets a new cache and epochs never decode an image again.
Duplicate groups of the images (``common.dedup``, cached there too) keep duplicates in one fold of the
shared fold file (``get_folds``).

Bad images (unreadable, empty, wrongly sized) stop every CLI with a list of the files; ``--skip-bad``
(:class:`NexperiaDataOptions`, shared by every image CLI) leaves them out instead:
- a skipped TRAINING image keeps its place in the shared ``folds.csv`` (the folds are made over every
  train id, readable or not, and a fold file made without it is accepted), but trains and validates
  nowhere, so the other runs' folds and blends stay valid;
- a skipped TEST image gets a fallback score, the mean of the fold's other test predictions
  (:func:`fill_skipped_test`), with a warning, so ``test.csv`` and the submission keep every test id;
- both are listed in the run's ``skipped_images.csv`` and ``metrics.json`` (``skipped_images``).
"""
from __future__ import annotations

import hashlib
import logging
import os
import shutil
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
import pandas as pd

from common.errors import BadInput, MissingInput
from common.config import option
from common.dedup import DEDUP_VERSION, MIN_CORRELATION, Duplicates, find_duplicates
from common.folds import get_or_make_folds
from common.io import (atomic_write_csv, atomic_write_json, atomic_write_parquet, clean_leftovers, read_csv,
                       read_json)
from common.paths import cache_root, default_data_dir, runs_root
from common.progress import progress_bar

log = logging.getLogger(__name__)

IMAGE_SUFFIXES = (".bmp", ".jpg", ".jpeg", ".png")
SYSTEM_FILES = ("thumbs.db", "desktop.ini")
BOX_COLUMNS = ["id", "x_1", "y_1", "x_2", "y_2"]
CACHE_VERSION = 1
SKIPPED_COLUMNS = ["path", "reason", "split", "id", "label"]
TEST_FALLBACK = "mean test prediction of the fold"


@dataclass
class NexperiaDataOptions:
    """The data option every Nexperia image CLI shares (a mixin of their configs)."""
    skip_bad: bool = option(False, volatile=True,
                            help="skip unreadable/empty/wrongly sized images instead of stopping: skipped train "
                                 "images keep their fold but train nowhere, skipped test images get the mean "
                                 "test prediction; listed in the run's skipped_images.csv")


class BadImagesError(BadInput):
    """Some images could not be decoded or have another size than the rest."""


@dataclass(frozen=True)
class Layout:
    """Where one dataset keeps its files."""
    name: str
    train_dirs: dict[int, Path]          # label -> folder
    test_dir: Path
    sample_submission: Path | None
    defect_area: Path | None


@dataclass
class NexperiaData:
    train_ids: np.ndarray          # str ids, sorted
    train_labels: np.ndarray       # int8 given (noisy) labels, 1 = defect
    train_images: np.ndarray       # memmap uint8 (N, H, W)
    test_ids: np.ndarray           # str ids, sorted
    test_images: np.ndarray        # memmap uint8 (M, H, W)
    defect_boxes: pd.DataFrame     # id,x_1,y_1,x_2,y_2
    data_dir: Path = Path(".")
    cache_dir: Path | None = None  # the decoded-image cache folder (None: the images live in memory)
    sample_submission: pd.DataFrame | None = None
    skipped: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=SKIPPED_COLUMNS))
    train_weights: np.ndarray | None = None  # per-image sample weights (e.g. test-likeness); None: all 1

    @property
    def image_shape(self) -> tuple[int, int]:
        return tuple(self.train_images.shape[1:])

    def skipped_ids(self, split: str) -> np.ndarray:
        """Ids of the skipped (bad) images of ``split`` (``train`` or ``test``)."""
        if "split" not in self.skipped.columns:
            return np.array([], dtype=str)
        return self.skipped.loc[self.skipped["split"] == split, "id"].astype(str).to_numpy()


def find_layout(data_dir: Path) -> Layout:
    """Recognise the 2020 or the older contest layout; a clear error says what was expected."""
    data_dir = Path(data_dir)
    if not data_dir.is_dir():
        raise MissingInput(f"Nexperia data folder not found: {data_dir}")
    new = data_dir / "train" / "train_contest"
    if (new / "good_all").is_dir() or (new / "defect").is_dir():
        layout = Layout("2020", {0: new / "good_all", 1: new / "defect"}, data_dir / "test" / "test_contest" / "test",
                        data_dir / "submission_sample.csv", data_dir / "defect_area.csv")
    elif (data_dir / "train" / "good_0").is_dir() or (data_dir / "train" / "bad_1").is_dir():
        layout = Layout("2019", {0: data_dir / "train" / "good_0", 1: data_dir / "train" / "bad_1"},
                        _find_old_test_dir(data_dir / "test"), data_dir / "sample_submission.csv", None)
    else:
        raise MissingInput(
            f"no Nexperia layout in {data_dir}: expected train/train_contest/good_all + train/train_contest/defect "
            "(2020 contest) or train/good_0 + train/bad_1 (older contests)")
    missing = [p for p in [*layout.train_dirs.values(), layout.test_dir] if not p.is_dir()]
    if missing:
        raise MissingInput(f"Nexperia data in {data_dir} lacks folder(s): {[str(p) for p in missing]}")
    return layout


def _find_old_test_dir(test_root: Path) -> Path:
    """The older contests keep test images in ``test/`` or in one folder below it."""
    if not test_root.is_dir() or _image_files(test_root):
        return test_root
    subdirs = sorted(p for p in test_root.iterdir() if p.is_dir() and _image_files(p))
    return subdirs[0] if subdirs else test_root


def _is_system_file(name: str) -> bool:
    """Files an OS leaves beside the images: macOS ``._X.bmp`` AppleDouble copies and ``.DS_Store`` (any dot
    file), Windows ``Thumbs.db`` and ``desktop.ini``."""
    return name.startswith(".") or name.lower() in SYSTEM_FILES


def _listing(folder: Path) -> tuple[list[Path], list[str]]:
    """The image files of ``folder`` and the names of the system files left out."""
    images, ignored = [], []
    with os.scandir(folder) as entries:
        for e in entries:
            if not e.is_file():
                continue
            if _is_system_file(e.name):
                ignored.append(e.name)
            elif e.name.lower().endswith(IMAGE_SUFFIXES):
                images.append(Path(e.path))
    return sorted(images), sorted(ignored)


def _image_files(folder: Path) -> list[Path]:
    return _listing(folder)[0]


def _list_images(folders: list[Path]) -> list[Path]:
    """Every image file of ``folders``, after logging the system files left out and refusing an id with two
    files (``X.bmp`` and ``X.png``) in one folder, which would otherwise merge into one row."""
    files = []
    for folder in folders:
        images, ignored = _listing(folder)
        if ignored:
            log.info("ignored %d hidden/system file(s) in %s (e.g. %s)", len(ignored), folder, ", ".join(ignored[:3]))
        by_id = Counter(p.stem for p in images)
        twice = sorted(i for i, n in by_id.items() if n > 1)
        if twice:
            both = [p.name for p in images if p.stem == twice[0]]
            raise BadInput(f"{len(twice)} image id(s) in {folder} have two files, e.g. {' and '.join(both)}: "
                           "keep one file per id")
        files += images
    return files


def _listing_key(files: list[Path], data_dir: Path, skip_bad: bool) -> str:
    """Hash of file names, sizes and modification times: any change gives a new cache."""
    digest = hashlib.sha1(f"v{CACHE_VERSION} skip_bad={skip_bad}\n".encode())
    for path in files:
        st = path.stat()
        digest.update(f"{path.relative_to(data_dir)}\t{st.st_size}\t{st.st_mtime_ns}\n".encode())
    return digest.hexdigest()[:16]


def _decode(path: Path) -> np.ndarray | None:
    image = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
    return image if image is not None and image.size else None


def _decode_all(paths: list[Path], desc: str) -> tuple[list[np.ndarray | None], list[tuple[str, str]]]:
    images, bad = [], []
    for path in progress_bar(paths, desc=desc, unit="img", mininterval=2, leave=False):
        image = _decode(path)
        if image is None:
            bad.append((str(path), "empty file" if path.stat().st_size == 0 else "unreadable image"))
        images.append(image)
    return images, bad


def _write_cache(layout: Layout, data_dir: Path, target: Path, skip_bad: bool) -> None:
    """Decode every image, check sizes, and write the cache folder atomically (temp folder, then rename)."""
    train = [(p, label) for label, folder in sorted(layout.train_dirs.items()) for p in _image_files(folder)]
    test = _image_files(layout.test_dir)
    if not train:
        raise MissingInput(f"no training images in {[str(p) for p in layout.train_dirs.values()]}")
    train_images, bad = _decode_all([p for p, _ in train], "decode train")
    test_images, bad_test = _decode_all(test, "decode test")
    bad += bad_test
    shapes = Counter(im.shape for im in train_images + test_images if im is not None)
    expected = shapes.most_common(1)[0][0] if shapes else None
    for path, image in zip([p for p, _ in train] + test, train_images + test_images):
        if image is not None and image.shape != expected:
            bad.append((str(path), f"size {image.shape[0]}x{image.shape[1]}, expected {expected[0]}x{expected[1]}"))
    if bad and not skip_bad:
        listing = "\n".join(f"  {p}: {why}" for p, why in bad[:50])
        more = f"\n  ... and {len(bad) - 50} more" if len(bad) > 50 else ""
        raise BadImagesError(f"{len(bad)} bad image(s) in {data_dir} (pass skip_bad / --skip-bad to skip them):"
                             f"\n{listing}{more}")
    bad_paths = {p for p, _ in bad}

    train_ids = [p.stem for p, _ in train]
    dup = sorted(i for i, n in Counter(train_ids).items() if n > 1)
    if dup:
        raise BadInput(f"ids found in both the good and the defect folder of {data_dir}: {dup[:10]}")
    tmp = target.with_name(f"{target.name}.tmp-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    counts = {}
    for split, items in (("train", [(p, lab, im) for (p, lab), im in zip(train, train_images)]),
                         ("test", [(p, -1, im) for p, im in zip(test, test_images)])):
        items = sorted((x for x in items if str(x[0]) not in bad_paths), key=lambda x: x[0].stem)
        array = np.lib.format.open_memmap(tmp / f"{split}_images.npy", mode="w+", dtype=np.uint8,
                                          shape=(len(items), *(expected or (0, 0))))
        for i, (_, _, image) in enumerate(items):
            array[i] = image
        array.flush()
        del array
        np.save(tmp / f"{split}_ids.npy", np.array([p.stem for p, _, _ in items], dtype=str))
        if split == "train":
            np.save(tmp / "train_labels.npy", np.array([lab for _, lab, _ in items], dtype=np.int8))
        counts[f"n_{split}"] = len(items)
    atomic_write_csv(tmp / "skipped.csv", pd.DataFrame(bad, columns=["path", "reason"]))
    atomic_write_json(tmp / "meta.json", {"data_dir": str(data_dir.resolve()), "layout": layout.name, **counts,
                                          "shape": list(expected or ()), "version": CACHE_VERSION})
    try:
        os.replace(tmp, target)
    except OSError:  # another process finished the same cache first
        shutil.rmtree(tmp, ignore_errors=True)


def _read_boxes(path: Path | None) -> pd.DataFrame:
    if path is None or not path.is_file():
        return pd.DataFrame(columns=BOX_COLUMNS)
    boxes = read_csv(path, "fix or remove it: defect boxes only feed the saliency scores")
    missing = [c for c in BOX_COLUMNS if c not in boxes.columns]
    if missing:
        raise BadInput(f"{path} lacks column(s) {missing}; has {list(boxes.columns)}")
    return boxes[BOX_COLUMNS].assign(id=lambda d: d["id"].astype(str))


def id_of(name: str) -> str:
    """An image id: the file name without its image extension (older sample submissions keep it)."""
    return Path(name).stem if Path(name).suffix.lower() in IMAGE_SUFFIXES else name


def _read_sample(path: Path | None, test_ids: np.ndarray) -> pd.DataFrame | None:
    """The sample submission as written (ids may carry an extension), checked against the test images."""
    if path is None or not path.is_file():
        return None
    sample = read_csv(path, "download the competition's sample submission again", dtype={"id": str})
    if "id" not in sample.columns or sample.shape[1] != 2:
        raise BadInput(f"{path} must have two columns, id and a score column; has {list(sample.columns)}")
    unknown = sorted(set(sample["id"].map(id_of)) - set(test_ids))
    if unknown:
        log.warning("%d ids of %s have no test image (e.g. %s)", len(unknown), path, unknown[:3])
    return sample


def load_data(data_dir: Path, cache_dir: Path | None = None, skip_bad: bool = False) -> NexperiaData:
    """Read the Nexperia data at ``data_dir``, decoding images into the cache on first use.

    Unreadable, empty or wrongly sized images raise :class:`BadImagesError` listing the files; with
    ``skip_bad`` they are left out and listed in ``data.skipped`` (and ``skipped.csv`` in the cache).
    """
    data_dir = Path(data_dir)
    layout = find_layout(data_dir)
    files = _list_images([*layout.train_dirs.values(), layout.test_dir])
    root = Path(cache_dir) if cache_dir is not None else cache_root() / "nexperia"
    target = root / _listing_key(files, data_dir, skip_bad)
    clean_leftovers(root, depth=0)  # <key>.tmp-<pid> folders of killed decodes
    if not (target / "meta.json").is_file():
        log.info("decoding %d images of %s into %s", len(files), data_dir, target)
        target.parent.mkdir(parents=True, exist_ok=True)
        _write_cache(layout, data_dir, target, skip_bad)
    listed = read_csv(target / "skipped.csv", f"delete {target} (a cache) to decode the images again")
    skipped = _describe_skipped(listed, layout, data_dir)
    if len(skipped):
        log.warning("skipped %d bad image(s) of %s, listed in %s", len(skipped), data_dir, target / "skipped.csv")
    test_ids = np.load(target / "test_ids.npy")
    return NexperiaData(
        train_ids=np.load(target / "train_ids.npy"),
        train_labels=np.load(target / "train_labels.npy"),
        train_images=np.load(target / "train_images.npy", mmap_mode="r"),
        test_ids=test_ids,
        test_images=np.load(target / "test_images.npy", mmap_mode="r"),
        defect_boxes=_read_boxes(layout.defect_area),
        data_dir=data_dir,
        cache_dir=target,
        sample_submission=_read_sample(layout.sample_submission,
                                       np.concatenate([test_ids, skipped.loc[skipped["split"] == "test", "id"]])),
        skipped=skipped,
    )


def _describe_skipped(skipped: pd.DataFrame, layout: Layout, data_dir: Path) -> pd.DataFrame:
    """``path,reason`` of the cache's skipped images plus each one's ``split`` (train/test), ``id`` and given
    ``label`` (-1 for test), from the layout folder it lies in (matched on the path below the data folder,
    so a cache shared by a copy of the data still fits)."""
    folders = [("train", label, folder) for label, folder in layout.train_dirs.items()]
    folders.append(("test", -1, layout.test_dir))
    rows = []
    for path in skipped["path"].astype(str):
        parts = Path(path).parts
        split, label = "unknown", -1
        for name, lab, folder in folders:
            rel = folder.relative_to(data_dir).parts if folder.is_relative_to(data_dir) else folder.parts
            if parts[-len(rel) - 1:-1] == rel:
                split, label = name, lab
                break
        rows.append((split, Path(path).stem, label))
    extra = pd.DataFrame(rows, columns=["split", "id", "label"], index=skipped.index)
    return pd.concat([skipped[["path", "reason"]], extra], axis=1)


def fill_skipped_test(result, data: NexperiaData, logger: logging.Logger | None = None):
    """Give the skipped test images of ``data`` a fallback score in a fold's ``FoldResult``: the mean of the
    fold's other test predictions (a middle rank on any model's scale), so the test file keeps every test id.

    The fold's ``info`` records them (``test_fallback``) and a warning names them. None passes through."""
    ids = data.skipped_ids("test")
    if result is None or result.test is None or not len(ids):
        return result
    fallback = float(result.test["pred"].mean()) if len(result.test) else 0.5
    (logger or log).warning("%d unreadable test image(s) %s get the fallback score %.6g (%s)", len(ids),
                            list(ids[:5]), fallback, TEST_FALLBACK)
    test = pd.concat([result.test, pd.DataFrame({"id": ids, "pred": fallback})], ignore_index=True)
    result.test = test.sort_values("id", kind="stable").reset_index(drop=True)
    result.info = {**result.info, "test_fallback": {"ids": [str(i) for i in ids], "score": fallback,
                                                    "rule": TEST_FALLBACK}}
    return result


def record_skipped(run, data: NexperiaData) -> None:
    """List the skipped images in the run's ``skipped_images.csv`` (with the test fallback rule) and in its
    ``metrics.json`` (``skipped_images``); nothing when no image was skipped."""
    if not len(data.skipped):
        return
    table = data.skipped.assign(fallback=np.where(data.skipped.get("split", "") == "test", TEST_FALLBACK,
                                                  "left out of training and validation (keeps its fold)"))
    atomic_write_csv(Path(run.root) / "skipped_images.csv", table)
    run.log.warning("skipped %d bad image(s) (%d train, %d test), listed in %s", len(table),
                    len(data.skipped_ids("train")), len(data.skipped_ids("test")),
                    Path(run.root) / "skipped_images.csv")
    run.update_metrics({"skipped_images": {"train": data.skipped_ids("train").tolist(),
                                           "test": data.skipped_ids("test").tolist(),
                                           "test_fallback": TEST_FALLBACK}})


def read_truth_file(data_dir: Path) -> pd.DataFrame | None:
    """``_truth.csv`` of a synthetic dataset (true labels, flips, duplicate groups); None for real data."""
    path = Path(data_dir) / "_truth.csv"
    return pd.read_csv(path, dtype={"id": str}) if path.is_file() else None


def planted_labels(truth: pd.DataFrame, ids) -> np.ndarray:
    """The planted true label (0/1) of each id; a clear error names ids the truth file lacks."""
    labels = truth.set_index(truth["id"].astype(str))["label_true"].reindex(pd.Index(ids).astype(str))
    missing = labels.index[labels.isna()]
    if len(missing):
        raise BadInput(f"{len(missing)} ids are missing from the truth file, e.g. {list(missing[:3])}")
    return labels.to_numpy().astype(int)


def truth_lookup(data_dir: Path):
    """The registry's truth hook: ``ids -> true labels`` for synthetic data (``_truth.csv``), else None."""
    truth = read_truth_file(data_dir)
    if truth is None:
        return None
    return lambda ids: planted_labels(truth, ids)


def duplicates_of(data: NexperiaData, max_distance: int | None = None,
                  min_correlation: float = MIN_CORRELATION) -> Duplicates:
    """Duplicates of the train and test images (``common.dedup``; ``max_distance`` None: calibrated on them),
    cached beside the decoded images with what was grouped and how (``.json``)."""
    name = f"duplicates_v{DEDUP_VERSION}_{'auto' if max_distance is None else f'd{max_distance}'}_r{min_correlation:g}"
    path = Path(data.cache_dir) / f"{name}.parquet" if data.cache_dir else None
    if path is not None and path.is_file() and path.with_suffix(".json").is_file():
        return Duplicates(pd.read_parquet(path), read_json(path.with_suffix(".json")))
    log.info("hashing %d images for duplicates", len(data.train_ids) + len(data.test_ids))
    dups = find_duplicates(data.train_images, data.train_ids, data.train_labels,
                           data.test_images, data.test_ids, max_distance, min_correlation)
    summary = dups.summary()
    log.info("duplicates: %d of %d images in %d groups (largest %d), %d of %d candidate pairs confirmed; "
             "threshold %s", summary["images_with_duplicates"], summary["images"], summary["groups"],
             summary["largest_group"], summary["confirmed_pairs"], summary["candidate_pairs"],
             summary["threshold_rule"])
    for line in dups.warnings():
        log.warning("duplicates: %s", line)
    if path is not None and path.parent.is_dir():
        atomic_write_parquet(path, dups.table)
        atomic_write_json(path.with_suffix(".json"), dups.calibration)
    return dups


def train_groups(data: NexperiaData) -> np.ndarray:
    """Duplicate-group id of each train image (aligned with ``data.train_ids``), for group folds."""
    table = duplicates_of(data).table
    return table.loc[table["split"] == "train", "group"].to_numpy()


def get_folds(data: NexperiaData, n_splits: int = 5, seed: int = 42, runs_dir: Path | None = None) -> pd.DataFrame:
    """``id,fold`` for the train ids, stratified on the given label and grouped by duplicate clusters.

    Saved once as ``<runs_dir>/nexperia/folds.csv`` and reused by every model afterwards. Skipped (bad)
    training images count too: the file is made over every train id (a skipped image is a group of its
    own), a file made without them is accepted, and the rows returned are those of ``data.train_ids``.
    """
    path = Path(runs_dir or runs_root()) / "nexperia" / "folds.csv"
    present = set(np.unique(data.train_labels).tolist())
    if present != {0, 1}:
        empty = {label: folder for label, folder in find_layout(data.data_dir).train_dirs.items()
                 if label not in present}
        raise BadInput(f"no training images of class {sorted(empty)} in {', '.join(map(str, empty.values()))}: "
                       "ROC-AUC needs both good and defect images; check the data folder")
    skipped = data.skipped[data.skipped["split"] == "train"] if "split" in data.skipped.columns else data.skipped[:0]
    groups = train_groups(data)
    if not len(skipped):
        return get_or_make_folds(path, data.train_ids, data.train_labels, n_splits=n_splits, seed=seed,
                                 groups=groups)
    ids = np.concatenate([np.asarray(data.train_ids, dtype=str), skipped["id"].astype(str).to_numpy()])
    labels = np.concatenate([np.asarray(data.train_labels),
                             skipped["label"].to_numpy().astype(data.train_labels.dtype)])
    start = int(groups.max()) + 1 if len(groups) else 0
    groups = np.concatenate([groups, np.arange(start, start + len(skipped))])
    folds = get_or_make_folds(path, ids, labels, n_splits=n_splits, seed=seed, groups=groups,
                              optional=skipped["id"].astype(str).to_numpy())
    return folds.iloc[:len(data.train_ids)].reset_index(drop=True)


def load_configured(cfg) -> NexperiaData:
    """The data a Nexperia command's config names: ``--data`` (default: the competition's folder),
    ``--cache-dir`` and ``--skip-bad``."""
    data_dir = Path(cfg.data) if cfg.data else default_data_dir("nexperia")
    return load_data(data_dir, Path(cfg.cache_dir) if cfg.cache_dir else None, skip_bad=cfg.skip_bad)


def shared_fold_of(data: NexperiaData, cfg) -> np.ndarray:
    """Each training image's fold in the shared ``folds.csv`` of ``--runs-dir`` (made on first use)."""
    return get_folds(data, cfg.n_splits, cfg.seed, cfg.runs_dir)["fold"].to_numpy()
