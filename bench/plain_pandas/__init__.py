"""Home Credit's features the plain-pandas way: the kit's pandas implementation before it moved to polars
(issue 24), the baseline of ``bench/home_credit.py --stages plain``. Same aggregations, same columns; the
bench checks that both give the same matrix."""
