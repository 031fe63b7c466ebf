"""The tabular engine: LightGBM per fold and its Optuna study, for any competition's feature matrix.

A competition brings its data (a :class:`~common.tabular.matrix.TabularMatrix` and a fold per training row),
optionally a fold-local transform (e.g. target encoding fitted on each fold's training rows) and a config
deriving from :class:`~common.tabular.config.LGBMConfig`; the engine does the rest:

- ``matrix``: the matrix, one fold's inputs (``fold_data``) and the transform hook;
- ``config``: ``LGBMConfig`` and the LightGBM parameters it stands for;
- ``lgbm``: binned Datasets, the early-stopped fit, ``LGBMFoldTrainer`` (a ``fit_fold`` for
  ``common.cv.run_folds``) and ``train_cv`` (the whole run);
- ``report``: run-level ``importance.csv/png`` and ``roc.png``; ``timing``: wall time per stage;
- ``tune``: the Optuna study over Datasets binned once per fold.
"""
