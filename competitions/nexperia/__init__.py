"""Nexperia image classification: the kit's entry for the shared stages (blend, validate, submit, kernels)."""
from common.registry import Competition, register

COMPETITION = register(Competition(
    name="nexperia", slug="semi-conductor-image-classification-second-stage", marker_file="submission_sample.csv",
    sample_submission="submission_sample.csv", id_column="id", target_column="defect_score",
    postprocess={"leak-fix": "competitions.nexperia.leak:leak_fix"}, truth="competitions.nexperia.data:truth_labels"))
