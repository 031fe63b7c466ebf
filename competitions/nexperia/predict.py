"""Re-predict the test images from a run's fold checkpoints with a chosen TTA and write the submission.

    python competitions/nexperia/predict.py --run runs/nexperia/demo --tta d4 [--leak-fix]

The submission has exactly the sample submission's ids, in its order, and its score column
(``id,defect_score`` for the 2020 contest). ``--leak-fix`` sets test images byte-identical to a train image
to that image's label.
"""
from __future__ import annotations

import argparse
import logging
from pathlib import Path

import numpy as np
import pandas as pd
import torch
import yaml

from common.io import atomic_write_csv
from common.tta import TTA_PRESETS, predict_loader, warn_untrained_views
from competitions.nexperia.data import NexperiaData, id_of, load_data
from common.vision.data import ImageDataset, make_loader, make_transform
from common.vision.model import create_model, load_weights, parse_model_kwargs, to_device
from competitions.nexperia.train import amp_dtype

log = logging.getLogger(__name__)


def fold_checkpoints(run_dir: Path, folds: list[int] | None = None, which: str = "best") -> list[Path]:
    """The ``fold<k>/<which>.pt`` files of a run (all folds, or the given ones); a clear error if missing."""
    if folds is None:
        found = sorted(run_dir.glob(f"fold*/{which}.pt"), key=lambda p: int(p.parent.name[4:]))
    else:
        found = [run_dir / f"fold{k}" / f"{which}.pt" for k in folds]
        missing = [str(p) for p in found if not p.is_file()]
        if missing:
            raise FileNotFoundError(f"checkpoint(s) not found: {missing}")
    if not found:
        raise FileNotFoundError(f"no fold*/{which}.pt checkpoints in {run_dir}")
    return found


def predict_test(data: NexperiaData, checkpoints: list[Path], model_name: str, model_kwargs: dict, img_size: int,
                 tta: str, batch_size: int = 64, workers: int = 2, device: str = "auto", amp: bool = True,
                 progress: bool = True, per_image_norm: bool = False) -> np.ndarray:
    """Mean test probability over the checkpoints' models, each with TTA ``tta``."""
    dev = torch.device(device if device != "auto" else ("cuda" if torch.cuda.is_available() else "cpu"))
    spec = {"model": model_name, "model_kwargs": model_kwargs}
    dataset = ImageDataset(data.test_images, np.arange(len(data.test_ids)),
                           transform=make_transform("none", img_size, train=False), per_image_norm=per_image_norm)
    preds = []
    for path in checkpoints:
        model = create_model(model_name, None, model_kwargs)
        load_weights(model, torch.load(path, map_location="cpu", weights_only=False), path, spec)
        model = to_device(model, dev, dev.type == "cuda")
        loader = make_loader(dataset, batch_size, workers)
        preds.append(predict_loader(model, loader, tta, device=dev, amp_dtype=amp_dtype(dev, amp), progress=progress))
        log.info("predicted %d test images with %s (TTA %s)", len(dataset), path, tta)
    return np.mean(preds, axis=0)


def make_submission(data: NexperiaData, test_ids: np.ndarray, scores: np.ndarray) -> pd.DataFrame:
    """``id,<score column>`` rows with the sample submission's ids, in its order; refuses ids without a prediction."""
    sample = data.sample_submission
    if sample is None:
        sample = pd.DataFrame({"id": data.test_ids, "defect_score": 0.0})
    score_col = sample.columns[1]
    by_id = pd.Series(scores, index=pd.Index(test_ids).astype(str))
    keys = sample["id"].map(id_of)
    missing = sorted(set(keys) - set(by_id.index))
    if missing:
        raise ValueError(f"{len(missing)} sample-submission ids have no test image/prediction, e.g. {missing[:5]}")
    return pd.DataFrame({"id": sample["id"].to_numpy(), score_col: by_id.loc[keys].to_numpy()})


def main(argv: list[str] | None = None) -> Path:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--run", type=Path, required=True, help="run folder, e.g. runs/nexperia/demo")
    parser.add_argument("--tta", default=None, choices=sorted(TTA_PRESETS), help="default: the run's TTA")
    parser.add_argument("--folds", type=int, nargs="+", default=None, help="default: every fold with a checkpoint")
    parser.add_argument("--checkpoint", default="best", choices=["best", "last"])
    parser.add_argument("--data", default=None, help="default: the run's data folder")
    parser.add_argument("--model", default=None, help="default: the run's model (must match the checkpoints)")
    parser.add_argument("--model-kwargs", default=None)
    parser.add_argument("--out", type=Path, default=None, help="default: <run>/submission.csv")
    parser.add_argument("--leak-fix", action="store_true", help="exact train-test duplicates get the train label")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: the run's)")
    parser.add_argument("--amp", action=argparse.BooleanOptionalAction, default=True)
    parser.add_argument("--skip-bad", action="store_true")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")

    config_path = args.run / "config.yaml"
    if not config_path.is_file():
        raise FileNotFoundError(f"{config_path} not found: --run must be a training run folder")
    cfg = yaml.safe_load(config_path.read_text())
    threads = args.threads if args.threads is not None else cfg.get("threads", 0)
    if threads:
        torch.set_num_threads(threads)
    data = load_data(Path(args.data or cfg["data"]), Path(cfg["cache_dir"]) if cfg.get("cache_dir") else None,
                     skip_bad=args.skip_bad or cfg.get("skip_bad", False))
    tta = args.tta or cfg.get("tta") or "none"
    warn_untrained_views(tta, cfg.get("augment") or "none", log)
    model_name = args.model or cfg["model"]
    kwargs = parse_model_kwargs(args.model_kwargs if args.model else cfg.get("model_kwargs"))
    checkpoints = fold_checkpoints(args.run, args.folds, args.checkpoint)
    scores = predict_test(data, checkpoints, model_name, kwargs, cfg["img_size"], tta, args.batch_size,
                          args.workers, args.device, args.amp, per_image_norm=cfg.get("norm") == "image")
    test = pd.DataFrame({"id": data.test_ids, "pred": scores})
    if args.leak_fix:
        from competitions.nexperia.dedup import apply_exact_matches, duplicates_of
        test, n = apply_exact_matches(test, duplicates_of(data))
        log.info("leak fix: %d test predictions set to their exact train duplicate's label", n)
    submission = make_submission(data, test["id"].to_numpy(), test["pred"].to_numpy())
    out = args.out or args.run / "submission.csv"
    atomic_write_csv(out, submission)
    log.info("wrote %s (%d rows, %d checkpoint(s), TTA %s)", out, len(submission), len(checkpoints), tta)
    return out


if __name__ == "__main__":
    main()
