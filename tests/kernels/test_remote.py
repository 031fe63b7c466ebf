"""Kernel push/status/output and code-dataset upload through the real client and a loopback fake Kaggle."""
import io
import json
import zipfile
from pathlib import Path

import pandas as pd
import pytest

from common.cli import run_cli
from kernels import remote
from kernels.__main__ import main
from kernels.build import build_kernel
from kernels.pack_code import main as pack_main
from tests import fake_kaggle

REPO_ROOT = Path(__file__).resolve().parents[2]
OWNER = fake_kaggle.USERNAME


def _fold_files(fold: int) -> dict[str, bytes]:
    """What a fold kernel leaves in /kaggle/working/runs: that fold's files and its merged files."""
    oof = pd.DataFrame({"id": [f"i{fold}a", f"i{fold}b"], "fold": fold, "target": [0, 1], "pred": [0.2, 0.9]})
    test = pd.DataFrame({"id": ["t1", "t2"], "pred": [0.1 * (fold + 1), 0.5]})
    base = "runs/nexperia/resnet"
    return {f"{base}/fold{fold}/oof.csv": oof.to_csv(index=False).encode(),
            f"{base}/fold{fold}/test.csv": test.to_csv(index=False).encode(),
            f"{base}/fold{fold}/done.json": b"{}",  # written last: the fold is finished
            f"{base}/oof.csv": oof.to_csv(index=False).encode(),
            f"{base}/config.yaml": b"model: resnet34\n"}


@pytest.mark.slow
def test_push_wait_and_fetch_two_fold_kernels_into_one_run(fake_kaggle_server, tmp_path, capsys):
    runs_dir = tmp_path / "runs"
    for fold in (0, 1):
        folder = build_kernel("nexperia-train", OWNER, fold=fold, build_root=tmp_path / "build")
        ref = f"{OWNER}/{folder.name}"
        fake_kaggle_server.kernel_outputs[ref] = _fold_files(fold)
        assert main(["push", str(folder), "--wait", "--poll", "0", "--fetch", "--runs-dir", str(runs_dir)]) == 0
        saved = fake_kaggle_server.calls_to("SaveKernel")[-1]
        assert saved.authorized
        body = saved.body
        meta = json.loads((folder / "kernel-metadata.json").read_text())
        assert body["slug"] == ref and body["newTitle"] == meta["title"]
        assert body["text"] == (folder / "run.py").read_text()
        assert body["language"] == "python" and body["kernelType"] == "script" and body["isPrivate"] is True
        assert body["enableGpu"] is True and body["enableInternet"] is False
        # train.py's default fine-tunes efficientnet_lite0: the kernel gets the dataset of those weights
        assert body["datasetDataSources"] == [f"{OWNER}/kaggle-kit-code", f"{OWNER}/kit-weights-efficientnet-lite0"]
        assert body["competitionDataSources"] == ["semi-conductor-image-classification-second-stage"]
    out = capsys.readouterr().out
    assert "RUNNING" in out and "COMPLETE" in out
    assert not any(secret in out for secret in fake_kaggle.SECRETS)
    run = runs_dir / "nexperia" / "resnet"
    oof = pd.read_csv(run / "oof.csv")
    assert sorted(oof["fold"].unique()) == [0, 1] and len(oof) == 4  # rebuilt from both kernels' folds
    test = pd.read_csv(run / "test.csv").set_index("id")
    assert test.loc["t1", "pred"] == pytest.approx(0.15)  # mean over the two folds
    log = runs_dir / "kernel_outputs" / "kit-nexperia-train-fold-1" / "kit-nexperia-train-fold-1.log"
    assert log.read_text().startswith("log of")


@pytest.mark.slow
def test_failed_kernel_reports_its_error(fake_kaggle_server, tmp_path, capsys):
    folder = build_kernel("home_credit-train", OWNER, fold=0, build_root=tmp_path)
    fake_kaggle_server.kernel_statuses[f"{OWNER}/{folder.name}"] = ["RUNNING", "ERROR"]
    assert main(["push", str(folder), "--wait", "--poll", "0"]) == 1
    assert "ERROR (script raised an exception)" in capsys.readouterr().out


@pytest.mark.slow
def test_wait_gives_up_after_the_timeout(fake_kaggle_server, tmp_path, capsys):
    fake_kaggle_server.kernel_statuses[f"{OWNER}/kit-slow-kernel"] = ["RUNNING"]
    now = [0.0]

    def sleep(seconds):
        now[0] += seconds

    with pytest.raises(remote.KernelTimeout, match="still RUNNING"):
        remote.wait(f"{OWNER}/kit-slow-kernel", timeout=5, poll=2, sleep=sleep, clock=lambda: now[0],
                    report=lambda m: None)
    assert len(fake_kaggle_server.calls_to("GetKernelSessionStatus")) == 3
    assert main(["status", f"{OWNER}/kit-slow-kernel"]) == 0
    assert f"{OWNER}/kit-slow-kernel: RUNNING" in capsys.readouterr().out


@pytest.mark.slow
def test_code_dataset_is_created_then_versioned(fake_kaggle_server, tmp_path, capsys):
    out = tmp_path / "code"
    args = ["--owner", OWNER, "--out", str(out), "--repo", str(REPO_ROOT), "--push"]
    assert pack_main(args) == 0
    created, = fake_kaggle_server.calls_to("CreateDataset")
    assert created.body["ownerSlug"] == OWNER and created.body["slug"] == "kaggle-kit-code"
    assert created.body["licenseName"] == "CC0-1.0" and created.body["isPrivate"] is True
    uploaded = {fake_kaggle_server.blob_names[f["token"]]: fake_kaggle_server.blob(f["token"])
                for f in created.body["files"]}
    assert {"common.zip", "kernels.zip", "submissions.zip", "competitions.zip", "setup.cfg"} <= set(uploaded)
    names = zipfile.ZipFile(io.BytesIO(uploaded["common.zip"])).namelist()
    assert "run.py" in names and "__init__.py" in names
    packed = zipfile.ZipFile(io.BytesIO(uploaded["common.zip"])).read("run.py")
    assert packed == (REPO_ROOT / "common/run.py").read_bytes()
    assert all(secret.encode() not in data for secret in fake_kaggle.SECRETS
               for data in fake_kaggle_server.blobs.values())

    assert pack_main(args + ["--notes", "second version"]) == 0
    version, = fake_kaggle_server.calls_to("CreateDatasetVersion")
    assert version.body["body"]["versionNotes"] == "second version"
    assert len(version.body["body"]["files"]) == len(created.body["files"])
    assert "up to date on Kaggle" in capsys.readouterr().out


def test_kernel_commands_without_credentials_fail_clearly(fake_kaggle_server, monkeypatch, tmp_path, capsys):
    fake_kaggle.configure_client(monkeypatch, fake_kaggle_server.base_url, tmp_path / "empty", credentials=False)
    with pytest.raises(SystemExit) as exit_info:
        run_cli(main, ["status", f"{OWNER}/kit-any-kernel"])
    err = capsys.readouterr().err
    assert exit_info.value.code == 2 and err.startswith("error: ") and "no Kaggle credentials" in err
    assert fake_kaggle_server.calls == []


@pytest.mark.slow
@pytest.mark.parametrize("accelerator, shape", [("t4x2", "NvidiaTeslaT4"), ("tpu", "TpuV5E8"), ("none", None)])
def test_the_accelerator_and_the_continued_kernel_reach_kaggle(fake_kaggle_server, tmp_path, accelerator, shape):
    folder = build_kernel("nexperia-train", OWNER, fold=0, build_root=tmp_path, accelerator=accelerator,
                          suffix="part 2", continue_from=f"{OWNER}/kit-nexperia-train-fold-0",
                          extra_args=["--model", "resnet18"])
    assert main(["push", str(folder)]) == 0
    body = fake_kaggle_server.calls_to("SaveKernel")[-1].body
    assert body.get("machineShape") == shape
    assert body["enableGpu"] is (accelerator == "t4x2") and body["enableTpu"] is (accelerator == "tpu")
    assert body["kernelDataSources"] == [f"{OWNER}/kit-nexperia-train-fold-0"]
    assert body["slug"] == f"{OWNER}/kit-nexperia-train-fold-0-part-2"
