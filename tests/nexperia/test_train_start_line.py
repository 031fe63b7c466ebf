"""The start line of train.py says what is used: the trained image size (not the files') and the precision."""
import re

import pytest

from common.vision.distributed import amp_dtype
from competitions.nexperia import train


@pytest.mark.slow
@pytest.mark.parametrize("amp_flag,expected", [("--no-amp", "off"), (None, None)])
def test_start_line_states_the_trained_size_and_the_precision_used(nexperia_data, tmp_path, monkeypatch,
                                                                   amp_flag, expected):
    used = {}

    def record(cfg, data, fold_of, folds, run, d):  # what the fold trainer is handed (it derives its autocast so)
        used["amp"] = amp_dtype(d.device, cfg.amp)
        used["img_size"] = cfg.img_size
        used["image_shape"] = data.image_shape

    monkeypatch.setattr(train, "train_cnn", record)
    argv = ["--data", str(nexperia_data), "--runs-dir", str(tmp_path / "runs"), "--cache-dir", str(tmp_path / "c"),
            "--name", "start", "--img-size", "48", "--threads", "1", "--no-progress", "--device", "cpu"]
    run = train.main(argv + ([amp_flag] if amp_flag else []))
    line = next(text for text in (run.root / "log.txt").read_text().splitlines() if "trained at" in text)
    assert used["img_size"] == 48 and tuple(used["image_shape"]) != (48, 48)
    assert re.search(r"read at \d+x\d+ px, trained at 48 px", line), line
    precision = str(used["amp"]).removeprefix("torch.") if used["amp"] else "off"
    assert expected in (None, precision) and line.endswith(f"amp {precision}"), line
