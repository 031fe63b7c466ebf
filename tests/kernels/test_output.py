"""``python -m kernels output``: a kernel's runs come home next to the local ones, never over a local run of another
recipe (through the real client and a loopback fake Kaggle)."""
import hashlib
import json

import pandas as pd
import pytest
import yaml

from common.cli import run_cli
from common.run import Run
from kernels.__main__ import main
from tests import fake_kaggle

OWNER = fake_kaggle.USERNAME
REF = f"{OWNER}/kit-nexperia-train-part-2"
RECIPE = {"data": "/kaggle/input/semi-conductor-image-classification-second-stage", "name": "resnet",
          "fold": "all", "n_splits": 5, "seed": 42, "runs_dir": None, "model": "resnet34", "lr": 0.001}


def _fold_frames(fold: int, shift: float = 0.0) -> tuple[pd.DataFrame, pd.DataFrame]:
    oof = pd.DataFrame({"id": [f"i{fold}a", f"i{fold}b"], "target": [0, 1], "pred": [0.2 + shift, 0.9 - shift]})
    return oof, pd.DataFrame({"id": ["t1", "t2"], "pred": [0.1 * (fold + 1), 0.5]})


def _local_run(runs_dir, config: dict, folds=(0,)) -> Run:
    run = Run.open("nexperia", "resnet", runs_dir)
    run.save_config(dict(config))
    run.log.info("trained here")
    for fold in folds:
        run.save_fold_predictions(fold, *_fold_frames(fold), {"auc": 1.0})
    run.update_metrics({"completed_folds": list(folds), "n_splits": 5})
    return run


def _kernel_output(config: dict, folds=(0, 1), shift: float = 0.05) -> dict[str, bytes]:
    """What a training kernel leaves in /kaggle/working/runs: its run's config, log, folds and merged files."""
    base = f"runs/nexperia/{config['name']}"
    files = {f"{base}/config.yaml": yaml.safe_dump(config).encode(), f"{base}/log.txt": b"trained on Kaggle\n",
             f"{base}/metrics.json": b'{"completed_folds": [0, 1], "from": "kernel"}'}
    for fold in folds:
        oof, test = _fold_frames(fold, shift)
        files[f"{base}/fold{fold}/oof.csv"] = oof.assign(fold=fold).to_csv(index=False).encode()
        files[f"{base}/fold{fold}/test.csv"] = test.to_csv(index=False).encode()
        files[f"{base}/fold{fold}/done.json"] = b'{"auc": 0.5}'
    files[f"{base}/oof.csv"] = pd.concat(
        [_fold_frames(k, shift)[0].assign(fold=k) for k in folds])[["id", "fold", "target", "pred"]].to_csv(
        index=False).encode()
    return files


def _tree(folder) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.mark.slow  # imports every kernel script's config (torch, timm)
def test_a_kernel_run_of_another_recipe_never_overwrites_the_local_run(fake_kaggle_server, tmp_path, capsys):
    runs_dir = tmp_path / "runs"
    local = _local_run(runs_dir, {**RECIPE, "model": "resnet18", "data": str(tmp_path / "data")})
    before = _tree(runs_dir)
    fake_kaggle_server.kernel_outputs[REF] = _kernel_output(RECIPE)
    capsys.readouterr()
    with pytest.raises(SystemExit) as exit_info:
        run_cli(main, ["output", REF, "--runs-dir", str(runs_dir)])
    err = capsys.readouterr().err
    assert exit_info.value.code == 2 and err.count("\n") == 1 and err.startswith("error: ")
    assert str(local.root) in err and REF in err and "model" in err and "data" in err  # both named, and why
    assert "--name resnet=NEW" in err  # how to bring it in under another name
    assert _tree(runs_dir) == before  # nothing local touched, not even kernel_outputs/

    assert main(["output", REF, "--runs-dir", str(runs_dir), "--name", "resnet=resnet-kaggle"]) == 0
    assert {k: v for k, v in _tree(runs_dir).items() if k.startswith("nexperia/resnet/")} == before
    brought = runs_dir / "nexperia" / "resnet-kaggle"
    assert yaml.safe_load((brought / "config.yaml").read_text())["name"] == "resnet-kaggle"  # trains on as itself
    assert sorted(pd.read_csv(brought / "oof.csv")["fold"].unique()) == [0, 1]
    assert "resnet-kaggle" in capsys.readouterr().out


@pytest.mark.slow  # imports every kernel script's config (torch, timm)
def test_a_kernel_run_of_the_same_recipe_only_adds_folds(fake_kaggle_server, tmp_path, capsys):
    runs_dir = tmp_path / "runs"
    local = _local_run(runs_dir, {**RECIPE, "fold": "0"})
    kept = {name: (local.root / name).read_bytes() for name in ("config.yaml", "log.txt")}
    kept_fold = _tree(local.root / "fold0")
    # the kernel continued the run: its fold 0 (here made again, other predictions) and a new fold 1
    fake_kaggle_server.kernel_outputs[REF] = _kernel_output({**RECIPE, "fold": "1", "runs_dir": "/kaggle/working"})
    assert main(["output", REF, "--runs-dir", str(runs_dir)]) == 0
    out = capsys.readouterr().out
    assert "fold 0" in out and "kept" in out  # the kernel's fold 0 is left out, and said so
    assert {name: (local.root / name).read_bytes() for name in kept} == kept
    assert _tree(local.root / "fold0") == kept_fold
    assert (local.root / "fold1" / "done.json").is_file()
    oof = pd.read_csv(local.root / "oof.csv")
    assert sorted(oof["fold"]) == [0, 0, 1, 1]
    assert oof.loc[oof["fold"] == 0, "pred"].tolist() == _fold_frames(0)[0]["pred"].tolist()  # the local fold 0
    metrics = json.loads((local.root / "metrics.json").read_text())
    assert metrics["completed_folds"] == [0, 1] and "from" not in metrics  # rebuilt from the folds, not copied
    kernel_log = runs_dir / "kernel_outputs" / REF.split("/")[1] / "runs" / "nexperia" / "resnet" / "log.txt"
    assert kernel_log.read_text() == "trained on Kaggle\n"  # the kernel's own files are kept beside
