"""Optuna studies for every engine: search spaces from recipe YAML (:mod:`.space`), the study driver with
storage, heartbeats, pruning and trial budget (:mod:`.study`), ``--params`` files (:mod:`.params`) and
plots (:mod:`.plots`). Each engine brings its objective (``common.tabular.tune``, ``common.vision.tune``)."""
