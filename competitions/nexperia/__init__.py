"""Nexperia image classification: the kit's entry for the shared stages (blend, validate, submit, kernels) and its
command lines (the ``kit`` front door)."""
from common.registry import Competition, KernelTarget, register

_CLI = "competitions.nexperia."
SPEC = register(Competition(
    name="nexperia", slug="semi-conductor-image-classification-second-stage", marker_file="submission_sample.csv",
    sample_submission="submission_sample.csv", id_column="id", target_column="defect_score",
    higher_is_better=True,  # ROC-AUC
    postprocess={"leak-fix": "competitions.nexperia.leak:leak_fix"}, truth="competitions.nexperia.data:truth_lookup",
    commands={step: _CLI + module for step, module in {
        "synth": "synth.__main__", "dedup": "dedup", "adversarial": "adversarial", "train": "train",
        "predict": "predict", "tune": "tune", "vae": "vae", "baseline": "baseline", "features": "features",
        "pretrain": "pretrain", "cluster": "cluster", "saliency": "saliency", "noisy": "noisy"}.items()},
    kernels={"train": KernelTarget("train", gpu=True, weights=True, epochs=True,
                                   config="competitions.nexperia.recipe:TrainConfig"),
             "predict": KernelTarget("predict", gpu=True, config="competitions.nexperia.predict:PredictConfig")},
    play="competitions.nexperia.play:play_plan"))
