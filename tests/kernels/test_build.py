import json
import runpy
from pathlib import Path

import pytest
from slugify import slugify as kaggle_slugify  # the slug function the kaggle client checks titles with

from common import registry
from common.cli import run_cli
from common.registry import Competition, KernelTarget
from kernels.build import build_kernel, kernel_targets, main

REPO_ROOT = Path(__file__).resolve().parents[2]


def test_the_targets_are_those_the_competitions_declare():
    assert sorted(kernel_targets()) == ["home_credit-train", "nexperia-predict", "nexperia-train"]


@pytest.mark.parametrize("target", sorted(kernel_targets()))
def test_kernel_folder_metadata_and_script(tmp_path, target):
    fold = 2 if target.endswith("train") else None
    own = {"nexperia-train": ["--model", "resnet18", "--pretrained", "{input:resnet18.safetensors}"],
           "nexperia-predict": ["--run", "{input:runs/nexperia/cnn}"]}.get(target, [])
    folder = build_kernel(target, "someone", fold=fold, extra_args=["--name", "exp1", *own],
                          weights_datasets=["someone/timm-weights"], build_root=tmp_path)
    raw = (folder / "kernel-metadata.json").read_text()
    meta = json.loads(raw)
    assert '"enable_internet": false' in raw  # written explicitly: the client would default it to true
    owner, slug = meta["id"].split("/")
    assert owner == "someone" and slug == kaggle_slugify(meta["title"]) and folder.name == slug
    assert ("fold-2" in slug) == (fold is not None)
    competition, spec = kernel_targets()[target]
    expected_slug = {"nexperia": "semi-conductor-image-classification-second-stage",
                     "home_credit": "home-credit-default-risk"}[competition]
    assert meta["competition_sources"] == [expected_slug]
    assert meta["dataset_sources"] == ["someone/kaggle-kit-code", "someone/timm-weights"]
    assert meta["language"] == "python" and meta["kernel_type"] == "script" and meta["is_private"] is True
    assert meta["enable_gpu"] is (competition == "nexperia")
    script = (folder / meta["code_file"]).read_text()
    namespace = {}
    exec(compile(script, meta["code_file"], "exec"), namespace)  # defines, does not run (not __main__)
    marker = {"nexperia": "submission_sample.csv", "home_credit": "application_train.csv"}[competition]
    assert namespace["SETTINGS"] == {"code_dataset": "someone/kaggle-kit-code",
                                     "module": f"competitions.{competition}.{spec.script}",
                                     "args": [*(["--fold", "2"] if fold is not None else []),
                                              "--data", "{input_dir:%s}" % marker, "--name", "exp1", *own],
                                     "files": {}, "weights_files": [], "torchrun": target == "nexperia-train",
                                     "time_limit_minutes": 700.0 if target == "nexperia-train" else None,
                                     "continue_from": None, "wheels": False}
    assert callable(namespace["main"])


def test_cli_passes_extra_arguments_and_needs_an_owner(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("KAGGLE_USERNAME", raising=False)
    with pytest.raises(SystemExit) as exit_info:
        run_cli(main, ["home_credit-train", "--build-root", str(tmp_path)])
    assert exit_info.value.code == 2 and "error: pass --owner" in capsys.readouterr().err
    assert main(["home_credit-train", "--owner", "me", "--accelerator", "none", "--no-wheels", "--suffix", "lr low",
                 "--build-root", str(tmp_path), "--", "--learning-rate", "0.01"]) == 0
    folder = tmp_path / "kit-home-credit-train-lr-low"
    assert str(folder) in capsys.readouterr().out
    settings = runpy.run_path(str(folder / "run.py"), run_name="kit_kernel")["SETTINGS"]
    assert settings["args"][-2:] == ["--learning-rate", "0.01"]


def test_nexperia_training_attaches_weights_unless_others_are_named(tmp_path):
    default = json.loads((build_kernel("nexperia-train", "me", build_root=tmp_path)
                          / "kernel-metadata.json").read_text())
    # train.py without --model or --pretrained fine-tunes efficientnet_lite0, which the kernel cannot pip install
    assert default["dataset_sources"] == ["me/kaggle-kit-code", "me/kit-weights-efficientnet-lite0"]
    weight_file = json.loads((build_kernel("nexperia-train", "me", build_root=tmp_path, extra_args=[
        "--model", "resnet18", "--pretrained", "{input:resnet18.pth}"]) / "kernel-metadata.json").read_text())
    assert weight_file["dataset_sources"] == ["me/kaggle-kit-code", "me/timm-weights"]
    params = tmp_path / "best_params.yaml"
    params.write_text("params:\n  lr: 0.003\n")
    tuned = build_kernel("nexperia-train", "me", build_root=tmp_path / "p", extra_args=["--params", str(params)])
    assert json.loads((tuned / "kernel-metadata.json").read_text())["dataset_sources"] == [
        "me/kaggle-kit-code", "me/kit-weights-efficientnet-lite0"]
    settings = runpy.run_path(str(tuned / "run.py"), run_name="k")["SETTINGS"]  # the file travels in the kernel
    assert settings["files"] == {"best_params.yaml": params.read_text()}
    assert settings["args"][-2:] == ["--params", "{file:best_params.yaml}"]
    named = json.loads((build_kernel("nexperia-train", "me", weights_datasets=["other/convnext-weights"],
                                     code_dataset="me/kit-v2", build_root=tmp_path,
                                     extra_args=["--model", "convnext_nano", "--pretrained", "{input:cn.pth}"])
                        / "kernel-metadata.json").read_text())
    assert named["dataset_sources"] == ["me/kit-v2", "other/convnext-weights"]


def test_unknown_target_is_refused_and_a_predict_kernel_takes_the_folds_its_script_takes(tmp_path):
    with pytest.raises(ValueError, match="unknown kernel target"):
        build_kernel("nexperia-tune", "me", build_root=tmp_path)
    with pytest.raises(ValueError, match="unknown kernel target"):  # submissions come from submissions.blend
        build_kernel("home_credit-predict", "me", build_root=tmp_path)
    folder = build_kernel("nexperia-predict", "me", fold=1, build_root=tmp_path,
                          extra_args=["--run", "{input:runs/nexperia/cnn}"])
    assert runpy.run_path(str(folder / "run.py"), run_name="k")["SETTINGS"]["args"][:2] == ["--fold", "1"]


def test_a_new_competition_declares_its_kernel_target_without_an_edit_in_kernels(tmp_path, monkeypatch):
    spec = Competition(name="toy_tabular", slug="toy-tabular", marker_file="train.csv",
                       sample_submission="sample_submission.csv", id_column="row_id", target_column="y",
                       kernels={"train": KernelTarget("train", gpu=False, config="tests.toy.cancer:TrainConfig")})
    monkeypatch.setitem(registry.COMPETITIONS, spec.name, spec)
    assert kernel_targets()["toy_tabular-train"] == ("toy_tabular", spec.kernels["train"])
    folder = build_kernel("toy_tabular-train", "me", fold=1, build_root=tmp_path)
    meta = json.loads((folder / "kernel-metadata.json").read_text())
    assert meta["competition_sources"] == ["toy-tabular"] and meta["enable_gpu"] is False
    settings = runpy.run_path(str(folder / "run.py"), run_name="kit_kernel")["SETTINGS"]
    assert settings["module"] == "competitions.toy_tabular.train"
    assert settings["args"] == ["--fold", "1", "--data", "{input_dir:train.csv}"]


def test_code_dataset_target_packs_the_kit(tmp_path, capsys):
    assert main(["code-dataset", "--owner", "me", "--build-root", str(tmp_path)]) == 0
    folder = tmp_path / "kaggle-kit-code"
    assert (folder / "common" / "run.py").is_file() and (folder / "dataset-metadata.json").is_file()
    assert "--push" in capsys.readouterr().out


def test_training_kernels_get_the_sessions_time_limit_and_refuse_bad_options(tmp_path, capsys):
    def settings(**options):
        folder = build_kernel("nexperia-train", "me", build_root=tmp_path, extra_args=["--model", "resnet18"],
                              **options)
        return runpy.run_path(str(folder / "run.py"), run_name="kit_kernel")["SETTINGS"]
    assert settings()["time_limit_minutes"] == 12 * 60 - 20
    assert settings(accelerator="tpu", time_margin=60)["time_limit_minutes"] == 9 * 60 - 60
    given = build_kernel("nexperia-train", "me", build_root=tmp_path, extra_args=["--time-limit=30"])
    assert runpy.run_path(str(given / "run.py"), run_name="k")["SETTINGS"]["time_limit_minutes"] is None
    assert settings(continue_from="me/kit-nexperia-train-fold-0")["continue_from"] == "kit-nexperia-train-fold-0"
    with pytest.raises(ValueError, match="--time-margin 800: give minutes from 0 to below the session's 720"):
        settings(time_margin=800)
    with pytest.raises(ValueError, match="'kit-nexperia-train' is not OWNER/SLUG"):
        settings(continue_from="kit-nexperia-train")
    with pytest.raises(ValueError, match="nexperia-predict trains nothing to continue"):
        build_kernel("nexperia-predict", "me", build_root=tmp_path, continue_from="me/x",
                     extra_args=["--run", "{input:runs/nexperia/cnn}"])
    with pytest.raises(SystemExit):
        main(["nexperia-train", "--owner", "me", "--accelerator", "p100", "--build-root", str(tmp_path)])
    assert "invalid choice: 'p100'" in capsys.readouterr().err


def test_home_credit_on_the_gpu_gets_a_gpu_session(tmp_path):
    """XGBoost and CatBoost train on CUDA with --device cuda (given, or set by the recipe or a --params
    file): the kernel then asks for the T4 session; LightGBM's stays on the CPU."""
    def meta(*extra, accelerator=None):
        folder = build_kernel("home_credit-train", "me", extra_args=list(extra), accelerator=accelerator,
                              build_root=tmp_path / str(len(list(tmp_path.iterdir()))))
        return json.loads((folder / "kernel-metadata.json").read_text())

    cpu = meta("--config", "competitions/home_credit/configs/xgboost.yaml")
    assert cpu["enable_gpu"] is False and "machine_shape" not in cpu
    gpu = meta("--config", "competitions/home_credit/configs/catboost.yaml", "--device", "cuda")
    assert gpu["enable_gpu"] is True and gpu["machine_shape"] == "NvidiaTeslaT4"
    params = tmp_path / "best_params.yaml"
    params.write_text("params:\n  device: cuda\n")
    assert meta("--model", "xgboost", "--params", str(params))["enable_gpu"] is True
    with pytest.raises(ValueError, match="--accelerator none: the script trains with --device cuda"):
        meta("--model", "xgboost", "--device", "cuda", accelerator="none")


@pytest.mark.parametrize("target, extra, message", [
    ("home_credit-train", ["--device", "cuda"], "LightGBM's pip build trains on the CPU only"),
    ("nexperia-train", ["--model", "resnet18", "--time-limit", "0"], "--time-limit"),
    ("nexperia-train", ["--model", "resnet18", "--time-limit", "-5"], "--time-limit"),
    ("nexperia-predict", [], "option --run is required"),
    ("home_credit-train", ["--bogus-option", "3"], "unrecognized arguments: --bogus-option 3"),
    ("nexperia-train", ["--model", "resnet18", "--tta", "sideways"], "invalid choice: 'sideways'"),
])
def test_what_the_script_would_refuse_is_refused_before_anything_is_written(tmp_path, capsys, target, extra,
                                                                             message):
    """The script's own parser reads the arguments at build time: the error comes now, not on Kaggle."""
    with pytest.raises(SystemExit) as exit_info:
        run_cli(main, [target, "--owner", "me", "--no-wheels", "--build-root", str(tmp_path / "build"), "--", *extra])
    err = capsys.readouterr().err
    assert exit_info.value.code == 2 and err.startswith("error: ") and err.count("\n") == 1 and message in err
    assert not (tmp_path / "build").exists()


@pytest.mark.parametrize("owner", ["my name", "a/..", "Me", "-me", "me_2"])
def test_an_owner_kaggle_refuses_is_refused_and_nothing_is_written_outside_the_build_root(tmp_path, capsys, owner):
    build_root = tmp_path / "deep" / "build"
    with pytest.raises(SystemExit) as exit_info:
        run_cli(main, ["home_credit-train", "--owner", owner, "--no-wheels", "--build-root", str(build_root)])
    assert exit_info.value.code == 2 and "--owner" in capsys.readouterr().err
    assert not (tmp_path / "deep").exists()


def test_a_kernel_continuing_from_itself_is_refused(tmp_path):
    with pytest.raises(ValueError, match="continue from itself"):
        build_kernel("nexperia-train", "me", build_root=tmp_path, suffix="part 2", extra_args=["--model", "resnet18"],
                     continue_from="me/kit-nexperia-train-part-2")
    assert not tmp_path.joinpath("kit-nexperia-train-part-2").exists()


def test_a_from_scratch_nexperia_kernel_attaches_no_weights(tmp_path):
    folder = build_kernel("nexperia-train", "me", build_root=tmp_path, extra_args=["--model", "resnet18"])
    assert json.loads((folder / "kernel-metadata.json").read_text())["dataset_sources"] == ["me/kaggle-kit-code"]


def test_the_docs_multi_session_recipe_builds_with_fold_all(tmp_path, capsys):
    assert main(["nexperia-train", "--fold", "all", "--owner", "me", "--suffix", "part 2", "--continue-from",
                 "me/kit-nexperia-train", "--no-wheels", "--build-root", str(tmp_path), "--",
                 "--model", "resnet18"]) == 0
    folder = tmp_path / "kit-nexperia-train-fold-all-part-2"
    settings = runpy.run_path(str(folder / "run.py"), run_name="kit_kernel")["SETTINGS"]
    assert settings["args"][:2] == ["--fold", "all"] and settings["continue_from"] == "kit-nexperia-train"


def test_a_config_relative_to_the_checkout_travels_in_the_kernel(tmp_path, monkeypatch):
    """On Kaggle the script runs in /kaggle/working: the YAML goes into run.py and is written there."""
    recipe = "competitions/home_credit/configs/xgboost.yaml"
    folder = build_kernel("home_credit-train", "me", build_root=tmp_path / "build", extra_args=["--config", recipe])
    kernel = runpy.run_path(str(folder / "run.py"), run_name="kit_kernel")
    input_root, working = tmp_path / "input", tmp_path / "working"
    (input_root / "home-credit-default-risk").mkdir(parents=True)
    (input_root / "home-credit-default-risk" / "application_train.csv").write_text("SK_ID_CURR\n")
    working.mkdir()
    monkeypatch.chdir(working)
    args = kernel["script_arguments"](kernel["SETTINGS"], input_root, working)
    config = Path(args[args.index("--config") + 1])
    assert config.is_file() and config.read_text() == (REPO_ROOT / recipe).read_text()
    from competitions.home_credit.recipe import TrainConfig
    from common.config import parse_config
    assert parse_config(TrainConfig, args).model == "xgboost"  # the script reads it from /kaggle/working
