"""The kernel script, run against a local stand-in for /kaggle/input holding the packed kit."""
import os
import runpy
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from kernels.build import build_kernel
from kernels.pack_code import pack_code

REPO_ROOT = Path(__file__).resolve().parents[2]
SETTINGS_BASE = {"code_dataset": "someone/kaggle-kit-code", "module": "submissions.validate"}


@pytest.fixture(scope="module")
def packed(tmp_path_factory):
    return pack_code("someone", tmp_path_factory.mktemp("pack") / "kaggle-kit-code", repo=REPO_ROOT)


@pytest.fixture
def kernel_main(tmp_path):
    folder = build_kernel("nexperia-predict", "someone", build_root=tmp_path / "build",
                          extra_args=["--run", "{input:runs/nexperia/cnn}"])
    return runpy.run_path(str(folder / "run.py"), run_name="kit_kernel")["main"]


@pytest.fixture
def kaggle_input(tmp_path):
    """``input/`` with the competition's sample submission and a submission to check, ``working/``."""
    root = tmp_path / "input"
    comp = root / "semi-conductor-image-classification-second-stage"
    comp.mkdir(parents=True)
    pd.DataFrame({"id": ["a", "b", "c"], "defect_score": 0.5}).to_csv(comp / "submission_sample.csv", index=False)
    outputs = root / "some-kernel" / "out"
    outputs.mkdir(parents=True)
    pd.DataFrame({"id": ["c", "a", "b"], "defect_score": [0.1, 0.7, 0.2]}).to_csv(outputs / "sub.csv", index=False)
    (tmp_path / "working").mkdir()
    return root, tmp_path / "working"


ARGS = ["{input:out/sub.csv}", "--competition", "nexperia", "--data", "{input_dir:submission_sample.csv}"]


@pytest.mark.slow
def test_runs_a_kit_module_from_the_attached_code_dataset(packed, kernel_main, kaggle_input, capfd):
    input_root, working = kaggle_input
    shutil.copytree(packed, input_root / "kaggle-kit-code")
    assert kernel_main({**SETTINGS_BASE, "args": ARGS}, input_root, working) == 0
    out = capfd.readouterr().out
    assert f"kit imported from {input_root / 'kaggle-kit-code'}\n" in out
    assert f"OK: {input_root / 'some-kernel' / 'out' / 'sub.csv'} is a valid nexperia submission" in out


def test_code_dataset_kept_as_zip_archives_is_extracted(packed, kernel_main, kaggle_input, capfd):
    input_root, working = kaggle_input
    dataset = input_root / "kaggle-kit-code"
    dataset.mkdir()
    for child in packed.iterdir():  # as the client uploads folders with dir_mode="zip"
        if child.is_dir():
            shutil.make_archive(str(dataset / child.name), "zip", child)
        else:
            shutil.copy2(child, dataset)
    assert kernel_main({**SETTINGS_BASE, "args": ARGS}, input_root, working) == 0
    assert f"kit imported from {working / 'kit_src'}\n" in capfd.readouterr().out
    assert not (working / "kit_src").exists()  # cleaned so the kernel's output holds only runs


def test_failing_module_gives_its_exit_status(packed, kernel_main, kaggle_input):
    input_root, working = kaggle_input
    shutil.copytree(packed, input_root / "kaggle-kit-code")
    args = ["{input:out/sub.csv}", "--competition", "home_credit", "--data", str(input_root)]
    assert kernel_main({**SETTINGS_BASE, "args": args}, input_root, working) == 2  # run_cli: error: ..., exit 2


def test_missing_code_dataset_or_input_is_named_in_one_line(packed, kernel_main, kaggle_input, capfd):
    input_root, working = kaggle_input
    assert kernel_main({**SETTINGS_BASE, "args": ARGS}, input_root, working) == 2
    assert capfd.readouterr().err.startswith("error: the kit's code dataset 'kaggle-kit-code' is not attached")
    shutil.copytree(packed, input_root / "kaggle-kit-code")
    assert kernel_main({**SETTINGS_BASE, "args": ["{input:resnet.safetensors}"]}, input_root, working) == 2
    err = capfd.readouterr().err
    assert err.startswith("error: resnet.safetensors not found") and err.count("\n") == 1


@pytest.mark.slow
def test_home_credit_training_kernel_runs_train_py_on_kaggle_style_paths(packed, tmp_path, monkeypatch):
    """The generated kernel finds the competition folder by its marker and runs the real train.py."""
    input_root, working = tmp_path / "input", tmp_path / "working"
    working.mkdir()
    competition_dir = input_root / "home-credit-default-risk"
    subprocess.run([sys.executable, "-m", "competitions.home_credit.synth", "--out", str(competition_dir),
                    "--n-clients", "300", "--workers", "1"], check=True, capture_output=True)
    shutil.copytree(packed, input_root / "kaggle-kit-code")
    folder = build_kernel("home_credit-train", "someone", fold=0, build_root=tmp_path / "build", extra_args=[
        "--name", "tiny", "--tables", "application", "--num-boost-round", "20", "--num-threads", "1",
        "--no-target-encoding"])
    monkeypatch.setenv("KIT_RUNS_ROOT", str(working / "runs"))  # in a kernel: /kaggle/working/runs
    monkeypatch.setenv("KIT_CACHE_ROOT", str(working / "cache"))
    kernel = runpy.run_path(str(folder / "run.py"), run_name="kit_kernel")
    assert kernel["main"](kernel["SETTINGS"], input_root, working) == 0
    run = working / "runs" / "home_credit" / "tiny"
    assert set(pd.read_csv(run / "oof.csv")["fold"]) == {0}
    sample = pd.read_csv(competition_dir / "sample_submission.csv")
    assert sorted(pd.read_csv(run / "test.csv")["id"]) == sorted(sample["SK_ID_CURR"])
    assert not (working / "cache").exists()


@pytest.mark.slow
def test_a_training_kernel_starts_torchrun_only_on_several_gpus(tmp_path, monkeypatch):
    folder = build_kernel("nexperia-train", "someone", fold=0, build_root=tmp_path, extra_args=["--model", "resnet18"])
    kernel = runpy.run_path(str(folder / "run.py"), run_name="kit_kernel")
    settings, args = kernel["SETTINGS"], ["--fold", "0"]
    single = kernel["module_command"](settings, args, 1)
    assert single[:4] == [sys.executable, "-m", "competitions.nexperia.train", "--fold"]
    assert single[-2] == "--time-limit" and 699 < float(single[-1]) <= 700  # 12 h less the margin and run.py's time
    assert kernel["module_command"](settings, args, 0) == single
    assert kernel["module_command"](settings, args, 2)[:8] == [
        sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2", "-m",
        "competitions.nexperia.train"]
    monkeypatch.delenv("KIT_KERNEL_RANKS", raising=False)
    assert kernel["ranks"](dict(os.environ, CUDA_VISIBLE_DEVICES=""), tmp_path) == 0  # no GPU: one process


def test_the_kernel_script_needs_only_the_standard_library_until_the_kit_runs(tmp_path):
    """On Kaggle run.py starts before the kit is on the path: it must define itself with no kit import."""
    folder = build_kernel("nexperia-predict", "someone", build_root=tmp_path, extra_args=["--run", "{input:runs/x}"])
    probe = subprocess.run([sys.executable, "-S", "-c", "import runpy, sys; runpy.run_path(sys.argv[1], "
                            "run_name='kit_kernel'); print('defined')", str(folder / "run.py")],
                           cwd=tmp_path, capture_output=True, text=True)
    assert probe.stdout.strip() == "defined", probe.stderr


def test_continuing_a_kernel_whose_output_has_no_runs_ends_in_one_line(packed, tmp_path, capfd):
    input_root, working = tmp_path / "input", tmp_path / "working"
    working.mkdir()
    shutil.copytree(packed, input_root / "kaggle-kit-code")
    (input_root / "kit-nexperia-train").mkdir()  # the attached output: its log only, no runs/
    (input_root / "kit-nexperia-train" / "kit-nexperia-train.log").write_text("Traceback ...\n")
    folder = build_kernel("nexperia-train", "someone", build_root=tmp_path / "build", suffix="part 2",
                          extra_args=["--model", "resnet18"], continue_from="someone/kit-nexperia-train")
    kernel = runpy.run_path(str(folder / "run.py"), run_name="kit_kernel")
    assert kernel["main"](kernel["SETTINGS"], input_root, working) == 2
    err = capfd.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: ") and "kit-nexperia-train" in err and "runs/" in err
