"""The pandas feature code the polars one replaced (issue 24), kept only as the oracle of
tests/home_credit/test_features_equivalence.py until that test has passed on the polars code; then deleted."""
