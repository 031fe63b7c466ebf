"""Image embeddings + classical models: each image becomes a vector, scikit-learn classifiers learn the labels.

The embedding (``--backbone``) is one of
- ``cnn`` (default): penultimate-layer features of a trained run of ``train.py`` (``--checkpoint-run
  runs/nexperia/cnn``: fold k's ``best.pt`` embeds every image for fold k, so fold k's rows stay unseen by
  both the CNN and the classifier; inputs scaled as that run trained, ``norm: image`` included) or of a timm
  model with a local pretrained weight file (``--model resnet18 --pretrained FILE``: one embedding for all folds);
- ``scattering``: spatially averaged wavelet scattering coefficients (``common.vision.scattering``;
  ``--scattering-j``, ``--scattering-l``, ``--scattering-log``) of the images at ``--img-size``, scaled like
  the CNN's input: fixed texture features, no training, one embedding for all folds;
- ``vae``: the latent means of a ``vae.py`` run (``--vae-run runs/nexperia/vae-conv``: fold k's ``vae.pt``
  embeds every image for fold k, each prepared as that VAE saw it: crop, resize, contrast stretch).
Outputs:
- ``runs/nexperia/<name>/``: cached features (``features.npz`` with ``train`` and ``test``, or
  ``fold<k>/features.npz`` for per-fold backbones), each with ``features.json`` beside it, the backbone
  settings it was made with (a cache made with other settings is embedded again); ``pca.png``, ``tsne.png`` and
  ``mds.png`` of the first fold's held-out rows, coloured by given label and, for synthetic data, by planted
  truth and defect type (``tsne.png`` also places the test images in that map); neural-collapse metrics in
  ``metrics.json``;
- ``runs/nexperia/<name>-<classifier>/``: the usual ``oof.csv``/``test.csv``/``metrics.json`` per classifier
  (``logreg``, ``svm``, ``rf``, ``lda``) over the shared folds; trained with a noisy-label audit
  (``--suspects CSV --suspect-action drop``) they go to ``<name>-<classifier>-audit-<action>`` and reuse
  the cached features.

Each classifier's run goes through the fold driver (``common.cv.run_folds``): a rerun skips its finished folds.

    python competitions/nexperia/features.py --checkpoint-run runs/nexperia/cnn --name feat-cnn
    python competitions/nexperia/features.py --backbone scattering --img-size 128 --name feat-scat
    python competitions/nexperia/features.py --backbone vae --vae-run runs/nexperia/vae-conv --name feat-vae
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, fields
from functools import partial
from logging import Logger
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd
import torch
from sklearn.base import ClassifierMixin
from sklearn.calibration import CalibratedClassifierCV
from sklearn.discriminant_analysis import LinearDiscriminantAnalysis
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import LinearSVC

from common.errors import BadInput, MissingInput
from common.cli import run_cli
from common.config import (RunConfig, config_to_dict, option, parse_config, parse_folds,
                           volatile_options)
from common.cv import FoldResult, run_folds
from common.device import DeviceOptions, resolve_device, set_threads
from common.embedding_plots import Colouring, Style, embedding_plots
from common.io import DamagedFile, atomic_path, atomic_write_json, read_csv, read_json
from common.vision.neural_collapse import neural_collapse_metrics
from common.noisy import AUDIT_ACTIONS, apply_audit
from common.run import DONE_FILE, Run, RunFolder
from common.seeding import seed_everything
from common.vision.data import ModelInput
from common.vision.embed import embed_images, pooled_features
from common.vision.model import parse_model_kwargs
from common.vision.trainer import sized_split
from common.vision.model_source import ModelSourceOptions
from common.vision.weights import resolve_pretrained
from competitions.nexperia.anomaly import VAE_FILE, VAEConfig, _batch, prepare_images
from competitions.nexperia.backbones import checkpoint_path, cnn_inputs, cnn_model
from competitions.nexperia.data import (NexperiaData, NexperiaDataOptions, fill_skipped_test, load_configured,
                                        read_truth_file, record_skipped, shared_fold_of, truth_lookup)
from competitions.nexperia.vae_models import build_vae

CLASSIFIERS = ("logreg", "svm", "rf", "lda")
BACKBONES = ("cnn", "scattering", "vae")
SCATTERING_DEFAULTS = {"scattering_j": 3, "scattering_l": 8}
# Options that only one backbone reads: given with another, they are refused rather than ignored.
BACKBONE_OPTIONS = {"checkpoint_run": "cnn", "pretrained": "cnn", "model_kwargs": "cnn", "scattering_j": "scattering",
                    "scattering_l": "scattering", "scattering_log": "scattering", "vae_run": "vae"}


@dataclass
class FeaturesConfig(ModelSourceOptions, DeviceOptions, RunConfig, NexperiaDataOptions):
    """Image embeddings (CNN, scattering transform, VAE latents) -> logistic regression, linear SVM, random
    forest, LDA."""
    backbone: str = option("cnn", choices=BACKBONES, help="cnn: --checkpoint-run, or --model [--pretrained]; "
                           "scattering: wavelet scattering at --img-size; vae: latent means of --vae-run")
    checkpoint_run: str | None = option(None, help="train.py run folder (fold*/best.pt); without it the model "
                                                   "comes from --model/--pretrained, and --img-size sizes the "
                                                   "images for it and the scattering (checkpoints and VAEs keep "
                                                   "their own)")
    scattering_j: int | None = option(None, min=1, help="scattering scales J, maps 2**J times smaller than the "
                                                        "image (default 3: for 64-128 px)")
    scattering_l: int | None = option(None, min=1, help="scattering orientations L (default 8)")
    scattering_log: bool = option(False, help="log of the averaged order-1 and order-2 scattering coefficients")
    vae_run: str | None = option(None, help="vae.py run folder (fold*/vae.pt) for --backbone vae")
    name: str = option("feat", help="feature run; classifiers write <name>-<classifier>")
    classifiers: list[str] = option(default_factory=lambda: list(CLASSIFIERS), choices=CLASSIFIERS, volatile=True,
                                    help="classifiers to fit, each into its own run")
    batch_size: int = option(64, min=1, help="images per embedding batch")
    threads: int = option(1, volatile=True, min=0, help="torch and scikit-learn threads")
    plots: bool = option(True, volatile=True, help="PCA, t-SNE and MDS scatter plots")
    suspects: str | None = option(None, help="suspects CSV of noisy.py to train with")
    suspect_action: str = option("drop", choices=AUDIT_ACTIONS)
    suspect_weight: float = option(0.2, min=0, help="sample weight of suspects with --suspect-action downweight")

    def __post_init__(self):
        super().__post_init__()
        for name, backbone in BACKBONE_OPTIONS.items():
            if getattr(self, name) not in (None, False) and self.backbone != backbone:
                raise BadInput(f"option --{name.replace('_', '-')} needs --backbone {backbone} "
                               f"(got --backbone {self.backbone})")
        if self.checkpoint_run and (self.pretrained or self.model_kwargs):
            raise BadInput("options --checkpoint-run and --pretrained/--model-kwargs contradict: a checkpoint run "
                           "brings its own model and weights")
        {"cnn": self._check_cnn, "scattering": self._check_scattering, "vae": self._check_vae}[self.backbone]()
        if self.suspects and not Path(self.suspects).is_file():
            raise MissingInput(f"suspects file not found: {self.suspects} (option --suspects)")

    def _check_cnn(self) -> None:
        if self.checkpoint_run and not Path(self.checkpoint_run).is_dir():
            raise MissingInput(f"option --checkpoint-run: run folder not found: {self.checkpoint_run}")
        if not self.checkpoint_run:
            self.check_model_source()

    def _check_scattering(self) -> None:
        for key, value in SCATTERING_DEFAULTS.items():
            if getattr(self, key) is None:
                setattr(self, key, value)
        if 2 ** self.scattering_j > self.img_size:
            raise BadInput(f"option --scattering-j {self.scattering_j}: the scattering needs --img-size >= "
                           f"2**J = {2 ** self.scattering_j}, got {self.img_size}")

    def _check_vae(self) -> None:
        if not self.vae_run:
            raise BadInput("option --backbone vae needs --vae-run (a vae.py run folder)")
        if not RunFolder(self.vae_run).config_path.is_file():
            raise MissingInput(f"option --vae-run: no vae.py run at {self.vae_run} (config.yaml not found)")

    @property
    def per_fold(self) -> bool:
        """Whether each fold has its own backbone (trained without that fold's rows)."""
        return self.backbone == "vae" or bool(self.checkpoint_run)


def make_classifier(name: str, seed: int = 0, threads: int = 2) -> Pipeline:
    """A standardise-then-classify pipeline with ``predict_proba``."""
    models: dict[str, ClassifierMixin] = {
        "logreg": LogisticRegression(C=0.1, max_iter=3000),
        "svm": CalibratedClassifierCV(LinearSVC(C=0.01, max_iter=5000), cv=3),
        "rf": RandomForestClassifier(n_estimators=300, min_samples_leaf=2, n_jobs=threads, random_state=seed),
        "lda": LinearDiscriminantAnalysis(solver="lsqr", shrinkage="auto"),
    }
    return Pipeline([("scale", StandardScaler()), ("clf", models[name])])


# -- backbones --------------------------------------------------------------------------------------
def source_file(cfg: FeaturesConfig, fold: int) -> Path | None:
    """The weight file fold ``fold``'s features come from (None for the scattering or an untrained model);
    a missing one is an error that says what to run."""
    if cfg.backbone == "vae":
        run = RunFolder(cfg.vae_run)
        if not run.is_finished(fold):
            raise MissingInput(f"fold {fold} of VAE run {run.root} is not finished (no fold{fold}/{DONE_FILE}): "
                               f"run vae.py --fold {fold} for it first")
        return run.fold_path(fold) / VAE_FILE
    if cfg.checkpoint_run:
        return checkpoint_path(cfg.checkpoint_run, fold)
    return resolve_pretrained(cfg.pretrained).file if cfg.pretrained else None


def backbone_inputs(cfg: FeaturesConfig) -> ModelInput | None:
    """How images become the backbone's input: the CNN's (:func:`cnn_inputs`), for the scattering the CNN's
    fixed grey scaling at ``--img-size``; None for the VAE, which prepares its own (:func:`vae_run_config`)."""
    if cfg.backbone == "vae":
        return None
    return ModelInput(cfg.img_size) if cfg.backbone == "scattering" else cnn_inputs(cfg)


def vae_run_config(run_dir: Path) -> VAEConfig:
    """The options a ``vae.py`` run was made with (its ``config.yaml``)."""
    saved = RunFolder(run_dir).config()
    return VAEConfig(**{f.name: saved[f.name] for f in fields(VAEConfig) if f.name in saved})


def load_vae(cfg: FeaturesConfig, fold: int) -> tuple[torch.nn.Module, VAEConfig]:
    """Fold ``fold``'s trained VAE of ``--vae-run`` and that run's options."""
    vae_cfg = vae_run_config(Path(cfg.vae_run))
    model = build_vae(vae_cfg.arch, vae_cfg.image_size, vae_cfg.latent_dim, vae_cfg.hidden)
    model.load_state_dict(torch.load(source_file(cfg, fold), map_location="cpu")["model"])
    return model, vae_cfg


# -- embeddings -------------------------------------------------------------------------------------
@torch.no_grad()
def vae_latents(model: torch.nn.Module, prepared: np.ndarray, device: torch.device,
                batch_size: int = 64) -> np.ndarray:
    """The posterior means ``(N, latent)`` of images prepared for the VAE (``anomaly.prepare_images``)."""
    model = model.to(device).eval()
    out = [model.encode(_batch(prepared, np.arange(lo, min(lo + batch_size, len(prepared))), device))[0]
           for lo in range(0, len(prepared), batch_size)]
    return torch.cat(out).cpu().numpy() if out else np.empty((0, 0), np.float32)


def compute_features(cfg: FeaturesConfig, data: NexperiaData, fold: int, device: torch.device,
                     log: Logger) -> tuple[np.ndarray, np.ndarray]:
    """(train, test) embeddings of fold ``fold``'s backbone (the one shared backbone when not per fold)."""
    count = f"{len(data.train_ids)} + {len(data.test_ids)} images"
    if cfg.backbone == "vae":
        model, vae_cfg = load_vae(cfg, fold)
        log.info(f"embedding {count}: latent means of fold {fold}'s {vae_cfg.arch} VAE at {vae_cfg.image_size} px")
        return tuple(vae_latents(model, prepare_images(vae_cfg, images), device, cfg.batch_size)
                     for images in (data.train_images, data.test_images))
    inputs = backbone_inputs(cfg)
    if cfg.backbone == "scattering":
        from common.vision.scattering import ScatteringEmbedder

        encode = ScatteringEmbedder(cfg.img_size, cfg.scattering_j, cfg.scattering_l, cfg.scattering_log).to(device)
        source = f"scattering J={cfg.scattering_j} L={cfg.scattering_l}"
    else:
        model = cnn_model(cfg, fold, device)
        encode = partial(pooled_features, model)
        source = f"fold {fold}'s checkpoint" if cfg.checkpoint_run else cfg.model
    log.info(f"embedding {count} with {source} at {inputs.img_size} px"
             + (", each image standardised" if inputs.per_image_norm else ""))
    return tuple(embed_images(encode, sized_split(data, split, inputs, cfg.progress), inputs, device,
                              cfg.batch_size, cfg.progress) for split in ("train", "test"))


# -- the feature cache ------------------------------------------------------------------------------
def _sha256(path: Path) -> str:
    with open(path, "rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


def feature_settings(cfg: FeaturesConfig, data: NexperiaData, fold: int) -> dict:
    """What fold ``fold``'s cached features depend on: the backbone's options, how images become its input,
    the content of its weight file and the images' ids (JSON-ready: ``features.json`` beside ``features.npz``)."""
    if cfg.backbone == "scattering":
        settings = {"J": cfg.scattering_j, "L": cfg.scattering_l, "log": cfg.scattering_log, "pool": "mean"}
    elif cfg.backbone == "vae":
        vae_cfg = vae_run_config(Path(cfg.vae_run))
        settings = {"vae_run": cfg.vae_run, "arch": vae_cfg.arch, "image_size": vae_cfg.image_size,
                    "crop": vae_cfg.crop, "stretch": vae_cfg.stretch}
    elif cfg.checkpoint_run:
        settings = {"checkpoint_run": cfg.checkpoint_run}
    else:
        settings = {"model": cfg.model, "model_kwargs": parse_model_kwargs(cfg.model_kwargs),
                    "pretrained": cfg.pretrained}
    inputs = backbone_inputs(cfg)
    source = source_file(cfg, fold)
    ids = hashlib.sha1("\n".join([*data.train_ids, "", *data.test_ids]).encode()).hexdigest()
    record = {"backbone": cfg.backbone, **settings, "inputs": asdict(inputs) if inputs else None,
              "weights_sha256": _sha256(source) if source else None, "image_ids_sha1": ids}
    return json.loads(json.dumps(record))  # tuples as lists: compares equal to the record read back


def _cached_settings(record: Path) -> dict:
    """The settings a cached feature file was built with ({} when unknown or damaged: it is built again)."""
    try:
        return read_json(record) if record.is_file() else {}
    except DamagedFile:
        return {}


def cached_features(path: Path, settings: dict, build: Callable[[], tuple[np.ndarray, np.ndarray]],
                    log: Logger) -> tuple[np.ndarray, np.ndarray]:
    """``(train, test)`` from ``path`` when its ``features.json`` records ``settings``, else ``build()``
    and cache them (the features first, their settings last: a kill in between leaves a cache that
    is built again)."""
    record = path.with_suffix(".json")
    if path.is_file():
        old = _cached_settings(record)
        if old == settings:
            with np.load(path) as cached:
                return cached["train"], cached["test"]
        changed = sorted(k for k in old.keys() | settings.keys() if old.get(k) != settings.get(k))
        log.info(f"cached features {path} were made with other settings "
                 f"({f'they differ in {changed}' if old else f'no {record.name}'}): embedding again")
    train, test = build()
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as fh:
            np.savez(fh, train=train, test=test)
    atomic_write_json(record, settings)
    return train, test


def check_held_out(source_run: Path, fold: int, ids: np.ndarray) -> None:
    """Refuse a per-fold backbone whose fold ``fold`` held out other images than this run's fold (its
    ``fold<k>/oof.csv``): it trained on some rows that the classifiers would score as unseen."""
    path = RunFolder(source_run).fold_oof_path(fold)
    if not path.is_file():
        return
    held_out = set(read_csv(path, "train that fold of the run again (--no-resume)", dtype={"id": str},
                            usecols=["id"])["id"])
    seen = [i for i in ids if i not in held_out]
    if seen:
        raise BadInput(f"fold {fold} of {source_run} trained on {len(seen)} images of this run's fold {fold} "
                       f"(e.g. {seen[:3]}): it was made with another fold file; use its --runs-dir")


def fold_features(cfg: FeaturesConfig, data: NexperiaData, fold_of: np.ndarray, base: Run, fold: int,
                  device: torch.device) -> tuple[np.ndarray, np.ndarray]:
    """(train, test) features for ``fold``, cached in the feature run (one file per fold for per-fold
    backbones, else one for all folds)."""
    if cfg.per_fold:
        check_held_out(Path(cfg.vae_run or cfg.checkpoint_run), fold, data.train_ids[fold_of == fold])
    path = (base.fold_dir(fold) if cfg.per_fold else base.root) / "features.npz"
    return cached_features(path, feature_settings(cfg, data, fold),
                           lambda: compute_features(cfg, data, fold, device, base.log), base.log)


# -- plots ------------------------------------------------------------------------------------------
LABEL_STYLES = {0: Style("good", "tab:blue"), 1: Style("defect", "tab:red")}
TRUTH_STYLES = {"good": Style("good", "tab:blue"), "defect": Style("defect", "tab:red"),
                "flipped": Style("defect labelled good", "black", highlight=True)}


def truth_kinds(ids: np.ndarray, truth: pd.DataFrame | None) -> np.ndarray | None:
    """``good``, ``defect`` or ``flipped`` (a defect labelled good) per id, from the synthetic truth."""
    if truth is None:
        return None
    t = truth.set_index(truth["id"].astype(str)).reindex(ids)
    return np.where(t["flipped"].astype(bool), "flipped", np.where(t["label_true"] == 1, "defect", "good"))


def colourings(ids: np.ndarray, labels: np.ndarray, truth: pd.DataFrame | None) -> list[Colouring]:
    """The plots' panels: given label and, for synthetic data, planted truth kind and defect type."""
    panels = [Colouring("given label", np.asarray(labels).astype(int), LABEL_STYLES)]
    if truth is not None:
        panels.append(Colouring("planted truth", truth_kinds(ids, truth), TRUTH_STYLES))
        if "defect_type" in truth.columns:
            types = truth.set_index(truth["id"].astype(str))["defect_type"].reindex(ids).fillna("").astype(str)
            panels.append(Colouring("defect type", types.to_numpy(), {"": Style("good", "lightgray")}))
    return panels


# -- the run ----------------------------------------------------------------------------------------
def fit_classifier(cfg: FeaturesConfig, name: str, train_x: np.ndarray, test_x: np.ndarray, data: NexperiaData,
                   labels: np.ndarray, weights: np.ndarray, train_rows: np.ndarray,
                   valid_rows: np.ndarray) -> FoldResult:
    """Fit classifier ``name`` on ``train_rows`` (audited labels and weights), predict the fold and the test set."""
    model = make_classifier(name, cfg.seed, cfg.threads)
    fit_params = {"clf__sample_weight": weights[train_rows]} if name != "lda" else {}
    model.fit(train_x[train_rows], labels[train_rows], **fit_params)
    oof = pd.DataFrame({"id": data.train_ids[valid_rows], "target": data.train_labels[valid_rows],
                        "pred": model.predict_proba(train_x[valid_rows])[:, 1]})
    test = pd.DataFrame({"id": data.test_ids, "pred": model.predict_proba(test_x)[:, 1]}) if len(test_x) else None
    return FoldResult(oof, test)


def main(argv: list[str] | None = None) -> dict:
    cfg = parse_config(FeaturesConfig, argv)
    set_threads(cfg.threads)
    seed_everything(cfg.seed)
    device = resolve_device(cfg.device)
    data = load_configured(cfg)
    fold_of = shared_fold_of(data, cfg)
    truth = read_truth_file(data.data_dir)
    folds = parse_folds(cfg.fold, cfg.n_splits)
    backbone_inputs(cfg)  # the backbone's input and every fold's weights are known before any work starts
    for k in folds if cfg.per_fold else folds[:1]:
        source_file(cfg, k)
    saved = config_to_dict(cfg)
    volatile = volatile_options(cfg)
    base = Run.open("nexperia", cfg.name, cfg.runs_dir)
    base.save_config({k: v for k, v in saved.items() if not k.startswith("suspect")}, volatile)
    record_skipped(base, data)
    audit_tag = f"-audit-{cfg.suspect_action}" if cfg.suspects else ""

    labels = data.train_labels.astype(int)
    weights = np.ones(len(labels))
    keep = np.ones(len(labels), dtype=bool)
    if cfg.suspects:
        labels, weights, keep = apply_audit(data.train_ids, labels, Path(cfg.suspects), cfg.suspect_action,
                                            cfg.suspect_weight)
        if cfg.suspect_action == "downweight" and "lda" in cfg.classifiers:
            base.log.warning("LDA takes no sample weights: its run ignores the down-weighting")
    shared = None if cfg.per_fold else fold_features(cfg, data, fold_of, base, folds[0], device)  # one for all
    features = {k: shared if shared is not None else fold_features(cfg, data, fold_of, base, k, device)
                for k in folds}
    rows = {k: (np.flatnonzero((fold_of != k) & keep), np.flatnonzero(fold_of == k)) for k in folds}

    nc = {f"fold{k}": neural_collapse_metrics(features[k][0][rows[k][0]], labels[rows[k][0]]) for k in folds}
    nc["mean"] = {key: float(np.mean([v[key] for v in nc.values()])) for key in next(iter(nc.values()))}
    if cfg.plots:
        train_x, test_x = features[folds[0]]
        valid = rows[folds[0]][1]  # unseen by a per-fold backbone, like the test images
        embedding_plots(train_x[valid], colourings(data.train_ids[valid], data.train_labels[valid], truth),
                        base.root, cfg.seed, test=test_x, threads=cfg.threads)
    summary, true_of = {}, truth_lookup(data.data_dir)
    for name in cfg.classifiers:
        run = Run.open("nexperia", f"{cfg.name}-{name}{audit_tag}", cfg.runs_dir)
        run.save_config({**saved, "classifier": name}, volatile)
        record_skipped(run, data)
        metrics = run_folds(run, folds, lambda k: fill_skipped_test(
                                fit_classifier(cfg, name, *features[k], data, labels, weights, *rows[k]),
                                data, run.log),
                            n_splits=cfg.n_splits, resume=cfg.resume, truth=true_of)
        summary[name] = {kind: value["auc"] for kind, value in metrics["oof"].items()}
    base.log.info(f"neural collapse (training features, given labels): {nc['mean']}")
    return base.update_metrics({f"neural_collapse{audit_tag}": nc, f"classifier_auc{audit_tag}": summary})


if __name__ == "__main__":
    run_cli(main)
