"""saliency.py on a 1-epoch run of the tiny synthetic set: the grids, the scores of the fold's boxed validation
defects, the run's metrics section, reruns, and one-line refusals of bad input."""
import json

import cv2
import pandas as pd
import pytest
import torch

from common.cli import run_cli
from competitions.nexperia import saliency, train
from competitions.nexperia.synth.scene import HEIGHT, WIDTH
from tests.nexperia.helpers import tiny_cnn_args

torch.set_num_threads(1)
METHODS = ["gradcam", "vanilla", "smoothgrad"]


@pytest.fixture(scope="module")
def run(nexperia_data, tmp_path_factory):
    root = tmp_path_factory.mktemp("saliency")
    return train.main(tiny_cnn_args(nexperia_data, root / "runs", root / "cache", "sal", "--epochs", "1"))


def explain(run, *extra):
    return saliency.main(["--run", str(run.root), "--fold", "0", "--smoothgrad-samples", "4", "--n", "4",
                          "--threads", "1", *extra])


def boxed_validation(run, data_dir):
    """The boxes (original pixels) of fold 0's validation images, read straight from the run and the data."""
    valid = set(pd.read_csv(run.root / "fold0" / "oof.csv", dtype={"id": str})["id"])
    boxes = pd.read_csv(data_dir / "defect_area.csv", dtype={"id": str})
    return boxes[boxes["id"].isin(valid)].set_index("id").sort_index()


@pytest.mark.slow
def test_writes_grids_scores_and_metrics(run, nexperia_data):
    folder = explain(run)
    boxes = boxed_validation(run, nexperia_data)
    assert len(boxes) >= 5
    for method in METHODS:
        png = cv2.imread(str(folder / f"saliency_{method}.png"))
        assert png is not None and png.shape[0] > 100
    scores = pd.read_csv(folder / "saliency_scores.csv", dtype={"id": str})
    assert list(scores.columns) == ["id", "method", "energy_in_box", "pointing_hit", "box_share", "pointing_chance"]
    assert scores.groupby("method")["id"].apply(sorted).to_dict() == {m: list(boxes.index) for m in METHODS}
    assert scores["energy_in_box"].between(0, 1).all() and scores["energy_in_box"].nunique() > len(boxes)
    # a stretch keeps area shares: the chance level is the box's share of the ORIGINAL image
    area = (boxes["x_2"] - boxes["x_1"]) * (boxes["y_2"] - boxes["y_1"]) / (HEIGHT * WIDTH)
    for _, part in scores.groupby("method"):
        assert part.set_index("id")["box_share"].sort_index().to_numpy() == pytest.approx(area.to_numpy())
    assert (scores["pointing_chance"] >= scores["box_share"]).all()  # margin 0: the pixels the box touches

    section = json.loads((run.root / "metrics.json").read_text())["saliency"]["0"]
    assert set(section) == set(METHODS)
    for method, part in scores.groupby("method"):
        means = section[method]
        assert means["n_images"] == len(boxes)
        assert means["energy_in_box"] == pytest.approx(part["energy_in_box"].mean())
        assert means["pointing_accuracy"] == pytest.approx(part["pointing_hit"].mean())
        assert means["chance_energy"] == pytest.approx(area.mean())
    assert section["smoothgrad"]["samples"] == 4 and "folds" in json.loads((run.root / "metrics.json").read_text())


@pytest.mark.slow
def test_rerun_replaces_the_scores_and_repeats_them_exactly(run):
    first = explain(run, "--methods", "smoothgrad", "vanilla")
    before = pd.read_csv(first / "saliency_scores.csv")
    again = pd.read_csv(explain(run, "--methods", "smoothgrad", "vanilla") / "saliency_scores.csv")
    pd.testing.assert_frame_equal(before, again)  # SmoothGrad's noise is seeded
    assert set(before["method"]) == {"smoothgrad", "vanilla"}
    assert set(json.loads((run.root / "metrics.json").read_text())["saliency"]["0"]) == {"smoothgrad", "vanilla"}
    assert not list(first.glob(".*.tmp"))
    noisier = pd.read_csv(explain(run, "--methods", "smoothgrad", "--seed", "7") / "saliency_scores.csv")
    assert not noisier["energy_in_box"].equals(before.loc[before["method"] == "smoothgrad", "energy_in_box"]
                                               .reset_index(drop=True))


def boxless_copy(nexperia_data, tmp_path, boxes: pd.DataFrame | None):
    """The tiny data set with its images linked, and ``boxes`` as its defect_area.csv (None: no such file)."""
    copy = tmp_path / "data"
    copy.mkdir(parents=True)
    for name in ("train", "test"):
        (copy / name).symlink_to(nexperia_data / name)
    if boxes is not None:
        boxes.to_csv(copy / "defect_area.csv", index=False)
    return copy


def refusal(run, argv, capsys):
    files = sorted(p.name for p in (run.root / "fold0").iterdir())
    with pytest.raises(SystemExit) as exit_:
        run_cli(saliency.main, ["--run", str(run.root), "--threads", "1", *argv])
    assert exit_.value.code == 2
    assert sorted(p.name for p in (run.root / "fold0").iterdir()) == files  # nothing written
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1, lines
    return lines[0]


@pytest.mark.slow
def test_bad_input_is_refused_in_one_line(run, nexperia_data, tmp_path, capsys):
    assert "run folder not found" in refusal(run, ["--run", str(tmp_path / "nowhere")], capsys)
    assert "fold 1 of run" in refusal(run, ["--fold", "1"], capsys)
    assert "'lime' is not one of" in refusal(run, ["--methods", "gradcam", "lime"], capsys)
    no_file = boxless_copy(nexperia_data, tmp_path / "a", None)
    assert "has no defect boxes" in refusal(run, ["--data", str(no_file)], capsys)
    valid = set(pd.read_csv(run.root / "fold0" / "oof.csv", dtype={"id": str})["id"])
    boxes = pd.read_csv(nexperia_data / "defect_area.csv", dtype={"id": str})
    elsewhere = boxless_copy(nexperia_data, tmp_path / "b", boxes[~boxes["id"].isin(valid)])
    assert "validation images of" in refusal(run, ["--data", str(elsewhere)], capsys)


@pytest.mark.slow
def test_a_vae_run_and_a_run_of_other_data_are_named_as_such(run, nexperia_data, tmp_path, capsys):
    from competitions.nexperia import vae
    from competitions.nexperia.synth import generate
    vae.main(["--data", str(nexperia_data), "--runs-dir", str(tmp_path / "runs"), "--cache-dir",
              str(tmp_path / "cache"), "--epochs", "1", "--no-progress", "--heatmaps", "0", "--threads", "1",
              "--arch", "fc", "--fold", "0", "--hidden", "16"])
    vae_run = tmp_path / "runs" / "nexperia" / "vae-fc"
    capsys.readouterr()
    with pytest.raises(SystemExit):
        run_cli(saliency.main, ["--run", str(vae_run), "--threads", "1"])
    line, = capsys.readouterr().err.strip().splitlines()
    assert line == (f"error: {vae_run} is a vae.py run (its model is fold<k>/vae.pt): saliency explains the CNN "
                    "checkpoint (fold<k>/best.pt) of a train.py run; pass such a run to --run")
    other = generate(tmp_path / "other", progress=False, n_train=60, n_test=10, seed=5)
    line = refusal(run, ["--data", str(other), "--cache-dir", str(tmp_path / "cache")], capsys)
    assert "the run was trained on other data:" in line and f"are not training images of {other}" in line
