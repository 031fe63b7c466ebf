"""The timm image engine for binary classification of 1-channel uint8 (N,H,W) images.

- ``data``: datasets over the image arrays, epoch-seeded (balanced) samplers, transforms, loaders;
- ``model``: timm models with one input channel and one logit, local pretrained weights, freezing;
- ``losses``: per-sample binary losses (bce, smooth, focal, gce);
- ``optim``: AdamW from timm's factory (no weight decay on biases/norms, layer decay), cosine schedule;
- ``distributed``: single process or ``torchrun`` ranks, gathering, mixed-precision dtype;
- ``checkpoints``: best/last/top-K checkpoints and their average;
- ``callbacks``: hooks for the fold trainer (ROC plot, Grad-CAM grid);
- ``trainer``: the config, the per-fold trainer and ``train_folds`` over ``common.cv.run_folds``;
- ``predict``: TTA predictions of an image array with a model or a checkpoint;
- ``gradcam``: Grad-CAM maps and the PNG grid.
"""
