"""Blending the prediction files of several runs, aligned by id.

- ``align`` (``Aligned``, ``attach_meta``, ``rank_within_folds``, ``one_run``): the runs side by side, checked to agree
  on ids, folds and targets, optionally ranked within each fold;
- ``blenders`` (mean, rank mean, searched weights, hill climbing) and ``stacking`` (logistic and LightGBM
  meta-models): scikit-learn estimators following one protocol (``blenders``' docstring), by name in
  ``BLENDERS`` / ``make_blender``;
- ``nested``: ``nested_oof``, the honest OOF of a blender refitted on the other folds;
- ``evaluate``: ``evaluate_blend``, the one report of a blend.

Blenders that rank-normalise predict ranks within the matrix they are given (the test set, or all OOF rows).
"""
from common.ensemble.align import Aligned, align, attach_meta, one_run, rank_within_folds
from common.ensemble.blenders import (Blender, HillClimbBlend, LinearBlend, MeanBlend, RankMeanBlend, WeightedBlend,
                                      rank_normalise)
from common.ensemble.evaluate import SINGLE, BlendEvaluation, evaluate_blend
from common.ensemble.methods import BLENDERS, META_AWARE, make_blender
from common.ensemble.nested import nested_oof
from common.ensemble.stacking import LGBStackBlend, StackBlend

__all__ = ["Aligned", "align", "attach_meta", "one_run", "rank_within_folds", "Blender", "LinearBlend", "MeanBlend",
           "RankMeanBlend", "WeightedBlend", "HillClimbBlend", "StackBlend", "LGBStackBlend", "rank_normalise",
           "BLENDERS", "META_AWARE", "make_blender", "nested_oof", "SINGLE", "BlendEvaluation", "evaluate_blend"]
