"""What a kernel brings that Kaggle's image lacks: the build works out the command's unmet requirements and packs
their wheels; run.py installs offline only what a Python lacks or has below the floor (tiny wheels made here)."""
import base64
import hashlib
import json
import runpy
import subprocess
import sys
import zipfile

import pytest

from kernels.build import build_kernel
from kernels.pack_code import MARKER
from kernels.wheels import MANIFEST, needed_requirements, pack_wheels, pip_download

RUN = ["--run", "{input:runs/nexperia/cnn}"]  # what nexperia-predict requires


def make_wheel(folder, name, version):
    """A pure-python wheel of distribution ``name`` with module ``name`` whose ``VERSION`` is ``version``."""
    module = name.replace("-", "_")
    info = f"{module}-{version}.dist-info"
    files = {f"{module}/__init__.py": f"VERSION = {version!r}\n",
             f"{info}/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n",
             f"{info}/WHEEL": "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n"}
    record = [f"{path},sha256={base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b'=').decode()}"
              f",{len(text.encode())}" for path, text in files.items()] + [f"{info}/RECORD,,"]
    path = folder / f"{module}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(path, "w") as wheel:
        for name_, text in {**files, f"{info}/RECORD": "\n".join(record) + "\n"}.items():
            wheel.writestr(name_, text)
    return path


@pytest.mark.slow
def test_the_build_keeps_the_kits_floors_and_leaves_the_images_frameworks():
    needed = needed_requirements("competitions.nexperia.train")
    assert needed["timm"] == "<2,>=1.0" and needed["scikit-learn"] == ">=1.9"  # not in the image / its floor
    assert needed["huggingface-hub"] == ""  # timm's dependency: installed only where missing
    assert not {"torch", "torchvision", "kornia", "lightgbm", "lightly"} & set(needed)  # image's, or not imported


@pytest.mark.slow
def test_run_py_installs_only_what_a_python_lacks_or_has_below_the_floor(tmp_path):
    registry = tmp_path / "registry"  # stands for the package registry
    registry.mkdir()
    for name, version in [("kitfake-lacking", "1.0"), ("kitfake-old", "0.5"), ("kitfake-old", "2.0"),
                          ("kitfake-fine", "1.0"), ("kitfake-fine", "1.5")]:
        make_wheel(registry, name, version)
    requirements = {"kitfake-lacking": ">=1.0", "kitfake-old": ">=1.0", "kitfake-fine": ">=1.0"}
    dataset = pack_wheels("me", "nexperia-train", requirements, tmp_path / "input" / "kit-wheels-nexperia-train",
                          download=lambda pins, folder: pip_download(pins, folder, ["--no-index", "--find-links",
                                                                                    str(registry)]))
    assert sorted(p.name for p in dataset.iterdir()) == sorted([
        MARKER, MANIFEST, "dataset-metadata.json", "kitfake_lacking-1.0-py3-none-any.whl",
        "kitfake_old-2.0-py3-none-any.whl", "kitfake_fine-1.5-py3-none-any.whl"])
    assert json.loads((dataset / MANIFEST).read_text()) == {"requirements": requirements}

    venv = tmp_path / "image"  # as Kaggle's image: one package missing, one below its floor, one fine
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python = str(venv / "bin" / "python")
    subprocess.run([python, "-m", "pip", "install", "--quiet", "--no-index",
                    str(registry / "kitfake_old-0.5-py3-none-any.whl"),
                    str(registry / "kitfake_fine-1.0-py3-none-any.whl")], check=True)
    run_py = build_kernel("nexperia-predict", "me", build_root=tmp_path / "build", extra_args=RUN) / "run.py"
    script = (f"import runpy, pathlib; k = runpy.run_path({str(run_py)!r}, run_name='kit_kernel'); "
              f"print(k['install_wheels'](pathlib.Path({str(tmp_path / 'input')!r})))")
    done = subprocess.run([python, "-c", script], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == ("installing from the kernel's wheels: kitfake-lacking>=1.0 (image: missing), "
                        "kitfake-old>=1.0 (image: 0.5)")
    assert lines[1] == "runs with: kitfake-lacking 1.0, kitfake-old 2.0, kitfake-fine 1.0"
    probe = subprocess.run([python, "-c", "import kitfake_old, kitfake_fine; print(kitfake_old.VERSION, "
                            "kitfake_fine.VERSION)"], capture_output=True, text=True)
    assert probe.stdout.split() == ["2.0", "1.0"]  # the one already meeting its floor was left alone


def test_a_kernel_without_its_wheels_dataset_says_so(tmp_path):
    kernel = runpy.run_path(str(build_kernel("nexperia-predict", "me", build_root=tmp_path, extra_args=RUN) / "run.py"),
                            run_name="kit_kernel")
    with pytest.raises(FileNotFoundError, match="wheels dataset .kit-wheels.json. is not under"):
        kernel["install_wheels"](tmp_path / "input")


@pytest.mark.slow
def test_the_build_attaches_the_wheels_dataset_it_writes(tmp_path, monkeypatch, capsys):
    from kernels import wheels
    from kernels.build import main
    downloaded = []

    def download(pins, folder):  # the registry's part; the pins are what the build asks it for
        downloaded.extend(pins)
        for pin in pins:
            (folder / f"{pin.split('==')[0].replace('-', '_')}-0-py3-none-any.whl").write_bytes(b"")
    monkeypatch.setattr(wheels, "pip_download", download)
    assert main(["nexperia-train", "--owner", "me", "--build-root", str(tmp_path), "--", "--model", "resnet18"]) == 0
    dataset = tmp_path / "kit-wheels-nexperia-train"
    assert f"python -m kernels push-dataset {dataset}" in capsys.readouterr().out
    meta = json.loads((tmp_path / "kit-nexperia-train" / "kernel-metadata.json").read_text())
    assert meta["dataset_sources"] == ["me/kaggle-kit-code", "me/kit-wheels-nexperia-train"]  # resnet18 from scratch
    import timm
    assert f"timm=={timm.__version__}" in downloaded  # the version the kit runs with here
    assert (dataset / "timm-0-py3-none-any.whl").is_file()
    assert json.loads((dataset / MANIFEST).read_text())["requirements"]["timm"] == "<2,>=1.0"
    settings = runpy.run_path(str(tmp_path / "kit-nexperia-train" / "run.py"), run_name="k")["SETTINGS"]
    assert settings["wheels"] is True
