"""Self-supervised pretraining on every Nexperia image, train and test, without labels: the CLI of
:mod:`common.vision.ssl`.

    python competitions/nexperia/pretrain.py --config competitions/nexperia/configs/pretrain-cpu.yaml --method simclr
    python competitions/nexperia/train.py --config competitions/nexperia/configs/cpu.yaml --img-size 64 \\
        --pretrained runs/nexperia/ssl-simclr/encoder.pth                # fine-tune from the encoder
    python competitions/nexperia/features.py --model resnet18 --model-kwargs ... \\
        --pretrained runs/nexperia/ssl-simclr/encoder.pth               # or embed with it

``runs/nexperia/<name>/`` (default name ``ssl-<method>``): ``encoder.pth`` (the backbone in timm's naming,
classifier dropped), ``encoder.json``, ``summary.csv``, ``loss.png``, ``last.pt`` (the same command continues a
killed run; ``--no-resume`` starts over) and ``metrics.json``'s ``linear_probe``: logistic regression on the
encoder's features of the train images over the shared folds, AUC vs the given and (synthetic data) true labels.
Fine-tune with the same ``--model``, ``--model-kwargs`` and ``--norm`` (encoder.json records them).
"""
from __future__ import annotations

from dataclasses import dataclass

from common.cli import run_cli
from common.config import parse_config, parse_folds
from common.device import resolve_device, set_threads
from common.paths import default_data_dir
from common.run import STOP_ENV, Run
from common.vision.embed import embed
from common.vision.ssl import SSLConfig, linear_probe, model_input, pretrain
from common.vision.trainer import SizedImages
from competitions.nexperia.data import (NexperiaDataOptions, load_configured, record_skipped, shared_fold_of,
                                        truth_lookup)

__all__ = ["STOP_ENV", "PretrainConfig", "main"]


@dataclass
class PretrainConfig(SSLConfig, NexperiaDataOptions):
    """Self-supervised pretraining of a timm backbone on the Nexperia train and test images."""


def main(argv: list[str] | None = None) -> Run:
    cfg = parse_config(PretrainConfig, argv)
    cfg.data = cfg.data or str(default_data_dir("nexperia"))
    set_threads(cfg.threads)
    data = load_configured(cfg)
    fold_of = shared_fold_of(data, cfg)
    run = Run.open("nexperia", cfg.name, cfg.runs_dir)
    run.log.info("data %s: %d train + %d test images, %s px (pretraining uses no labels)", cfg.data,
                 len(data.train_ids), len(data.test_ids), "x".join(map(str, data.image_shape)))
    sized = SizedImages.of(data, model_input(cfg), cfg.progress)  # the resized images supervised runs read
    encoder = pretrain(cfg, [sized.train, sized.test], run)
    record_skipped(run, data)
    features = embed(encoder, sized.train, model_input(cfg), resolve_device(cfg.device), cfg.batch_size,
                            cfg.progress)
    truth = truth_lookup(data.data_dir)
    probe = linear_probe(features, data.train_labels, fold_of, parse_folds(cfg.fold, cfg.n_splits),
                         truth(data.train_ids) if truth else None)
    run.update_metrics({"linear_probe": probe})
    run.log.info("linear probe over folds %s: AUC %.4f vs given labels%s", cfg.fold, probe["auc_given"]["auc"],
                 f", {probe['auc_true']['auc']:.4f} vs true labels" if "auc_true" in probe else "")
    return run


if __name__ == "__main__":
    run_cli(main)
