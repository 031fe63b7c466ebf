"""VAE anomaly score, the CLI of :mod:`competitions.nexperia.anomaly`: a VAE trained per fold on that fold's
good training images scores every image.

The score is the negative ELBO of the posterior mean (summed squared reconstruction error plus KL), so
defects, which the VAE never saw, score high (``--score local``: the peak of the error map relative to
the good images' mean error map, for small defects). OOF scores are honest: fold ``k``'s VAE never trains on
fold ``k``. Predictions follow the kit's run contract (``runs/nexperia/<name>/oof.csv``, ``test.csv``);
``fold<k>/heatmaps.png`` shows images, reconstructions and error maps of the fold's highest scores;
``metrics.json`` holds each fold's AUC of both scores (``folds.<k>.variants.elbo|local``). A rerun skips
finished folds and continues an unfinished one from ``fold<k>/vae.pt``.

    python competitions/nexperia/vae.py --arch fc             # the seeds' 32 px fully connected VAE, as they had it
    python competitions/nexperia/vae.py --config competitions/nexperia/configs/vae-fc.yaml    # + device band, stretch
    python competitions/nexperia/vae.py --config competitions/nexperia/configs/vae-conv.yaml --fold 0 \
        --blend-with runs/nexperia/cnn   # + the CNN/VAE blend (common.ensemble.evaluate_blend) in metrics.json
    python competitions/nexperia/vae.py --params runs/nexperia/tune-vae/best_params.yaml --fold all --name tuned
"""
from __future__ import annotations

from pathlib import Path

from common.cli import run_cli
from common.config import parse_config, parse_folds
from common.cv import run_folds
from common.device import resolve_device, set_threads
from common.run import Run
from common.tuning.params import apply_params
from competitions.nexperia.anomaly import VAEConfig, blend_report, crop_check, fit_fold, prepare_images
from competitions.nexperia.data import load_configured, record_skipped, shared_fold_of, truth_lookup


def main(argv: list[str] | None = None) -> dict:
    cfg = apply_params(parse_config(VAEConfig, argv))
    set_threads(cfg.threads)
    device = resolve_device(cfg.device)
    data = load_configured(cfg)
    fold_of = shared_fold_of(data, cfg)
    truth = truth_lookup(data.data_dir)
    train_small = prepare_images(cfg, data.train_images)
    test_small = prepare_images(cfg, data.test_images)
    run = Run.open("nexperia", cfg.name, cfg.runs_dir)
    run.save_config(cfg)  # after the data and the inputs are ready: a failed start locks nothing
    record_skipped(run, data)
    log_input(run, cfg, data.train_images)
    metrics = run_folds(run, parse_folds(cfg.fold, cfg.n_splits),
                        lambda k: fit_fold(cfg, run, data, train_small, test_small, fold_of, k, device),
                        n_splits=cfg.n_splits, resume=cfg.resume, truth=truth)
    if cfg.blend_with:
        report = blend_report(Path(cfg.blend_with), run.root, truth)
        vs = report["vs_best_run"]
        run.log.info(f"blend with {cfg.blend_with} ({report['cv']['kind']}): AUC {vs['auc_blend']:.4f} vs best "
                     f"run {vs['best_run']} {vs['auc_best']:.4f}, paired DeLong p = {vs['p']:.3g}")
        metrics = run.update_metrics({"blend": report})
    return metrics


def log_input(run: Run, cfg: VAEConfig, images) -> None:
    """Say what the VAE sees (the crop of the read images, the size trained) in the log and ``metrics.json``
    (``input``), with a WARNING when the crop throws away content (:func:`crop_check`)."""
    check = crop_check(images, cfg.crop)
    height, width = images.shape[1:3]
    band = "the whole image" if cfg.crop is None else \
        f"crop y {cfg.crop[0]}-{cfg.crop[1]}, x {cfg.crop[2]}-{cfg.crop[3]} ({check['kept_fraction']:.0%} kept)"
    run.log.info("VAE input: %dx%d px read, %s, resized to %d px%s", height, width, band, cfg.image_size,
                 ", contrast stretched" if cfg.stretch else "")
    if "warning" in check:
        run.log.warning(check["warning"])
    run.update_metrics({"input": {**check, "read_px": [int(height), int(width)], "image_size": cfg.image_size}})


if __name__ == "__main__":
    run_cli(main)
