"""The timm image engine: datasets over uint8 arrays, models, losses, the fold trainer, prediction."""
