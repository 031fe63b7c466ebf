"""Search spaces: checked against a config before any work, sampled and decoded (list choices too), and
``--params`` files applied to a config."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import optuna
import pytest
import yaml

from common.config import RunConfig, option
from common.tuning.params import apply_params, recipe_params
from common.tuning.space import decode, parse_space, parse_with_space, suggest


@dataclass
class Toy(RunConfig):
    lr: float = option(1e-3, min=0, min_exclusive=True)
    depth: int = option(4, min=1)
    kind: str = option("a", choices=["a", "b"])
    crop: list[int] | None = option(None, min=0)
    threads: int = option(1, volatile=True)
    params: str | None = None

    def __post_init__(self):
        super().__post_init__()
        if self.crop is not None and len(self.crop) != 2:
            raise ValueError(f"option --crop: {self.crop} is not two numbers")


SPACE = {"lr": {"type": "float", "low": "1e-4", "high": 1e-2, "log": True},
         "depth": {"type": "int", "low": 2, "high": 8, "step": 2},
         "kind": {"type": "categorical", "choices": ["a", "b"]},
         "crop": {"type": "categorical", "choices": [[1, 2], None]}}


def test_space_samples_and_decodes_option_values():
    space = parse_space(SPACE, Toy(), "toy.yaml")
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    drawn = []
    for _ in range(12):
        trial = study.ask()
        drawn.append(suggest(trial, space))
        study.tell(trial, 0.5)
    assert {d["depth"] for d in drawn} <= {2, 4, 6, 8} and all(1e-4 <= d["lr"] <= 1e-2 for d in drawn)
    assert {str(d["crop"]) for d in drawn} == {"[1, 2]", "None"}  # a list choice comes back as a list
    assert all(decode(space, t.params) == d for t, d in zip(study.trials, drawn))
    assert all(dataclasses.replace(Toy(), **d) for d in drawn)


@pytest.mark.parametrize("entry, why", [
    ({"nope": {"type": "float", "low": 0, "high": 1}}, "not a tunable option"),
    ({"threads": {"type": "int", "low": 1, "high": 2}}, "not a tunable option"),
    ({"lr": {"type": "normal", "low": 0.1, "high": 1}}, "needs type"),
    ({"lr": {"type": "float", "low": 0.5, "high": 0.1}}, "low must be below high"),
    ({"lr": {"type": "float", "low": 0.0, "high": 0.1}}, "must be > 0"),
    ({"depth": {"type": "int", "low": 1.5, "high": 4}}, "low must be an integer"),
    ({"kind": {"type": "categorical", "choices": []}}, "non-empty list"),
    ({"kind": {"type": "categorical", "choices": ["a", "c"]}}, "'c' is not one of"),
    ({"crop": {"type": "categorical", "choices": [[1, 2, 3]]}}, "is not two numbers"),
    ({"depth": {"type": "categorical", "choices": ["deep"]}}, "is not a value of type int"),
])
def test_bad_entry_names_key_and_file(entry, why):
    with pytest.raises(ValueError, match=why) as err:
        parse_space(entry, Toy(), "toy.yaml", allowed=["lr", "depth", "kind", "crop"])
    assert str(err.value).startswith(f"search space key {next(iter(entry))!r} in toy.yaml: ")


def test_search_space_is_read_out_of_the_config_file(tmp_path):
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(yaml.safe_dump({"depth": 6, "search_space": SPACE}))
    cfg, raw, source = parse_with_space(Toy, ["--config", str(recipe)])
    assert cfg.depth == 6 and raw == SPACE and source == str(recipe)
    recipe.write_text(yaml.safe_dump({"depth": 0, "search_space": SPACE}))
    with pytest.raises(ValueError, match=f"option --depth \\(from {recipe}\\): 0 must be >= 1"):
        parse_with_space(Toy, ["--config", str(recipe)])


def test_params_file_overrides_options_and_refuses_others(tmp_path):
    path = tmp_path / "best_params.yaml"
    path.write_text(yaml.safe_dump({"params": {"lr": 0.01, "crop": [3, 4]}, "cv_auc": 0.9}))
    cfg = apply_params(Toy(params=str(path), depth=5))
    assert (cfg.lr, cfg.crop, cfg.depth) == (0.01, [3, 4], 5)
    assert recipe_params(cfg, Toy) == {"lr": 0.01, "depth": 5, "crop": [3, 4]}
    path.write_text(yaml.safe_dump({"params": {"n_trials": 3}}))
    with pytest.raises(ValueError, match="'n_trials' is not an option"):
        apply_params(Toy(params=str(path)))
    path.write_text(yaml.safe_dump({"params": {"dept": 3}}))
    with pytest.raises(ValueError, match=r"'dept' is not an option of this command \(did you mean 'depth'\?\)$"):
        apply_params(Toy(params=str(path)))
    path.write_text(yaml.safe_dump({"kind": "z"}))
    with pytest.raises(ValueError, match="kind: option --kind: 'z' is not one of"):
        apply_params(Toy(params=str(path)))
