"""The tabular engine: gradient-boosted trees per fold (LightGBM, XGBoost, CatBoost) and their Optuna study,
for any competition's feature matrix.

A competition brings its data (a :class:`~common.tabular.matrix.TabularMatrix` and a fold per training row),
optionally a fold-local transform (e.g. target encoding fitted on each fold's training rows) and a config
deriving from :class:`~common.tabular.config.GBDTConfig`; the engine does the rest:

- ``matrix``: the matrix (with its categorical columns), one fold's rows and inputs (``split_fold``, ``fold_data``)
  and the fold-local transform hook (``FoldTransform``);
- ``config``: ``GBDTConfig``, the options (LightGBM's names) and which of them each library reads, checked with
  its ``--params`` file when made (``check_params_file``), and ``check_gpu``, whether ``--device cuda`` has a GPU;
- ``library_params``: the parameter names each library accepts, from the library itself;
- ``protocol``: ``Engine``, what each library brings (one fold's inputs, fit and predictions: ``FittedModel``),
  and ``model_params``, the one rule from options and ``--params`` file to a library's parameters;
- ``cross_validate``: ``GBDTFoldTrainer`` (a ``fit_fold`` for ``common.cv.run_folds``) and ``train_cv`` (the
  whole run), whatever the library;
- ``binned``: LightGBM's Dataset of every training row, binned once per matrix and feature set (cached on disk
  when the matrix has a ``cache_key``), whose subsets are each fold's Datasets;
- ``lgbm``, ``xgboost_engine``, ``catboost_engine``: each library's engine and parameters;
- ``report``: run-level ``importance.csv/png`` and ``roc.png``; ``timing``: wall time per stage;
- ``tune``: the Optuna study, whose trials fit the library's engine as a run does (``GBDTTuneConfig``: the
  training options and the study's);
- ``selection``: fold-safe feature selection with small LightGBM models.
"""
