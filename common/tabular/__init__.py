"""The tabular engine: gradient-boosted trees per fold (LightGBM, XGBoost, CatBoost) and their Optuna study,
for any competition's feature matrix.

A competition brings its data (a :class:`~common.tabular.matrix.TabularMatrix` and a fold per training row),
optionally a fold-local transform (e.g. target encoding fitted on each fold's training rows) and a config
deriving from :class:`~common.tabular.config.GBDTConfig`; the engine does the rest:

- ``matrix``: the matrix (with its categorical columns), one fold's inputs (``fold_data``) and the transform hook;
- ``config``: ``GBDTConfig``, the options each library reads and the LightGBM parameters they stand for;
- ``engine``: ``GBDTFoldTrainer`` (a ``fit_fold`` for ``common.cv.run_folds``), ``model_params`` and
  ``train_cv`` (the whole run), whatever the library;
- ``lgbm``, ``xgboost_engine``, ``catboost_engine``: one fold fitted and predicted by each library;
- ``report``: run-level ``importance.csv/png`` and ``roc.png``; ``timing``: wall time per stage;
- ``tune``: the Optuna study (LightGBM over Datasets binned once per fold; the others through their engine).
"""
