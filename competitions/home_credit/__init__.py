"""Home Credit Default Risk: the kit's entry for the shared stages (blend, validate, submit, kernels), its command
lines (the ``kit`` front door) and the process setting they start with."""
from common.registry import Competition, KernelTarget, register

_CLI = "competitions.home_credit."
SPEC = register(Competition(
    name="home_credit", slug="home-credit-default-risk", marker_file="application_train.csv",
    sample_submission="sample_submission.csv", id_column="SK_ID_CURR", target_column="TARGET",
    higher_is_better=True,  # ROC-AUC
    commands={step: _CLI + module for step, module in {
        "synth": "synth.__main__", "features": "features.build", "adversarial": "adversarial", "train": "train",
        "tune": "tune", "select-features": "select_features"}.items()},
    kernels={"train": KernelTarget("train", gpu=False, config="competitions.home_credit.recipe:TrainConfig")},
    play="competitions.home_credit.play:play_plan",
    # polars' allocator (jemalloc) gives freed memory back to the system after half a second (polars' own setting),
    # and the feature build, which frees and allocates column buffers all along, then took 2.7M page faults (11 GB
    # zeroed anew) at real size: 7-8 s of system time on 2 cores. Kept 5 s: 1.5-1.7M faults, about 2 s less wall time.
    # Longer costs memory, held until the matrix is laid out at the end: peaks in Kaggle's row order at 10 s
    # 2.67-3.01 GiB, at 7 s 2.64-2.97, at 5 s 2.57-2.76 (docs/results.md, "Home Credit at full size"). jemalloc
    # reads this once, when polars is first imported: the commands set it first (common.registry.prepare_environment).
    environment={"_RJEM_MALLOC_CONF": "dirty_decay_ms:5000,muzzy_decay_ms:5000"}))
