"""Shared building blocks of the kit: folds, metrics, ensembling, TTA, augmentations, run folders."""
