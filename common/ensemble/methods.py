"""The blend methods by name: the registry ``submissions.blend --method`` and ``evaluate_blend`` choose from."""
from __future__ import annotations

from common.errors import BadInput
from common.ensemble.blenders import Blender, HillClimbBlend, MeanBlend, RankMeanBlend, WeightedBlend
from common.ensemble.stacking import LGBStackBlend, StackBlend

BLENDERS: dict[str, type[Blender]] = {"mean": MeanBlend, "rank": RankMeanBlend, "weighted": WeightedBlend,
                                      "hill": HillClimbBlend, "stack": StackBlend, "lgb_stack": LGBStackBlend}
META_AWARE = tuple(name for name, blender in BLENDERS.items() if blender.takes_meta)  # methods taking meta-features


def make_blender(method: str, **params) -> Blender:
    """A blender by name: one of ``BLENDERS`` ('mean', 'rank', 'weighted', 'hill', 'stack', 'lgb_stack')."""
    if method not in BLENDERS:
        raise BadInput(f"unknown blend method {method!r}; choose one of {sorted(BLENDERS)}")
    return BLENDERS[method](**params)
