"""Home Credit Default Risk: the kit's entry for the shared stages (blend, validate, submit, kernels)."""
from common.registry import Competition, register

COMPETITION = register(Competition(
    name="home_credit", slug="home-credit-default-risk", marker_file="application_train.csv",
    sample_submission="sample_submission.csv", id_column="SK_ID_CURR", target_column="TARGET"))
